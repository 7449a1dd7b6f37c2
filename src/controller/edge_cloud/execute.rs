use super::*;

// ---------------------------------------------------------------------------------------------------------
// Members: removals in flight, mirror, scale-in
// ---------------------------------------------------------------------------------------------------------

/// Ids of cloud members that are gone or going (deleted, being deleted, absent from the list).
pub(super) fn removal_done(all: &[ObservedInstance], id: &str) -> bool {
    all.iter()
        .find(|m| m.id == id)
        .is_none_or(|m| matches!(m.state, InstanceState::Deleted | InstanceState::Deleting))
}

/// Carries out the recorded removals: releases their EdgeInstances and batch-deletes the cloud
/// instances that can be deleted now (not while building); drops ids the cloud shows gone or going.
/// Returns the ids still pending.
pub(super) async fn settle_removals(
    instances: &dyn InstanceApi,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    all: &[ObservedInstance],
    fleet_id: &str,
    w: &mut Writer,
) -> Result<Vec<String>, Error> {
    if w.status.pending_delete.is_empty() {
        return Ok(Vec::new());
    }
    for ei in mirrors {
        if members::instance_id(ei).is_some_and(|id| w.status.pending_delete.iter().any(|p| p == id)) {
            members::release(ei_api, ei)
                .await
                .map_err(|source| Error::Members {
                    action: "release",
                    source,
                })?;
        }
    }
    let deletable: Vec<String> = w
        .status
        .pending_delete
        .iter()
        .filter(|id| {
            all.iter().any(|m| {
                &m.id == *id
                    && !matches!(
                        m.state,
                        InstanceState::Deleted | InstanceState::Deleting | InstanceState::Creating
                    )
            })
        })
        .cloned()
        .collect();
    if !deletable.is_empty() {
        match instances.delete(&deletable).await {
            Ok(_) => {}
            // A member vanished or is busy since the list: the next observation sorts it out.
            Err(e) if e.is_not_found() || matches!(e, ProviderError::Conflict { .. }) => {
                debug!(error = %e, "batch delete refused; retrying after the next observation");
            }
            Err(source) => {
                return Err(Error::DeleteMembers {
                    id: fleet_id.to_owned(),
                    ids: deletable.join(", "),
                    source,
                });
            }
        }
    }
    // Ids just deleted stay recorded until the next observation shows them gone or going.
    let pending: Vec<String> = w
        .status
        .pending_delete
        .iter()
        .filter(|id| !removal_done(all, id))
        .cloned()
        .collect();
    w.status.pending_delete = pending.clone();
    Ok(pending)
}

/// Marks the members `ids` (stuck in BUILD past buildTimeout) for replacement: annotation
/// `edgefleet.io/replace` on their EdgeInstance, added to `replacing`. A member without a mirror yet is
/// marked in a later pass.
pub(super) async fn mark_for_replacement(
    ec: &EdgeCloud,
    ctx: &Context,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    ids: &[String],
    replacing: &mut BTreeSet<String>,
) -> Result<(), Error> {
    for stuck_id in ids {
        let Some(ei) = mirrors
            .iter()
            .find(|ei| members::instance_id(ei) == Some(stuck_id.as_str()))
        else {
            continue;
        };
        members::annotate(ei_api, ei, REPLACE_ANNOTATION, BUILD_TIMEOUT)
            .await
            .map_err(|source| Error::Members {
                action: "annotate",
                source,
            })?;
        replacing.insert(stuck_id.clone());
        ctx.publish(
            ec,
            EventType::Normal,
            "Replacing",
            "Remediate",
            format!(
                "member {stuck_id} is still building after spec.remediation.buildTimeout ({}): creating a replacement; it is deleted once it leaves BUILD",
                ec.spec.remediation.build_timeout
            ),
        )
        .await;
    }
    Ok(())
}

/// Records `victims` as the removal intent (durable first), then carries it out.
#[allow(clippy::too_many_arguments)]
pub(super) async fn remove_members(
    ec: &EdgeCloud,
    ctx: &Context,
    instances: &dyn InstanceApi,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    all: &[ObservedInstance],
    fleet_id: &str,
    victims: &[String],
    why: &str,
    w: &mut Writer,
) -> Result<(), Error> {
    for v in victims {
        if !w.status.pending_delete.contains(v) {
            w.status.pending_delete.push(v.clone());
        }
    }
    persist(w).await?;
    settle_removals(instances, ei_api, mirrors, all, fleet_id, w).await?;
    persist(w).await?;
    ctx.publish(
        ec,
        EventType::Normal,
        "ScalingIn",
        "Scale",
        format!(
            "removing {} member(s) of edge cloud {fleet_id} ({why}): {}",
            victims.len(),
            victims.join(", ")
        ),
    )
    .await;
    Ok(())
}

/// Makes the EdgeInstance mirror match the live members: creates missing mirrors (recording
/// `fingerprint`, see [`fleet::hidden_fingerprint`]), records `fingerprint` on mirrors that have none (made
/// by an earlier version), releases mirrors whose instance is gone (never while a person's deletion of the
/// member is in progress). Returns how many were created and released.
#[allow(clippy::too_many_arguments)]
pub(super) async fn sync_mirrors(
    ec: &EdgeCloud,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    all: &[ObservedInstance],
    live: &[&ObservedInstance],
    refs: &ResolvedRefs,
    pending_delete: &[String],
    fingerprint: &str,
) -> Result<(usize, usize), Error> {
    let mirrored: BTreeSet<&str> = mirrors.iter().filter_map(members::instance_id).collect();
    for ei in mirrors {
        if members::fingerprint(ei).is_none() && ei.metadata.deletion_timestamp.is_none() {
            members::annotate(ei_api, ei, TEMPLATE_FINGERPRINT_ANNOTATION, fingerprint)
                .await
                .map_err(|source| Error::Members {
                    action: "annotate",
                    source,
                })?;
        }
    }
    let mut created = 0;
    for m in live {
        if !mirrored.contains(m.id.as_str()) {
            let ei = members::mirror(ec, m, refs, fingerprint);
            if members::create(ei_api, &ei)
                .await
                .map_err(|source| Error::Members {
                    action: "create",
                    source,
                })?
            {
                created += 1;
            }
        }
    }
    let mut released = 0;
    for ei in mirrors {
        let Some(id) = members::instance_id(ei) else {
            continue;
        };
        if pending_delete.iter().any(|p| p == id) || ei.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let is_live = live.iter().any(|m| m.id == id);
        let exists = all.iter().any(|m| m.id == id);
        if !is_live && (!exists || removal_done(all, id)) {
            members::release(ei_api, ei)
                .await
                .map_err(|source| Error::Members {
                    action: "release",
                    source,
                })?;
            released += 1;
        }
    }
    Ok((created, released))
}

// ---------------------------------------------------------------------------------------------------------
// Expansion
// ---------------------------------------------------------------------------------------------------------

/// What the expansion step decided.
pub(super) enum Expansion {
    /// Nothing in flight; planning may continue.
    Idle,
    /// An expansion is in flight or being recovered; the message says which.
    InFlight(String),
}

/// Resolves an expansion intent: finds its plan if the id was lost, (re)executes an open plan once the
/// edge cloud is inService, and clears the intent once the plan is closed (executed).
pub(super) async fn progress_expansion(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    observed: &ObservedFleet,
    template: &InstanceTemplate,
    w: &mut Writer,
) -> Result<Expansion, Error> {
    let Some(pending) = w.status.pending_expand.clone() else {
        return Ok(Expansion::Idle);
    };
    let id = observed.id.clone();
    let plan_id = match pending.handle.clone() {
        Some(p) => p,
        None => match adopt_open_plan(fleets, w, |p| p.fleet_id.as_deref() == Some(&id)).await? {
            Some(p) => {
                if let Some(x) = w.status.pending_expand.as_mut() {
                    x.handle = Some(p.clone());
                }
                persist(w).await?;
                p
            }
            None if elapsed_since(&pending.started_at) < ctx.config.recovery_grace => {
                return Ok(Expansion::InFlight(format!(
                    "an expansion of edge cloud {id} was interrupted; looking for its plan"
                )));
            }
            None => {
                w.status.pending_expand = None;
                persist(w).await?;
                return Ok(Expansion::Idle);
            }
        },
    };
    if observed.state != FleetState::Ready {
        return Ok(Expansion::InFlight(format!(
            "edge cloud {id} is {} while plan {plan_id} expands it",
            observed.raw_status
        )));
    }
    let open = fleets.find_open_plans().await.map_err(|source| Error::Lookup {
        what: "open deployment plans".to_owned(),
        source,
    })?;
    if open.iter().any(|p| p.id == plan_id) {
        let name = fleet::cloud_name(ec);
        // IEC executes plans by id; the request alongside only names the target.
        let request = fleet::plan_request(
            ec,
            FleetPlanTarget::Expand { fleet_id: id.clone() },
            &[],
            template,
        );
        return match fleets.expand(&plan_id, &request).await {
            Ok(_) => Ok(Expansion::InFlight(format!(
                "expanding edge cloud {id} with plan {plan_id}"
            ))),
            Err(ProviderError::Conflict { .. } | ProviderError::NotFound { .. }) => Ok(Expansion::InFlight(
                format!("plan {plan_id} of edge cloud {id} is being executed"),
            )),
            Err(source) => Err(Error::Execute {
                action: "expand",
                plan_id,
                name,
                source,
            }),
        };
    }
    // Closed: executed (its members are listed now). Done.
    w.status.pending_expand = None;
    cleanup_plans(fleets, w).await?;
    persist(w).await?;
    Ok(Expansion::InFlight(format!(
        "edge cloud {id} expanded with plan {plan_id}"
    )))
}

/// Result of trying to start an expansion.
pub(super) enum ExpandStart {
    /// Submitted.
    Started,
    /// Submitted for some locations; the others have no capacity (message names them).
    Partial(String),
    /// The cloud has no capacity or quota for any of these targets.
    Blocked(String),
}

/// Starts an expansion: intent, plan (id recorded), expand.
pub(super) async fn start_expansion(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    fleet_id: &str,
    add: &[SiteTarget],
    template: &InstanceTemplate,
    w: &mut Writer,
) -> Result<ExpandStart, Error> {
    let name = fleet::cloud_name(ec);
    let request = fleet::plan_request(
        ec,
        FleetPlanTarget::Expand {
            fleet_id: fleet_id.to_owned(),
        },
        add,
        template,
    );
    w.status.pending_expand = Some(PendingOperation {
        token: format!("expand:{fleet_id}"),
        params_hash: fleet::params_hash(&request),
        started_at: now(),
        handle: None,
    });
    // New members are recorded with the fingerprint of the template they are created from.
    w.status.members_fingerprint = Some(fleet::hidden_fingerprint(&ec.spec));
    persist(w).await?;
    let attempt = match create_plan_for(fleets, &request).await {
        Ok(a) => a,
        Err(source) if source.is_retryable() || matches!(source, ProviderError::Protocol { .. }) => {
            // The plan may exist (lost response): the intent stays and recovery finds it.
            return Err(Error::Plan {
                purpose: "expansion",
                name,
                source,
            });
        }
        Err(source) => {
            w.status.pending_expand = None;
            persist(w).await?;
            return Err(Error::Plan {
                purpose: "expansion",
                name,
                source,
            });
        }
    };
    let blocked = (!attempt.blocked.is_empty())
        .then(|| format!("no capacity or quota at {}", attempt.blocked.join("; ")));
    let Some((plan, request)) = attempt.plan else {
        w.status.pending_expand = None;
        persist(w).await?;
        return Ok(ExpandStart::Blocked(blocked.unwrap_or_default()));
    };
    if let Some(p) = w.status.pending_expand.as_mut() {
        p.handle = Some(plan.id.clone());
        p.params_hash = fleet::params_hash(&request);
    }
    remember_plan(&mut w.status, &plan.id);
    persist(w).await?;
    let add = request.targets.as_slice();
    fleets
        .expand(&plan.id, &request)
        .await
        .map_err(|source| Error::Execute {
            action: "expand",
            plan_id: plan.id.clone(),
            name: name.clone(),
            source,
        })?;
    ctx.publish(
        ec,
        EventType::Normal,
        "ScalingOut",
        "Scale",
        format!(
            "expanding edge cloud {fleet_id} by {} member(s) with plan {}: {}",
            add.iter().map(|t| t.count).sum::<u32>(),
            plan.id,
            describe_targets(add)
        ),
    )
    .await;
    Ok(match blocked {
        Some(m) => ExpandStart::Partial(m),
        None => ExpandStart::Started,
    })
}

/// Takes a failed edge cloud apart so it can be deployed again: members first (batch), then the edge
/// cloud itself. Returns what was done.
#[allow(clippy::too_many_arguments)]
pub(super) async fn redeploy_failed(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    instances: &dyn InstanceApi,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    all: &[ObservedInstance],
    id: &str,
    w: &mut Writer,
) -> Result<String, Error> {
    let left: Vec<String> = all
        .iter()
        .filter(|m| !matches!(m.state, InstanceState::Deleted | InstanceState::Deleting))
        .map(|m| m.id.clone())
        .collect();
    let new: Vec<String> = left
        .iter()
        .filter(|m| !w.status.pending_delete.contains(m))
        .cloned()
        .collect();
    if !new.is_empty() {
        remove_members(
            ec,
            ctx,
            instances,
            ei_api,
            mirrors,
            all,
            id,
            &new,
            "the edge cloud failed",
            w,
        )
        .await?;
        return Ok(format!(
            "deleting its {} member(s) to deploy it again",
            left.len()
        ));
    }
    if !left.is_empty() {
        return Ok("waiting for its members to be deleted".to_owned());
    }
    match fleets.delete(id).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e @ (ProviderError::Conflict { .. } | ProviderError::InUse { .. })) => {
            return Ok(format!("the cloud refused the delete for now ({e}); retrying"));
        }
        Err(source) => {
            return Err(Error::Delete {
                id: id.to_owned(),
                source,
            });
        }
    }
    w.status.pending_expand = None;
    ctx.publish(
        ec,
        EventType::Warning,
        "Redeploying",
        "Recreate",
        format!("edge cloud {id} failed in the cloud; deleted it to deploy it again"),
    )
    .await;
    Ok("deleted it to deploy it again".to_owned())
}
