//! Pure planning: desired + observed (+ capabilities) → the list of cloud actions to take now.
//! No client, no async, no clock. Each function returns the actions for the *current* observation only;
//! multi-step changes (stop → change OS → start) unfold over successive reconciles.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::domain::*;
use super::{Capabilities, FieldChange};

// ---------------------------------------------------------------------------------------------------------
// VPC
// ---------------------------------------------------------------------------------------------------------

/// One step towards the desired VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpcAction {
    /// Create the VPC.
    Create,
    /// Change name/cidr in place.
    Update(VpcUpdate),
    /// The listed fields differ and cannot change in place; a human must decide (the VPC may hold instances).
    RequiresReplacement {
        /// Field names.
        fields: Vec<&'static str>,
    },
    /// Create a subnet.
    CreateSubnet(SubnetSpec),
    /// Change a subnet in place.
    UpdateSubnet {
        /// Subnet id.
        id: String,
        /// Change.
        update: SubnetUpdate,
    },
    /// Delete a subnet that is not desired.
    DeleteSubnet {
        /// Subnet id.
        id: String,
    },
}

/// Plans a VPC. Subnets are managed only for `Customer` VPCs on clouds that forbid manual subnets in
/// system-planned VPCs; system-created subnets are never touched. Subnets match on (site, cidr).
pub fn plan_vpc(desired: &VpcSpec, observed: Option<&ObservedVpc>, caps: &Capabilities) -> Vec<VpcAction> {
    let manage_subnets =
        caps.supports.subnets && !(caps.subnets_only_in_customer_vpcs && desired.mode == VpcMode::System);
    let Some(obs) = observed else {
        let mut out = vec![VpcAction::Create];
        if manage_subnets {
            out.extend(desired.subnets.iter().cloned().map(VpcAction::CreateSubnet));
        }
        return out;
    };
    let mut out = Vec::new();
    let mut replace = Vec::new();
    if obs.mode.is_some_and(|m| m != desired.mode) {
        replace.push("mode");
    }
    let mut update = VpcUpdate::default();
    if obs.name != desired.name {
        if caps.vpc_rename {
            update.name = Some(desired.name.clone());
        } else {
            replace.push("name");
        }
    }
    if obs.cidr != desired.cidr {
        if caps.vpc_cidr_update {
            update.cidr = Some(desired.cidr.clone());
        } else {
            replace.push("cidr");
        }
    }
    if !replace.is_empty() {
        out.push(VpcAction::RequiresReplacement { fields: replace });
    }
    if update != VpcUpdate::default() {
        out.push(VpcAction::Update(update));
    }
    if manage_subnets {
        let observed_by_key: BTreeMap<(String, String), &ObservedSubnet> = obs
            .subnets
            .iter()
            .map(|s| ((s.site_id.clone().unwrap_or_default(), s.cidr.clone()), s))
            .collect();
        let desired_keys: BTreeSet<(String, String)> = desired.subnets.iter().map(SubnetSpec::key).collect();
        for want in &desired.subnets {
            match observed_by_key.get(&want.key()) {
                None => out.push(VpcAction::CreateSubnet(want.clone())),
                Some(have) => {
                    let mut u = SubnetUpdate::default();
                    if have.name != want.name {
                        u.name = Some(want.name.clone());
                    }
                    if have.dhcp_enable.is_some_and(|d| d != want.dhcp_enable) {
                        u.dhcp_enable = Some(want.dhcp_enable);
                    }
                    if have.primary_dns != want.primary_dns || have.secondary_dns != want.secondary_dns {
                        u.dns = Some((want.primary_dns.clone(), want.secondary_dns.clone()));
                    }
                    if u != SubnetUpdate::default() {
                        out.push(VpcAction::UpdateSubnet {
                            id: have.id.clone(),
                            update: u,
                        });
                    }
                }
            }
        }
        for (key, have) in &observed_by_key {
            if !desired_keys.contains(key) {
                out.push(VpcAction::DeleteSubnet { id: have.id.clone() });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------------------------

/// One step towards the desired security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SgAction {
    /// Create the group (its rules follow as `CreateRule`, executed with the new id).
    Create,
    /// Name/description differ but the cloud cannot change them; reported, not acted on.
    CannotUpdate {
        /// Field names.
        fields: Vec<&'static str>,
    },
    /// Create a missing rule.
    CreateRule(RuleSpec),
    /// Delete a rule that is not desired (or a duplicate).
    DeleteRule {
        /// Rule id.
        id: String,
        /// The rule's fingerprint, for events.
        fingerprint: String,
    },
    /// Change a rule that is not desired into a missing one, keeping its id (clouds with
    /// [`Capabilities::rule_update`]; instead of a create plus a delete).
    UpdateRule {
        /// Rule id.
        id: String,
        /// The old rule's fingerprint, for events.
        fingerprint: String,
        /// What it becomes.
        rule: RuleSpec,
    },
}

/// Plans a security group's rules as a set keyed by [`RuleSpec::fingerprint`]: create what is missing,
/// delete what is extra (authoritative mode only; duplicates of a desired rule are extras too). Rules the
/// cloud adds to every group are kept when `keep_cloud_default_rules` is set. Creates come before deletes
/// so a rule change never opens a window with neither rule; where the cloud changes rules in place
/// ([`Capabilities::rule_update`]) a missing rule is made from an extra one instead (`UpdateRule`).
pub fn plan_security_group(
    desired: &SecurityGroupSpec,
    observed: Option<&ObservedSecurityGroup>,
    caps: &Capabilities,
) -> Vec<SgAction> {
    let mut desired_rules: Vec<&RuleSpec> = Vec::new();
    let mut desired_fps: BTreeSet<String> = BTreeSet::new();
    for r in &desired.rules {
        if desired_fps.insert(r.fingerprint()) {
            desired_rules.push(r);
        }
    }
    let Some(obs) = observed else {
        let mut out = vec![SgAction::Create];
        out.extend(desired_rules.into_iter().cloned().map(SgAction::CreateRule));
        return out;
    };
    let mut out = Vec::new();
    let mut fields = Vec::new();
    if obs.name != desired.name {
        fields.push("name");
    }
    if obs.description != desired.description {
        fields.push("description");
    }
    if !fields.is_empty() && !caps.security_group_update {
        out.push(SgAction::CannotUpdate { fields });
    }
    let default_fps: BTreeSet<String> = caps.default_rules.iter().map(RuleSpec::fingerprint).collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut deletes = Vec::new();
    // Stable order: by rule id, so the same duplicate is kept every time.
    let mut observed_rules: Vec<&ObservedRule> = obs.rules.iter().collect();
    observed_rules.sort_by(|a, b| a.id.cmp(&b.id));
    for have in observed_rules {
        let fp = have.rule.fingerprint();
        let first = seen.insert(fp.clone());
        let wanted = desired_fps.contains(&fp);
        let keep_default = desired.keep_cloud_default_rules && default_fps.contains(&fp);
        let delete = match desired.mode {
            RuleMode::Additive => false,
            RuleMode::Authoritative => !first || !(wanted || keep_default),
        };
        if delete {
            deletes.push(SgAction::DeleteRule {
                id: have.id.clone(),
                fingerprint: fp,
            });
        }
    }
    let mut creates: Vec<RuleSpec> = desired_rules
        .into_iter()
        .filter(|want| !seen.contains(&want.fingerprint()))
        .cloned()
        .collect();
    if caps.rule_update {
        // A missing rule takes over an extra one, preferring one of the same direction, so a changed
        // rule is one modification (no window with neither rule, no new id).
        let mut updates = Vec::new();
        creates.retain(|want| {
            let pick = deletes
                .iter()
                .position(|d| matches!(d, SgAction::DeleteRule { fingerprint, .. } if fingerprint.starts_with(direction_key(want.direction))))
                .or_else(|| (!deletes.is_empty()).then_some(0));
            match pick.map(|i| deletes.remove(i)) {
                Some(SgAction::DeleteRule { id, fingerprint }) => {
                    updates.push(SgAction::UpdateRule {
                        id,
                        fingerprint,
                        rule: want.clone(),
                    });
                    false
                }
                _ => true,
            }
        });
        out.extend(updates);
    }
    out.extend(creates.into_iter().map(SgAction::CreateRule));
    out.extend(deletes);
    out
}

/// The start of a fingerprint of a rule in `direction`.
fn direction_key(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "ingress|",
        Direction::Egress => "egress|",
    }
}

// ---------------------------------------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------------------------------------

/// One step towards the desired instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceAction {
    /// Change name/description in place.
    Update(InstanceUpdate),
    /// Power on.
    Start,
    /// Power off (`for_change_os`: the stop is a step towards an OS change).
    Stop {
        /// Stopping only to change the OS.
        for_change_os: bool,
    },
    /// Replace the OS image (instance is stopped).
    ChangeOs(ChangeOs),
    /// The listed fields can only change by replacing the instance (new instance, then delete the old).
    Replace {
        /// Field names (or `state` for a failed instance).
        fields: Vec<&'static str>,
    },
    /// The cloud is busy with the instance; observe again later.
    Wait {
        /// Current state.
        state: InstanceState,
    },
}

/// What the controller knows about an existing instance beyond the cloud's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceContext<'a> {
    /// The cloud's view.
    pub observed: &'a ObservedInstance,
    /// [`InstanceSpec::unobservable_hash`] recorded at create (or last replace), if any.
    pub applied_unobservable_hash: Option<&'a str>,
    /// The name the cloud shows for our desired name (IEC may prefix it); `None` = compare literally.
    pub expected_cloud_name: Option<&'a str>,
}

/// Plans one instance: replace when a field that cannot change in place differs (or it failed); otherwise
/// in-place updates, the change-OS sequence (stop → change OS → start) and power state.
pub fn plan_instance(
    desired: &InstanceSpec,
    ctx: &InstanceContext<'_>,
    caps: &Capabilities,
) -> Vec<InstanceAction> {
    let obs = ctx.observed;
    let policy = &caps.instance_fields;
    if obs.state.is_transient() {
        return vec![InstanceAction::Wait {
            state: obs.state.clone(),
        }];
    }
    if obs.state == InstanceState::Failed {
        return vec![InstanceAction::Replace {
            fields: vec!["state"],
        }];
    }
    let mut replace: Vec<&'static str> = Vec::new();
    let mut needs = |field: &'static str, change: FieldChange, differs: bool| -> bool {
        if differs && change == FieldChange::Replace {
            replace.push(field);
        }
        differs && change != FieldChange::Replace
    };
    let expected_name = ctx.expected_cloud_name.unwrap_or(&desired.name);
    let rename = needs("name", policy.name, obs.name != expected_name);
    let redescribe = needs(
        "description",
        policy.description,
        obs.description != desired.description,
    );
    let image_differs = obs.image.as_deref().is_some_and(|i| i != desired.image);
    let change_image = needs("image", policy.image, image_differs);
    needs(
        "flavor",
        policy.flavor,
        obs.flavor.as_deref().is_some_and(|f| f != desired.flavor),
    );
    needs(
        "site",
        policy.site,
        obs.placement
            .site_id
            .as_deref()
            .is_some_and(|s| s != desired.site),
    );
    needs(
        "vpc",
        policy.network,
        obs.vpc_id.as_deref().is_some_and(|v| v != desired.vpc_id),
    );
    let sg_differs = !obs.security_groups.is_empty() && {
        let have: BTreeSet<&str> = obs.security_groups.iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = desired.security_group_ids.iter().map(String::as_str).collect();
        // IEC sometimes lists groups by name only; compare only when every entry looks like a desired id.
        !want.is_empty() && have != want && have.iter().all(|h| want.contains(h) || h.len() >= 32)
    };
    needs("securityGroups", policy.security_groups, sg_differs);
    let key_differs = !change_image && obs.key_name.is_some() && obs.key_name != desired.key_name;
    let rekey = needs("keyName", policy.key_name, key_differs);
    let hash_differs = ctx
        .applied_unobservable_hash
        .is_some_and(|h| h != desired.unobservable_hash());
    needs("unobservable", policy.unobservable, hash_differs);
    if !replace.is_empty() {
        return vec![InstanceAction::Replace { fields: replace }];
    }
    let mut out = Vec::new();
    if rename || redescribe {
        out.push(InstanceAction::Update(InstanceUpdate {
            name: rename.then(|| desired.name.clone()),
            description: redescribe.then(|| desired.description.clone()),
        }));
    }
    if change_image || rekey {
        let os = ChangeOs {
            image: desired.image.clone(),
            key_name: desired.key_name.clone(),
            user_data: desired.user_data.clone(),
        };
        match (policy.image, &obs.state) {
            (FieldChange::InPlaceWhileStopped, InstanceState::Running) => {
                out.push(InstanceAction::Stop { for_change_os: true });
            }
            _ => out.push(InstanceAction::ChangeOs(os)),
        }
        return out;
    }
    match (desired.power, &obs.state) {
        (PowerState::Running, InstanceState::Stopped) => out.push(InstanceAction::Start),
        (PowerState::Stopped, InstanceState::Running) => {
            out.push(InstanceAction::Stop { for_change_os: false })
        }
        _ => {}
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Fleet placement
// ---------------------------------------------------------------------------------------------------------

/// One placement entry of a fleet spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementEntry {
    /// Site id or name (per coverage level).
    pub site: String,
    /// Operator / ISP.
    pub operator: Option<String>,
    /// Line / pool.
    pub pool_id: Option<String>,
    /// Fixed count; placed before weights.
    pub count: Option<u32>,
    /// Share of the replicas left after fixed counts (default 1 when `count` is also unset).
    pub weight: Option<u32>,
}

/// Why placement could not be resolved (a spec error: the controller stalls with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// Two entries share a key.
    #[error("placement lists {key} more than once")]
    DuplicateKey {
        /// The `site[/operator]` key.
        key: String,
    },
    /// Fixed counts exceed replicas.
    #[error("fixed placement counts add up to {fixed}, more than the {replicas} replicas")]
    FixedExceedsReplicas {
        /// Sum of fixed counts.
        fixed: u32,
        /// Replicas.
        replicas: u32,
    },
    /// Replicas remain but no entry takes a share.
    #[error("{remaining} replicas are left after fixed counts but no placement entry has a weight")]
    NoWeightedEntries {
        /// Unplaced replicas.
        remaining: u32,
    },
    /// No entries at all while replicas > 0.
    #[error("replicas is {replicas} but placement is empty")]
    Empty {
        /// Replicas.
        replicas: u32,
    },
}

/// Resolves `replicas` over the entries: fixed counts first, the rest by weight with the largest-remainder
/// method; ties go to the smaller `site[/operator]` key. Output: one target per entry (count may be 0),
/// sorted by key. Deterministic for the same input.
pub fn resolve_placement(
    replicas: u32,
    entries: &[PlacementEntry],
) -> Result<Vec<SiteTarget>, PlacementError> {
    if entries.is_empty() {
        return if replicas == 0 {
            Ok(Vec::new())
        } else {
            Err(PlacementError::Empty { replicas })
        };
    }
    let mut sorted: Vec<&PlacementEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| placement_key(&e.site, e.operator.as_deref()));
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && placement_key(&a.site, a.operator.as_deref()) == placement_key(&b.site, b.operator.as_deref())
        {
            return Err(PlacementError::DuplicateKey {
                key: placement_key(&a.site, a.operator.as_deref()),
            });
        }
    }
    let fixed: u64 = sorted.iter().filter_map(|e| e.count).map(u64::from).sum();
    if fixed > u64::from(replicas) {
        return Err(PlacementError::FixedExceedsReplicas {
            fixed: u32::try_from(fixed).unwrap_or(u32::MAX),
            replicas,
        });
    }
    let remaining = replicas - fixed as u32;
    let weight_of = |e: &PlacementEntry| match (e.count, e.weight) {
        (_, Some(w)) => u64::from(w),
        (None, None) => 1,
        (Some(_), None) => 0,
    };
    let total_weight: u64 = sorted.iter().map(|e| weight_of(e)).sum();
    if remaining > 0 && total_weight == 0 {
        return Err(PlacementError::NoWeightedEntries { remaining });
    }
    let mut counts: Vec<u64> = sorted.iter().map(|e| u64::from(e.count.unwrap_or(0))).collect();
    if remaining > 0 {
        let rem = u64::from(remaining);
        let mut fractions: Vec<(u64, usize)> = Vec::new();
        let mut placed = 0u64;
        for (i, e) in sorted.iter().enumerate() {
            let w = weight_of(e);
            let exact = rem * w;
            let share = exact / total_weight;
            counts[i] += share;
            placed += share;
            fractions.push((exact % total_weight, i));
        }
        // Largest remainder first; equal remainders → earlier (smaller) key first; zero-weight never.
        fractions.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, i) in fractions
            .into_iter()
            .filter(|(_, i)| weight_of(sorted[*i]) > 0)
            .take((rem - placed) as usize)
        {
            counts[i] += 1;
        }
    }
    Ok(sorted
        .iter()
        .zip(counts)
        .map(|(e, c)| SiteTarget {
            site: e.site.clone(),
            operator: e.operator.clone(),
            pool_id: e.pool_id.clone(),
            count: u32::try_from(c).unwrap_or(u32::MAX),
        })
        .collect())
}

/// How to choose members to remove on scale-in (within each site that has too many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletePolicy {
    /// Keep sites at their resolved counts; within a site remove unhealthy, then newest (the default).
    #[default]
    SiteBalanced,
    /// Oldest first.
    Oldest,
    /// Newest first.
    Newest,
    /// Unhealthy first, then oldest.
    UnhealthyFirst,
}

/// A fleet member as the scale planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// Instance id.
    pub id: String,
    /// `site[/operator]` key of where it runs (see [`placement_key`]).
    pub key: String,
    /// Creation time, sortable (RFC 3339); `None` sorts as oldest.
    pub created: Option<String>,
    /// Ready and running.
    pub healthy: bool,
    /// Failed beyond repair (remediation replaces it).
    pub failed: bool,
    /// Marked by a user to go first on scale-in.
    pub delete_first: bool,
    /// Already being deleted (not counted, not chosen again).
    pub deleting: bool,
}

/// The scale decision for a fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetScalePlan {
    /// Instances to add per target (count > 0 only), sorted by key.
    pub add: Vec<SiteTarget>,
    /// Member ids to delete, in deletion order.
    pub remove: Vec<String>,
    /// Growth is needed but the cloud cannot expand this fleet (reason for `ScalingBlocked`).
    pub blocked: Option<String>,
}

/// Compares resolved targets with members: adds per site where short, removes per site where over
/// (members at sites no longer targeted are removed first), replaces failed members when `remediate`.
/// Victims within a site: `delete_first` marks, then the policy order, ties by id.
pub fn plan_fleet_scale(
    targets: &[SiteTarget],
    members: &[MemberView],
    policy: DeletePolicy,
    remediate: bool,
    can_expand: bool,
) -> FleetScalePlan {
    let mut by_key: HashMap<&str, Vec<&MemberView>> = HashMap::new();
    for m in members.iter().filter(|m| !m.deleting) {
        by_key.entry(m.key.as_str()).or_default().push(m);
    }
    let mut plan = FleetScalePlan::default();
    let target_keys: BTreeSet<String> = targets.iter().map(SiteTarget::key).collect();
    // Members at sites no longer targeted go first, oldest key order for stability.
    let mut orphan_keys: Vec<&&str> = by_key.keys().filter(|k| !target_keys.contains(**k)).collect();
    orphan_keys.sort();
    for k in orphan_keys {
        let mut ms = by_key[*k].clone();
        order_victims(&mut ms, policy);
        plan.remove.extend(ms.into_iter().map(|m| m.id.clone()));
    }
    let mut sorted_targets: Vec<&SiteTarget> = targets.iter().collect();
    sorted_targets.sort_by_key(|t| t.key());
    for t in sorted_targets {
        let key = t.key();
        let mut ms = by_key.get(key.as_str()).cloned().unwrap_or_default();
        let mut replaced = 0u32;
        if remediate {
            let (failed, ok): (Vec<&MemberView>, Vec<&MemberView>) = ms.into_iter().partition(|m| m.failed);
            let mut failed = failed;
            failed.sort_by(|a, b| a.id.cmp(&b.id));
            // A failed member is removed and, if still within the target, replaced.
            let keep_slots = t
                .count
                .saturating_sub(u32::try_from(ok.len()).unwrap_or(u32::MAX));
            replaced = keep_slots.min(u32::try_from(failed.len()).unwrap_or(u32::MAX));
            plan.remove.extend(failed.iter().map(|m| m.id.clone()));
            ms = ok;
        }
        let have = u32::try_from(ms.len()).unwrap_or(u32::MAX);
        if have > t.count {
            order_victims(&mut ms, policy);
            plan.remove
                .extend(ms.iter().take((have - t.count) as usize).map(|m| m.id.clone()));
        }
        let add = t.count.saturating_sub(have).max(replaced);
        if add > 0 {
            plan.add.push(SiteTarget {
                count: add,
                ..t.clone()
            });
        }
    }
    if !plan.add.is_empty() && !can_expand {
        plan.blocked = Some(format!(
            "{} more instance(s) needed but this fleet cannot be expanded",
            plan.add.iter().map(|t| t.count).sum::<u32>()
        ));
        plan.add.clear();
    }
    plan
}

fn order_victims(ms: &mut [&MemberView], policy: DeletePolicy) {
    let created = |m: &MemberView| m.created.clone().unwrap_or_default();
    ms.sort_by(|a, b| {
        b.delete_first
            .cmp(&a.delete_first)
            .then_with(|| match policy {
                DeletePolicy::SiteBalanced => a.healthy.cmp(&b.healthy).then(created(b).cmp(&created(a))),
                DeletePolicy::Newest => created(b).cmp(&created(a)),
                DeletePolicy::Oldest => created(a).cmp(&created(b)),
                DeletePolicy::UnhealthyFirst => a.healthy.cmp(&b.healthy).then(created(a).cmp(&created(b))),
            })
            .then_with(|| a.id.cmp(&b.id))
    });
}

#[cfg(test)]
mod tests;
