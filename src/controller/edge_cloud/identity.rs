use super::*;

// ---------------------------------------------------------------------------------------------------------
// Identity: find, adopt, recover or create (deployment plan → deploy)
// ---------------------------------------------------------------------------------------------------------

/// A plan the cloud accepted, with the request it was made from, and the locations it refused.
pub(super) struct PlanAttempt {
    /// The accepted plan and its request, if any location could be served.
    pub(super) plan: Option<(crate::provider::FleetPlan, crate::provider::FleetPlanRequest)>,
    /// `location[/operator]: why` for each location the cloud has no capacity or quota for.
    pub(super) blocked: Vec<String>,
}

/// Creates a plan for `request`. When the cloud refuses for lack of capacity or quota and several
/// locations are asked for, tries one location at a time (in key order) until one is accepted, so the
/// locations that can be served progress while the others are reported; at most one plan is created.
pub(super) async fn create_plan_for(
    fleets: &dyn FleetApi,
    request: &crate::provider::FleetPlanRequest,
) -> Result<PlanAttempt, ProviderError> {
    let err = match fleets.create_plan(request).await {
        Ok(plan) => {
            return Ok(PlanAttempt {
                plan: Some((plan, request.clone())),
                blocked: Vec::new(),
            });
        }
        Err(e) if e.is_capacity() => e,
        Err(e) => return Err(e),
    };
    if request.targets.len() < 2 {
        return Ok(PlanAttempt {
            plan: None,
            blocked: request
                .targets
                .iter()
                .map(|t| format!("{}: {err}", t.key()))
                .collect(),
        });
    }
    let mut blocked = Vec::new();
    for t in &request.targets {
        let mut one = request.clone();
        one.targets = vec![t.clone()];
        match fleets.create_plan(&one).await {
            Ok(plan) => {
                return Ok(PlanAttempt {
                    plan: Some((plan, one)),
                    blocked,
                });
            }
            Err(e) if e.is_capacity() => blocked.push(format!("{}: {e}", t.key())),
            Err(e) => return Err(e),
        }
    }
    Ok(PlanAttempt { plan: None, blocked })
}

/// Where the identity step left the object.
pub(super) enum Identity {
    /// The edge cloud, observed.
    Observed(ObservedFleet),
    /// Not observable yet; end the pass with this outcome.
    Wait(Outcome),
}

pub(super) fn creating(message: String) -> Identity {
    Identity::Wait(Outcome::progressing(
        reason::CREATING,
        reason::IN_PROGRESS,
        message,
    ))
}

pub(super) fn recovering(message: String) -> Identity {
    Identity::Wait(Outcome::progressing(
        reason::CREATING,
        reason::RECOVERING,
        message,
    ))
}

/// Records a plan id (before it is executed, so it is cleaned up whatever happens next).
pub(super) fn remember_plan(status: &mut EdgeCloudStatus, plan_id: &str) {
    if !status.deployment_plan_ids.iter().any(|p| p == plan_id) {
        status.deployment_plan_ids.push(plan_id.to_owned());
    }
}

/// Deploys plan `plan_id` (the intent carries it as handle) and records the edge cloud id at once.
pub(super) async fn deploy(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    plan_id: &str,
    request: &crate::provider::FleetPlanRequest,
    name: &str,
    w: &mut Writer,
) -> Result<Identity, Error> {
    match fleets.deploy(plan_id, request).await {
        Ok(op) => {
            w.status.edge_cloud_id = Some(op.fleet_id.clone());
            persist(w).await?;
            info!(edge_cloud_id = %op.fleet_id, %name, "deployed edge cloud");
            ctx.publish(
                ec,
                EventType::Normal,
                "Created",
                "Create",
                format!(
                    "deployed edge cloud {} ({name}) from plan {plan_id}: {}",
                    op.fleet_id,
                    describe_targets(&request.targets)
                ),
            )
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

/// Finds, adopts, recovers or creates the edge cloud (the crash-safety protocol).
#[allow(clippy::too_many_arguments)]
pub(super) async fn ensure_identity(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    targets: &[SiteTarget],
    template: &InstanceTemplate,
    may_create: bool,
    blocked: &mut Vec<String>,
    w: &mut Writer,
) -> Result<Identity, Error> {
    let observe_only = ec.spec.management_policy == ManagementPolicy::ObserveOnly;
    let grace = ctx.config.recovery_grace;
    let name = fleet::cloud_name(ec);
    let mut drifted = false;
    if let Some(id) = w.status.edge_cloud_id.clone() {
        match fleets.get(&id).await {
            Ok(observed) => {
                w.status.pending_create = None;
                return Ok(Identity::Observed(observed));
            }
            Err(e) if e.is_not_found() => {
                if let Some(p) = &w.status.pending_create
                    && elapsed_since(&p.started_at) < grace
                {
                    return Ok(creating(format!(
                        "deployed edge cloud {id}; waiting for the cloud to list it"
                    )));
                }
                if observe_only {
                    return Err(Error::ExternallyDeleted { id });
                }
                // A failed edge cloud this controller deleted to deploy again is not drift.
                let ours = matches!(w.status.cloud_status.as_deref(), Some("failed" | "deleting"));
                if ours {
                    ctx.publish(
                        ec,
                        EventType::Normal,
                        "Redeploying",
                        "Recreate",
                        format!("failed edge cloud {id} is gone; deploying it again"),
                    )
                    .await;
                } else {
                    ctx.publish(
                        ec,
                        EventType::Warning,
                        "ExternallyDeleted",
                        "Recreate",
                        format!("edge cloud {id} was deleted outside edgefleet; deploying it again"),
                    )
                    .await;
                }
                w.status.edge_cloud_id = None;
                w.status.cloud_status = None;
                w.status.pending_create = None;
                w.status.pending_expand = None;
                drifted = true;
            }
            Err(source) => return Err(Error::Observe { id, source }),
        }
    }
    if !drifted && let Some(adopt) = ec.spec.adopt_id.clone() {
        return match fleets.get(&adopt).await {
            Ok(observed) => {
                w.status.edge_cloud_id = Some(observed.id.clone());
                persist(w).await?;
                ctx.publish(
                    ec,
                    EventType::Normal,
                    "Adopted",
                    "Adopt",
                    format!("adopted edge cloud {adopt} ({})", observed.name),
                )
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
    let request = fleet::plan_request(ec, FleetPlanTarget::New { name: name.clone() }, targets, template);
    if let Some(pending) = w.status.pending_create.clone() {
        let found = fleets
            .find_by_name(&pending.token)
            .await
            .map_err(|source| Error::Lookup {
                what: format!("edge clouds named {:?}", pending.token),
                source,
            })?;
        match found.as_slice() {
            [one] => {
                w.status.edge_cloud_id = Some(one.id.clone());
                persist(w).await?;
                ctx.publish(
                    ec,
                    EventType::Normal,
                    "Recovered",
                    "Recover",
                    format!("found edge cloud {} deployed by an interrupted pass", one.id),
                )
                .await;
                w.status.pending_create = None;
                return Ok(Identity::Observed(one.clone()));
            }
            [] => {}
            many => {
                return Err(Error::AmbiguousRecovery {
                    name: pending.token,
                    ids: ids_of(many.iter().map(|f| f.id.as_str())),
                });
            }
        }
        // No edge cloud yet: finish the interrupted create with its plan, if it has one.
        let plan_id = match pending.handle.clone() {
            Some(p) => Some(p),
            None => adopt_open_plan(fleets, w, |p| p.fleet_name.as_deref() == Some(&pending.token)).await?,
        };
        if let Some(plan_id) = plan_id {
            if !may_create {
                return Ok(recovering(format!(
                    "the deploy of plan {plan_id} is paused (spec.paused)"
                )));
            }
            if let Some(p) = w.status.pending_create.as_mut() {
                p.handle = Some(plan_id.clone());
            }
            persist(w).await?;
            let outcome = deploy(ec, ctx, fleets, &plan_id, &request, &pending.token, w).await?;
            if w.status.edge_cloud_id.is_some() || elapsed_since(&pending.started_at) < grace {
                return Ok(outcome);
            }
            // The plan is closed or gone and, past the grace, no edge cloud carries the name: start again
            // (a repeated deploy cannot duplicate: IEC keeps edge-cloud names unique).
            w.status.pending_create = None;
        } else if elapsed_since(&pending.started_at) < grace {
            return Ok(recovering(format!(
                "a create of edge cloud {:?} was interrupted; waiting for the cloud to list it",
                pending.token
            )));
        } else {
            w.status.pending_create = None;
        }
    } else {
        let existing = fleets.find_by_name(&name).await.map_err(|source| Error::Lookup {
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
    if request.targets.is_empty() {
        persist(w).await?;
        return Ok(Identity::Wait(Outcome::available(
            "spec.replicas is 0: no edge cloud is deployed until members are wanted",
        )));
    }
    if !may_create {
        persist(w).await?;
        return Ok(Identity::Wait(Outcome::progressing(
            reason::CREATING,
            reason::PAUSED,
            "spec.paused is true: the edge cloud is not deployed",
        )));
    }
    // Crash-safety step 1: the intent (token = the unique cloud name) is durable before the plan exists,
    // and so is the fingerprint the members will be recorded with.
    w.status.pending_create = Some(PendingOperation {
        token: name.clone(),
        params_hash: fleet::params_hash(&request),
        started_at: now(),
        handle: None,
    });
    w.status.members_fingerprint = Some(fleet::hidden_fingerprint(&ec.spec));
    persist(w).await?;
    let attempt = create_plan_for(fleets, &request)
        .await
        .map_err(|source| Error::Plan {
            purpose: "deployment",
            name: name.clone(),
            source,
        })?;
    blocked.extend(attempt.blocked);
    let Some((plan, request)) = attempt.plan else {
        // Refused everywhere for capacity/quota: no plan exists, so the intent goes; retried next pass.
        w.status.pending_create = None;
        persist(w).await?;
        return Ok(creating(format!(
            "the cloud has no capacity for edge cloud {name:?} yet: {}",
            blocked.join("; ")
        )));
    };
    // Step 2: the plan id is durable before it is executed; the edge cloud id right after.
    if let Some(p) = w.status.pending_create.as_mut() {
        p.handle = Some(plan.id.clone());
    }
    remember_plan(&mut w.status, &plan.id);
    persist(w).await?;
    deploy(ec, ctx, fleets, &plan.id, &request, &name, w).await
}

/// Looks for open plans matching `wanted` (left by a pass that crashed before recording the plan id):
/// records the first as the intent's handle and deletes the others.
pub(super) async fn adopt_open_plan(
    fleets: &dyn FleetApi,
    w: &mut Writer,
    wanted: impl Fn(&crate::provider::OpenPlan) -> bool,
) -> Result<Option<String>, Error> {
    let open = fleets.find_open_plans().await.map_err(|source| Error::Lookup {
        what: "open deployment plans".to_owned(),
        source,
    })?;
    let mut mine = open.iter().filter(|p| wanted(p));
    let Some(first) = mine.next() else {
        return Ok(None);
    };
    for extra in mine {
        match fleets.delete_plan(&extra.id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(source) => {
                return Err(Error::DeletePlan {
                    plan_id: extra.id.clone(),
                    source,
                });
            }
        }
    }
    remember_plan(&mut w.status, &first.id);
    Ok(Some(first.id.clone()))
}

/// Deletes recorded plans no intent still needs (executed, or abandoned).
pub(super) async fn cleanup_plans(fleets: &dyn FleetApi, w: &mut Writer) -> Result<(), Error> {
    let mut keep: Vec<String> = Vec::new();
    if w.status.edge_cloud_id.is_none()
        && let Some(h) = w.status.pending_create.as_ref().and_then(|p| p.handle.clone())
    {
        keep.push(h);
    }
    if let Some(h) = w.status.pending_expand.as_ref().and_then(|p| p.handle.clone()) {
        keep.push(h);
    }
    let ids = w.status.deployment_plan_ids.clone();
    for plan_id in ids.iter().filter(|p| !keep.contains(p)) {
        match fleets.delete_plan(plan_id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(source) => {
                return Err(Error::DeletePlan {
                    plan_id: plan_id.clone(),
                    source,
                });
            }
        }
        w.status.deployment_plan_ids.retain(|p| p != plan_id);
    }
    Ok(())
}
