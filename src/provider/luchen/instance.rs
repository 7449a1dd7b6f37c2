//! Luchen GPU instances as single instances ([`InstanceApi`] for [`LuchenProvider`]): the rules of the
//! create body checked before any call ([`validate`]), the body itself ([`create_body`]: the instance
//! type is `spec.flavor`, the image `spec.image`, the region `spec.placement.siteId`, the init script
//! the user data, and `spec.luchen`: billing, spot, remote storages, Docker, common data, the extra data
//! disk and the node ports), the status values read as domain states ([`state_of`]), and the list row
//! as edgefleet observes it ([`observed`]: the region as the site, the SSH command and node ports).
//!
//! Luchen has no get-one call, no tags, no idempotency token and no unique names: every read is the
//! list (one list of the account answers every drift poll, [`Snapshots`](crate::provider::batch::Snapshots),
//! and the create pass's name lookups, [`InstanceApi::find_by_identity_within`]), and a create whose
//! answer was lost is found by its deterministic name in a list made after it (every create touches
//! its name, whatever the answer). Day 2: stop,
//! start, restart, terminate (= delete, allowed in any state). Nothing changes in place (no rename,
//! resize or re-image API): the capabilities say `Replace`, so controllers report a change instead of
//! calling.

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::LuchenProvider;
use super::client::is_gone;
use super::types::{Billing, CreateInstance, Instance, InstanceConfiguration, RemoteStorage};
use crate::provider::batch::{ListedInstances, Snapshots};
use crate::provider::each::{Done, each_id};
use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::metrics::ObservationSource;
use crate::provider::{
    CreateIdentity, InstanceApi, InstanceExt, InstanceField, InstanceFieldError, InstanceFilter,
    InstanceSpec, InstanceState, InstanceUpdate, LuchenInstanceExt, NodePort, ObservedInstance, Operation,
    Placement, PowerAction, ProviderResult,
};

/// Longest instance name (the emulator's assumption; the docs give none).
pub const MAX_NAME_LEN: usize = 64;
/// The documented charge modes.
pub const CHARGE_MODES: &[&str] = &["tidePerHour", "perHour", "perDay", "perWeek", "perMonth"];
/// The charge modes whose duration must be 1.
pub const HOURLY_MODES: &[&str] = &["tidePerHour", "perHour"];
/// The storage types the docs name.
pub const STORAGE_TYPES: &[&str] = &["highspeedstorage", "filesystem"];
/// Most node ports edgefleet sends for one instance.
pub const MAX_NODE_PORTS: usize = 16;
/// Most remote storages edgefleet mounts into one instance.
pub const MAX_REMOTE_STORAGES: usize = 16;

/// The spec's Luchen section, if it has one.
pub fn ext_of(spec: &InstanceSpec) -> Option<&LuchenInstanceExt> {
    match &spec.ext {
        InstanceExt::Luchen(e) => Some(e),
        _ => None,
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The name rule: 1–64 characters. `None` when `name` passes.
pub fn name_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    (len == 0 || len > MAX_NAME_LEN)
        .then(|| format!("{name:?} has {len} characters; Luchen instance names have 1–{MAX_NAME_LEN}"))
}

fn section_problems(ext: &LuchenInstanceExt, found: &mut Vec<InstanceFieldError>) {
    let mut invalid = |path: &'static str, message: String| {
        found.push(InstanceFieldError::invalid(InstanceField::Section(path), message));
    };
    if !CHARGE_MODES.contains(&ext.charge_mode.as_str()) {
        invalid(
            "spec.luchen.billing.chargeMode",
            format!(
                "{:?}; Luchen charges {}",
                ext.charge_mode,
                CHARGE_MODES.join(", ")
            ),
        );
    }
    if ext.duration < 1 {
        invalid(
            "spec.luchen.billing.duration",
            "0; the subscription lasts at least 1 period".to_owned(),
        );
    } else if HOURLY_MODES.contains(&ext.charge_mode.as_str()) && ext.duration != 1 {
        invalid(
            "spec.luchen.billing.duration",
            format!(
                "{}; {} is billed by the hour, so the duration is 1",
                ext.duration, ext.charge_mode
            ),
        );
    }
    if ext.node_ports.len() > MAX_NODE_PORTS {
        invalid(
            "spec.luchen.nodePorts",
            format!("{} ports; at most {MAX_NODE_PORTS}", ext.node_ports.len()),
        );
    }
    let mut seen = BTreeSet::new();
    if let Some(p) = ext.node_ports.iter().find(|p| **p == 0 || !seen.insert(**p)) {
        invalid(
            "spec.luchen.nodePorts",
            format!("port {p} is 0 or listed twice; list distinct ports 1–65535"),
        );
    }
    if ext.remote_storages.len() > MAX_REMOTE_STORAGES {
        invalid(
            "spec.luchen.remoteStorages",
            format!(
                "{} storages; at most {MAX_REMOTE_STORAGES}",
                ext.remote_storages.len()
            ),
        );
    }
    for s in &ext.remote_storages {
        if !s.mount_path.starts_with('/') {
            invalid(
                "spec.luchen.remoteStorages[].mountPath",
                format!("{:?} is not an absolute path", s.mount_path),
            );
        }
        if !STORAGE_TYPES.contains(&s.storage_type.as_str()) {
            invalid(
                "spec.luchen.remoteStorages[].type",
                format!(
                    "{:?}; Luchen storages are {}",
                    s.storage_type,
                    STORAGE_TYPES.join(" or ")
                ),
            );
        }
        if s.name.is_empty() || s.id.is_empty() {
            invalid(
                "spec.luchen.remoteStorages[]",
                "a remote storage needs its name and id".to_owned(),
            );
        }
    }
    if ext.docker_storage_size_gb.is_some() && !ext.enable_docker {
        invalid(
            "spec.luchen.dockerStorageSizeGb",
            "Docker storage needs spec.luchen.enableDocker: true".to_owned(),
        );
    }
}

/// Luchen's rules for `spec` (see [`InstanceApi::validate`]): the name always; for a create the
/// catalog ids (instance type, image and region are UUIDs; the region is `spec.placement.siteId`), the
/// `spec.luchen` section (charge mode, duration, node ports, storages, Docker storage), and nothing the
/// create API has no field for (area, operator, line, network, security groups, description,
/// bandwidth, system or data disks — the extra data disk is `spec.luchen.extraDataDiskSizeGb` —, key
/// pair, password).
pub fn validate(spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
    let mut found = Vec::new();
    if let Some(problem) = name_problem(&spec.name) {
        found.push(InstanceFieldError::invalid(InstanceField::Name, problem));
    }
    if !creating {
        return found;
    }
    let mut invalid = |field: InstanceField, message: String| {
        found.push(InstanceFieldError::invalid(field, message));
    };
    if spec.site.is_empty() {
        invalid(
            InstanceField::Site,
            "Luchen places an instance by region: set spec.placement.siteId to the region id".to_owned(),
        );
    } else if !is_uuid(&spec.site) {
        invalid(
            InstanceField::Site,
            format!("{:?} is not a Luchen region id (a UUID)", spec.site),
        );
    }
    if !is_uuid(&spec.flavor) {
        invalid(
            InstanceField::Flavor,
            format!("{:?} is not a Luchen instance type id (a UUID)", spec.flavor),
        );
    }
    if !is_uuid(&spec.image) {
        invalid(
            InstanceField::Image,
            format!("{:?} is not a Luchen image id (a UUID)", spec.image),
        );
    }
    if spec.area.is_some() {
        invalid(
            InstanceField::Placement,
            "Luchen has no areas or cities: leave them unset and name the region in spec.placement.siteId"
                .to_owned(),
        );
    }
    if spec.operator.is_some() {
        invalid(
            InstanceField::Operator,
            "Luchen instances have no carrier: leave spec.placement.operator unset".to_owned(),
        );
    }
    if spec.pool_id.is_some() {
        invalid(
            InstanceField::Pool,
            "Luchen instances have no public IP line: leave spec.placement.poolId unset".to_owned(),
        );
    }
    if !spec.vpc_id.is_empty() || !spec.subnet_ids.is_empty() || !spec.security_group_ids.is_empty() {
        invalid(
            InstanceField::Network,
            "Luchen instances have no VPC, subnet or security group: leave spec.network unset (expose ports with spec.luchen.nodePorts)".to_owned(),
        );
    }
    if !spec.description.is_empty() {
        invalid(
            InstanceField::Description,
            "Luchen instances have no description: leave spec.description unset".to_owned(),
        );
    }
    if spec.bandwidth.is_some() {
        invalid(
            InstanceField::Bandwidth,
            "Luchen instances have no public bandwidth: leave spec.bandwidth unset".to_owned(),
        );
    }
    if spec.root_volume.size_gb != 0 || !spec.root_volume.volume_type.is_empty() {
        invalid(
            InstanceField::RootVolume,
            "the instance type fixes a Luchen instance's system disk: leave spec.rootVolume unset".to_owned(),
        );
    }
    if !spec.data_volumes.is_empty() {
        invalid(
            InstanceField::DataVolumes,
            "Luchen takes one extra data disk by size: set spec.luchen.extraDataDiskSizeGb instead"
                .to_owned(),
        );
    }
    if spec.key_name.is_some() {
        invalid(
            InstanceField::KeyName,
            "Luchen instances log in with the account's SSH keys: leave spec.keyName unset".to_owned(),
        );
    }
    if spec.admin_password.is_some() {
        invalid(
            InstanceField::AdminPassword,
            "Luchen sets no instance password at create: leave spec.adminPasswordSecretRef unset".to_owned(),
        );
    }
    match ext_of(spec) {
        Some(ext) => section_problems(ext, &mut found),
        None => found.push(InstanceFieldError::invalid(
            InstanceField::Section("spec.luchen"),
            "a Luchen instance needs spec.luchen (its billing at least)".to_owned(),
        )),
    }
    found
}

/// The create body for `spec` (the caller validated it).
pub fn create_body(spec: &InstanceSpec) -> CreateInstance {
    let ext = ext_of(spec).cloned().unwrap_or_default();
    CreateInstance {
        name: spec.name.clone(),
        image_id: spec.image.clone(),
        instance_type_id: spec.flavor.clone(),
        region: spec.site.clone(),
        billing: Billing {
            charge_mode: ext.charge_mode.clone(),
            duration: ext.duration,
        },
        remote_storages: ext
            .remote_storages
            .iter()
            .map(|s| RemoteStorage {
                mount_path: s.mount_path.clone(),
                remote_storage_name: s.name.clone(),
                remote_storage_id: s.id.clone(),
                type_: s.storage_type.clone(),
            })
            .collect(),
        instance_configuration: InstanceConfiguration {
            extra_data_disk_size_gb: ext.extra_data_disk_size_gb,
            enable_common_data: ext.enable_common_data,
            enable_docker: ext.enable_docker,
            docker_storage_size: ext.docker_storage_size_gb,
            init_script: spec
                .user_data
                .as_ref()
                .map(|u| u.expose().to_owned())
                .unwrap_or_default(),
        },
        is_spot_instance: ext.spot,
        node_ports: ext.node_ports.clone(),
    }
}

/// The domain state of a Luchen status (the third-party enum). `StartingFailed` is read as stopped:
/// the cloud starts such an instance again, so the power policy does; `InitializationFailed` never
/// ran and can only be terminated.
pub fn state_of(status: &str) -> InstanceState {
    match status {
        "Initializing" | "PullingImage" => InstanceState::Creating,
        "Running" => InstanceState::Running,
        "Stopped" | "Archived" | "StartingFailed" => InstanceState::Stopped,
        "Starting" | "Restarting" | "Stopping" => InstanceState::Transitioning,
        "Released" => InstanceState::Deleted,
        "InitializationFailed" => InstanceState::Failed,
        other => InstanceState::Other(other.to_owned()),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A list row as edgefleet observes it: the region is the site (its name the zone), the SSH command
/// and node ports ride in the placement; no addresses, groups, key or tags are shown.
pub fn observed(i: &Instance) -> ObservedInstance {
    let meta = &i.instance_metadata;
    let spec = &i.instance_spec_info;
    let status = &i.instance_runtime_info.status;
    ObservedInstance {
        id: meta.instance_id.clone(),
        name: meta.name.clone(),
        description: String::new(),
        state: state_of(status),
        raw_status: status.clone(),
        flavor: non_empty(&spec.instance_type_id),
        image: non_empty(&spec.image_id),
        placement: Placement {
            site_id: non_empty(&spec.region_info.region_id),
            zone: non_empty(&spec.region_info.region_name),
            ssh_address: non_empty(&spec.region_info.ssh_address),
            node_ports: spec
                .node_ports
                .iter()
                .map(|p| NodePort {
                    port: p.port,
                    node_port: p.node_port,
                })
                .collect(),
            ..Placement::default()
        },
        fleet_id: None,
        private_ips: Vec::new(),
        public_ips: Vec::new(),
        nics: Vec::new(),
        security_groups: Vec::new(),
        vpc_id: None,
        key_name: None,
        created: non_empty(&meta.created_at),
        tags: Default::default(),
    }
}

#[async_trait]
impl ListedInstances for LuchenProvider {
    fn snapshots(&self) -> &Snapshots<ObservedInstance> {
        &self.snapshots
    }

    /// Every row that names its instance (there is no get-one call: every read is this list).
    async fn list_all(&self) -> ProviderResult<Vec<ObservedInstance>> {
        Ok(self
            .client
            .list()
            .await?
            .iter()
            .filter(|i| !i.instance_metadata.instance_id.is_empty())
            .map(observed)
            .collect())
    }

    fn count_observation(&self, source: ObservationSource) {
        self.client.count_observation(source);
    }

    /// The list has no name filter.
    fn answers_names(&self) -> bool {
        true
    }
}

#[async_trait]
impl InstanceApi for LuchenProvider {
    /// One create call; the answer is the instance id. `count` above 1 is refused (one instance per
    /// call).
    async fn create(
        &self,
        spec: &InstanceSpec,
        count: u32,
        _identity: &CreateIdentity,
    ) -> ProviderResult<Operation> {
        if count != 1 {
            return Err(ProviderError::unsupported(
                "luchen.instance.create",
                "Luchen creates one instance per call",
            ));
        }
        let answer = self.client.create(&create_body(spec)).await;
        // The name whatever the answer: a lost answer's instance is then looked up in a newer list.
        let id = answer.as_deref().unwrap_or_default();
        self.snapshots
            .touch([spec.name.as_str(), id].into_iter().filter(|k| !k.is_empty()));
        Ok(Operation {
            resource_ids: vec![answer?],
            ..Operation::default()
        })
    }

    /// One list of the account answers every drift poll and the create pass's name lookups.
    fn listed(&self) -> Option<&dyn ListedInstances> {
        Some(self)
    }

    fn validate(&self, spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
        validate(spec, creating)
    }

    /// From a fresh list (there is no get-one call); absent is `NotFound`.
    async fn get(&self, id: &str) -> ProviderResult<ObservedInstance> {
        self.list_all()
            .await?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| ProviderError::NotFound {
                detail: ErrorDetail::local("luchen.instance.get", format!("the instance list has no {id}")),
            })
    }

    /// Every instance, filtered here (the list has no filters). A row that does not show its region
    /// passes a site filter (it cannot be told apart).
    async fn list(&self, filter: &InstanceFilter) -> ProviderResult<Vec<ObservedInstance>> {
        if filter.fleet_id.is_some() {
            return Ok(Vec::new());
        }
        Ok(self
            .list_all()
            .await?
            .into_iter()
            .filter(|i| filter.name.as_ref().is_none_or(|n| &i.name == n))
            .filter(|i| filter.ids.is_empty() || filter.ids.contains(&i.id))
            .filter(|i| {
                filter
                    .site_id
                    .as_deref()
                    .is_none_or(|s| i.placement.site_id.as_deref().is_none_or(|have| have == s))
            })
            .collect())
    }

    async fn update(&self, _id: &str, _update: &InstanceUpdate) -> ProviderResult<()> {
        Err(ProviderError::unsupported(
            "luchen.instance.update",
            "Luchen cannot rename an instance or change its description",
        ))
    }

    /// Terminates each instance; one already gone is done.
    async fn delete(&self, ids: &[String]) -> ProviderResult<Operation> {
        each_id(ids, &self.snapshots, Done::OrGone(is_gone), |id| {
            self.client.terminate(id)
        })
        .await
    }

    /// Start, stop, or restart (for a reboot; Luchen has no hard variants).
    async fn power(&self, ids: &[String], action: PowerAction) -> ProviderResult<Operation> {
        each_id(ids, &self.snapshots, Done::OnSuccess, |id| async move {
            match action {
                PowerAction::Start => self.client.start(id).await,
                PowerAction::Stop { .. } => self.client.stop(id).await,
                PowerAction::Reboot { .. } => self.client.restart(id).await,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{LuchenStorage, PowerState, SecretString, VolumeSpec};

    const REGION: &str = "fce31a0c-5c1e-4d6a-9e55-41caa1bdd251";
    const TYPE: &str = "dc25f5be-0001-4a6b-9c3d-5030e3358c41";
    const IMAGE: &str = "7a81788c-0001-4f3e-a1b2-2409e3c8150c";

    fn spec() -> InstanceSpec {
        InstanceSpec {
            name: "ef-gpu-1".into(),
            description: String::new(),
            flavor: TYPE.into(),
            image: IMAGE.into(),
            site: REGION.into(),
            area: None,
            pool_id: None,
            operator: None,
            vpc_id: String::new(),
            subnet_ids: vec![],
            security_group_ids: vec![],
            root_volume: VolumeSpec {
                size_gb: 0,
                volume_type: String::new(),
            },
            data_volumes: vec![],
            key_name: None,
            admin_password: None,
            user_data: None,
            bandwidth: None,
            power: PowerState::Running,
            fleet_id: None,
            ext: InstanceExt::Luchen(LuchenInstanceExt {
                charge_mode: "perHour".into(),
                duration: 1,
                node_ports: vec![8888],
                ..LuchenInstanceExt::default()
            }),
        }
    }

    fn fields(s: &InstanceSpec) -> Vec<InstanceField> {
        validate(s, true).into_iter().map(|e| e.field).collect()
    }

    fn with_ext(f: impl Fn(&mut LuchenInstanceExt)) -> InstanceSpec {
        let mut s = spec();
        if let InstanceExt::Luchen(e) = &mut s.ext {
            f(e);
        }
        s
    }

    #[test]
    fn luchen_validation_names_each_field() {
        assert_eq!(fields(&spec()), vec![], "valid");
        type Change = Box<dyn Fn(&mut InstanceSpec)>;
        let cases: Vec<(&str, Change, InstanceField)> = vec![
            ("no region", Box::new(|s| s.site.clear()), InstanceField::Site),
            (
                "region",
                Box::new(|s| s.site = "east".into()),
                InstanceField::Site,
            ),
            (
                "type",
                Box::new(|s| s.flavor = "H100".into()),
                InstanceField::Flavor,
            ),
            (
                "image",
                Box::new(|s| s.image = "ubuntu".into()),
                InstanceField::Image,
            ),
            (
                "city",
                Box::new(|s| s.area = Some("x".into())),
                InstanceField::Placement,
            ),
            (
                "operator",
                Box::new(|s| s.operator = Some("x".into())),
                InstanceField::Operator,
            ),
            (
                "pool",
                Box::new(|s| s.pool_id = Some("x".into())),
                InstanceField::Pool,
            ),
            (
                "vpc",
                Box::new(|s| s.vpc_id = "vpc".into()),
                InstanceField::Network,
            ),
            (
                "description",
                Box::new(|s| s.description = "d".into()),
                InstanceField::Description,
            ),
            (
                "root",
                Box::new(|s| s.root_volume.size_gb = 40),
                InstanceField::RootVolume,
            ),
            (
                "data",
                Box::new(|s| {
                    s.data_volumes = vec![VolumeSpec {
                        size_gb: 10,
                        volume_type: "SSD".into(),
                    }]
                }),
                InstanceField::DataVolumes,
            ),
            (
                "key",
                Box::new(|s| s.key_name = Some("k".into())),
                InstanceField::KeyName,
            ),
            (
                "password",
                Box::new(|s| s.admin_password = Some(SecretString::new("x"))),
                InstanceField::AdminPassword,
            ),
            (
                "section",
                Box::new(|s| s.ext = InstanceExt::None),
                InstanceField::Section("spec.luchen"),
            ),
        ];
        for (what, change, want) in cases {
            let mut s = spec();
            change(&mut s);
            assert_eq!(fields(&s), vec![want], "{what}");
        }
        let section: Vec<(InstanceSpec, &str)> = vec![
            (
                with_ext(|e| e.charge_mode = "perYear".into()),
                "spec.luchen.billing.chargeMode",
            ),
            (with_ext(|e| e.duration = 3), "spec.luchen.billing.duration"),
            (with_ext(|e| e.duration = 0), "spec.luchen.billing.duration"),
            (with_ext(|e| e.node_ports = vec![22, 22]), "spec.luchen.nodePorts"),
            (
                with_ext(|e| e.docker_storage_size_gb = Some(50)),
                "spec.luchen.dockerStorageSizeGb",
            ),
            (
                with_ext(|e| {
                    e.remote_storages = vec![LuchenStorage {
                        mount_path: "data".into(),
                        name: "v".into(),
                        id: "i".into(),
                        storage_type: "filesystem".into(),
                    }]
                }),
                "spec.luchen.remoteStorages[].mountPath",
            ),
        ];
        for (s, path) in section {
            assert_eq!(fields(&s), vec![InstanceField::Section(path)], "{path}");
        }
        let ok = with_ext(|e| {
            e.charge_mode = "perWeek".into();
            e.duration = 3;
        });
        assert_eq!(fields(&ok), vec![]);
        let mut long = spec();
        long.name = "x".repeat(65);
        assert_eq!(
            validate(&long, false).iter().map(|e| e.field).collect::<Vec<_>>(),
            vec![InstanceField::Name]
        );
    }

    #[test]
    fn luchen_create_body_is_the_seeds_shape() {
        let mut s = with_ext(|e| {
            e.enable_docker = true;
            e.docker_storage_size_gb = Some(50);
            e.remote_storages = vec![LuchenStorage {
                mount_path: "/root/highspeedstorage/example-volume".into(),
                name: "example-volume".into(),
                id: "f6a6345e-0001-4c2d-9e8f-e52e330cfaec".into(),
                storage_type: "highspeedstorage".into(),
            }];
        });
        s.user_data = Some(SecretString::new("echo hi"));
        let body = serde_json::to_value(create_body(&s)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "name": "ef-gpu-1", "imageId": IMAGE, "instanceTypeId": TYPE, "region": REGION,
                "billing": {"chargeMode": "perHour", "duration": 1},
                "remoteStorages": [{"mountPath": "/root/highspeedstorage/example-volume",
                    "remoteStorageName": "example-volume",
                    "remoteStorageId": "f6a6345e-0001-4c2d-9e8f-e52e330cfaec", "type": "highspeedstorage"}],
                "instanceConfiguration": {"enableCommonData": false, "enableDocker": true,
                    "dockerStorageSize": 50, "initScript": "echo hi"},
                "nodePorts": [8888],
            })
        );
    }

    #[test]
    fn luchen_states_and_rows_map_to_the_domain() {
        let cases = [
            ("Initializing", InstanceState::Creating),
            ("PullingImage", InstanceState::Creating),
            ("Starting", InstanceState::Transitioning),
            ("Restarting", InstanceState::Transitioning),
            ("Stopping", InstanceState::Transitioning),
            ("Running", InstanceState::Running),
            ("Stopped", InstanceState::Stopped),
            ("Archived", InstanceState::Stopped),
            ("StartingFailed", InstanceState::Stopped),
            ("InitializationFailed", InstanceState::Failed),
            ("Released", InstanceState::Deleted),
            ("Paused", InstanceState::Other("Paused".into())),
        ];
        for (raw, want) in cases {
            assert_eq!(state_of(raw), want, "{raw}");
        }
        let row: Instance = serde_json::from_value(serde_json::json!({
            "instanceMetadata": {"instanceId": "notebook-1", "name": "ef-gpu-1", "createdAt": "2026-01-01T00:00:00Z"},
            "instanceRuntimeInfo": {"status": "Running"},
            "instanceSpecInfo": {"regionInfo": {"regionId": REGION, "regionName": "华东一区",
                "sshAddress": "ssh root@east1 -p 30001"}, "nodePorts": [{"port": 8888, "nodePort": 30002}],
                "instanceTypeId": TYPE, "imageId": IMAGE, "somethingNew": 1}
        }))
        .unwrap();
        let o = observed(&row);
        assert_eq!(o.state, InstanceState::Running);
        assert_eq!(o.placement.site_id.as_deref(), Some(REGION));
        assert_eq!(
            o.placement.ssh_address.as_deref(),
            Some("ssh root@east1 -p 30001")
        );
        assert_eq!(
            o.placement.node_ports,
            vec![NodePort {
                port: 8888,
                node_port: 30002
            }]
        );
        assert_eq!(
            (o.flavor.as_deref(), o.image.as_deref()),
            (Some(TYPE), Some(IMAGE))
        );
    }
}
