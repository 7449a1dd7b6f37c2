//! Deletion: the cloud instance is deleted (or left, for Orphan / ObserveOnly) and the finalizer goes
//! only once the cloud reports it deleted or gone; a create that may still be in flight is looked up
//! first, and a building instance is waited for.

use std::sync::Arc;

use kube::runtime::controller::Action;

use std::time::Duration;

use super::create::Writer;
use super::create::api_for;
use super::error::Error;
use super::identity::InstanceCloud;
use super::model::{Network, is_deleted};
use crate::api::edge_instance::EdgeInstance;
use crate::controller::events::EventType;
use crate::controller::managed::{
    self, CloudSteps, DeletionTarget, IntentStore, OnMetadata, keeps_cloud_object, publish_orphaned,
};
use crate::controller::runtime::{Context, StatusWriter, resolve_provider};
use crate::provider::{InstanceState, OperationHandle, OperationState, Provider, ProviderError};
use tracing::info;

/// Deletes the cloud instance. `Ok` only once the cloud reports it DELETED or gone.
pub(super) async fn cleanup_steps(ei: &EdgeInstance, ctx: &Context, w: &mut Writer) -> Result<(), Error> {
    if keeps_cloud_object(&ei.spec) {
        if let Some(id) = &w.status.instance_id {
            publish_orphaned(ctx, ei, InstanceCloud::NOUN, id).await;
        }
        return Ok(());
    }
    if w.status.instance_id.is_none() && OnMetadata.pending(ei, &w.status).is_none() {
        return Ok(());
    }
    let resolved = resolve_provider(ctx, &ei.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: true,
            source,
        })?;
    let provider = resolved.provider.as_ref();
    let after = resolved.intervals.pending;
    if w.status.instance_id.is_none()
        && let Some(order) = w.status.order_id.clone()
        && !order_made_an_instance(provider, &order).await?
    {
        // Unpaid (or cancelled): the order makes nothing unless someone pays it.
        ctx.publish(
            ei,
            EventType::Normal,
            "Orphaned",
            "Delete",
            format!(
                "left order {order} as it is: it has made no cloud instance (it makes one only if it is paid)"
            ),
        )
        .await;
        return Ok(());
    }
    // A create that may still be in flight (status does not name its instance yet, or names only the
    // vanished instance it replaces) is looked up by its identity first; the id in status otherwise.
    // References may be gone by now: the lookup needs only the name, placement and provider section.
    let net = Network::default();
    let cloud = InstanceCloud::new(ei, ctx, provider, &net, resolved.intervals, Duration::ZERO)
        .map_err(Error::Unsupported)?;
    let api = cloud.api;
    let id = match managed::deletion_target(ctx, &cloud, &OnMetadata, ei, &w.status).await? {
        DeletionTarget::Id(id) => id,
        DeletionTarget::Nothing => return Ok(()),
    };
    let observed = match api.get(&id).await {
        Ok(o) => o,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(source) => return Err(Error::Observe { id, source }),
    };
    if is_deleted(&observed) {
        info!(instance_id = %id, "cloud instance deleted");
        ctx.publish(
            ei,
            EventType::Normal,
            "Deleted",
            "Delete",
            format!("deleted cloud instance {id}"),
        )
        .await;
        return Ok(());
    }
    match observed.state {
        InstanceState::Creating if !resolved.provider.capabilities().instance.delete_while_creating => {
            return Err(Error::DeletionWaits {
                id,
                what: "the cloud cannot delete an instance while it is being built; deleting it once the build ends".to_owned(),
                after,
            });
        }
        InstanceState::Deleting => {
            return Err(Error::DeletionWaits {
                id,
                what: "the cloud is deleting it".to_owned(),
                after,
            });
        }
        _ => {}
    }
    match api.delete(std::slice::from_ref(&id)).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(source @ (ProviderError::Conflict { .. } | ProviderError::Invalid { .. })) => {
            // A refusal that holds until a date or a person acts (a prepaid subscription) says so.
            if let Ok(Some(why)) = api.deletion_blocker(&id).await {
                return Err(Error::DeletionRefused { id, why });
            }
            if !matches!(source, ProviderError::Conflict { .. }) {
                return Err(Error::Delete { id, source });
            }
            return Err(Error::DeletionWaits {
                id,
                what: format!(
                    "the cloud refused while the instance is {}; retrying",
                    observed.raw_status
                ),
                after,
            });
        }
        Err(source) => return Err(Error::Delete { id, source }),
    }
    Err(Error::DeletionWaits {
        id,
        what: "delete requested; waiting for the cloud to report it DELETED".to_owned(),
        after,
    })
}

/// Whether billing order `order` (of a prepaid create whose instance status does not name yet) has
/// been paid, so its instance exists or will: then the delete looks the instance up by name.
async fn order_made_an_instance(provider: &dyn Provider, order: &str) -> Result<bool, Error> {
    let ops = provider.operations().map_err(Error::Unsupported)?;
    match ops.poll(&OperationHandle::Order(order.to_owned())).await {
        Ok(OperationState::Succeeded { .. }) => Ok(true),
        Ok(_) => Ok(false),
        Err(e) if e.is_not_found() => Ok(false),
        Err(source) => Err(Error::Order {
            order: order.to_owned(),
            source,
        }),
    }
}

pub(super) async fn cleanup(ei: Arc<EdgeInstance>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &ei), ei.clone(), ei.status.as_ref());
    match cleanup_steps(&ei, ctx, &mut w).await {
        Ok(()) => Ok(Action::await_change()),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}
