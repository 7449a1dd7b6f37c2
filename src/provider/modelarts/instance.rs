//! ModelArts DevServers as single instances ([`InstanceApi`] for [`ModelArtsProvider`]): the rules of
//! the create body checked before any call ([`validate`]), the body itself ([`create_body`]: one server,
//! the spec's VPC, its one subnet and one security group, a key pair or a password, disks, user data in
//! base64, and `spec.modelArts`: server type, architecture, zone, RoCE, IPv6, charging), the status enum
//! read as domain states ([`state_of`]), and the server as edgefleet observes it ([`observed`]).
//!
//! A pay-per-use create answers with the server; a prepaid one with an order and no server
//! ([`Operation::order_id`]; the server exists once the order is paid, see the provider's
//! [`OperationApi`](crate::provider::OperationApi)). DevServers have no tags and no idempotency token:
//! a lost create is found by its (deterministic) name in the list, which has no filters, so lookups
//! list every server and match client-side. One list of the account's servers
//! ([`Snapshots`](crate::provider::batch::Snapshots)) answers both the drift polls (by id) and the
//! create's name lookups ([`InstanceApi::find_by_identity_within`]: a burst of creates costs one list
//! per lookup age, not one per create). Every create touches its name and every rename the new one,
//! whatever the answer, so a name this process just used, as by a create whose answer was lost, is
//! looked up in a list made after it. Day 2: rename (`PUT`), start / stop /
//! reboot, delete (the cloud deletes pay-per-use servers only; a prepaid one is refused until its
//! subscription ends, and [`InstanceApi::deletion_blocker`] names the date from its BSS order).
//! Everything else (image, flavor, disks, network, security group) cannot change in place: the
//! capabilities say `Replace`, so controllers report the change instead of calling.

use std::collections::BTreeSet;

use async_trait::async_trait;
use base64::Engine;

use super::ModelArtsProvider;
use super::types::{ChargingInfo, CreateServer, DataVolume, Server, ServerNetwork, Volume};
use crate::provider::batch::{ListedInstances, Snapshots};
use crate::provider::each::{Done, each_id};
use crate::provider::error::ProviderError;
use crate::provider::metrics::ObservationSource;
use crate::provider::{
    Charging, CreateIdentity, InstanceApi, InstanceExt, InstanceField, InstanceFieldError, InstanceFilter,
    InstanceSpec, InstanceState, InstanceUpdate, ModelArtsInstanceExt, ObservedInstance, Operation,
    Placement, PowerAction, ProviderResult,
};

/// Longest server name.
pub const MAX_NAME_LEN: usize = 64;
/// System disk types.
pub const ROOT_VOLUME_TYPES: &[&str] = &["ESSD", "GPSSD", "SAS", "SATA", "SSD"];
/// System disk sizes (GB).
pub const ROOT_VOLUME_GB: std::ops::RangeInclusive<u32> = 100..=1024;
/// Data disk sizes (GB).
pub const DATA_VOLUME_GB: std::ops::RangeInclusive<u32> = 100..=32768;
/// Most data disks of one server.
pub const MAX_DATA_VOLUMES: usize = 8;
/// Largest user data before base64 (32 KiB).
pub const MAX_USER_DATA: usize = 32 * 1024;
/// The special characters a password may contain.
pub const PASSWORD_SPECIALS: &str = "!@%-_=+[{}]:,./?";

/// The name rule: 1–64 letters, digits, `-`, `_` and `.`. `None` when `name` passes.
pub fn name_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Some(format!(
            "{name:?} has {len} characters; ModelArts DevServer names have 1–{MAX_NAME_LEN}"
        ));
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
        .map(|bad| {
            format!(
                "{name:?} contains {bad:?}; ModelArts DevServer names take letters, digits, '-', '_' and '.'"
            )
        })
}

/// The password rule: 8–26 characters, at least three of upper case, lower case, digits and
/// [`PASSWORD_SPECIALS`], nothing else, and not containing `root` or `administrator` (either way
/// round). The message never repeats the password.
pub fn password_problem(password: &str) -> Option<String> {
    let len = password.chars().count();
    if !(8..=26).contains(&len) {
        return Some(format!("the password has {len} characters; ModelArts takes 8–26"));
    }
    if let Some(bad) = password
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || PASSWORD_SPECIALS.contains(*c)))
    {
        let shown = if bad.is_ascii_graphic() || bad == ' ' {
            format!("{bad:?}")
        } else {
            "a character".to_owned()
        };
        return Some(format!(
            "the password contains {shown}; ModelArts takes letters, digits and {PASSWORD_SPECIALS}"
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| PASSWORD_SPECIALS.contains(c)),
    ];
    if classes.iter().filter(|x| **x).count() < 3 {
        return Some(
            "the password needs at least three of: upper case, lower case, digits, special characters"
                .to_owned(),
        );
    }
    let lower = password.to_ascii_lowercase();
    let reversed: String = lower.chars().rev().collect();
    for word in ["root", "administrator"] {
        if lower.contains(word) || reversed.contains(word) {
            return Some(format!(
                "the password must not contain {word:?} (either way round)"
            ));
        }
    }
    None
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The spec's ModelArts section, if it has one.
pub fn ext_of(spec: &InstanceSpec) -> Option<&ModelArtsInstanceExt> {
    match &spec.ext {
        InstanceExt::ModelArts(e) => Some(e),
        _ => None,
    }
}

/// Whether a create of `spec` is prepaid (its answer is an order).
pub fn is_prepaid(spec: &InstanceSpec) -> bool {
    matches!(
        ext_of(spec).and_then(|e| e.charging.as_ref()),
        Some(Charging::PrePaid { .. })
    )
}

/// ModelArts' rules for `spec` (see [`InstanceApi::validate`]): the name always; for a create the
/// placement (an availability zone of `spec.modelArts`, no site, area, operator or line), the image id
/// (a UUID), the network (a VPC, exactly one subnet and one security group), the disks (system 100–1024
/// GB of ESSD/GPSSD/SAS/SATA/SSD; data disks of one type and size, 100–32768 GB, at most 8), the login
/// (not both a key pair and a password; the password's rules; HPS needs a key pair), user data of at
/// most 32 KiB, the charging period, and nothing the DevServer API has no field for (description,
/// bandwidth). The password and user data are checked once the controller has read their Secrets.
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
    let zone_hint =
        "ModelArts places a DevServer by availability zone: set spec.modelArts.availabilityZone instead";
    if !spec.site.is_empty() {
        invalid(
            InstanceField::Site,
            format!("ModelArts has no sites; {zone_hint}"),
        );
    }
    if spec.area.is_some() {
        invalid(
            InstanceField::Placement,
            format!("ModelArts has no areas or cities; {zone_hint}"),
        );
    }
    if spec.operator.is_some() {
        invalid(
            InstanceField::Operator,
            "ModelArts DevServers have no carrier: leave spec.placement.operator unset".to_owned(),
        );
    }
    if spec.pool_id.is_some() {
        invalid(
            InstanceField::Pool,
            "ModelArts DevServers have no public IP line: leave spec.placement.poolId unset".to_owned(),
        );
    }
    if !is_uuid(&spec.image) {
        invalid(
            InstanceField::Image,
            format!(
                "{:?} is not an image id; ModelArts image ids are UUIDs",
                spec.image
            ),
        );
    }
    if spec.vpc_id.is_empty() {
        invalid(
            InstanceField::Network,
            "a DevServer joins an existing VPC: set spec.network.vpcId (or vpcRef)".to_owned(),
        );
    }
    if spec.subnet_ids.len() != 1 {
        invalid(
            InstanceField::Subnets,
            format!(
                "{} subnets; a DevServer has exactly one (list one subnet id)",
                spec.subnet_ids.len()
            ),
        );
    }
    if spec.security_group_ids.len() != 1 {
        invalid(
            InstanceField::Network,
            format!(
                "{} security groups; a DevServer is created in exactly one (spec.network.securityGroupIds or securityGroupRefs)",
                spec.security_group_ids.len()
            ),
        );
    }
    if !spec.description.is_empty() {
        invalid(
            InstanceField::Description,
            "ModelArts DevServers have no description: leave spec.description unset".to_owned(),
        );
    }
    if spec.bandwidth.is_some() {
        invalid(
            InstanceField::Bandwidth,
            "ModelArts DevServers are created without a public IP: leave spec.bandwidth unset".to_owned(),
        );
    }
    let root = &spec.root_volume;
    if !ROOT_VOLUME_TYPES.contains(&root.volume_type.as_str()) {
        invalid(
            InstanceField::RootVolume,
            format!(
                "type {:?}; ModelArts system disks are one of {}",
                root.volume_type,
                ROOT_VOLUME_TYPES.join(", ")
            ),
        );
    }
    if !ROOT_VOLUME_GB.contains(&root.size_gb) {
        invalid(
            InstanceField::RootVolumeSize,
            format!(
                "{} GB; ModelArts system disks are {}–{} GB",
                root.size_gb,
                ROOT_VOLUME_GB.start(),
                ROOT_VOLUME_GB.end()
            ),
        );
    }
    if let Some(problem) = data_volume_problem(spec) {
        invalid(InstanceField::DataVolumes, problem);
    }
    let ext = ext_of(spec);
    let hps = ext.and_then(|e| e.server_type.as_deref()) == Some("HPS");
    match (&spec.key_name, &spec.admin_password) {
        (Some(_), Some(_)) => invalid(
            InstanceField::AdminPassword,
            "ModelArts takes a key pair or a password, not both: remove spec.adminPasswordSecretRef or spec.keyName".to_owned(),
        ),
        (None, Some(_)) if hps => invalid(
            InstanceField::AdminPassword,
            "HPS (supernode) servers log in with a key pair only: set spec.keyName instead".to_owned(),
        ),
        (None, Some(pw)) => {
            if let Some(problem) = password_problem(pw.expose()) {
                invalid(InstanceField::AdminPassword, problem);
            }
        }
        _ => {}
    }
    if let Some(ud) = &spec.user_data
        && ud.expose().len() > MAX_USER_DATA
    {
        invalid(
            InstanceField::UserData,
            format!(
                "{} bytes; ModelArts takes at most {MAX_USER_DATA} bytes of user data",
                ud.expose().len()
            ),
        );
    }
    if let Some(Charging::PrePaid { period_num, .. }) = ext.and_then(|e| e.charging.as_ref())
        && !(1..=11).contains(period_num)
    {
        invalid(
            InstanceField::Section("spec.modelArts.charging.periodNum"),
            format!("{period_num}; ModelArts takes 1–11 periods"),
        );
    }
    found
}

fn data_volume_problem(spec: &InstanceSpec) -> Option<String> {
    let disks = &spec.data_volumes;
    if disks.len() > MAX_DATA_VOLUMES {
        return Some(format!(
            "{} data disks; a DevServer has at most {MAX_DATA_VOLUMES}",
            disks.len()
        ));
    }
    let kinds: BTreeSet<(&str, u32)> = disks
        .iter()
        .map(|d| (d.volume_type.as_str(), d.size_gb))
        .collect();
    if kinds.len() > 1 {
        return Some(
            "a DevServer's data disks are all of one type and size (ModelArts takes one size × count): make them equal"
                .to_owned(),
        );
    }
    disks
        .iter()
        .find(|d| !DATA_VOLUME_GB.contains(&d.size_gb))
        .map(|d| {
            format!(
                "{} GB; ModelArts data disks are {}–{} GB",
                d.size_gb,
                DATA_VOLUME_GB.start(),
                DATA_VOLUME_GB.end()
            )
        })
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The `ServerCreateRequest` for `count` servers of `spec` (the caller validated it).
pub fn create_body(spec: &InstanceSpec, count: u32) -> CreateServer {
    let ext = ext_of(spec).cloned().unwrap_or_default();
    let charging_info = ext.charging.as_ref().map(|c| match c {
        Charging::PostPaid => ChargingInfo {
            charging_mode: "POST_PAID".to_owned(),
            ..ChargingInfo::default()
        },
        Charging::PrePaid {
            period_type,
            period_num,
            auto_renew,
            auto_pay,
        } => ChargingInfo {
            charging_mode: "PRE_PAID".to_owned(),
            period_type: Some(period_type.clone()),
            period_num: Some(*period_num),
            is_auto_renew: Some(*auto_renew),
            is_auto_pay: Some(*auto_pay),
        },
    });
    CreateServer {
        name: spec.name.clone(),
        flavor: spec.flavor.clone(),
        image_id: spec.image.clone(),
        network: ServerNetwork {
            vpc_id: spec.vpc_id.clone(),
            subnet_id: spec.subnet_ids.first().cloned().unwrap_or_default(),
            security_group_id: spec.security_group_ids.first().cloned().unwrap_or_default(),
            ipv6_enable: ext.ipv6,
            roce_id: ext.roce_id.clone(),
        },
        admin_pass: spec.admin_password.as_ref().map(|p| p.expose().to_owned()),
        key_pair_name: spec.key_name.clone(),
        arch: ext.arch.clone(),
        server_type: ext.server_type.clone(),
        availability_zone: ext.availability_zone.clone(),
        count: (count > 1).then_some(count),
        enterprise_project_id: ext.enterprise_project_id.clone(),
        root_volume: Some(Volume {
            type_: spec.root_volume.volume_type.clone(),
            size: spec.root_volume.size_gb,
        }),
        data_volume: spec.data_volumes.first().map(|d| DataVolume {
            type_: d.volume_type.clone(),
            size: d.size_gb,
            count: u32::try_from(spec.data_volumes.len()).unwrap_or(u32::MAX),
        }),
        user_data: spec
            .user_data
            .as_ref()
            .map(|u| base64::engine::general_purpose::STANDARD.encode(u.expose())),
        hps_cluster_id: ext.hps_cluster_id.clone(),
        charging_info,
    }
}

/// The domain state of a DevServer status (`ServerResponseStatusEnum`). A failed create or an
/// `ERROR` server is `Failed` (it can only be deleted); a failed start, stop, reboot, delete or OS
/// change leaves the server as it was, so it is shown as is (`Other`) and the step is tried again.
pub fn state_of(status: &str) -> InstanceState {
    match status {
        "CREATING" => InstanceState::Creating,
        "RUNNING" => InstanceState::Running,
        "STOPPED" => InstanceState::Stopped,
        "STARTING" | "STOPPING" | "REBOOTING" => InstanceState::Transitioning,
        "CHANGINGOS" | "REINSTALLINGOS" => InstanceState::Rebuilding,
        "DELETING" => InstanceState::Deleting,
        "DELETED" => InstanceState::Deleted,
        "CREATE_FAILED" | "ERROR" => InstanceState::Failed,
        other => InstanceState::Other(other.to_owned()),
    }
}

/// Epoch milliseconds as RFC 3339 (none for 0 or out of range).
pub fn rfc3339_ms(epoch_ms: i64) -> Option<String> {
    k8s_openapi::jiff::Timestamp::from_millisecond(epoch_ms)
        .ok()
        .filter(|_| epoch_ms > 0)
        .map(|t| t.to_string())
}

/// A DevServer as edgefleet observes it: its private addresses are its endpoints' `uri`s; it shows no
/// security group, description or tags.
pub fn observed(s: &Server) -> ObservedInstance {
    let mut private_ips: Vec<String> = Vec::new();
    for e in &s.endpoints {
        if !e.uri.is_empty() && !private_ips.contains(&e.uri) {
            private_ips.push(e.uri.clone());
        }
    }
    ObservedInstance {
        id: s.id.clone(),
        name: s.name.clone(),
        description: String::new(),
        state: state_of(&s.status),
        raw_status: s.status.clone(),
        flavor: non_empty(&s.flavor),
        image: non_empty(&s.image.image_id),
        placement: Placement {
            zone: non_empty(&s.availability_zone),
            ..Placement::default()
        },
        fleet_id: None,
        private_ips,
        public_ips: Vec::new(),
        nics: Vec::new(),
        security_groups: Vec::new(),
        vpc_id: non_empty(&s.vpc_id),
        key_name: non_empty(&s.key_pair_name),
        created: rfc3339_ms(s.create_at),
        tags: Default::default(),
    }
}

#[async_trait]
impl ListedInstances for ModelArtsProvider {
    fn snapshots(&self) -> &Snapshots<ObservedInstance> {
        &self.snapshots
    }

    async fn list_all(&self) -> ProviderResult<Vec<ObservedInstance>> {
        Ok(self.client.list().await?.iter().map(observed).collect())
    }

    fn count_observation(&self, source: ObservationSource) {
        self.client.count_observation(source);
    }

    /// The DevServer list has no filters.
    fn answers_names(&self) -> bool {
        true
    }
}

impl ModelArtsProvider {
    /// Why deleting prepaid server `id` is refused: its subscription, with the expiry of its order.
    async fn prepaid_blocker(&self, id: &str) -> ProviderResult<Option<String>> {
        let server = self.client.get(id).await?;
        if server.charging_mode != "PRE_PAID" {
            return Ok(None);
        }
        let order = if server.order_id.is_empty() {
            None
        } else {
            Some(self.bss.order(&server.order_id).await?)
        };
        let until = order
            .as_ref()
            .and_then(|o| o.expires())
            .map_or_else(|| "an expiry the order does not show".to_owned(), str::to_owned);
        let of_order = non_empty(&server.order_id)
            .map(|o| format!(" (order {o})"))
            .unwrap_or_default();
        Ok(Some(format!(
            "DevServer {id} is prepaid until {until}{of_order}; ModelArts deletes only pay-per-use servers, so it can go once the subscription expires or is unsubscribed in the billing center; set spec.deletionPolicy to Orphan to leave it"
        )))
    }
}

#[async_trait]
impl InstanceApi for ModelArtsProvider {
    /// One create call; the answer is the server (pay-per-use) or an order (prepaid).
    async fn create(
        &self,
        spec: &InstanceSpec,
        count: u32,
        _identity: &CreateIdentity,
    ) -> ProviderResult<Operation> {
        let answer = self.client.create(&create_body(spec, count)).await;
        // The name whatever the answer: a lost answer's server is then looked up in a newer list.
        let id = answer.as_ref().map(|s| s.id.as_str()).unwrap_or_default();
        self.snapshots
            .touch([spec.name.as_str(), id].into_iter().filter(|k| !k.is_empty()));
        let created = answer?;
        Ok(Operation {
            resource_ids: non_empty(&created.id).into_iter().collect(),
            order_id: non_empty(&created.order_id),
            ..Operation::default()
        })
    }

    fn validate(&self, spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
        validate(spec, creating)
    }

    fn pays_before_create(&self, spec: &InstanceSpec) -> bool {
        is_prepaid(spec)
    }

    async fn deletion_blocker(&self, id: &str) -> ProviderResult<Option<String>> {
        self.prepaid_blocker(id).await
    }

    /// One list of the project answers every drift poll and the create pass's name lookups.
    fn listed(&self) -> Option<&dyn ListedInstances> {
        Some(self)
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedInstance> {
        Ok(observed(&self.client.get(id).await?))
    }

    /// Every server, filtered here (the list API has no filters).
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
                    .is_none_or(|s| i.placement.zone.as_deref() == Some(s))
            })
            .collect())
    }

    async fn update(&self, id: &str, update: &InstanceUpdate) -> ProviderResult<()> {
        if update.description.is_some() {
            return Err(ProviderError::unsupported(
                "modelarts.server.update",
                "ModelArts DevServers have no description",
            ));
        }
        if let Some(name) = &update.name {
            let r = self.client.rename(id, name).await;
            self.snapshots.touch([id, name.as_str()]);
            r?;
        }
        Ok(())
    }

    async fn delete(&self, ids: &[String]) -> ProviderResult<Operation> {
        let gone = Done::OrGone(ProviderError::is_not_found);
        each_id(ids, &self.snapshots, gone, |id| self.client.delete(id)).await
    }

    async fn power(&self, ids: &[String], action: PowerAction) -> ProviderResult<Operation> {
        each_id(ids, &self.snapshots, Done::OnSuccess, |id| async move {
            match action {
                PowerAction::Start => self.client.start(id).await,
                PowerAction::Stop { .. } => self.client.stop(id).await,
                PowerAction::Reboot { .. } => self.client.reboot(id).await,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{PowerState, SecretString, VolumeSpec};

    const IMAGE: &str = "c90fb553-2cdb-4b81-b56a-ef68812c6cf7";

    /// A valid pay-per-use create.
    pub(crate) fn spec() -> InstanceSpec {
        InstanceSpec {
            name: "ef-gpu-1".into(),
            description: String::new(),
            flavor: "Si2.large.4".into(),
            image: IMAGE.into(),
            site: String::new(),
            area: None,
            pool_id: None,
            operator: None,
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-1".into()],
            security_group_ids: vec!["sg-1".into()],
            root_volume: VolumeSpec {
                size_gb: 100,
                volume_type: "SSD".into(),
            },
            data_volumes: vec![],
            key_name: Some("kp-1".into()),
            admin_password: None,
            user_data: None,
            bandwidth: None,
            power: PowerState::Running,
            fleet_id: None,
            ext: InstanceExt::ModelArts(ModelArtsInstanceExt {
                server_type: Some("ECS".into()),
                arch: Some("X86".into()),
                availability_zone: Some("cn-north-4a".into()),
                ..ModelArtsInstanceExt::default()
            }),
        }
    }

    fn fields(s: &InstanceSpec) -> Vec<InstanceField> {
        validate(s, true).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn modelarts_names_follow_the_dev_server_rule() {
        assert_eq!(name_problem("ef-gpu_1.a"), None);
        assert!(name_problem(&"n".repeat(65)).is_some());
        assert!(name_problem("a b").is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem("边缘").is_some());
    }

    #[test]
    fn modelarts_passwords_follow_the_dev_server_rule_without_repeating_it() {
        assert_eq!(password_problem("Edge-Fleet-2026"), None);
        for bad in [
            "Sh0rt!",
            "alllowercase",
            "Has Space1!",
            "Root-Pass-2026",
            "toor-Pass-2026",
        ] {
            let p = password_problem(bad);
            assert!(p.is_some(), "{bad}");
            assert!(!p.unwrap().contains(bad), "never echoes the password");
        }
    }

    #[test]
    fn a_valid_modelarts_create_passes_and_each_wrong_input_names_its_field() {
        assert_eq!(fields(&spec()), vec![], "valid");
        assert_eq!(validate(&spec(), false), vec![]);
        type Change = Box<dyn Fn(&mut InstanceSpec)>;
        let cases: Vec<(&str, Change, InstanceField)> = vec![
            (
                "site",
                Box::new(|s| s.site = "site-1".into()),
                InstanceField::Site,
            ),
            (
                "city",
                Box::new(|s| s.area = Some("hangzhou".into())),
                InstanceField::Placement,
            ),
            (
                "operator",
                Box::new(|s| s.operator = Some("bgp".into())),
                InstanceField::Operator,
            ),
            (
                "pool",
                Box::new(|s| s.pool_id = Some("p".into())),
                InstanceField::Pool,
            ),
            (
                "image",
                Box::new(|s| s.image = "ubuntu".into()),
                InstanceField::Image,
            ),
            ("vpc", Box::new(|s| s.vpc_id.clear()), InstanceField::Network),
            (
                "two subnets",
                Box::new(|s| s.subnet_ids.push("subnet-2".into())),
                InstanceField::Subnets,
            ),
            (
                "no subnet",
                Box::new(|s| s.subnet_ids.clear()),
                InstanceField::Subnets,
            ),
            (
                "no group",
                Box::new(|s| s.security_group_ids.clear()),
                InstanceField::Network,
            ),
            (
                "description",
                Box::new(|s| s.description = "d".into()),
                InstanceField::Description,
            ),
            (
                "bandwidth",
                Box::new(|s| {
                    s.bandwidth = Some(crate::provider::BandwidthSpec {
                        size_mbit: Some(5),
                        share_type: crate::provider::BandwidthSharing::Shared,
                    })
                }),
                InstanceField::Bandwidth,
            ),
            (
                "root type",
                Box::new(|s| s.root_volume.volume_type = "HDD".into()),
                InstanceField::RootVolume,
            ),
            (
                "root size",
                Box::new(|s| s.root_volume.size_gb = 40),
                InstanceField::RootVolumeSize,
            ),
            (
                "data size",
                Box::new(|s| {
                    s.data_volumes = vec![VolumeSpec {
                        size_gb: 50,
                        volume_type: "SSD".into(),
                    }]
                }),
                InstanceField::DataVolumes,
            ),
            (
                "mixed data disks",
                Box::new(|s| {
                    s.data_volumes = vec![
                        VolumeSpec {
                            size_gb: 100,
                            volume_type: "SSD".into(),
                        },
                        VolumeSpec {
                            size_gb: 200,
                            volume_type: "SSD".into(),
                        },
                    ]
                }),
                InstanceField::DataVolumes,
            ),
            (
                "key and password",
                Box::new(|s| s.admin_password = Some(SecretString::new("Edge-Fleet-2026"))),
                InstanceField::AdminPassword,
            ),
            (
                "weak password",
                Box::new(|s| {
                    s.key_name = None;
                    s.admin_password = Some(SecretString::new("password"));
                }),
                InstanceField::AdminPassword,
            ),
            (
                "user data",
                Box::new(|s| s.user_data = Some(SecretString::new("x".repeat(MAX_USER_DATA + 1)))),
                InstanceField::UserData,
            ),
            (
                "period",
                Box::new(|s| {
                    if let InstanceExt::ModelArts(e) = &mut s.ext {
                        e.charging = Some(Charging::PrePaid {
                            period_type: "MONTH".into(),
                            period_num: 12,
                            auto_renew: false,
                            auto_pay: true,
                        });
                    }
                }),
                InstanceField::Section("spec.modelArts.charging.periodNum"),
            ),
        ];
        for (what, change, want) in cases {
            let mut s = spec();
            change(&mut s);
            assert_eq!(fields(&s), vec![want], "{what}");
        }
        let mut s = spec();
        s.name = "a b".into();
        assert_eq!(
            validate(&s, false).iter().map(|e| e.field).collect::<Vec<_>>(),
            vec![InstanceField::Name]
        );
        if let InstanceExt::ModelArts(e) = &mut s.ext {
            e.server_type = Some("HPS".into());
        }
        s.name = "ok".into();
        s.key_name = None;
        s.admin_password = Some(SecretString::new("Edge-Fleet-2026"));
        assert_eq!(
            fields(&s),
            vec![InstanceField::AdminPassword],
            "HPS needs a key pair"
        );
    }

    #[test]
    fn modelarts_create_body_is_the_seeds_shape_with_the_section() {
        let mut s = spec();
        s.user_data = Some(SecretString::new("#!/bin/sh"));
        s.data_volumes = vec![
            VolumeSpec {
                size_gb: 200,
                volume_type: "SSD".into(),
            };
            2
        ];
        if let InstanceExt::ModelArts(e) = &mut s.ext {
            e.charging = Some(Charging::PrePaid {
                period_type: "MONTH".into(),
                period_num: 1,
                auto_renew: true,
                auto_pay: false,
            });
            e.roce_id = Some("roce-1".into());
        }
        let body = serde_json::to_value(create_body(&s, 1)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "name": "ef-gpu-1", "flavor": "Si2.large.4", "image_id": IMAGE,
                "network": {"vpc_id": "vpc-1", "subnet_id": "subnet-1", "security_group_id": "sg-1", "roce_id": "roce-1"},
                "key_pair_name": "kp-1", "arch": "X86", "server_type": "ECS", "availability_zone": "cn-north-4a",
                "root_volume": {"type": "SSD", "size": 100},
                "data_volume": {"type": "SSD", "size": 200, "count": 2},
                "user_data": "IyEvYmluL3No",
                "charging_info": {"charging_mode": "PRE_PAID", "period_type": "MONTH", "period_num": 1,
                                  "is_auto_renew": true, "is_auto_pay": false},
            })
        );
        assert!(is_prepaid(&s));
        assert!(!is_prepaid(&spec()));
    }

    #[test]
    fn modelarts_states_map_to_domain_states() {
        let cases = [
            ("CREATING", InstanceState::Creating),
            ("RUNNING", InstanceState::Running),
            ("STOPPED", InstanceState::Stopped),
            ("STARTING", InstanceState::Transitioning),
            ("STOPPING", InstanceState::Transitioning),
            ("REBOOTING", InstanceState::Transitioning),
            ("CHANGINGOS", InstanceState::Rebuilding),
            ("REINSTALLINGOS", InstanceState::Rebuilding),
            ("DELETING", InstanceState::Deleting),
            ("DELETED", InstanceState::Deleted),
            ("CREATE_FAILED", InstanceState::Failed),
            ("ERROR", InstanceState::Failed),
            ("START_FAILED", InstanceState::Other("START_FAILED".into())),
        ];
        for (raw, want) in cases {
            assert_eq!(state_of(raw), want, "{raw}");
        }
    }

    #[test]
    fn a_modelarts_server_is_observed_with_its_endpoints_and_creation_time() {
        let s: Server = serde_json::from_value(serde_json::json!({
            "id": "62383738-e52a-450a-9f84-f9e705402be8", "name": "EI-evs-1107", "status": "RUNNING",
            "flavor": "Si2.large.4", "image": {"image_id": IMAGE, "arch": "X86"}, "vpc_id": "vpc-1",
            "key_pair_name": "kp-1", "create_at": 1699348284990i64,
            "endpoints": [{"uri": "192.168.0.10", "service": "SSH"}, {"uri": "192.168.0.10"}],
            "charging_mode": "POST_PAID", "something_new": 1
        }))
        .unwrap();
        let o = observed(&s);
        assert_eq!(o.state, InstanceState::Running);
        assert_eq!(o.private_ips, vec!["192.168.0.10".to_owned()]);
        assert_eq!(o.image.as_deref(), Some(IMAGE));
        assert_eq!(o.key_name.as_deref(), Some("kp-1"));
        assert_eq!(o.created.as_deref(), Some("2023-11-07T09:11:24.99Z"));
    }
}
