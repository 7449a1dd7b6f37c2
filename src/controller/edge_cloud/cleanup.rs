use super::*;

// ---------------------------------------------------------------------------------------------------------
// Cleanup
// ---------------------------------------------------------------------------------------------------------

/// Deletes the members (batch), then the edge cloud, then leftover plans. `Ok` only once the cloud
/// confirms the edge cloud is gone; `deletionPolicy: Orphan` / ObserveOnly keep everything in the cloud.
#[allow(clippy::too_many_lines)]
pub(super) async fn cleanup_steps(ec: &EdgeCloud, ctx: &Context, w: &mut Writer) -> Result<(), Error> {
    let ei_api: Api<EdgeInstance> = Api::namespaced(ctx.client.clone(), &ec.namespace().unwrap_or_default());
    let keep = ec.spec.deletion_policy == DeletionPolicy::Orphan
        || ec.spec.management_policy == ManagementPolicy::ObserveOnly;
    if keep {
        let mirrors = members::list(&ei_api, ec)
            .await
            .map_err(|source| Error::Members {
                action: "list",
                source,
            })?;
        for ei in &mirrors {
            members::orphan(&ei_api, ei)
                .await
                .map_err(|source| Error::Members {
                    action: "orphan",
                    source,
                })?;
        }
        if let Some(id) = &w.status.edge_cloud_id {
            ctx.publish(
                ec,
                EventType::Normal,
                "Orphaned",
                "Delete",
                format!(
                    "left edge cloud {id} and its {} member(s) in place",
                    mirrors.len()
                ),
            )
            .await;
        }
        return Ok(());
    }
    let name = fleet::cloud_name(ec);
    if w.status.edge_cloud_id.is_none()
        && w.status.pending_create.is_none()
        && w.status.deployment_plan_ids.is_empty()
    {
        return Ok(());
    }
    let resolved = resolve_provider(ctx, &ec.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: true,
            source,
        })?;
    let pending_interval = resolved.intervals.pending;
    let provider = resolved.provider.clone();
    let fleets = provider.fleets().map_err(Error::Unsupported)?;
    let instances = provider.instances().map_err(Error::Unsupported)?;
    let id = match (w.status.edge_cloud_id.clone(), w.status.pending_create.clone()) {
        (Some(id), _) => Some(id),
        (None, Some(pending)) => {
            let found = fleets
                .find_by_name(&pending.token)
                .await
                .map_err(|source| Error::Lookup {
                    what: format!("edge clouds named {:?}", pending.token),
                    source,
                })?;
            match found.as_slice() {
                [one] => Some(one.id.clone()),
                [] if elapsed_since(&pending.started_at) < ctx.config.recovery_grace => {
                    return Err(Error::DeletionWaits {
                        id: name,
                        what: "a create may still become visible".to_owned(),
                        after: pending_interval,
                    });
                }
                [] => None,
                many => {
                    return Err(Error::AmbiguousRecovery {
                        name: pending.token,
                        ids: ids_of(many.iter().map(|f| f.id.as_str())),
                    });
                }
            }
        }
        (None, None) => None,
    };
    if let Some(id) = id {
        let observed = match fleets.get(&id).await {
            Ok(o) => Some(o),
            Err(e) if e.is_not_found() => None,
            Err(source) => return Err(Error::Observe { id, source }),
        };
        if let Some(observed) = observed {
            if matches!(observed.state, FleetState::Creating | FleetState::Updating) {
                return Err(Error::DeletionWaits {
                    id,
                    what: format!("the cloud is still deploying it ({})", observed.raw_status),
                    after: pending_interval,
                });
            }
            if observed.state == FleetState::Deleting {
                return Err(Error::DeletionWaits {
                    id,
                    what: "the cloud is deleting it".to_owned(),
                    after: pending_interval,
                });
            }
            let all = fleets.list_members(&id).await.map_err(|source| Error::Observe {
                id: id.clone(),
                source,
            })?;
            let mirrors = members::list(&ei_api, ec)
                .await
                .map_err(|source| Error::Members {
                    action: "list",
                    source,
                })?;
            let left: Vec<String> = all
                .iter()
                .filter(|m| !matches!(m.state, InstanceState::Deleted | InstanceState::Deleting))
                .map(|m| m.id.clone())
                .collect();
            let going = all.iter().any(|m| matches!(m.state, InstanceState::Deleting));
            if !left.is_empty() {
                let new: Vec<String> = left
                    .iter()
                    .filter(|m| !w.status.pending_delete.contains(m))
                    .cloned()
                    .collect();
                if new.is_empty() {
                    settle_removals(instances, &ei_api, &mirrors, &all, &id, w).await?;
                    persist(w).await?;
                } else {
                    remove_members(
                        ec,
                        ctx,
                        instances,
                        &ei_api,
                        &mirrors,
                        &all,
                        &id,
                        &new,
                        "deletion of the edge cloud",
                        w,
                    )
                    .await?;
                }
                return Err(Error::DeletionWaits {
                    id,
                    what: format!("{} member(s) are being deleted", left.len()),
                    after: pending_interval,
                });
            }
            if going {
                return Err(Error::DeletionWaits {
                    id,
                    what: "members are being deleted".to_owned(),
                    after: pending_interval,
                });
            }
            // Mirrors of deleted members (released already) may still be listed: release again (no-op).
            for ei in &mirrors {
                members::release(&ei_api, ei)
                    .await
                    .map_err(|source| Error::Members {
                        action: "release",
                        source,
                    })?;
            }
            match fleets.delete(&id).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(ProviderError::Conflict { .. } | ProviderError::InUse { .. }) => {
                    return Err(Error::DeletionWaits {
                        id,
                        what: "the cloud refused the delete for now; retrying".to_owned(),
                        after: pending_interval,
                    });
                }
                Err(source) => return Err(Error::Delete { id, source }),
            }
            w.status.pending_delete.clear();
            persist(w).await?;
            ctx.publish(
                ec,
                EventType::Normal,
                "Deleting",
                "Delete",
                format!("deleting edge cloud {id}"),
            )
            .await;
            return Err(Error::DeletionWaits {
                id,
                what: "waiting for the cloud to delete it".to_owned(),
                after: pending_interval,
            });
        }
        info!(edge_cloud_id = %id, "edge cloud deleted");
        ctx.publish(
            ec,
            EventType::Normal,
            "Deleted",
            "Delete",
            format!("deleted edge cloud {id}"),
        )
        .await;
    }
    // The edge cloud is gone: delete every plan that was ours.
    w.status.pending_create = None;
    w.status.pending_expand = None;
    let recorded_id = w.status.edge_cloud_id.clone();
    let open = fleets.find_open_plans().await.map_err(|source| Error::Lookup {
        what: "open deployment plans".to_owned(),
        source,
    })?;
    for p in open {
        let ours = p.fleet_name.as_deref() == Some(name.as_str())
            || (recorded_id.is_some() && p.fleet_id == recorded_id);
        if ours {
            remember_plan(&mut w.status, &p.id);
        }
    }
    cleanup_plans(fleets, w).await?;
    Ok(())
}

pub(super) async fn cleanup(ec: Arc<EdgeCloud>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &ec), ec.clone(), ec.status.as_ref());
    match cleanup_steps(&ec, ctx, &mut w).await {
        Ok(()) => {
            ctx.metrics
                .remove_fleet(&ec.namespace().unwrap_or_default(), &ec.name_any());
            Ok(Action::await_change())
        }
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}
