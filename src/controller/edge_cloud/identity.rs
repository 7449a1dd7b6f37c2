//! The edge cloud's identity, the crash-safe create: the status id, else `spec.adoptId`, else recovery
//! of an interrupted create (intent `pendingCreate`: token = the cloud name, handle = the deployment
//! plan id), else a new deployment plan and its deploy — the intent durable before the plan exists, the
//! plan id before it is executed, the edge cloud id right after. A recorded edge cloud that disappeared
//! is deployed again (unless ObserveOnly). The create's identity ([`fleet::create_identity`]) carries a
//! client token and the owner tag where the cloud has them (veEN), derived from the intent: a repeated
//! deploy replays, and recovery looks the fleet up by identity (`FleetApi::find_by_identity`: by name
//! where names are unique, by owner tag on veEN). A fleet of the same name is a conflict only where the
//! cloud keeps fleet names unique (`Capabilities::unique_names.fleet`).

use tracing::{debug, info};

use super::Error;
use super::execute::{FleetPass, create_plan_for, remember_plan};
use super::fleet::{self, describe_targets, ids_of};
use crate::api::common::{ManagementPolicy, PendingOperation};
use crate::api::condition::reason;
use crate::controller::events::EventType;
use crate::controller::runtime::{Outcome, elapsed_since, now};
use crate::provider::{
    FleetPlanRequest, FleetPlanTarget, InstanceTemplate, ObservedFleet, ProviderError, SiteTarget,
};

/// Where the identity step left the object.
pub(super) enum Identity {
    /// The edge cloud, observed.
    Observed(ObservedFleet),
    /// Not observable yet; end the pass with this outcome.
    Wait(Outcome),
}

fn creating(message: String) -> Identity {
    Identity::Wait(Outcome::progressing(
        reason::CREATING,
        reason::IN_PROGRESS,
        message,
    ))
}

fn recovering(message: String) -> Identity {
    Identity::Wait(Outcome::progressing(
        reason::CREATING,
        reason::RECOVERING,
        message,
    ))
}

/// What a create would deploy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Want<'a> {
    /// Resolved placement targets.
    pub targets: &'a [SiteTarget],
    /// The member template.
    pub template: &'a InstanceTemplate,
    /// Whether a create may start or resume (not paused, not ObserveOnly).
    pub may_create: bool,
}

/// Finds, adopts, recovers or creates the edge cloud (the crash-safety protocol). `blocked` receives the
/// locations a new deployment plan was refused for lack of capacity or quota.
pub(super) async fn ensure_identity(
    pass: &mut FleetPass<'_>,
    want: &Want<'_>,
    blocked: &mut Vec<String>,
) -> Result<Identity, Error> {
    let observe_only = pass.ec.spec.management_policy == ManagementPolicy::ObserveOnly;
    let mut drifted = false;
    if let Some(id) = pass.w.status.edge_cloud_id.clone() {
        match recorded(pass, id, observe_only).await? {
            Some(identity) => return Ok(identity),
            None => drifted = true,
        }
    }
    if !drifted && let Some(adopt) = pass.ec.spec.adopt_id.clone() {
        return match pass.fleets.get(&adopt).await {
            Ok(observed) => {
                pass.w.status.edge_cloud_id = Some(observed.id.clone());
                pass.persist().await?;
                let note = format!("adopted edge cloud {adopt} ({})", observed.name);
                pass.ctx
                    .publish(pass.ec, EventType::Normal, "Adopted", "Adopt", note)
                    .await;
                Ok(Identity::Observed(observed))
            }
            Err(e) if e.is_not_found() => Err(Error::AdoptTargetNotFound { id: adopt }),
            Err(source) => Err(Error::Observe { id: adopt, source }),
        };
    }
    if observe_only {
        return Err(Error::NothingToObserve);
    }
    let name = fleet::cloud_name(pass.ec);
    let mut request = fleet::plan_request(
        pass.ec,
        FleetPlanTarget::New { name: name.clone() },
        want.targets,
        want.template,
    );
    if let Some(pending) = pass.w.status.pending_create.clone() {
        request.identity = fleet::create_identity(pass.ec, &name, &pending, pass.caps);
        if let Some(identity) = recover(pass, &pending, &request, want.may_create).await? {
            return Ok(identity);
        }
    } else if pass.caps.unique_names.fleet {
        // Only where the cloud keeps fleet names unique is a fleet of this name someone else's.
        let existing = pass
            .fleets
            .find_by_name(&name)
            .await
            .map_err(|source| Error::Lookup {
                what: format!("edge clouds named {name:?}"),
                source,
            })?;
        if !existing.is_empty() {
            return Err(Error::NameConflict {
                name,
                ids: ids_of(existing.iter().map(|f| f.id.as_str())),
            });
        }
    }
    create(pass, request, want.may_create, blocked).await
}

/// Observes the edge cloud recorded in status: found, or waiting for the cloud to list it (the identity
/// step ends here), or `None`: gone, to be deployed again — drift, or the failed edge cloud this
/// controller deleted to deploy it again.
async fn recorded(
    pass: &mut FleetPass<'_>,
    id: String,
    observe_only: bool,
) -> Result<Option<Identity>, Error> {
    match pass.fleets.get(&id).await {
        Ok(observed) => {
            pass.w.status.pending_create = None;
            Ok(Some(Identity::Observed(observed)))
        }
        Err(e) if e.is_not_found() => {
            if let Some(p) = &pass.w.status.pending_create
                && elapsed_since(&p.started_at) < pass.ctx.config.recovery_grace
            {
                return Ok(Some(creating(format!(
                    "deployed edge cloud {id}; waiting for the cloud to list it"
                ))));
            }
            if observe_only {
                return Err(Error::ExternallyDeleted { id });
            }
            // A failed edge cloud this controller deleted to deploy again is not drift.
            let ours = matches!(pass.w.status.cloud_status.as_deref(), Some("failed" | "deleting"));
            let (type_, why, note) = if ours {
                (
                    EventType::Normal,
                    "Redeploying",
                    format!("failed edge cloud {id} is gone; deploying it again"),
                )
            } else {
                (
                    EventType::Warning,
                    "ExternallyDeleted",
                    format!("edge cloud {id} was deleted outside edgefleet; deploying it again"),
                )
            };
            pass.ctx.publish(pass.ec, type_, why, "Recreate", note).await;
            let status = &mut pass.w.status;
            status.edge_cloud_id = None;
            status.cloud_status = None;
            status.pending_create = None;
            status.pending_expand = None;
            Ok(None)
        }
        Err(source) => Err(Error::Observe { id, source }),
    }
}

/// Resolves an interrupted create: the edge cloud by its name, else its plan (recorded, or found open)
/// deployed again. `None`: nothing to resume past the grace, the intent is dropped and a create starts
/// over (a repeated deploy cannot duplicate: the cloud keeps edge-cloud names unique).
async fn recover(
    pass: &mut FleetPass<'_>,
    pending: &PendingOperation,
    request: &FleetPlanRequest,
    may_create: bool,
) -> Result<Option<Identity>, Error> {
    let grace = pass.ctx.config.recovery_grace;
    let found = pass
        .fleets
        .find_by_identity(&request.identity)
        .await
        .map_err(|source| Error::Lookup {
            what: format!("edge clouds of {:?}", pending.token),
            source,
        })?;
    match found.as_slice() {
        [one] => {
            pass.w.status.edge_cloud_id = Some(one.id.clone());
            pass.persist().await?;
            let note = format!("found edge cloud {} deployed by an interrupted pass", one.id);
            pass.ctx
                .publish(pass.ec, EventType::Normal, "Recovered", "Recover", note)
                .await;
            pass.w.status.pending_create = None;
            return Ok(Some(Identity::Observed(one.clone())));
        }
        [] => {}
        many => {
            return Err(Error::AmbiguousRecovery {
                name: pending.token.clone(),
                ids: ids_of(many.iter().map(|f| f.id.as_str())),
            });
        }
    }
    // No edge cloud yet: finish the interrupted create with its plan, if it has one.
    let plan_id = match pending.handle.clone() {
        Some(p) => Some(p),
        None => {
            pass.adopt_open_plan(|p| p.fleet_name.as_deref() == Some(&pending.token))
                .await?
        }
    };
    if let Some(plan_id) = plan_id {
        if !may_create {
            return Ok(Some(recovering(format!(
                "the deploy of plan {plan_id} is paused (spec.paused)"
            ))));
        }
        if let Some(p) = pass.w.status.pending_create.as_mut() {
            p.handle = Some(plan_id.clone());
        }
        pass.persist().await?;
        let outcome = deploy(pass, &plan_id, request, &pending.token).await?;
        if pass.w.status.edge_cloud_id.is_some() || elapsed_since(&pending.started_at) < grace {
            return Ok(Some(outcome));
        }
    } else if elapsed_since(&pending.started_at) < grace {
        return Ok(Some(recovering(format!(
            "a create of edge cloud {:?} was interrupted; waiting for the cloud to list it",
            pending.token
        ))));
    }
    pass.w.status.pending_create = None;
    Ok(None)
}

/// Creates the edge cloud: intent, deployment plan (id recorded), deploy.
async fn create(
    pass: &mut FleetPass<'_>,
    mut request: FleetPlanRequest,
    may_create: bool,
    blocked: &mut Vec<String>,
) -> Result<Identity, Error> {
    if request.targets.is_empty() {
        pass.persist().await?;
        return Ok(Identity::Wait(Outcome::available(
            "spec.replicas is 0: no edge cloud is deployed until members are wanted",
        )));
    }
    if !may_create {
        pass.persist().await?;
        return Ok(Identity::Wait(Outcome::progressing(
            reason::CREATING,
            reason::PAUSED,
            "spec.paused is true: the edge cloud is not deployed",
        )));
    }
    let name = fleet::cloud_name(pass.ec);
    // Crash-safety step 1: the intent (token = the unique cloud name) is durable before the plan exists,
    // and so is the fingerprint the members will be recorded with.
    let intent = PendingOperation {
        token: name.clone(),
        params_hash: fleet::params_hash(&request),
        started_at: now(),
        handle: None,
    };
    // The client token and owner tag (where the cloud has them) come from this intent, so a deploy
    // retried after a crash replays instead of creating a second fleet.
    request.identity = fleet::create_identity(pass.ec, &name, &intent, pass.caps);
    pass.w.status.pending_create = Some(intent);
    pass.w.status.members_fingerprint = Some(fleet::hidden_fingerprint(&pass.ec.spec));
    pass.persist().await?;
    let attempt = create_plan_for(pass.fleets, &request)
        .await
        .map_err(|source| Error::Plan {
            purpose: "deployment",
            name: name.clone(),
            source,
        })?;
    blocked.extend(attempt.blocked);
    let Some((plan, request)) = attempt.plan else {
        // Refused everywhere for capacity/quota: no plan exists, so the intent goes; retried next pass.
        pass.w.status.pending_create = None;
        pass.persist().await?;
        return Ok(creating(format!(
            "the cloud has no capacity for edge cloud {name:?} yet: {}",
            blocked.join("; ")
        )));
    };
    // Step 2: the plan id is durable before it is executed; the edge cloud id right after.
    if let Some(p) = pass.w.status.pending_create.as_mut() {
        p.handle = Some(plan.id.clone());
    }
    remember_plan(&mut pass.w.status, &plan.id);
    pass.persist().await?;
    deploy(pass, &plan.id, &request, &name).await
}

/// Deploys plan `plan_id` (the intent carries it as handle) and records the edge cloud id at once.
async fn deploy(
    pass: &mut FleetPass<'_>,
    plan_id: &str,
    request: &FleetPlanRequest,
    name: &str,
) -> Result<Identity, Error> {
    match pass.fleets.deploy(plan_id, request).await {
        Ok(op) => {
            pass.w.status.edge_cloud_id = Some(op.fleet_id.clone());
            pass.persist().await?;
            info!(edge_cloud_id = %op.fleet_id, %name, "deployed edge cloud");
            let note = format!(
                "deployed edge cloud {} ({name}) from plan {plan_id}: {}",
                op.fleet_id,
                describe_targets(&request.targets)
            );
            pass.ctx
                .publish(pass.ec, EventType::Normal, "Created", "Create", note)
                .await;
            Ok(creating(format!(
                "deployed edge cloud {} from plan {plan_id}; waiting for it to be inService",
                op.fleet_id
            )))
        }
        // The plan was executed by an interrupted pass (closed) or the name is taken by that execution:
        // the next lookup by name finds the edge cloud.
        Err(e @ (ProviderError::NotFound { .. } | ProviderError::Conflict { .. })) => {
            debug!(error = %e, plan_id, "deploy refused; recovering by name");
            Ok(recovering(format!(
                "plan {plan_id} of edge cloud {name:?} was already executed or is busy; looking the edge cloud up"
            )))
        }
        Err(source) => Err(Error::Execute {
            action: "deploy",
            plan_id: plan_id.to_owned(),
            name: name.to_owned(),
            source,
        }),
    }
}
