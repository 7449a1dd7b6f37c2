//! Deletion of an EdgeCloud: members first (one batch, through the removal intent), then the edge cloud,
//! then every plan that was ours; done only once the cloud confirms the edge cloud is gone. An
//! interrupted create is resolved first (the edge cloud looked up by name within the recovery grace).
//! `deletionPolicy: Orphan` and ObserveOnly leave everything in the cloud and orphan the members.

use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use tracing::info;

use super::decide::{Removal, teardown};
use super::execute::{FleetPass, MemberSet, remember_plan};
use super::fleet::{self, ids_of};
use super::members;
use super::status::Writer;
use super::{Error, api_for};
use crate::api::common::{DeletionPolicy, ManagementPolicy};
use crate::api::edge_cloud::EdgeCloud;
use crate::api::edge_instance::EdgeInstance;
use crate::controller::events::EventType;
use crate::controller::runtime::{Context, StatusWriter, elapsed_since, resolve_provider};
use crate::provider::{FleetState, ProviderError};

/// The finalizer's cleanup of an EdgeCloud.
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

/// Deletes the members (batch), then the edge cloud, then leftover plans. `Ok` only once the cloud
/// confirms the edge cloud is gone; `deletionPolicy: Orphan` / ObserveOnly keep everything in the cloud.
async fn cleanup_steps(ec: &EdgeCloud, ctx: &Context, w: &mut Writer) -> Result<(), Error> {
    let ei_api: Api<EdgeInstance> = Api::namespaced(ctx.client.clone(), &ec.namespace().unwrap_or_default());
    let keep = ec.spec.deletion_policy == DeletionPolicy::Orphan
        || ec.spec.management_policy == ManagementPolicy::ObserveOnly;
    if keep {
        return orphan_members(ec, ctx, &ei_api, w).await;
    }
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
    let provider = resolved.provider.clone();
    let caps = provider.capabilities().clone();
    let mut pass = FleetPass {
        ec,
        ctx,
        fleets: provider.fleets().map_err(Error::Unsupported)?,
        ops: provider.operations().ok(),
        caps: &caps,
        ei_api,
        w,
    };
    let waits = |id: String, what: &str| Error::DeletionWaits {
        id,
        what: what.to_owned(),
        after: resolved.intervals.pending,
    };
    if let Some(id) = recorded_or_recovered(&mut pass, &waits).await? {
        take_apart(&mut pass, id, &waits).await?;
    }
    // The edge cloud is gone: delete every plan that was ours.
    let name = fleet::cloud_name(ec);
    pass.w.status.pending_create = None;
    pass.w.status.pending_expand = None;
    pass.w.status.job_id = None;
    let recorded_id = pass.w.status.edge_cloud_id.clone();
    let open = pass
        .fleets
        .find_open_plans()
        .await
        .map_err(|source| Error::Lookup {
            what: "open deployment plans".to_owned(),
            source,
        })?;
    for p in open {
        let ours = p.fleet_name.as_deref() == Some(name.as_str())
            || (recorded_id.is_some() && p.fleet_id == recorded_id);
        if ours {
            remember_plan(&mut pass.w.status, &p.id);
        }
    }
    pass.cleanup_plans().await
}

/// `deletionPolicy: Orphan` / ObserveOnly: every member keeps its cloud instance.
async fn orphan_members(
    ec: &EdgeCloud,
    ctx: &Context,
    ei_api: &Api<EdgeInstance>,
    w: &Writer,
) -> Result<(), Error> {
    let mirrors = members::list(ei_api, ec).await.map_err(|source| Error::Members {
        action: "list",
        source,
    })?;
    for ei in &mirrors {
        members::orphan(ei_api, ei)
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
    Ok(())
}

/// The edge cloud to delete: the recorded one, or the one an interrupted create made (looked up by
/// name; within the recovery grace a create may still become visible).
async fn recorded_or_recovered(
    pass: &mut FleetPass<'_>,
    waits: &impl Fn(String, &str) -> Error,
) -> Result<Option<String>, Error> {
    let pending = match (
        pass.w.status.edge_cloud_id.clone(),
        pass.w.status.pending_create.clone(),
    ) {
        (Some(id), _) => return Ok(Some(id)),
        (None, Some(pending)) => pending,
        (None, None) => return Ok(None),
    };
    let identity = fleet::create_identity(pass.ec, &pending.token, &pending, pass.caps);
    let found = pass
        .fleets
        .find_by_identity(&identity)
        .await
        .map_err(|source| Error::Lookup {
            what: format!("edge clouds of {:?}", pending.token),
            source,
        })?;
    match found.as_slice() {
        [one] => Ok(Some(one.id.clone())),
        [] if elapsed_since(&pending.started_at) < pass.ctx.config.recovery_grace => Err(waits(
            fleet::cloud_name(pass.ec),
            "a create may still become visible",
        )),
        [] => Ok(None),
        many => Err(Error::AmbiguousRecovery {
            name: pending.token,
            ids: ids_of(many.iter().map(|f| f.id.as_str())),
        }),
    }
}

/// Takes edge cloud `id` apart: members first (through the removal intent), then the edge cloud.
/// `Ok` once the cloud no longer has it; every other state is a [`Error::DeletionWaits`].
async fn take_apart(
    pass: &mut FleetPass<'_>,
    id: String,
    waits: &impl Fn(String, &str) -> Error,
) -> Result<(), Error> {
    let observed = match pass.fleets.get(&id).await {
        Ok(o) => o,
        Err(e) if e.is_not_found() => {
            info!(edge_cloud_id = %id, "edge cloud deleted");
            let note = format!("deleted edge cloud {id}");
            pass.ctx
                .publish(pass.ec, EventType::Normal, "Deleted", "Delete", note)
                .await;
            return Ok(());
        }
        Err(source) => return Err(Error::Observe { id, source }),
    };
    if matches!(observed.state, FleetState::Creating | FleetState::Updating) {
        let what = format!("the cloud is still deploying it ({})", observed.raw_status);
        return Err(waits(id, &what));
    }
    if observed.state == FleetState::Deleting {
        return Err(waits(id, "the cloud is deleting it"));
    }
    let all = pass
        .fleets
        .list_members(&id)
        .await
        .map_err(|source| Error::Observe {
            id: id.clone(),
            source,
        })?;
    let mirrors = members::list(&pass.ei_api, pass.ec)
        .await
        .map_err(|source| Error::Members {
            action: "list",
            source,
        })?;
    let set = MemberSet {
        fleet_id: &id,
        all: &all,
        mirrors: &mirrors,
    };
    let plan = teardown(&all, &pass.w.status.pending_delete);
    if !plan.left.is_empty() {
        if plan.new.is_empty() {
            pass.settle_removals(set).await?;
            pass.persist().await?;
        } else {
            pass.remove_members(set, &plan.new, Removal::FleetDeletion)
                .await?;
        }
        let what = format!("{} member(s) are being deleted", plan.left.len());
        return Err(waits(id, &what));
    }
    if plan.going {
        return Err(waits(id, "members are being deleted"));
    }
    // Mirrors of deleted members (released already) may still be listed: release again (no-op).
    for ei in &mirrors {
        members::release(&pass.ei_api, ei)
            .await
            .map_err(|source| Error::Members {
                action: "release",
                source,
            })?;
    }
    match pass.fleets.delete(&id).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(ProviderError::Conflict { .. } | ProviderError::InUse { .. }) => {
            return Err(waits(id, "the cloud refused the delete for now; retrying"));
        }
        Err(source) => return Err(Error::Delete { id, source }),
    }
    pass.w.status.pending_delete.clear();
    pass.persist().await?;
    let note = format!("deleting edge cloud {id}");
    pass.ctx
        .publish(pass.ec, EventType::Normal, "Deleting", "Delete", note)
        .await;
    Err(waits(id, "waiting for the cloud to delete it"))
}
