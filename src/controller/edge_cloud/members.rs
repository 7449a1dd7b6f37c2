//! The member mirror: every cloud instance of an edge cloud appears as an EdgeInstance owned by the
//! EdgeCloud (controller ownerReference, the EdgeCloud's labels plus `edgefleet.io/edge-cloud=<name>`),
//! created with `spec.adoptId` = the instance id so the EdgeInstance controller adopts it (day-2 actions,
//! deletion of the cloud instance when a person deletes the member). Members are created carrying the
//! EdgeInstance finalizer, as that controller would add it on adoption anyway.
//!
//! Members the fleet removes itself (scale-in, remediation, replacement, deletion of the fleet) are
//! *released* first: their `deletionPolicy` is set to `Orphan` before the EdgeInstance is deleted, so the
//! EdgeInstance controller never deletes the cloud instance too; the EdgeCloud deletes them in one batch.
//!
//! Two annotations carry fleet state that the cloud cannot show (so a restarted controller reads it
//! back): `edgefleet.io/template-fingerprint` (the fingerprint of the disks, bandwidth and key pair the
//! member was created with) and `edgefleet.io/replace` (the member is being replaced after a build
//! timeout).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};

use super::fleet::{ResolvedRefs, member_name};
use crate::api::common::{DeletionPolicy, ManagementPolicy};
use crate::api::edge_cloud::{EdgeCloud, REPLACE_ANNOTATION, TEMPLATE_FINGERPRINT_ANNOTATION};
use crate::api::edge_instance::{EdgeInstance, EdgeInstanceSpec, InstanceNetwork, InstancePlacement};
use crate::api::{EDGE_CLOUD_LABEL, FINALIZER};
use crate::provider::ObservedInstance;

/// The member EdgeInstances of `ec` in its namespace: labelled with its name and owned by this very
/// object (a member of an earlier EdgeCloud with the same name is not ours).
pub async fn list(api: &Api<EdgeInstance>, ec: &EdgeCloud) -> Result<Vec<EdgeInstance>, kube::Error> {
    let selector = format!("{EDGE_CLOUD_LABEL}={}", ec.name_any());
    let uid = ec.uid().unwrap_or_default();
    let list = api.list(&ListParams::default().labels(&selector)).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|ei| ei.owner_references().iter().any(|o| o.uid == uid))
        .collect())
}

/// The cloud instance id a member mirrors.
pub fn instance_id(ei: &EdgeInstance) -> Option<&str> {
    ei.spec
        .adopt_id
        .as_deref()
        .or_else(|| ei.status.as_ref().and_then(|s| s.instance_id.as_deref()))
}

fn owner_reference(ec: &EdgeCloud) -> OwnerReference {
    OwnerReference {
        api_version: EdgeCloud::api_version(&()).into_owned(),
        kind: EdgeCloud::kind(&()).into_owned(),
        name: ec.name_any(),
        uid: ec.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The fingerprint a member was recorded with (annotation `edgefleet.io/template-fingerprint`).
pub fn fingerprint(ei: &EdgeInstance) -> Option<&str> {
    ei.annotations()
        .get(TEMPLATE_FINGERPRINT_ANNOTATION)
        .map(String::as_str)
}

/// Whether a member is being replaced after a build timeout (annotation `edgefleet.io/replace`).
pub fn is_replacing(ei: &EdgeInstance) -> bool {
    ei.annotations().contains_key(REPLACE_ANNOTATION)
}

/// The EdgeInstance mirroring cloud member `m`: it adopts the instance by id and describes it as it is
/// (site, operator, flavor, image as observed; name and description left to the cloud), with the
/// template's disks, bandwidth, key, power state and network (literal VPC and security group ids), and
/// `fingerprint` (see [`super::fleet::hidden_fingerprint`]) as annotation.
pub fn mirror(ec: &EdgeCloud, m: &ObservedInstance, refs: &ResolvedRefs, fingerprint: &str) -> EdgeInstance {
    let t = &ec.spec.template;
    let mut labels: BTreeMap<String, String> = ec.labels().clone();
    labels.insert(EDGE_CLOUD_LABEL.to_owned(), ec.name_any());
    let observe_only = ec.spec.management_policy == ManagementPolicy::ObserveOnly;
    EdgeInstance {
        metadata: ObjectMeta {
            name: Some(member_name(ec, &m.id)),
            namespace: ec.namespace(),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                TEMPLATE_FINGERPRINT_ANNOTATION.to_owned(),
                fingerprint.to_owned(),
            )])),
            owner_references: Some(vec![owner_reference(ec)]),
            // Created with the finalizer the EdgeInstance controller would add on adopting it (one
            // write less per member).
            finalizers: Some(vec![FINALIZER.to_owned()]),
            ..ObjectMeta::default()
        },
        spec: EdgeInstanceSpec {
            deletion_policy: DeletionPolicy::Delete,
            management_policy: if observe_only {
                ManagementPolicy::ObserveOnly
            } else {
                ManagementPolicy::Manage
            },
            adopt_id: Some(m.id.clone()),
            flavor: m.flavor.clone().unwrap_or_else(|| t.flavor.clone()),
            image: m.image.clone().unwrap_or_else(|| t.image.clone()),
            placement: InstancePlacement {
                site_id: m.placement.site_id.clone(),
                area: None,
                province: None,
                city: None,
                operator: m.placement.operator.clone().filter(|o| !o.is_empty()),
                pool_id: None,
            },
            network: InstanceNetwork {
                vpc_ref: None,
                vpc_id: m
                    .vpc_id
                    .clone()
                    .filter(|v| !v.is_empty())
                    .or_else(|| Some(refs.vpc_id.clone()).filter(|v| !v.is_empty())),
                subnets: vec![],
                security_group_refs: vec![],
                security_group_ids: refs.security_group_ids.clone(),
            },
            key_name: m
                .key_name
                .clone()
                .filter(|k| !k.is_empty())
                .or_else(|| t.key_name.clone()),
            ..t.member_spec(ec.spec.provider_config_ref.clone())
        },
        status: None,
    }
}

/// Creates a member; `Ok(false)` when it already exists (a restart, or the watch cache lagging).
pub async fn create(api: &Api<EdgeInstance>, ei: &EdgeInstance) -> Result<bool, kube::Error> {
    match api.create(&PostParams::default(), ei).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Releases a member the fleet removes itself: `deletionPolicy: Orphan` (so its controller leaves the
/// cloud instance to the fleet), then deletes the EdgeInstance. NotFound counts as done.
pub async fn release(api: &Api<EdgeInstance>, ei: &EdgeInstance) -> Result<(), kube::Error> {
    let name = ei.name_any();
    if ei.spec.deletion_policy != DeletionPolicy::Orphan {
        let patch = serde_json::json!({"spec": {"deletionPolicy": "Orphan"}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    if ei.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets `deletionPolicy: Orphan` on a member without deleting it (the EdgeCloud is deleted with
/// `deletionPolicy: Orphan`: garbage collection then removes the EdgeInstance but not the instance).
pub async fn orphan(api: &Api<EdgeInstance>, ei: &EdgeInstance) -> Result<(), kube::Error> {
    if ei.spec.deletion_policy == DeletionPolicy::Orphan {
        return Ok(());
    }
    let patch = serde_json::json!({"spec": {"deletionPolicy": "Orphan"}});
    merge_patch(api, ei, &patch).await
}

/// Merge-patches a member; NotFound counts as done (the member is gone, which is what was wanted).
async fn merge_patch(
    api: &Api<EdgeInstance>,
    ei: &EdgeInstance,
    patch: &serde_json::Value,
) -> Result<(), kube::Error> {
    match api
        .patch(&ei.name_any(), &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets annotation `key` to `value` on a member. NotFound counts as done.
pub async fn annotate(
    api: &Api<EdgeInstance>,
    ei: &EdgeInstance,
    key: &str,
    value: &str,
) -> Result<(), kube::Error> {
    let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
    merge_patch(api, ei, &patch).await
}

/// Asks the controller of member `name` to change its image in place (the cloud's change-OS) by setting
/// `spec.image` on its EdgeInstance.
pub async fn set_image(api: &Api<EdgeInstance>, name: &str, image: &str) -> Result<(), kube::Error> {
    let patch = serde_json::json!({"spec": {"image": image}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
