//! What a pass sees: the template's references resolved (Vpc and SecurityGroup ids, Secrets), and the
//! [`FleetView`] — the edge cloud, its members as the cloud lists them and their EdgeInstance mirrors,
//! gathered once per pass with everything derived from them (live members, recorded fingerprints,
//! members being replaced, stale and stuck members, counts). Reads only; nothing here writes.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use super::Error;
use super::fleet::{self, Counts, ResolvedRefs};
use super::members;
use crate::api::common::SecretKeyRef;
use crate::api::condition::{READY, is_condition_true};
use crate::api::edge_cloud::{EdgeCloud, EdgeCloudSpec, EdgeCloudStatus};
use crate::api::edge_instance::EdgeInstance;
use crate::api::security_group::SecurityGroup;
use crate::api::vpc::Vpc;
use crate::controller::runtime::Context;
use crate::provider::{FleetApi, ObservedFleet, ObservedInstance, SecretString};

// ---------------------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------------------

async fn read_secret_key(ctx: &Context, ns: &str, r: &SecretKeyRef) -> Result<SecretString, Error> {
    let what = format!("Secret {ns}/{} key {:?}", r.name, r.key);
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns)
        .get_opt(&r.name)
        .await
        .map_err(|source| Error::ReadDependency {
            what: what.clone(),
            source,
        })?;
    let value = secret
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get(&r.key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    match value {
        Some(v) if !v.is_empty() => Ok(SecretString::new(v)),
        _ => Err(Error::Dependency {
            what: format!("{what} (missing or empty)"),
        }),
    }
}

/// Resolves the template's Vpc and SecurityGroup references (waiting until each has its cloud id) and
/// reads its Secrets.
pub(super) async fn resolve_refs(ec: &EdgeCloud, ctx: &Context) -> Result<ResolvedRefs, Error> {
    let ns = ec.namespace().unwrap_or_default();
    let net = &ec.spec.template.network;
    let vpc_id = match (&net.vpc_ref, &net.vpc_id) {
        (_, Some(id)) => id.clone(),
        (Some(r), None) => {
            let what = format!("Vpc {ns}/{}", r.name);
            let vpc = Api::<Vpc>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&r.name)
                .await
                .map_err(|source| Error::ReadDependency {
                    what: what.clone(),
                    source,
                })?;
            let status = vpc.as_ref().and_then(|v| v.status.as_ref());
            match status.and_then(|s| s.vpc_id.clone()) {
                Some(id) if status.is_some_and(|s| is_condition_true(&s.conditions, READY)) => id,
                _ => {
                    return Err(Error::Dependency {
                        what: format!("{what} to be Ready"),
                    });
                }
            }
        }
        // No VPC: whether the cloud needs one is its rule (FleetApi::validate_template).
        (None, None) => String::new(),
    };
    let mut security_group_ids: Vec<String> = Vec::new();
    for r in &net.security_group_refs {
        let what = format!("SecurityGroup {ns}/{}", r.name);
        let sg = Api::<SecurityGroup>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|source| Error::ReadDependency {
                what: what.clone(),
                source,
            })?;
        match sg.and_then(|g| g.status).and_then(|s| s.security_group_id) {
            Some(id) => {
                if !security_group_ids.contains(&id) {
                    security_group_ids.push(id);
                }
            }
            None => {
                return Err(Error::Dependency {
                    what: format!("{what} to have a cloud id"),
                });
            }
        }
    }
    for id in &net.security_group_ids {
        if !security_group_ids.contains(id) {
            security_group_ids.push(id.clone());
        }
    }
    let t = &ec.spec.template;
    let admin_password = match &t.admin_password_secret_ref {
        Some(r) => Some(read_secret_key(ctx, &ns, r).await?),
        None => None,
    };
    let user_data = match &t.user_data_secret_ref {
        Some(r) => Some(read_secret_key(ctx, &ns, r).await?),
        None => None,
    };
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
