//! Pure parts of the EdgeCloud controller: spec → domain (cloud name, placement entries and their
//! resolution, the member template, plan requests), cloud members → planner views
//! ([`member_views`]), and the fleet status (counts, per-placement rows, `Available` and
//! `ScalingBlocked`). No client, no clock: everything here is unit-tested beside the code.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use crate::api::common::PendingOperation;
use crate::api::edge_cloud::{
    CoverageLevel as CrdLevel, CoveragePolicy as CrdPolicy, EdgeCloud, EdgeCloudSpec, FleetDeletePolicy,
    PlacementEntry as CrdEntry, PlacementStatus,
};
use crate::api::edge_instance::{BandwidthShareType, PowerState as CrdPower};
use crate::provider::plan::{DeletePolicy, MemberView, PlacementEntry, PlacementError, resolve_placement};
use crate::provider::{
    BandwidthSharing, BandwidthSpec, Capabilities, CoverageLevel, CoveragePolicy, CreateIdentity, FleetExt,
    FleetPlanRequest, FleetPlanTarget, InstanceField, InstanceFieldError, InstanceState, InstanceTemplate,
    ObservedInstance, SecretString, SiteTarget, VeenFleetExt, VolumeSpec, WorkspaceFleetExt, placement_key,
};

/// The cloud name of an EdgeCloud: spec.name or metadata.name. The cloud keeps edge-cloud names unique
/// per account, which makes this name the crash-safety anchor of the create.
pub fn cloud_name(ec: &EdgeCloud) -> String {
    ec.spec.name.clone().unwrap_or_else(|| ec.name_any())
}

/// The label selector of the member EdgeInstances (`edgefleet.io/edge-cloud=<name>`).
pub fn label_selector(ec: &EdgeCloud) -> String {
    format!("{}={}", crate::api::EDGE_CLOUD_LABEL, ec.name_any())
}

/// The domain coverage level.
pub fn level(spec: &EdgeCloudSpec) -> CoverageLevel {
    match spec.coverage.level {
        CrdLevel::Site => CoverageLevel::Site,
        CrdLevel::City => CoverageLevel::City,
        CrdLevel::Province => CoverageLevel::Province,
        CrdLevel::Area => CoverageLevel::Area,
    }
}

fn policy(spec: &EdgeCloudSpec) -> CoveragePolicy {
    match spec.coverage.policy {
        CrdPolicy::Centralize => CoveragePolicy::Centralize,
        CrdPolicy::Discrete => CoveragePolicy::Discrete,
    }
}

/// The location a placement entry names at the fleet's coverage level.
pub fn entry_location(level: CoverageLevel, e: &CrdEntry) -> Option<&str> {
    match level {
        CoverageLevel::Site => e.site_id.as_deref(),
        CoverageLevel::City => e.city.as_deref(),
        CoverageLevel::Province => e.province.as_deref(),
        CoverageLevel::Area => e.area.as_deref(),
    }
}

/// Why the placement cannot be resolved (a spec error).
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// An entry does not name a location at the coverage level (the CRD's CEL rule normally catches it).
    #[error("spec.placement[{index}] names no location for coverage level {level:?}")]
    NoLocation {
        /// Entry index.
        index: usize,
        /// The level.
        level: CoverageLevel,
    },
    /// A count or weight is negative.
    #[error("spec.placement[{index}]: count and weight must not be negative")]
    Negative {
        /// Entry index.
        index: usize,
    },
    /// spec.replicas is negative.
    #[error("spec.replicas must not be negative")]
    NegativeReplicas,
    /// The resolution failed.
    #[error("spec.placement cannot be resolved")]
    Placement(#[source] PlacementError),
    /// The member template asks for what this cloud cannot honour (the provider's rules).
    #[error("{field}: {message}")]
    Template {
        /// The field's path, e.g. `spec.template.rootVolume.size`.
        field: &'static str,
        /// What is wrong, with the cloud's limit (the further findings follow).
        message: String,
    },
    /// The fleet as a whole asks for what this cloud cannot honour (levels, locations, its section).
    #[error("{field}: {message}")]
    Fleet {
        /// The field's path, e.g. `spec.coverage.level`.
        field: String,
        /// What is wrong (the further findings follow).
        message: String,
    },
    /// spec.remediation.buildTimeout does not parse.
    #[error(transparent)]
    BuildTimeout(#[from] crate::api::provider_config::InvalidDuration),
}

/// The planner's placement entries of a spec.
pub fn placement_entries(spec: &EdgeCloudSpec) -> Result<Vec<PlacementEntry>, SpecError> {
    let level = level(spec);
    spec.placement
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let site = entry_location(level, e).ok_or(SpecError::NoLocation { index, level })?;
            let count = e
                .count
                .map(u32::try_from)
                .transpose()
                .map_err(|_| SpecError::Negative { index })?;
            let weight = e
                .weight
                .map(u32::try_from)
                .transpose()
                .map_err(|_| SpecError::Negative { index })?;
            Ok(PlacementEntry {
                site: site.to_owned(),
                operator: e.operator.clone().filter(|o| !o.is_empty()),
                pool_id: e.pool_id.clone().filter(|p| !p.is_empty()),
                count,
                weight,
            })
        })
        .collect()
}

/// The resolved per-location targets (one per entry, sorted by `location[/operator]`; counts may be 0).
pub fn targets(spec: &EdgeCloudSpec) -> Result<Vec<SiteTarget>, SpecError> {
    let replicas = u32::try_from(spec.replicas).map_err(|_| SpecError::NegativeReplicas)?;
    resolve_placement(replicas, &placement_entries(spec)?).map_err(SpecError::Placement)
}

/// What the controller resolved from references and Secrets for the member template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedRefs {
    /// Cloud VPC id.
    pub vpc_id: String,
    /// Security group ids (refs first, then literal ids, deduplicated).
    pub security_group_ids: Vec<String>,
    /// Initial admin password.
    pub admin_password: Option<SecretString>,
    /// User data as the Secret holds it (the provider encodes it for its cloud).
    pub user_data: Option<SecretString>,
}

/// The member template sent with deployment and expansion plans.
pub fn instance_template(ec: &EdgeCloud, refs: &ResolvedRefs) -> InstanceTemplate {
    let t = &ec.spec.template;
    let size = |s: i32| u32::try_from(s).unwrap_or(0);
    InstanceTemplate {
        name: t.name.clone().unwrap_or_else(|| cloud_name(ec)),
        flavor: t.flavor.clone(),
        image: t.image.clone(),
        vpc_id: refs.vpc_id.clone(),
        nic_count: u32::try_from(t.network.nic_count).unwrap_or(1).max(1),
        security_group_ids: refs.security_group_ids.clone(),
        root_volume: VolumeSpec {
            size_gb: size(t.root_volume.size),
            volume_type: t.root_volume.type_.clone(),
        },
        data_volumes: t
            .data_volumes
            .iter()
            .map(|v| VolumeSpec {
                size_gb: size(v.size),
                volume_type: v.type_.clone(),
            })
            .collect(),
        key_name: t.key_name.clone(),
        admin_password: refs.admin_password.clone(),
        user_data: refs.user_data.clone(),
        bandwidth: t.bandwidth.as_ref().map(|b| BandwidthSpec {
            size_mbit: b.size.and_then(|s| u32::try_from(s).ok()),
            share_type: match b.share_type {
                BandwidthShareType::Whole => BandwidthSharing::Shared,
            },
        }),
        with_prefix: t.with_prefix(),
        ext: fleet_ext(&ec.spec),
    }
}

/// The cloud-specific fleet settings of the spec (its provider section), in the cloud's own words.
pub fn fleet_ext(spec: &EdgeCloudSpec) -> FleetExt {
    use crate::api::edge_cloud::{
        VeenBandwidthBilling as Bw, VeenComputingBilling as Cb, VeenPriceStrategy as Pr,
        VeenScheduleStrategy as Sc,
    };
    if let Some(w) = &spec.workspace {
        return workspace_ext(w);
    }
    let Some(v) = &spec.veen else {
        return FleetExt::None;
    };
    FleetExt::Veen(VeenFleetExt {
        schedule_strategy: v.schedule_strategy.map(|s| {
            match s {
                Sc::Dispersion => "dispersion",
                Sc::Concentration => "concentration",
            }
            .to_owned()
        }),
        price_strategy: v.price_strategy.map(|p| {
            match p {
                Pr::HighPriority => "high_priority",
                Pr::LowPriority => "low_priority",
            }
            .to_owned()
        }),
        computing_billing_method: v.computing_billing_method.map(|c| {
            match c {
                Cb::MonthlyPeak => "MonthlyPeak",
                Cb::DailyPeak => "DailyPeak",
            }
            .to_owned()
        }),
        bandwidth_billing_method: v.bandwidth_billing_method.map(|b| {
            match b {
                Bw::MonthlyP95 => "MonthlyP95",
                Bw::DailyPeak => "DailyPeak",
            }
            .to_owned()
        }),
        create_instance_timeout_secs: v
            .create_instance_timeout_seconds
            .and_then(|s| u32::try_from(s).ok()),
        project: v.project.clone(),
    })
}

/// spec.workspace in the API's own spelling.
fn workspace_ext(w: &crate::api::edge_cloud::WorkspaceEdgeCloudSpec) -> FleetExt {
    use crate::api::edge_cloud::{WorkspaceAppType as App, WorkspaceImageType as Img, WorkspaceOsType as Os};
    let positive = |v: Option<i32>| v.and_then(|n| u32::try_from(n).ok());
    let route = w.route_policy.clone().unwrap_or_default();
    FleetExt::Workspace(WorkspaceFleetExt {
        image_type: match w.image_type {
            Img::Gold => "gold",
            Img::Public => "public",
            Img::Private => "private",
            Img::Shared => "shared",
            Img::Other => "other",
        }
        .to_owned(),
        image_product_id: w.image_product_id.clone(),
        os_type: match w.os_type {
            Os::Windows => "Windows",
            Os::Linux => "Linux",
            Os::Other => "Other",
        }
        .to_owned(),
        subnet_id: Some(w.subnet_id.clone()),
        flavor_id: w.flavor_id.clone(),
        is_vdi: w.is_vdi,
        app_type: w.app_type.map(|a| {
            match a {
                App::SessionDesktopApp => "SESSION_DESKTOP_APP",
                App::CommonApp => "COMMON_APP",
            }
            .to_owned()
        }),
        max_session: positive(route.max_session),
        cpu_threshold: positive(route.cpu_threshold),
        mem_threshold: positive(route.mem_threshold),
        ou_name: w.ou_name.clone(),
    })
}

/// The identity a create or expansion under `intent` carries: `name`, and where the cloud has them
/// ([`CreateIdentity::for_create`]) a client token made from the object's uid, the intent's token and
/// its start time (the same for every retry of this intent, new for the next one) and the owner tag
/// with the object's uid.
pub fn create_identity(
    ec: &EdgeCloud,
    name: &str,
    intent: &PendingOperation,
    caps: &Capabilities,
) -> CreateIdentity {
    let uid = ec.uid().unwrap_or_default();
    let started = serde_json::to_string(&intent.started_at).unwrap_or_default();
    CreateIdentity::for_create(name, &format!("{uid}/{}/{started}", intent.token), &uid, caps)
}

/// A plan request adding `targets` (counts > 0 only) to a new fleet or an existing one.
pub fn plan_request(
    ec: &EdgeCloud,
    target: FleetPlanTarget,
    targets: &[SiteTarget],
    template: &InstanceTemplate,
) -> FleetPlanRequest {
    FleetPlanRequest {
        identity: CreateIdentity {
            name: match &target {
                FleetPlanTarget::New { name } => name.clone(),
                FleetPlanTarget::Expand { fleet_id } => fleet_id.clone(),
            },
            ..CreateIdentity::default()
        },
        target,
        description: ec.spec.description.clone().unwrap_or_default(),
        level: level(&ec.spec),
        policy: policy(&ec.spec),
        targets: targets.iter().filter(|t| t.count > 0).cloned().collect(),
        template: template.clone(),
    }
}

/// Hash of what a plan request places (targets + template, secrets by presence only), for intents.
pub fn params_hash(request: &FleetPlanRequest) -> String {
    let t = &request.template;
    let text = format!(
        "{:?}|{:?}|{:?}|{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}|{}",
        request.target,
        request.level,
        request.targets,
        t.name,
        t.flavor,
        t.image,
        t.vpc_id,
        t.security_group_ids,
        t.root_volume,
        t.data_volumes,
        t.key_name,
        t.bandwidth,
        t.with_prefix,
        t.admin_password.is_some(),
        t.user_data.is_some(),
    );
    short_hash(&text)
}

/// 32 hex characters of SHA-256.
pub fn short_hash(text: &str) -> String {
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Hash of `spec.template` (names of Secrets, never their values).
pub fn template_hash(spec: &EdgeCloudSpec) -> String {
    short_hash(&serde_json::to_string(&spec.template).unwrap_or_default())
}

/// Fingerprint of the template fields the cloud does not report back on its instances and cannot
/// change in place: root and data volumes (size, type), bandwidth and key pair. It is recorded on each
/// member's EdgeInstance when the member is first seen; a member recorded with another fingerprint than
/// the current template's is replaced ([`stale_members`]).
pub fn hidden_fingerprint(spec: &EdgeCloudSpec) -> String {
    let t = &spec.template;
    let fields = (&t.root_volume, &t.data_volumes, &t.bandwidth, &t.key_name);
    short_hash(&serde_json::to_string(&fields).unwrap_or_default())[..16].to_owned()
}

/// Ids of the members whose recorded fingerprint (`recorded`: instance id → fingerprint) differs from
/// `current`. A member without a record is not held against.
pub fn stale_members(
    live: &[&ObservedInstance],
    recorded: &BTreeMap<String, String>,
    current: &str,
) -> BTreeSet<String> {
    live.iter()
        .filter(|m| recorded.get(&m.id).is_some_and(|f| f != current))
        .map(|m| m.id.clone())
        .collect()
}

/// The Kubernetes name of the EdgeInstance mirroring member `instance_id` of `ec`: the EdgeCloud's name
/// (first 39 characters, `.` → `-`) and 8 hex characters derived from the instance id — deterministic, so
/// a restart finds it again, and at most 48 characters without `.`, as EdgeInstance names must be.
pub fn member_name(ec: &EdgeCloud, instance_id: &str) -> String {
    let base: String = ec.name_any().replace('.', "-").chars().take(39).collect();
    format!("{}-{}", base.trim_end_matches('-'), &short_hash(instance_id)[..8])
}

/// The location of a member at the coverage level (site id, city, province or area).
pub fn member_location(level: CoverageLevel, m: &ObservedInstance) -> Option<&str> {
    let p = &m.placement;
    match level {
        CoverageLevel::Site => p.site_id.as_deref(),
        CoverageLevel::City => p.city.as_deref(),
        CoverageLevel::Province => p.province.as_deref(),
        CoverageLevel::Area => p.area.as_deref(),
    }
}

/// The placement key a member counts towards: the entry naming its location whose operator matches (an
/// entry with an operator wins over one without); `location[/operator]` when no entry matches (such
/// members are removed first on scale-in).
pub fn member_key(level: CoverageLevel, targets: &[SiteTarget], m: &ObservedInstance) -> String {
    let location = member_location(level, m).unwrap_or_default();
    let operator = m.placement.operator.as_deref().filter(|o| !o.is_empty());
    let same_op = |t: &SiteTarget| {
        t.operator
            .as_deref()
            .is_some_and(|o| operator.is_some_and(|mo| mo.eq_ignore_ascii_case(o)))
    };
    let here = targets.iter().filter(|t| t.site == location);
    if let Some(t) = here.clone().find(|t| same_op(t)) {
        return t.key();
    }
    if let Some(t) = here.clone().find(|t| t.operator.is_none()) {
        return t.key();
    }
    placement_key(location, operator)
}

/// Whether a member still exists as far as the fleet is concerned (not being deleted, not chosen for
/// removal).
pub fn is_live(m: &ObservedInstance, pending_delete: &[String]) -> bool {
    !matches!(m.state, InstanceState::Deleted | InstanceState::Deleting) && !pending_delete.contains(&m.id)
}

/// Whether a member is Ready: built and in the template's power state.
pub fn is_ready(m: &ObservedInstance, power: CrdPower) -> bool {
    match power {
        CrdPower::Running => m.state == InstanceState::Running,
        CrdPower::Stopped => m.state == InstanceState::Stopped,
    }
}

/// Whether a member runs the current template, as far as the cloud shows it (flavor and image; the
/// fields the cloud never shows back are compared through [`stale_members`]).
pub fn is_updated(m: &ObservedInstance, spec: &EdgeCloudSpec) -> bool {
    m.flavor.as_deref().is_none_or(|f| f == spec.template.flavor)
        && m.image.as_deref().is_none_or(|i| i == spec.template.image)
}

/// Whether a member must be replaced for the current template: its flavor or VPC differs (the cloud
/// changes neither in place). An image difference alone is applied in place (change-OS).
pub fn needs_replacement(m: &ObservedInstance, spec: &EdgeCloudSpec, vpc_id: &str) -> bool {
    m.flavor.as_deref().is_some_and(|f| f != spec.template.flavor)
        || m.vpc_id
            .as_deref()
            .is_some_and(|v| !vpc_id.is_empty() && v != vpc_id)
}

/// Whether only the image differs from the template (applied in place by the member's controller).
/// Members that are replaced anyway (`stale`, see [`stale_members`]) are not changed in place.
pub fn image_outdated(
    m: &ObservedInstance,
    spec: &EdgeCloudSpec,
    vpc_id: &str,
    stale: &BTreeSet<String>,
) -> bool {
    !needs_replacement(m, spec, vpc_id)
        && !stale.contains(&m.id)
        && m.image.as_deref().is_some_and(|i| i != spec.template.image)
}

/// Where up to `room` replacements for `outdated` members go: one at the placement target of each
/// outdated member (in id order), members at locations no longer targeted skipped.
pub fn replacement_targets(
    spec: &EdgeCloudSpec,
    targets: &[SiteTarget],
    outdated: &[&ObservedInstance],
    room: usize,
) -> Vec<SiteTarget> {
    let level = level(spec);
    let mut sorted: Vec<&&ObservedInstance> = outdated.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut add: BTreeMap<String, SiteTarget> = BTreeMap::new();
    for m in sorted.into_iter().take(room) {
        let key = member_key(level, targets, m);
        if let Some(t) = targets.iter().find(|t| t.key() == key) {
            add.entry(key)
                .or_insert_with(|| SiteTarget {
                    count: 0,
                    ..t.clone()
                })
                .count += 1;
        }
    }
    add.into_values().collect()
}

/// Whether a member failed (remediation replaces it).
pub fn is_failed(m: &ObservedInstance) -> bool {
    m.state == InstanceState::Failed
}

/// Members still building more than `timeout` after the creation time the cloud reports (`now_ms`:
/// epoch milliseconds). Remediation replaces them ([`plan_build_remediation`]).
pub fn stuck_members<'a>(
    live: &[&'a ObservedInstance],
    now_ms: i64,
    timeout: std::time::Duration,
) -> Vec<&'a ObservedInstance> {
    let limit = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    live.iter()
        .copied()
        .filter(|m| m.state == InstanceState::Creating)
        .filter(|m| {
            m.created
                .as_deref()
                .and_then(|c| c.parse::<k8s_openapi::jiff::Timestamp>().ok())
                .is_some_and(|t| now_ms - t.as_millisecond() > limit)
        })
        .collect()
}

/// What build-timeout remediation does in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildRemediation {
    /// Stuck members to mark for replacement now (annotation on their EdgeInstance), in id order.
    pub mark: Vec<String>,
    /// Marked members the cloud lets go now (they left BUILD): removed in this pass, in id order.
    pub remove: Vec<String>,
}

/// Build-timeout remediation: members marked for replacement (`marked`) are removed once the cloud can
/// delete them — at once when it deletes building members (`delete_building`), else once they are no
/// longer building; members building past the timeout (`stuck`) that are not marked yet are marked when
/// `remediate` (the maxUnhealthy budget allows it). Marked members stop counting towards spec.replicas
/// ([`member_views`]), so the scale plan creates their replacements where they run.
pub fn plan_build_remediation(
    live: &[&ObservedInstance],
    marked: &BTreeSet<String>,
    stuck: &[&ObservedInstance],
    remediate: bool,
    delete_building: bool,
) -> BuildRemediation {
    let mut remove: Vec<String> = live
        .iter()
        .filter(|m| marked.contains(&m.id) && (delete_building || m.state != InstanceState::Creating))
        .map(|m| m.id.clone())
        .collect();
    remove.sort();
    let mut mark: Vec<String> = if remediate {
        stuck
            .iter()
            .filter(|m| !marked.contains(&m.id))
            .map(|m| m.id.clone())
            .collect()
    } else {
        Vec::new()
    };
    mark.sort();
    BuildRemediation { mark, remove }
}

/// The planner's delete policy.
pub fn delete_policy(p: FleetDeletePolicy) -> DeletePolicy {
    match p {
        FleetDeletePolicy::SiteBalanced => DeletePolicy::SiteBalanced,
        FleetDeletePolicy::Oldest => DeletePolicy::Oldest,
        FleetDeletePolicy::Newest => DeletePolicy::Newest,
        FleetDeletePolicy::UnhealthyFirst => DeletePolicy::UnhealthyFirst,
    }
}

/// The planner's view of the live members. `delete_first` lists the instance ids whose EdgeInstance
/// carries the delete-first annotation; `replacing` the members being replaced after a build timeout
/// (they count as going: neither counted nor chosen, so the plan adds their replacements).
pub fn member_views(
    spec: &EdgeCloudSpec,
    targets: &[SiteTarget],
    members: &[&ObservedInstance],
    delete_first: &BTreeSet<String>,
    replacing: &BTreeSet<String>,
) -> Vec<MemberView> {
    let level = level(spec);
    let power = spec.template.power_state;
    members
        .iter()
        .map(|m| MemberView {
            id: m.id.clone(),
            key: member_key(level, targets, m),
            created: m.created.clone(),
            healthy: is_ready(m, power),
            failed: is_failed(m),
            delete_first: delete_first.contains(&m.id),
            deleting: replacing.contains(&m.id),
        })
        .collect()
}

/// `value` (a number or a percentage) of `total`, rounded up or down; negative or malformed values count 0.
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> i32 {
    match value {
        IntOrString::Int(n) => (*n).max(0),
        IntOrString::String(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            let num = i64::from(total.max(0)) * pct.clamp(0, 100);
            let v = if round_up { (num + 99) / 100 } else { num / 100 };
            i32::try_from(v).unwrap_or(0)
        }
    }
}

/// Member counts of the fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Live members.
    pub replicas: i32,
    /// Live members that are Ready.
    pub ready: i32,
    /// Ready members counting towards availability (= ready).
    pub available: i32,
    /// Live members on the current template (flavor and image as observed, and the recorded fingerprint
    /// of the fields the cloud does not show).
    pub updated: i32,
    /// Live members that failed.
    pub failed: i32,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Counts the live members; `stale` lists members recorded with an outdated fingerprint
/// ([`stale_members`]).
pub fn counts(spec: &EdgeCloudSpec, live: &[&ObservedInstance], stale: &BTreeSet<String>) -> Counts {
    let power = spec.template.power_state;
    let ready = count(live.iter().filter(|m| is_ready(m, power)).count());
    Counts {
        replicas: count(live.len()),
        ready,
        available: ready,
        updated: count(
            live.iter()
                .filter(|m| is_updated(m, spec) && !stale.contains(&m.id))
                .count(),
        ),
        failed: count(live.iter().filter(|m| is_failed(m)).count()),
    }
}

/// One status row per resolved target: desired, current and ready members and the sites they run in.
pub fn placement_rows(
    spec: &EdgeCloudSpec,
    targets: &[SiteTarget],
    live: &[&ObservedInstance],
) -> Vec<PlacementStatus> {
    let level = level(spec);
    let power = spec.template.power_state;
    let mut by_key: BTreeMap<String, Vec<&ObservedInstance>> = BTreeMap::new();
    for m in live {
        by_key.entry(member_key(level, targets, m)).or_default().push(m);
    }
    targets
        .iter()
        .map(|t| {
            let ms = by_key.get(&t.key()).cloned().unwrap_or_default();
            let sites: BTreeSet<String> = ms.iter().filter_map(|m| m.placement.site_id.clone()).collect();
            PlacementStatus {
                location: t.site.clone(),
                operator: t.operator.clone(),
                desired: i32::try_from(t.count).unwrap_or(i32::MAX),
                current: count(ms.len()),
                ready: count(ms.iter().filter(|m| is_ready(m, power)).count()),
                site_ids: sites.into_iter().collect(),
            }
        })
        .collect()
}

/// `a, b, c`.
pub fn ids_of<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    ids.into_iter().collect::<Vec<_>>().join(", ")
}

/// `location[/operator] +count, …` of the targets with members to add.
pub fn describe_targets(targets: &[SiteTarget]) -> String {
    targets
        .iter()
        .filter(|t| t.count > 0)
        .map(|t| format!("{} +{}", t.key(), t.count))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The minimum number of Ready members for `Available=True`: replicas − maxUnavailable (rounded down).
pub fn min_available(spec: &EdgeCloudSpec) -> i32 {
    let max_unavailable = scaled_value(
        &spec.strategy.rolling_update.max_unavailable(),
        spec.replicas,
        false,
    );
    (spec.replicas - max_unavailable).max(0)
}

#[cfg(test)]
mod tests;

/// The path under `spec.template` of a template field a provider finds fault with.
pub fn template_field_path(field: InstanceField) -> &'static str {
    match field {
        InstanceField::Name => "spec.template.name",
        InstanceField::Flavor => "spec.template.flavor",
        InstanceField::Image => "spec.template.image",
        InstanceField::RootVolumeSize => "spec.template.rootVolume.size",
        InstanceField::RootVolume => "spec.template.rootVolume",
        // A fleet is the EdgeCloud itself; its description is the EdgeCloud's.
        InstanceField::Fleet => "spec",
        InstanceField::Description => "spec.description",
        InstanceField::DataVolumes => "spec.template.dataVolumes",
        InstanceField::KeyName => "spec.template.keyName",
        InstanceField::AdminPassword => "spec.template.adminPasswordSecretRef",
        InstanceField::UserData => "spec.template.userDataSecretRef",
        InstanceField::Bandwidth => "spec.template.bandwidth",
        InstanceField::Section(path) => path,
        InstanceField::Network | InstanceField::Subnets => "spec.template.network",
        InstanceField::Placement | InstanceField::Site | InstanceField::Pool | InstanceField::Operator => {
            "spec.placement"
        }
    }
}

/// The spec's fit with the account's cloud: a provider section of another cloud is refused naming its
/// field (CEL cannot see the ProviderConfig).
pub fn check_cloud_fit(spec: &EdgeCloudSpec, caps: &Capabilities) -> Result<(), SpecError> {
    match spec
        .provider_sections()
        .into_iter()
        .find(|(_, cloud)| *cloud != caps.kind)
    {
        Some((field, cloud)) => Err(SpecError::Template {
            field,
            message: format!(
                "this section is for provider {cloud}, but ProviderConfig {:?} is provider {}: remove it",
                spec.provider_config_ref.name, caps.kind
            ),
        }),
        None => Ok(()),
    }
}

/// The provider's findings on the whole fleet request ([`FleetApi::validate_fleet`](crate::provider::FleetApi::validate_fleet))
/// as a spec error naming the first field; the others follow in its message.
pub fn check_fleet(findings: &[crate::provider::FieldError]) -> Result<(), SpecError> {
    let Some((first, rest)) = findings.split_first() else {
        return Ok(());
    };
    let mut message = first.message.clone();
    for other in rest {
        message.push_str(&format!("; {}: {}", other.field, other.message));
    }
    Err(SpecError::Fleet {
        field: first.field.clone(),
        message,
    })
}

/// The provider's findings on the member template as a spec error naming the first field; the others
/// follow in its message.
pub fn check_template(findings: &[InstanceFieldError]) -> Result<(), SpecError> {
    let Some((first, rest)) = findings.split_first() else {
        return Ok(());
    };
    let mut message = first.message.clone();
    for other in rest {
        message.push_str(&format!(
            "; {}: {}",
            template_field_path(other.field),
            other.message
        ));
    }
    Err(SpecError::Template {
        field: template_field_path(first.field),
        message,
    })
}
