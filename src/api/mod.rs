//! The `edgefleet.io/v1alpha1` custom resource types. CRD types only: serde + schemars + kube derive, no I/O.
//!
//! One file per kind ([`provider_config`], [`vpc`], [`security_group`], [`edge_instance`],
//! [`edge_cloud`]), shared references and policies in [`common`], status conditions in [`condition`].
//! [`all_crds`] returns every CustomResourceDefinition (what `edgefleet crds` prints).

pub mod common;
pub mod condition;
pub mod edge_cloud;
pub mod edge_instance;
pub mod provider_config;
pub mod security_group;
pub mod vpc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use common::{
    DeletionPolicy, LocalObjectRef, ManagedSpec, ManagedStatus, ManagementPolicy, PendingOperation,
    ProviderConfigRef, SecretKeyRef, SecretRef,
};
pub use condition::{Condition, ConditionStatus};
pub use edge_cloud::{EdgeCloud, EdgeCloudSpec, EdgeCloudStatus};
pub use edge_instance::{EdgeInstance, EdgeInstanceSpec, EdgeInstanceStatus};
pub use provider_config::{ProviderConfig, ProviderConfigSpec, ProviderConfigStatus, ProviderType};
pub use security_group::{SecurityGroup, SecurityGroupSpec, SecurityGroupStatus};
pub use vpc::{Vpc, VpcSpec, VpcStatus};

/// The API group of every edgefleet kind.
pub const GROUP: &str = "edgefleet.io";
/// The API version of every edgefleet kind.
pub const VERSION: &str = "v1alpha1";
/// Finalizer every controller puts on cloud-backed objects; removed only once the cloud confirms the
/// deletion (or deletionPolicy is Orphan).
pub const FINALIZER: &str = "edgefleet.io/cleanup";
/// Field manager for server-side apply of status (and of member EdgeInstances).
pub const FIELD_MANAGER: &str = "edgefleet";
/// Label on member EdgeInstances naming their EdgeCloud (`edgefleet.io/edge-cloud=<name>`).
pub const EDGE_CLOUD_LABEL: &str = "edgefleet.io/edge-cloud";
/// Annotation on an EdgeInstance requesting a reboot: any new value (e.g. a timestamp) triggers exactly
/// one reboot; the value acted on is recorded in `status.lastRebootRequest`.
pub const REBOOT_REQUEST_ANNOTATION: &str = "edgefleet.io/reboot-request";

/// Annotation carrying the crash-safety intent of an EdgeInstance's create (`controller::intent`), written
/// with the finalizer before the cloud call. Owned by edgefleet; not for users to set.
pub const CREATE_INTENT_ANNOTATION: &str = "edgefleet.io/create-intent";

/// The category every edgefleet CRD is in (`kubectl get edgefleet`).
pub const CATEGORY: &str = "edgefleet";

/// Every edgefleet CustomResourceDefinition, in a stable order.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        ProviderConfig::crd(),
        Vpc::crd(),
        SecurityGroup::crd(),
        EdgeInstance::crd(),
        EdgeCloud::crd(),
    ]
}
