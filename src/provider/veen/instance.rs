//! veEN single instances ([`InstanceApi`] for [`VeenProvider`]). A veEN instance lives only inside a
//! cloud server (the fleet: template + group), so a create is `CreateInstance` of one instance into
//! the spec's fleet (`InstanceSpec::fleet_id`), placed by one `instance_area_nums` entry
//! ([`super::placement`]), with the create identity's `client_token` and owner tag; the instance is
//! then renamed to the spec's name (`CreateInstance` takes no name: veEN names members after the cloud
//! server). The instance may join a custom VPC (and one subnet of it) in its area entry. What it
//! inherits from its cloud server (spec, image, system disk, security groups, login)
//! is checked against `GetCloudServer` before the create; the placement against
//! `ListAvailableResourceInfo`.
//!
//! Lookups by identity use the owner tag where the identity carries one (the tag survives a crash
//! between the create and the rename), else the exact name; always within the fleet when the spec
//! names one. Drift polls are answered from one `ListInstances` of the account ([`Snapshots`]).
//! Day 2: rename (`SetInstanceName`), power (`Start/Stop/RebootInstances`), delete
//! (`OfflineInstances` with `ignore_running`). Everything else a veEN instance takes from its cloud
//! server (image, description, security groups, NICs) is `Unsupported` here, and the capabilities say
//! `Replace` for it, so controllers report the change instead of calling.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::VeenProvider;
use super::client::{VeenClient, get, post};
use super::placement::{self, PlacementError};
use super::types::{Created, Instance, InstanceQuery};
use crate::provider::batch::{ListedInstances, Snapshots};
use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::HttpResult;
use crate::provider::metrics::ObservationSource;
use crate::provider::{
    CreateIdentity, InstanceApi, InstanceExt, InstanceField, InstanceFieldError, InstanceFilter,
    InstanceSpec, InstanceState, InstanceUpdate, OWNER_TAG, ObservedInstance, Operation, Placement,
    PowerAction, ProviderResult,
};

/// Longest instance name (`SetInstanceName`).
pub const MAX_NAME_LEN: usize = 60;
/// The special characters veEN names may contain (besides letters, digits and Chinese).
pub const NAME_SPECIALS: &str = "()`~!@#$%^&*-+=_|{}[]:;'<>,.?/";

/// veEN's name rule: 1–60 letters, digits, Chinese characters and [`NAME_SPECIALS`], not starting with
/// `/`. `None` when `name` passes.
pub fn name_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Some(format!(
            "{name:?} has {len} characters; veEN takes 1–{MAX_NAME_LEN}"
        ));
    }
    if name.starts_with('/') {
        return Some(format!("{name:?} starts with '/', which veEN does not accept"));
    }
    let ok = |c: char| {
        c.is_ascii_alphanumeric() || ('\u{4e00}'..='\u{9fa5}').contains(&c) || NAME_SPECIALS.contains(c)
    };
    name.chars().find(|c| !ok(*c)).map(|bad| {
        format!(
            "{name:?} contains {bad:?}; veEN takes letters, digits, Chinese characters and {NAME_SPECIALS}"
        )
    })
}

fn veen_ext(spec: &InstanceSpec) -> Option<&crate::provider::VeenInstanceExt> {
    match &spec.ext {
        InstanceExt::Veen(e) => Some(e),
        _ => None,
    }
}

/// veEN's rules for `spec` (see [`InstanceApi::validate`]): the name always; for a create also the
/// fleet, a placement veEN can express, at most one subnet, and no security groups, description, data
/// disks, key pair, password, user data or bandwidth of its own (a veEN instance takes them from its
/// cloud server; the password and user data are seen once the controller has read their Secrets). The
/// create timeout's minimum is the CRD's (CEL).
pub fn validate(spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
    let mut found = Vec::new();
    if let Some(problem) = name_problem(&spec.name) {
        found.push(InstanceFieldError::invalid(InstanceField::Name, problem));
    }
    if !creating {
        return found;
    }
    if spec.fleet_id.as_deref().is_none_or(str::is_empty) {
        found.push(InstanceFieldError::invalid(
            InstanceField::Fleet,
            "veEN creates instances only into a cloud server: name one (an EdgeCloud reference or a cloud server id)",
        ));
    }
    if let Err(problem) = area_of(spec) {
        found.push(placement_problem(&problem));
    }
    if !spec.security_group_ids.is_empty() {
        found.push(InstanceFieldError::invalid(
            InstanceField::Network,
            "a veEN instance takes the security groups of its cloud server: leave spec.network's security groups empty",
        ));
    }
    if spec.subnet_ids.len() > 1 {
        found.push(InstanceFieldError::invalid(
            InstanceField::Subnets,
            format!(
                "{} subnets; a veEN instance created into a cloud server has one NIC (one subnet)",
                spec.subnet_ids.len()
            ),
        ));
    }
    if !spec.description.is_empty() {
        found.push(InstanceFieldError::invalid(
            InstanceField::Description,
            "a veEN instance takes the description of its cloud server (advanced_configuration.instance_desc): leave spec.description unset",
        ));
    }
    if !spec.data_volumes.is_empty() {
        found.push(InstanceFieldError::invalid(
            InstanceField::DataVolumes,
            "a veEN instance takes the data disks of its cloud server: leave spec.dataVolumes empty",
        ));
    }
    let inherited = [
        (
            spec.key_name.is_some(),
            InstanceField::KeyName,
            "login (secret_config)",
            "spec.keyName",
        ),
        (
            spec.admin_password.is_some(),
            InstanceField::AdminPassword,
            "login (secret_config)",
            "spec.adminPasswordSecretRef",
        ),
        (
            spec.user_data.is_some(),
            InstanceField::UserData,
            "user data (custom_data)",
            "spec.userDataSecretRef",
        ),
        (
            spec.bandwidth.is_some(),
            InstanceField::Bandwidth,
            "bandwidth (network_config)",
            "spec.bandwidth",
        ),
    ];
    for (set, field, what, path) in inherited {
        if set {
            found.push(InstanceFieldError::invalid(
                field,
                format!("a veEN instance takes the {what} of its cloud server: leave {path} unset"),
            ));
        }
    }
    found
}

/// A placement veEN cannot take, as a finding naming the operator or the placement.
fn placement_problem(problem: &PlacementError) -> InstanceFieldError {
    let field = match problem {
        PlacementError::UnknownOperator(_) | PlacementError::AreaWithoutIsp => InstanceField::Operator,
        PlacementError::Nowhere => InstanceField::Placement,
    };
    InstanceFieldError::invalid(field, problem.to_string())
}

/// The `instance_area_nums` entry of one instance of `spec`: its placement, and its custom VPC and
/// subnet when the spec names them (a veEN VPC lives in one cluster, so veEN places the instance there).
fn area_of(spec: &InstanceSpec) -> Result<super::types::AreaNum, PlacementError> {
    let mut area = placement::area_entry(
        Some(spec.site.as_str()),
        spec.area.as_deref(),
        spec.operator.as_deref(),
        1,
    )?;
    area.vpc_identity = non_empty(&spec.vpc_id);
    area.subnet_identity = area.vpc_identity.as_ref().and(spec.subnet_ids.first().cloned());
    Ok(area)
}

/// The domain state of a veEN status (the SDK enum).
pub fn state_of(status: &str) -> InstanceState {
    match status {
        "opening" => InstanceState::Creating,
        "running" => InstanceState::Running,
        "stop" => InstanceState::Stopped,
        "starting" | "stopping" | "rebooting" => InstanceState::Transitioning,
        "terminating" => InstanceState::Deleting,
        "open_fail" => InstanceState::Failed,
        other => InstanceState::Other(other.to_owned()),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A veEN instance as edgefleet observes it (also used for the members of cloud servers).
pub fn observed(i: &Instance) -> ObservedInstance {
    let ips = |ip: &str| non_empty(ip).into_iter().collect::<Vec<_>>();
    ObservedInstance {
        id: i.instance_identity.clone(),
        name: i.instance_name.clone(),
        description: i.instance_desc.clone(),
        state: state_of(&i.status),
        raw_status: i.status.clone(),
        flavor: non_empty(&i.spec),
        image: non_empty(&i.image.image_identity),
        placement: Placement {
            site_id: non_empty(&i.cluster.cluster_name),
            zone: non_empty(&i.cluster.cluster_name),
            area: non_empty(&i.cluster.region),
            province: None,
            city: non_empty(&i.cluster.city),
            operator: non_empty(&i.cluster.isp).map(|isp| placement::operator_of(&isp)),
            ..Placement::default()
        },
        fleet_id: non_empty(&i.cloud_server_identity),
        private_ips: ips(&i.network.internal_interface.ip_addr),
        public_ips: ips(&i.network.external_interface.ip_addr),
        nics: Vec::new(),
        security_groups: Vec::new(),
        vpc_id: non_empty(&i.vpc_identity),
        key_name: None,
        created: rfc3339(i.create_time),
        tags: i.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
    }
}

/// A veEN `create_time` (epoch seconds) as RFC 3339, how every cloud reports `ObservedInstance::created`
/// (the delete policies and the build timeout read it); none for 0 or an out-of-range value.
pub fn rfc3339(epoch_seconds: i64) -> Option<String> {
    k8s_openapi::jiff::Timestamp::from_second(epoch_seconds)
        .ok()
        .filter(|_| epoch_seconds > 0)
        .map(|t| t.to_string())
}

/// What a cloud server gives every instance, as `GetCloudServer` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inherited {
    /// Spec name.
    pub spec: String,
    /// Image id.
    pub image: String,
    /// System disk type.
    pub disk_type: String,
    /// System disk size in GB.
    pub disk_gb: Option<u32>,
}

impl Inherited {
    /// Reads the parts of a `GetCloudServer` answer (`cloud_server`) instances inherit.
    /// The disk keys are read as documented (`system_disk.storage_type`) and, as the emulator echoes
    /// `storage_config`, without underscores.
    pub fn of(cloud_server: &Value) -> Self {
        let at = |paths: &[&str]| paths.iter().find_map(|p| cloud_server.pointer(p));
        let text = |paths: &[&str]| at(paths).and_then(Value::as_str).unwrap_or_default().to_owned();
        let capacity = at(&["/storage/system_disk/capacity", "/storage/systemdisk/capacity"]);
        Self {
            spec: text(&["/spec"]),
            image: text(&["/image/image_identity"]),
            disk_type: text(&[
                "/storage/system_disk/storage_type",
                "/storage/systemdisk/storagetype",
            ]),
            disk_gb: capacity.and_then(|c| {
                c.as_u64()
                    .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|n| u32::try_from(n).ok())
            }),
        }
    }

    /// Where `spec` differs from what instances of cloud server `id` get, naming the field and the
    /// cloud server's value.
    pub fn differences(&self, id: &str, spec: &InstanceSpec) -> Vec<InstanceFieldError> {
        let mut found = Vec::new();
        if !self.spec.is_empty() && spec.flavor != self.spec {
            found.push(InstanceFieldError::invalid(
                InstanceField::Flavor,
                format!(
                    "{:?} differs from the spec of cloud server {id} ({:?}); its instances all have that spec",
                    spec.flavor, self.spec
                ),
            ));
        }
        if !self.image.is_empty() && spec.image != self.image {
            found.push(InstanceFieldError::invalid(
                InstanceField::Image,
                format!(
                    "{:?} differs from the image of cloud server {id} ({:?}); its instances all have that image",
                    spec.image, self.image
                ),
            ));
        }
        let size_differs = self.disk_gb.is_some_and(|gb| gb != spec.root_volume.size_gb);
        let type_differs = !self.disk_type.is_empty() && spec.root_volume.volume_type != self.disk_type;
        if size_differs || type_differs {
            found.push(InstanceFieldError::invalid(
                InstanceField::RootVolume,
                format!(
                    "{} {} GB differs from the system disk of cloud server {id} ({} {} GB); its instances all have that disk",
                    spec.root_volume.volume_type,
                    spec.root_volume.size_gb,
                    self.disk_type,
                    self.disk_gb.map_or_else(|| "?".to_owned(), |g| g.to_string())
                ),
            ));
        }
        found
    }
}

/// Whether one `ListAvailableResourceInfo` entry offers a place for `area` (cluster or area/city + ISP).
fn offers(entry: &Value, area: &super::types::AreaNum) -> bool {
    let ids = |k: &str| -> [String; 2] {
        let get = |f: &str| {
            entry
                .pointer(&format!("/{k}/{f}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        [get("id"), get("name")]
    };
    let free = entry.get("available_num").and_then(Value::as_u64).unwrap_or(0) > 0;
    let isp_ok = area
        .isp
        .as_deref()
        .is_none_or(|i| ids("isp").iter().any(|x| x == i));
    let place_ok = match (&area.cluster_name, &area.area_name) {
        (Some(c), _) => ids("cluster").iter().any(|x| x == c),
        (None, Some(a)) => ids("area").iter().chain(ids("city").iter()).any(|x| x == a),
        (None, None) => false,
    };
    free && isp_ok && place_ok
}

fn local(op: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Invalid {
        detail: ErrorDetail::local(op, message),
    }
}

fn not_found(op: &str, id: &str) -> ProviderError {
    ProviderError::NotFound {
        detail: ErrorDetail::local(op, format!("veEN has no instance {id}")),
    }
}

/// The veEN calls of single instances beyond the shared client's.
impl VeenClient {
    /// `GetCloudServer`, the whole `cloud_server` object.
    pub async fn cloud_server_detail(&self, id: &str) -> HttpResult<Value> {
        let mut r: Value = self
            .result(get("veen.cloud_server.get", "GetCloudServer").query("cloud_server_id", id))
            .await?;
        Ok(r.get_mut("cloud_server").map(Value::take).unwrap_or_default())
    }

    /// `CreateInstance` with a body built by the caller (`instance_area_nums` entries with host
    /// names, `create_instance_timeout`); retried like an idempotent call when it carries a
    /// `client_token`.
    pub async fn create_instance_with(&self, body: Value) -> HttpResult<Created> {
        let idempotent = body.get("client_token").is_some_and(Value::is_string);
        self.result(post("veen.instance.create", "CreateInstance", body, idempotent))
            .await
    }
}

/// The `CreateInstance` body for `count` instances of `spec` carrying `identity`.
pub fn create_body(spec: &InstanceSpec, count: u32, identity: &CreateIdentity) -> Result<Value, String> {
    let fleet = spec
        .fleet_id
        .as_deref()
        .filter(|f| !f.is_empty())
        .ok_or("spec.fleetRef: veEN creates instances only into a cloud server")?;
    let mut area = area_of(spec).map_err(|e| format!("spec.placement: {e}"))?;
    area.num = count;
    let mut entry = serde_json::to_value(&area).map_err(|e| format!("encode: {e}"))?;
    let ext = veen_ext(spec);
    if let (Some(h), Some(m)) = (ext.and_then(|e| e.host_name.as_deref()), entry.as_object_mut()) {
        m.insert("host_name_list".into(), json!([h]));
    }
    let tags: Vec<Value> = identity
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    let mut body = json!({
        "cloud_server_identity": fleet,
        "instance_area_nums": [entry],
        "Tags": tags,
    });
    if let Some(m) = body.as_object_mut() {
        if let Some(t) = &identity.client_token {
            m.insert("client_token".into(), json!(t));
        }
        if let Some(t) = ext.and_then(|e| e.create_timeout_seconds) {
            m.insert("create_instance_timeout".into(), json!(t));
        }
    }
    Ok(body)
}

impl VeenProvider {
    async fn list_observed(&self, q: &InstanceQuery) -> ProviderResult<Vec<ObservedInstance>> {
        Ok(self
            .client
            .list_instances(q)
            .await?
            .iter()
            .map(observed)
            .collect())
    }

    /// Renames freshly created instances to `name` (`name-2`, … for more than one). Best effort: a
    /// failed rename leaves the veEN name, which the next pass's plan renames.
    async fn name_created(&self, ids: &[String], name: &str) {
        for (n, id) in ids.iter().enumerate() {
            let want = if n == 0 {
                name.to_owned()
            } else {
                format!("{name}-{}", n + 1)
            };
            if let Err(e) = self.client.rename(id, &want).await {
                tracing::debug!(instance_id = %id, error = %e, "could not name the new veEN instance yet");
            }
        }
    }
}

#[async_trait]
impl InstanceApi for VeenProvider {
    async fn create(
        &self,
        spec: &InstanceSpec,
        count: u32,
        identity: &CreateIdentity,
    ) -> ProviderResult<Operation> {
        const OP: &str = "veen.instance.create";
        let body = create_body(spec, count, identity).map_err(|m| local(OP, m))?;
        let created = self.client.create_instance_with(body).await?;
        let ids = created.instance_id_list;
        self.instance_snapshots.touch(ids.iter().map(String::as_str));
        self.name_created(&ids, &spec.name).await;
        Ok(Operation {
            resource_ids: ids,
            order_id: created.pre_paid_url.filter(|u| !u.is_empty()),
            ..Operation::default()
        })
    }

    fn validate(&self, spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
        validate(spec, creating)
    }

    /// The cloud server must exist and give its instances the spec's flavor, image and system disk;
    /// the placement must be offered for that spec with free capacity.
    async fn prepare_create(&self, spec: &mut InstanceSpec) -> ProviderResult<Vec<InstanceFieldError>> {
        let Some(fleet) = spec.fleet_id.clone().filter(|f| !f.is_empty()) else {
            return Ok(validate(spec, true));
        };
        let cs = match self.client.cloud_server_detail(&fleet).await {
            Ok(cs) => cs,
            Err(e) if e.is_not_found() => {
                return Ok(vec![InstanceFieldError::not_in_catalog(
                    InstanceField::Fleet,
                    format!("veEN has no cloud server {fleet}"),
                )]);
            }
            Err(e) => return Err(e),
        };
        let differences = Inherited::of(&cs).differences(&fleet, spec);
        if !differences.is_empty() {
            return Ok(differences);
        }
        let area = match area_of(spec) {
            Ok(a) => a,
            Err(problem) => return Ok(vec![placement_problem(&problem)]),
        };
        let offered = self.client.available(&spec.flavor).await?;
        if !offered.iter().any(|e| offers(e, &area)) {
            let (field, place) = match (&area.cluster_name, &area.area_name) {
                (Some(c), _) => (InstanceField::Site, format!("cluster {c}")),
                (None, a) => (
                    InstanceField::Placement,
                    format!(
                        "{} with ISP {}",
                        a.as_deref().unwrap_or_default(),
                        area.isp.as_deref().unwrap_or_default()
                    ),
                ),
            };
            return Ok(vec![InstanceFieldError::not_in_catalog(
                field,
                format!("veEN offers no free place for spec {} in {place}", spec.flavor),
            )]);
        }
        Ok(Vec::new())
    }

    /// Live instances of the spec's fleet carrying the identity's owner tag, or (without one) named
    /// exactly `identity.name`.
    async fn find_by_identity(
        &self,
        identity: &CreateIdentity,
        spec: &InstanceSpec,
    ) -> ProviderResult<Vec<ObservedInstance>> {
        let owner = identity.tags.get(OWNER_TAG);
        let q = InstanceQuery {
            cloud_server_ids: spec.fleet_id.iter().filter(|f| !f.is_empty()).cloned().collect(),
            names: if owner.is_none() {
                vec![identity.name.clone()]
            } else {
                Vec::new()
            },
            tags: owner
                .map(|uid| vec![(OWNER_TAG.to_owned(), vec![uid.clone()])])
                .unwrap_or_default(),
            ..InstanceQuery::default()
        };
        Ok(self
            .list_observed(&q)
            .await?
            .into_iter()
            .filter(|i| !matches!(i.state, InstanceState::Deleted | InstanceState::Deleting))
            .filter(|i| owner.is_some() || i.name == identity.name)
            .collect())
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedInstance> {
        let i = self.client.get_instance(id).await?;
        if i.instance_identity.is_empty() {
            return Err(not_found("veen.instance.get", id));
        }
        Ok(observed(&i))
    }

    async fn list(&self, filter: &InstanceFilter) -> ProviderResult<Vec<ObservedInstance>> {
        let q = InstanceQuery {
            cloud_server_ids: filter.fleet_id.iter().cloned().collect(),
            instance_ids: filter.ids.clone(),
            names: filter.name.iter().cloned().collect(),
            ..InstanceQuery::default()
        };
        Ok(self
            .list_observed(&q)
            .await?
            .into_iter()
            .filter(|i| {
                filter
                    .site_id
                    .as_deref()
                    .is_none_or(|s| i.placement.site_id.as_deref() == Some(s))
            })
            .collect())
    }

    /// One list of the account's instances answers every drift poll.
    fn listed(&self) -> Option<&dyn ListedInstances> {
        Some(self)
    }

    async fn update(&self, id: &str, update: &InstanceUpdate) -> ProviderResult<()> {
        if update.description.is_some() {
            return Err(ProviderError::unsupported(
                "veen.instance.update",
                "a veEN instance takes the description of its cloud server; it cannot be changed per instance",
            ));
        }
        if let Some(name) = &update.name {
            let r = self.client.rename(id, name).await;
            self.instance_snapshots.touch([id]);
            r?;
        }
        Ok(())
    }

    async fn delete(&self, ids: &[String]) -> ProviderResult<Operation> {
        let r = self.client.offline(ids, true).await;
        self.instance_snapshots.touch(ids.iter().map(String::as_str));
        r?;
        Ok(Operation::default())
    }

    async fn power(&self, ids: &[String], action: PowerAction) -> ProviderResult<Operation> {
        let r = match action {
            PowerAction::Start => self.client.start(ids).await,
            PowerAction::Stop { .. } => self.client.stop(ids).await,
            PowerAction::Reboot { .. } => self.client.reboot(ids).await,
        };
        self.instance_snapshots.touch(ids.iter().map(String::as_str));
        r?;
        Ok(Operation::default())
    }
}

#[async_trait]
impl ListedInstances for VeenProvider {
    fn snapshots(&self) -> &Snapshots<ObservedInstance> {
        &self.instance_snapshots
    }

    async fn list_all(&self) -> ProviderResult<Vec<ObservedInstance>> {
        self.list_observed(&InstanceQuery::default()).await
    }

    fn count_observation(&self, source: ObservationSource) {
        self.client.count_observation(source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{PowerState, VeenInstanceExt, VolumeSpec};

    #[test]
    fn veen_creation_times_are_reported_in_rfc3339_like_every_cloud() {
        let at = |t: i64| {
            observed(&Instance {
                create_time: t,
                ..Instance::default()
            })
            .created
        };
        assert_eq!(at(1_700_000_000).as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(at(0), None, "unknown");
        assert_eq!(at(i64::MAX), None, "out of range");
    }

    fn spec() -> InstanceSpec {
        InstanceSpec {
            name: "web".into(),
            description: String::new(),
            flavor: "veEN.C1.large".into(),
            image: "image-ubuntu2004".into(),
            site: String::new(),
            area: Some("hangzhou".into()),
            pool_id: None,
            operator: Some("chinamobile".into()),
            vpc_id: String::new(),
            subnet_ids: vec![],
            security_group_ids: vec![],
            root_volume: VolumeSpec {
                size_gb: 40,
                volume_type: "CloudBlockSSD".into(),
            },
            data_volumes: vec![],
            key_name: None,
            admin_password: None,
            user_data: None,
            bandwidth: None,
            power: PowerState::Running,
            fleet_id: Some("cloudserver-1".into()),
            ext: InstanceExt::Veen(VeenInstanceExt {
                create_timeout_seconds: Some(300),
                host_name: Some("web-host".into()),
            }),
        }
    }

    fn fields(s: &InstanceSpec, creating: bool) -> Vec<InstanceField> {
        validate(s, creating).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn veen_names_follow_set_instance_name_rules() {
        assert_eq!(name_problem("web-1.a_边缘"), None);
        assert!(name_problem(&"n".repeat(61)).is_some(), "60 at most");
        assert!(name_problem("a b").is_some(), "no space");
        assert!(name_problem("a\"b").is_some(), "no quote");
        assert!(name_problem("/a").is_some(), "no leading slash");
        assert!(name_problem("").is_some());
    }

    #[test]
    fn veen_validation_names_the_fleet_placement_and_inherited_fields() {
        assert_eq!(fields(&spec(), true), vec![], "a valid create");
        let mut s = spec();
        s.fleet_id = None;
        assert_eq!(fields(&s, true), vec![InstanceField::Fleet]);
        assert_eq!(fields(&s, false), vec![], "only a create needs a fleet");
        let mut s = spec();
        s.operator = None;
        assert_eq!(
            fields(&s, true),
            vec![InstanceField::Operator],
            "an area needs an ISP"
        );
        s.operator = Some("bgp".into());
        assert_eq!(fields(&s, true), vec![InstanceField::Operator]);
        let mut s = spec();
        s.vpc_id = "vpc-1".into();
        s.subnet_ids = vec!["subnet-1".into()];
        assert_eq!(fields(&s, true), vec![], "a custom VPC and one subnet");
        let body = create_body(&s, 1, &CreateIdentity::default()).unwrap();
        assert_eq!(
            (
                &body["instance_area_nums"][0]["vpc_identity"],
                &body["instance_area_nums"][0]["subnet_identity"]
            ),
            (&json!("vpc-1"), &json!("subnet-1"))
        );
        s.subnet_ids.push("subnet-2".into());
        s.security_group_ids = vec!["sg-1".into()];
        s.description = "d".into();
        assert_eq!(
            fields(&s, true),
            vec![
                InstanceField::Network,
                InstanceField::Subnets,
                InstanceField::Description
            ]
        );
        let mut s = spec();
        s.name = "a b".into();
        assert_eq!(fields(&s, false), vec![InstanceField::Name]);
        let mut s = spec();
        s.key_name = Some("kp".into());
        s.admin_password = Some(crate::provider::SecretString::new("Edge-Fleet-2026!"));
        s.user_data = Some(crate::provider::SecretString::new("#!/bin/sh"));
        s.bandwidth = Some(crate::provider::BandwidthSpec {
            size_mbit: Some(5),
            share_type: crate::provider::BandwidthSharing::Shared,
        });
        assert_eq!(
            fields(&s, true),
            vec![
                InstanceField::KeyName,
                InstanceField::AdminPassword,
                InstanceField::UserData,
                InstanceField::Bandwidth
            ],
            "the login, user data and bandwidth are the cloud server's, never silently dropped"
        );
        assert_eq!(fields(&s, false), vec![], "only a create sends them");
    }

    #[test]
    fn veen_create_body_carries_fleet_placement_token_tags_host_and_timeout() {
        let mut identity = CreateIdentity {
            name: "web".into(),
            client_token: Some("tok-1".into()),
            ..CreateIdentity::default()
        };
        identity.tags.insert(OWNER_TAG.into(), "uid-1".into());
        let body = create_body(&spec(), 1, &identity).unwrap();
        assert_eq!(
            body,
            json!({
                "cloud_server_identity": "cloudserver-1",
                "instance_area_nums": [{"area_name": "hangzhou", "isp": "CMCC", "num": 1, "host_name_list": ["web-host"]}],
                "Tags": [{"Key": OWNER_TAG, "Value": "uid-1"}],
                "client_token": "tok-1",
                "create_instance_timeout": 300,
            })
        );
        let mut s = spec();
        s.site = "cn-hangzhou-cmcc-01".into();
        let body = create_body(&s, 1, &CreateIdentity::default()).unwrap();
        assert_eq!(
            body["instance_area_nums"][0]["cluster_name"],
            "cn-hangzhou-cmcc-01"
        );
        assert!(body.get("client_token").is_none());
        s.fleet_id = None;
        assert!(
            create_body(&s, 1, &identity)
                .unwrap_err()
                .starts_with("spec.fleetRef")
        );
    }

    #[test]
    fn veen_inherited_fields_that_differ_are_named_with_the_cloud_servers_value() {
        let cs = json!({"spec": "veEN.C1.xlarge", "image": {"image_identity": "image-ubuntu2004"},
                        "storage": {"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}}});
        let found = Inherited::of(&cs).differences("cloudserver-1", &spec());
        assert_eq!(
            found.iter().map(|e| e.field).collect::<Vec<_>>(),
            vec![InstanceField::Flavor]
        );
        assert!(
            found[0].message.contains("\"veEN.C1.xlarge\""),
            "{}",
            found[0].message
        );
        let mut s = spec();
        s.flavor = "veEN.C1.xlarge".into();
        s.root_volume.size_gb = 50;
        assert_eq!(
            Inherited::of(&cs)
                .differences("c", &s)
                .iter()
                .map(|e| e.field)
                .collect::<Vec<_>>(),
            vec![InstanceField::RootVolume]
        );
    }

    #[test]
    fn veen_states_map_to_domain_states() {
        let cases = [
            ("opening", InstanceState::Creating),
            ("running", InstanceState::Running),
            ("stop", InstanceState::Stopped),
            ("starting", InstanceState::Transitioning),
            ("stopping", InstanceState::Transitioning),
            ("rebooting", InstanceState::Transitioning),
            ("terminating", InstanceState::Deleting),
            ("open_fail", InstanceState::Failed),
            ("weird", InstanceState::Other("weird".into())),
        ];
        for (raw, want) in cases {
            assert_eq!(state_of(raw), want, "{raw}");
        }
    }
}
