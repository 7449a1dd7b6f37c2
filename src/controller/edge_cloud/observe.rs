//! What a pass sees: the template's references resolved (Vpc and SecurityGroup ids, Secrets), and the
//! [`FleetView`] — the edge cloud, its members as the cloud lists them and their EdgeInstance mirrors,
//! gathered once per pass with everything derived from them (live members, recorded fingerprints,
//! members being replaced, stale and stuck members, counts). Reads only; nothing here writes.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;
use kube::api::Api;

use super::Error;
use super::fleet::{self, Counts, ResolvedRefs};
use super::members;
use crate::api::edge_cloud::{EdgeCloud, EdgeCloudSpec, EdgeCloudStatus};
use crate::api::edge_instance::EdgeInstance;
use crate::controller::runtime::{Context, References};
use crate::provider::{FleetApi, ObservedFleet, ObservedInstance};

// ---------------------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------------------

/// Resolves the template's Vpc and SecurityGroup references (waiting until each is Ready with its cloud
/// id) and reads its Secrets, by the shared rule of [`References`].
pub(super) async fn resolve_refs(ec: &EdgeCloud, ctx: &Context) -> Result<ResolvedRefs, Error> {
    let ns = ec.namespace().unwrap_or_default();
    let refs = References::new(ctx, &ns);
    let t = &ec.spec.template;
    let net = &t.network;
    // No VPC: whether the cloud needs one is its rule (FleetApi::validate_template).
    let vpc_id = refs
        .vpc(
            "spec.template.network.vpcRef",
            net.vpc_ref.as_ref(),
            net.vpc_id.as_ref(),
        )
        .await?
        .map(|v| v.id)
        .unwrap_or_default();
    let security_group_ids = refs
        .security_groups(
            "spec.template.network.securityGroupRefs",
            &net.security_group_refs,
            &net.security_group_ids,
        )
        .await?;
    let admin_password = refs
        .optional_secret(
            "spec.template.adminPasswordSecretRef",
            t.admin_password_secret_ref.as_ref(),
        )
        .await?;
    let user_data = refs
        .optional_secret("spec.template.userDataSecretRef", t.user_data_secret_ref.as_ref())
        .await?;
    Ok(ResolvedRefs {
        vpc_id,
        security_group_ids,
        admin_password,
        user_data,
    })
}

// ---------------------------------------------------------------------------------------------------------
// The fleet view
// ---------------------------------------------------------------------------------------------------------

/// What the cloud and the member EdgeInstances say at the start of a pass, and what follows from it.
#[derive(Debug, Clone)]
pub(super) struct FleetView {
    /// The edge cloud as the cloud shows it.
    pub fleet: ObservedFleet,
    /// Every member the cloud lists (deleted and deleting ones too).
    pub all: Vec<ObservedInstance>,
    /// The member EdgeInstances, as listed at the start of the pass.
    pub mirrors: Vec<EdgeInstance>,
    /// Members that count: not deleted or being deleted, not chosen for removal (in list order).
    pub live: Vec<ObservedInstance>,
    /// Fingerprint new members are recorded with: the one of the deploy or expansion that created them
    /// (`status.membersFingerprint`), else the current one.
    pub new_members_fingerprint: String,
    /// Live members being replaced after a build timeout (annotation on their EdgeInstance).
    pub replacing: BTreeSet<String>,
    /// Live members recorded with another fingerprint than the current template's.
    pub stale: BTreeSet<String>,
    /// Live members building past `spec.remediation.buildTimeout`, in list order.
    pub stuck: Vec<String>,
    /// Member counts.
    pub counts: Counts,
}

/// What is read from the cloud and the cluster to make a [`FleetView`].
#[derive(Debug, Clone)]
pub(super) struct Seen {
    /// The edge cloud.
    pub fleet: ObservedFleet,
    /// Its members.
    pub all: Vec<ObservedInstance>,
    /// Their EdgeInstances.
    pub mirrors: Vec<EdgeInstance>,
}

/// When the pass looks: now (epoch milliseconds) and the build timeout in effect.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    /// Epoch milliseconds.
    pub now_ms: i64,
    /// `spec.remediation.buildTimeout`.
    pub build_timeout: std::time::Duration,
}

impl FleetView {
    /// Derives the view from what was read (pure). `status` gives the removal intent (members chosen
    /// for removal are not live) and the fingerprint new members are recorded with.
    pub fn new(seen: Seen, spec: &EdgeCloudSpec, status: &EdgeCloudStatus, clock: Clock) -> Self {
        let Seen { fleet, all, mirrors } = seen;
        let live: Vec<ObservedInstance> = all
            .iter()
            .filter(|m| fleet::is_live(m, &status.pending_delete))
            .cloned()
            .collect();
        let fingerprint = fleet::hidden_fingerprint(spec);
        let new_members_fingerprint = status
            .members_fingerprint
            .clone()
            .unwrap_or_else(|| fingerprint.clone());
        let mut recorded: BTreeMap<String, String> = live
            .iter()
            .map(|m| (m.id.clone(), new_members_fingerprint.clone()))
            .collect();
        let mut replacing: BTreeSet<String> = BTreeSet::new();
        for ei in &mirrors {
            let Some(id) = members::instance_id(ei) else {
                continue;
            };
            if let Some(r) = recorded.get_mut(id) {
                if let Some(f) = members::fingerprint(ei) {
                    f.clone_into(r);
                }
                if members::is_replacing(ei) {
                    replacing.insert(id.to_owned());
                }
            }
        }
        let live_refs: Vec<&ObservedInstance> = live.iter().collect();
        let stale = fleet::stale_members(&live_refs, &recorded, &fingerprint);
        let stuck = fleet::stuck_members(&live_refs, clock.now_ms, clock.build_timeout)
            .into_iter()
            .map(|m| m.id.clone())
            .collect();
        let counts = fleet::counts(spec, &live_refs, &stale);
        Self {
            fleet,
            all,
            mirrors,
            live,
            new_members_fingerprint,
            replacing,
            stale,
            stuck,
            counts,
        }
    }

    /// The live members, by reference (what the pure fleet functions take).
    pub fn live_refs(&self) -> Vec<&ObservedInstance> {
        self.live.iter().collect()
    }

    /// The stuck members, by reference, in list order.
    pub fn stuck_refs(&self) -> Vec<&ObservedInstance> {
        self.live.iter().filter(|m| self.stuck.contains(&m.id)).collect()
    }

    /// The EdgeInstance mirroring cloud member `id`.
    pub fn mirror_of(&self, id: &str) -> Option<&EdgeInstance> {
        self.mirrors
            .iter()
            .find(|ei| members::instance_id(ei) == Some(id))
    }

    /// How many live members are being replaced after a build timeout.
    pub fn replacing_live(&self) -> usize {
        self.live
            .iter()
            .filter(|m| self.replacing.contains(&m.id))
            .count()
    }
}

/// Reads the members of `fleet` and their EdgeInstances.
pub(super) async fn gather(
    fleets: &dyn FleetApi,
    ei_api: &Api<EdgeInstance>,
    ec: &EdgeCloud,
    fleet: ObservedFleet,
) -> Result<Seen, Error> {
    let all = fleets
        .list_members(&fleet.id)
        .await
        .map_err(|source| Error::Observe {
            id: fleet.id.clone(),
            source,
        })?;
    let mirrors = members::list(ei_api, ec).await.map_err(|source| Error::Members {
        action: "list",
        source,
    })?;
    Ok(Seen { fleet, all, mirrors })
}
