//! EdgeCloud on Workspace: a fleet is a server group, its template the `CreateServerGroup` body (image,
//! product = the template's flavor, VPC/subnet, system disk, OS, session settings), its members the
//! group's app servers. The [`FleetApi`] mapping:
//!
//! - **Plans are local**: [`create_plan`](FleetApi::create_plan) checks the request and answers an id
//!   derived from it; nothing exists in the cloud ([`find_open_plans`](FleetApi::find_open_plans) is
//!   empty, [`delete_plan`](FleetApi::delete_plan) a no-op).
//! - **Deploy** creates the group only (synchronous; tagged with the request's owner tag): members come
//!   through expansions, each one `actions/create` call for the shortfall (`subscription_num`), which
//!   answers a job ([`FleetOperation::job_id`], polled through the [`OperationApi`](crate::provider::OperationApi)).
//!   The call is not idempotent: the caller records the job id before anything else.
//! - **Template changes**: the group's image is PATCHed before an expansion that needs another image
//!   (it affects new servers only); the product and disk go with each create. Old members are replaced
//!   by the caller's rolling update.
//! - **Recovery** after a crash between the group create and the status write: the group is found by
//!   name and owner tag ([`find_by_identity`](FleetApi::find_by_identity)).
//! - **Placement** is by availability zone: coverage level Site, one placement entry whose `siteId`
//!   names the zone (a group lives in one zone).
//! - **Members** are deleted by `actions/batch-delete` (≤ 20 per call, one job each); **delete** of the
//!   group is refused (`WKS.00211103`, InUse) while servers remain, and succeeds for an unknown group.

use async_trait::async_trait;
use serde_json::json;

use super::WorkspaceProvider;
use super::types::{CreateAppServers, CreateServerGroup, RootVolume, RoutePolicy, ServerGroup, Tag};
use crate::provider::{
    CoverageLevel, FieldError, FleetApi, FleetExt, FleetOperation, FleetPlan, FleetPlanRequest,
    FleetPlanTarget, FleetState, InstanceField, InstanceFieldError, InstanceTemplate, OWNER_TAG,
    ObservedFleet, ObservedInstance, OpenPlan, Operation, ProviderError, ProviderResult, WorkspaceFleetExt,
    client_token,
};

/// System disk types Workspace offers (`ListVolumeType`; seed 004).
pub const DISK_TYPES: &[&str] = &["ESSD", "SSD", "GPSSD", "SAS", "SATA"];
/// Image types of `CreateServerGroup`.
pub const IMAGE_TYPES: &[&str] = &["gold", "public", "private", "shared", "other"];
/// OS types of `CreateServerGroup`.
pub const OS_TYPES: &[&str] = &["Windows", "Linux", "Other"];
/// Longest group name Workspace accepts (edgefleet's fleet names are at most 32).
pub const MAX_NAME_LEN: usize = 64;

/// Workspace's rules for the member template: no data disks, public bandwidth, key pair, password,
/// user data or security groups (a server takes the group's settings and an AD account), one NIC, a
/// VPC, and a system disk type Workspace offers.
pub fn template_problems(t: &InstanceTemplate) -> Vec<InstanceFieldError> {
    let mut out = Vec::new();
    let mut no = |field, what: &str| {
        out.push(InstanceFieldError::invalid(
            field,
            format!("Workspace app servers take no {what}: remove it"),
        ));
    };
    if !t.data_volumes.is_empty() {
        no(InstanceField::DataVolumes, "data disks");
    }
    if t.bandwidth.is_some() {
        no(InstanceField::Bandwidth, "public bandwidth");
    }
    if t.key_name.is_some() {
        no(
            InstanceField::KeyName,
            "key pair (users log in through the AD domain)",
        );
    }
    if t.admin_password.is_some() {
        no(InstanceField::AdminPassword, "administrator password");
    }
    if t.user_data.is_some() {
        no(InstanceField::UserData, "user data");
    }
    if !t.security_group_ids.is_empty() {
        no(InstanceField::Network, "security groups");
    }
    if t.nic_count > 1 {
        out.push(InstanceFieldError::invalid(
            InstanceField::Network,
            "Workspace app servers have one NIC: nicCount must be 1",
        ));
    }
    if t.vpc_id.is_empty() {
        out.push(InstanceFieldError::invalid(
            InstanceField::Network,
            "Workspace app servers join an existing VPC: set vpcId (or vpcRef)",
        ));
    }
    if !DISK_TYPES
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&t.root_volume.volume_type))
    {
        out.push(InstanceFieldError::invalid(
            InstanceField::RootVolume,
            format!(
                "Workspace system disks are {}, not {:?}",
                DISK_TYPES.join(", "),
                t.root_volume.volume_type
            ),
        ));
    }
    out
}

/// The Workspace section of a request, if it has one.
fn ext_of(t: &InstanceTemplate) -> Option<&WorkspaceFleetExt> {
    match &t.ext {
        FleetExt::Workspace(x) => Some(x),
        _ => None,
    }
}

/// Workspace's rules for a whole request: zone placement (level Site, one entry), and the
/// `spec.workspace` section with its subnet, image type and OS type.
pub fn request_problems(r: &FleetPlanRequest) -> Vec<FieldError> {
    let mut out = Vec::new();
    if r.level != CoverageLevel::Site {
        out.push(FieldError::invalid(
            "spec.coverage.level".to_owned(),
            format!(
                "Workspace places servers by availability zone: use coverage level Site (siteId = the zone), not {:?}",
                r.level
            ),
        ));
    }
    if r.targets.len() > 1 {
        out.push(FieldError::invalid(
            "spec.placement".to_owned(),
            format!(
                "a Workspace server group lives in one availability zone: name one placement entry, not {}",
                r.targets.len()
            ),
        ));
    }
    match ext_of(&r.template) {
        None => out.push(FieldError::invalid(
            "spec.workspace".to_owned(),
            "a Workspace EdgeCloud needs spec.workspace (subnetId, imageType, osType)",
        )),
        Some(x) => {
            if x.subnet_id.as_deref().is_none_or(str::is_empty) {
                out.push(FieldError::invalid(
                    "spec.workspace.subnetId".to_owned(),
                    "Workspace servers need the subnet of their NIC",
                ));
            }
            if !IMAGE_TYPES.contains(&x.image_type.as_str()) {
                out.push(FieldError::invalid(
                    "spec.workspace.imageType".to_owned(),
                    format!("one of {}, not {:?}", IMAGE_TYPES.join(", "), x.image_type),
                ));
            }
            if !OS_TYPES.contains(&x.os_type.as_str()) {
                out.push(FieldError::invalid(
                    "spec.workspace.osType".to_owned(),
                    format!("one of {}, not {:?}", OS_TYPES.join(", "), x.os_type),
                ));
            }
        }
    }
    out
}

fn invalid(op: &str, message: String) -> ProviderError {
    ProviderError::Invalid {
        detail: crate::provider::ErrorDetail::local(op, message),
    }
}

fn disk_type(t: &InstanceTemplate) -> String {
    DISK_TYPES
        .iter()
        .find(|d| d.eq_ignore_ascii_case(&t.root_volume.volume_type))
        .map(|d| (*d).to_owned())
        .unwrap_or_else(|| t.root_volume.volume_type.clone())
}

/// The `CreateServerGroup` body of a new fleet `name` from `request`.
pub fn group_body(name: &str, request: &FleetPlanRequest) -> CreateServerGroup {
    let t = &request.template;
    let x = ext_of(t).cloned().unwrap_or_default();
    let route = (x.max_session.is_some() || x.cpu_threshold.is_some() || x.mem_threshold.is_some())
        .then_some(RoutePolicy {
            max_session: x.max_session,
            cpu_threshold: x.cpu_threshold,
            mem_threshold: x.mem_threshold,
        });
    CreateServerGroup {
        name: name.chars().take(MAX_NAME_LEN).collect(),
        image_id: t.image.clone(),
        image_type: x.image_type.clone(),
        image_product_id: x.image_product_id.clone(),
        os_type: x.os_type.clone(),
        description: (!request.description.is_empty()).then(|| request.description.clone()),
        route_policy: route,
        product_id: t.flavor.clone(),
        flavor_id: x.flavor_id.clone(),
        vpc_id: t.vpc_id.clone(),
        subnet_id: x.subnet_id.clone().unwrap_or_default(),
        system_disk_type: disk_type(t),
        system_disk_size: t.root_volume.size_gb,
        ou_name: x.ou_name.clone(),
        availability_zone: request.targets.first().map(|t| t.site.clone()),
        is_vdi: x.is_vdi,
        app_type: x.app_type.clone(),
        tags: request
            .identity
            .tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
    }
}

/// The `actions/create` body adding `count` servers in `zone` to group `group_id`.
pub fn servers_body(
    group_id: &str,
    zone: Option<&str>,
    count: u32,
    t: &InstanceTemplate,
) -> CreateAppServers {
    let x = ext_of(t).cloned().unwrap_or_default();
    CreateAppServers {
        kind: "createApps".to_owned(),
        server_group_id: group_id.to_owned(),
        subscription_num: count,
        product_id: t.flavor.clone(),
        flavor_id: x.flavor_id,
        root_volume: RootVolume {
            kind: disk_type(t),
            size: t.root_volume.size_gb,
        },
        vpc_id: t.vpc_id.clone(),
        subnet_id: x.subnet_id.unwrap_or_default(),
        availability_zone: zone.filter(|z| !z.is_empty()).map(str::to_owned),
        os_type: (!x.os_type.is_empty()).then_some(x.os_type),
        ou_name: x.ou_name,
    }
}

/// A server group as an [`ObservedFleet`]: `Ready` while enabled (groups have no lifecycle status).
pub fn group_from(g: ServerGroup) -> ObservedFleet {
    let enabled = g.server_group_status != Some(false);
    ObservedFleet {
        id: g.id,
        name: g.name,
        description: g.description.unwrap_or_default(),
        state: if enabled {
            FleetState::Ready
        } else {
            FleetState::Other("disabled".to_owned())
        },
        raw_status: if enabled { "enabled" } else { "disabled" }.to_owned(),
        success_count: g.app_server_count.unwrap_or(0),
        failed_count: 0,
        failure: None,
        level: Some(CoverageLevel::Site),
        sites: g.availability_zone.into_iter().collect(),
    }
}

fn owned_by(g: &ServerGroup, tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.iter()
        .all(|(k, v)| g.tags.iter().any(|t| &t.key == k && &t.value == v))
}

#[async_trait]
impl FleetApi for WorkspaceProvider {
    fn validate_template(&self, template: &InstanceTemplate) -> Vec<InstanceFieldError> {
        template_problems(template)
    }

    fn validate_fleet(&self, request: &FleetPlanRequest) -> Vec<FieldError> {
        request_problems(request)
    }

    /// Servers of a create job are listed once the job runs (WAITING first).
    fn expansion_lists_members_late(&self) -> bool {
        true
    }

    async fn create_plan(&self, request: &FleetPlanRequest) -> ProviderResult<FleetPlan> {
        if let Some(p) = request_problems(request).into_iter().next() {
            return Err(invalid("workspace.fleet.plan", p.to_string()));
        }
        let id = client_token(&format!(
            "plan/{:?}/{:?}/{}/{}",
            request.target, request.targets, request.template.flavor, request.template.image
        ));
        Ok(FleetPlan {
            id,
            locations: Vec::new(),
        })
    }

    async fn deploy(&self, _plan_id: &str, request: &FleetPlanRequest) -> ProviderResult<FleetOperation> {
        const OP: &str = "workspace.fleet.deploy";
        let FleetPlanTarget::New { name } = &request.target else {
            return Err(invalid(OP, "a deploy creates a new server group".to_owned()));
        };
        let g = self.client.create_group(&group_body(name, request)).await?;
        Ok(FleetOperation {
            fleet_id: g.id.clone(),
            fleet_name: g.name.clone(),
            state: FleetState::Ready,
            job_id: None,
        })
    }

    async fn expand(&self, _plan_id: &str, request: &FleetPlanRequest) -> ProviderResult<FleetOperation> {
        const OP: &str = "workspace.fleet.expand";
        let FleetPlanTarget::Expand { fleet_id } = &request.target else {
            return Err(invalid(
                OP,
                "an expansion adds servers to an existing group".to_owned(),
            ));
        };
        let count: u32 = request.targets.iter().map(|t| t.count).sum();
        let group = self.client.get_group(fleet_id).await?;
        if count == 0 {
            return Ok(FleetOperation {
                fleet_id: group.id,
                fleet_name: group.name,
                state: FleetState::Ready,
                job_id: None,
            });
        }
        let t = &request.template;
        if group.image_id.as_deref().is_some_and(|i| i != t.image) {
            // New servers take the group's image: change it first (existing servers keep theirs).
            let x = ext_of(t).cloned().unwrap_or_default();
            let mut patch = json!({"image_id": t.image, "image_type": x.image_type});
            if let (Some(p), Some(m)) = (x.image_product_id, patch.as_object_mut()) {
                m.insert("image_product_id".into(), json!(p));
            }
            self.client.update_group(fleet_id, &patch).await?;
        }
        let zone = request.targets.first().map(|t| t.site.as_str());
        let answer = self
            .client
            .create_servers(&servers_body(fleet_id, zone, count, t))
            .await?;
        Ok(FleetOperation {
            fleet_id: group.id,
            fleet_name: group.name,
            state: FleetState::Updating,
            job_id: answer.job_id,
        })
    }

    async fn find_open_plans(&self) -> ProviderResult<Vec<OpenPlan>> {
        Ok(Vec::new())
    }

    async fn delete_plan(&self, _plan_id: &str) -> ProviderResult<()> {
        Ok(())
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedFleet> {
        self.client.get_group(id).await.map(group_from)
    }

    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedFleet>> {
        Ok(self
            .client
            .list_groups(Some(name), None)
            .await?
            .into_iter()
            .filter(|g| g.name == name)
            .map(group_from)
            .collect())
    }

    /// By name (the list filter) and, where the identity carries tags, the owner tag too.
    async fn find_by_identity(
        &self,
        identity: &crate::provider::CreateIdentity,
    ) -> ProviderResult<Vec<ObservedFleet>> {
        let name: String = identity.name.chars().take(MAX_NAME_LEN).collect();
        let owner = identity.tags.get(OWNER_TAG).map(String::as_str);
        Ok(self
            .client
            .list_groups(Some(&name), None)
            .await?
            .into_iter()
            .filter(|g| g.name == name && owned_by(g, &identity.tags))
            .filter(|g| owner.is_none() || g.tags.iter().any(|t| t.key == OWNER_TAG))
            .map(group_from)
            .collect())
    }

    async fn list_all(&self) -> ProviderResult<Vec<ObservedFleet>> {
        Ok(self
            .client
            .list_groups(None, None)
            .await?
            .into_iter()
            .map(group_from)
            .collect())
    }

    async fn list_members(&self, fleet_id: &str) -> ProviderResult<Vec<ObservedInstance>> {
        Ok(self
            .servers(Some(fleet_id))
            .await?
            .into_iter()
            .filter(|m| m.fleet_id.as_deref().is_none_or(|f| f == fleet_id))
            .collect())
    }

    async fn delete_members(&self, _fleet_id: &str, ids: &[String]) -> ProviderResult<Operation> {
        self.delete_servers(ids).await
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        match self.client.delete_group(id).await {
            Ok(()) => Ok(Operation::default()),
            Err(e) if e.is_not_found() => Ok(Operation::default()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{CoveragePolicy, CreateIdentity, SecretString, SiteTarget, VolumeSpec};

    fn template() -> InstanceTemplate {
        InstanceTemplate {
            name: "ws".into(),
            flavor: "workspace.appstream.general.xlarge.2".into(),
            image: "img-1".into(),
            vpc_id: "vpc-1".into(),
            nic_count: 1,
            security_group_ids: vec![],
            root_volume: VolumeSpec {
                size_gb: 80,
                volume_type: "sata".into(),
            },
            data_volumes: vec![],
            key_name: None,
            admin_password: None,
            user_data: None,
            bandwidth: None,
            with_prefix: false,
            ext: FleetExt::Workspace(WorkspaceFleetExt {
                image_type: "private".into(),
                os_type: "Windows".into(),
                subnet_id: Some("subnet-1".into()),
                max_session: Some(2),
                ..WorkspaceFleetExt::default()
            }),
        }
    }

    fn request(level: CoverageLevel, zones: &[&str]) -> FleetPlanRequest {
        FleetPlanRequest {
            target: FleetPlanTarget::New {
                name: "ws-fleet".into(),
            },
            description: "d".into(),
            level,
            policy: CoveragePolicy::Centralize,
            targets: zones
                .iter()
                .map(|z| SiteTarget {
                    site: (*z).into(),
                    operator: None,
                    pool_id: None,
                    count: 2,
                })
                .collect(),
            template: template(),
            identity: CreateIdentity {
                name: "ws-fleet".into(),
                client_token: None,
                tags: [(OWNER_TAG.to_owned(), "uid-1".to_owned())].into(),
            },
        }
    }

    #[test]
    fn a_workspace_group_body_carries_template_section_zone_and_owner_tag() {
        let b = group_body("ws-fleet", &request(CoverageLevel::Site, &["cn-north-4a"]));
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["product_id"], "workspace.appstream.general.xlarge.2");
        assert_eq!(v["system_disk_type"], "SATA");
        assert_eq!(v["system_disk_size"], 80);
        assert_eq!(v["subnet_id"], "subnet-1");
        assert_eq!(v["availability_zone"], "cn-north-4a");
        assert_eq!(v["route_policy"]["max_session"], 2);
        assert_eq!(v["tags"][0]["key"], OWNER_TAG);
        assert!(v.get("flavor_id").is_none(), "unset fields are not sent");
        let s = serde_json::to_value(servers_body("g1", Some("cn-north-4a"), 3, &template())).unwrap();
        assert_eq!(s["type"], "createApps");
        assert_eq!(s["subscription_num"], 3);
        assert_eq!(s["root_volume"]["type"], "SATA");
    }

    #[test]
    fn workspace_fleets_are_zonal_need_their_section_and_take_no_login_or_disks() {
        assert!(request_problems(&request(CoverageLevel::Site, &["z1"])).is_empty());
        let fields = |r: &FleetPlanRequest| -> Vec<String> {
            request_problems(r).into_iter().map(|e| e.field).collect()
        };
        assert_eq!(
            fields(&request(CoverageLevel::City, &["z1"])),
            ["spec.coverage.level"]
        );
        assert_eq!(
            fields(&request(CoverageLevel::Site, &["z1", "z2"])),
            ["spec.placement"]
        );
        let mut r = request(CoverageLevel::Site, &["z1"]);
        r.template.ext = FleetExt::None;
        assert_eq!(fields(&r), ["spec.workspace"]);
        let mut t = template();
        t.data_volumes.push(VolumeSpec {
            size_gb: 10,
            volume_type: "SAS".into(),
        });
        t.key_name = Some("k".into());
        t.admin_password = Some(SecretString::new("x"));
        t.root_volume.volume_type = "HDD".into();
        let found: Vec<InstanceField> = template_problems(&t).into_iter().map(|e| e.field).collect();
        assert_eq!(
            found,
            [
                InstanceField::DataVolumes,
                InstanceField::KeyName,
                InstanceField::AdminPassword,
                InstanceField::RootVolume
            ]
        );
    }
}
