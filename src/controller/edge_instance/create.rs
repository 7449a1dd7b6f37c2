//! Creating the cloud instance (crash-safety steps 1 and 2): the provider's catalog check before
//! anything is created (it also completes what its cloud derives, e.g. a line or a subnet), the create spec (Secrets read at the last moment), the intent recorded with the finalizer
//! in one patch, the create call, and the id made durable. Also the small status-writer steps the
//! identity protocol shares (record the id, add the finalizer, persist before a mutation).

use kube::ResourceExt;
use kube::api::Api;
use tracing::{debug, info};

use super::error::{Error, ORDER_PENDING};
use super::model::{Network, check_spec, is_deleted, params_hash, place_of, reboot_request};
use super::references::{read_secret, read_user_data};
use crate::api::common::PendingOperation;
use crate::api::condition::reason;
use crate::api::edge_instance::{EdgeInstance, EdgeInstanceStatus};
use crate::controller::intent::{self, CreateIntent};
use crate::controller::runtime::{Context, Outcome, StatusWriter, now};
use crate::provider::{CreateIdentity, ImageFilter, InstanceApi, InstanceSpec, ObservedInstance, Provider};

pub(super) fn api_for(ctx: &Context, ei: &EdgeInstance) -> Api<EdgeInstance> {
    Api::namespaced(ctx.client.clone(), &ei.namespace().unwrap_or_default())
}

pub(super) type Writer = StatusWriter<EdgeInstance, EdgeInstanceStatus>;

/// Where the identity step left the object.
pub(super) enum Identity {
    /// The cloud instance, observed.
    Observed(Box<ObservedInstance>),
    /// Not observable yet (creating, recovering); end the pass with this outcome.
    Wait(Outcome),
}

pub(super) async fn persist(w: &mut Writer) -> Result<(), Error> {
    w.persist().await.map_err(Error::PatchStatus)
}

/// Records a freshly found instance id (adopt / recover / create) and the reboot request current at
/// that moment, so the request that existed before the instance does not reboot it.
pub(super) fn record_identity(ei: &EdgeInstance, w: &mut Writer, id: &str) {
    w.status.instance_id = Some(id.to_owned());
    if w.status.last_reboot_request.is_none() {
        w.status.last_reboot_request = reboot_request(ei);
    }
}

/// Adds the finalizer before this pass records an instance it may have to delete (a create adds it with
/// its intent instead, `intent::record`).
pub(super) async fn ensure_finalizer(ei: &EdgeInstance, w: &Writer) -> Result<(), Error> {
    intent::ensure_finalizer(w.api(), ei)
        .await
        .map_err(|source| Error::PatchMetadata {
            what: "add the finalizer",
            source,
        })
}

/// Writes the instance id now if this pass found or created it and has not written it yet: before a
/// cloud mutation, so that a crash in the middle never leaves a changed instance that status does not
/// name.
pub(super) async fn durable_identity(w: &mut Writer) -> Result<(), Error> {
    if w.written().instance_id != w.status.instance_id {
        persist(w).await?;
    }
    Ok(())
}

/// Checks the image against the cloud's catalog. A cloud without a catalog API leaves the check to its
/// `InstanceApi::prepare_create` (veEN: the image must be the cloud server's).
pub(super) async fn validate_image(provider: &dyn Provider, image: &str) -> Result<(), Error> {
    let catalog = match provider.catalog() {
        Ok(catalog) => catalog,
        Err(e) if e.category() == "Unsupported" => return Ok(()),
        Err(e) => return Err(Error::Unsupported(e)),
    };
    let images = catalog
        .images(&ImageFilter {
            id: Some(image.to_owned()),
            ..ImageFilter::default()
        })
        .await;
    let images = match images {
        // A catalog without an images call (veEN) leaves the check to the create.
        Err(e) if e.category() == "Unsupported" => return Ok(()),
        other => other.map_err(|source| Error::Catalog {
            what: "images",
            source,
        })?,
    };
    match images.iter().find(|i| i.id == image) {
        None => Err(Error::NotInCatalog {
            field: "spec.image",
            message: format!("the cloud has no image {image:?}"),
        }),
        Some(i) if !i.active => Err(Error::NotInCatalog {
            field: "spec.image",
            message: format!("image {image} ({}) is not active", i.name),
        }),
        Some(_) => Ok(()),
    }
}

/// The full create spec (secrets read here, at the last moment).
pub(super) async fn create_spec(
    ei: &EdgeInstance,
    ctx: &Context,
    mut spec: InstanceSpec,
) -> Result<InstanceSpec, Error> {
    if let Some(r) = &ei.spec.admin_password_secret_ref {
        spec.admin_password = Some(read_secret(ei, ctx, "spec.adminPasswordSecretRef", r).await?);
    }
    spec.user_data = read_user_data(ei, ctx).await?;
    Ok(spec)
}

/// The idempotency token of a create (for clouds with client tokens): the intent's name, object and the
/// instance it replaces. A create retried under the same intent replays the first call's answer; the
/// recreate of a vanished instance (`replaces` names it) is a new create, not a replay of the create
/// that made the vanished one.
pub(super) fn idempotency_token(intent: &CreateIntent) -> String {
    format!(
        "{}/{}/{}",
        intent.token,
        intent.uid,
        intent.replaces.as_deref().unwrap_or_default()
    )
}

/// Validates, records the intent, creates, records the id.
pub(super) async fn create(
    ei: &EdgeInstance,
    ctx: &Context,
    provider: &dyn Provider,
    api: &dyn InstanceApi,
    net: &Network,
    mut spec: InstanceSpec,
    w: &mut Writer,
) -> Result<Identity, Error> {
    let findings = api
        .prepare_create(&mut spec)
        .await
        .map_err(|source| Error::Catalog {
            what: "placement and flavor",
            source,
        })?;
    check_spec(ei, &findings)?;
    validate_image(provider, &spec.image).await?;
    let spec = create_spec(ei, ctx, spec).await?;
    // Once more with the secrets read: a cloud may not take a password or user data at all.
    check_spec(ei, &api.validate(&spec, true))?;
    let name = spec.name.clone();
    // Crash-safety step 1: the intent is durable before the cloud call (with the finalizer, one patch).
    let created_intent = CreateIntent {
        token: name.clone(),
        params_hash: params_hash(ei, net),
        started_at: now(),
        uid: ei.uid().unwrap_or_default(),
        replaces: w.written().instance_id.clone(),
    };
    intent::record(w.api(), ei, &created_intent)
        .await
        .map_err(|source| Error::PatchMetadata {
            what: "record the create intent (with the finalizer)",
            source,
        })?;
    // The name always; an idempotency token and an owner tag where the cloud has them (not IEC).
    let identity = CreateIdentity::for_create(
        &name,
        &idempotency_token(&created_intent),
        &created_intent.uid,
        provider.capabilities(),
    );
    let op = match api.create(&spec, 1, &identity).await {
        Ok(op) => op,
        Err(source) => {
            // A definite rejection created nothing: drop the intent so a fixed spec creates at once.
            if source.created_nothing() {
                intent::clear(w.api(), ei)
                    .await
                    .map_err(|source| Error::PatchMetadata {
                        what: "clear the create intent",
                        source,
                    })?;
            }
            return Err(Error::Create { name, source });
        }
    };
    // Step 2: the id comes back with the answer (written below, or with the pass's closing write).
    let Some(id) = op.resource_ids.first().cloned() else {
        if let Some(order) = op.order_id.clone() {
            return order_placed(w, &created_intent, &name, order).await;
        }
        // No id in the answer: the next pass recovers by name.
        return Ok(Identity::Wait(Outcome::progressing(
            reason::CREATING,
            reason::RECOVERING,
            format!("create of cloud instance {name:?} accepted without an id; looking it up"),
        )));
    };
    record_identity(ei, w, &id);
    info!(instance_id = %id, name = %name, "created cloud instance");
    w.note(
        "Created",
        "Create",
        format!("created cloud instance {id} ({name}){}", place_of(&spec)),
    );
    // Observe it at once. The pass then goes on with the instance's first state, and its closing status
    // write carries the id: one write where an id write plus a second pass's write were needed (and none
    // more when the cloud builds fast). The id is made durable before any further cloud mutation
    // (`durable_identity`); a crash before that is recovered by the intent's name lookup.
    match api.get(&id).await {
        Ok(o) if !is_deleted(&o) => {
            w.status.pending_create = None;
            return Ok(Identity::Observed(Box::new(o)));
        }
        Ok(_) => debug!(instance_id = %id, "the new instance is not listed yet"),
        Err(e) => debug!(instance_id = %id, error = %e, "could not observe the new instance yet"),
    }
    // Status names the new id from now on, so the annotation's intent no longer counts as pending; the
    // intent moves into status with the id as its handle, bounding the wait for the cloud to list it.
    w.status.pending_create = Some(PendingOperation {
        handle: Some(id.clone()),
        ..created_intent.to_pending()
    });
    let outcome = Outcome::progressing(
        reason::CREATING,
        reason::IN_PROGRESS,
        format!("created cloud instance {id}; waiting for it to build"),
    );
    // Not observable yet: the id is written now (crash-safety step 2), with this pass's end state, so
    // `finish` writes nothing more.
    w.persist_with_outcome(&outcome)
        .await
        .map_err(Error::PatchStatus)?;
    Ok(Identity::Wait(outcome))
}

/// A prepaid create answered with a billing order and no instance: the order id is made durable at
/// once (status `orderId`, and the intent in status with the order as its handle), before anything
/// else, so a restarted controller polls this order instead of placing another.
async fn order_placed(
    w: &mut Writer,
    intent: &CreateIntent,
    name: &str,
    order: String,
) -> Result<Identity, Error> {
    info!(order_id = %order, name = %name, "placed the order of a prepaid cloud instance");
    w.status.order_id = Some(order.clone());
    w.status.order_state = Some("placed".to_owned());
    w.status.pending_create = Some(PendingOperation {
        handle: Some(order.clone()),
        ..intent.to_pending()
    });
    w.note(
        "Ordered",
        "Create",
        format!("placed order {order} for cloud instance {name:?}"),
    );
    let outcome = Outcome::progressing(
        reason::CREATING,
        ORDER_PENDING,
        format!("order {order} for cloud instance {name:?} placed; the instance is created once it is paid"),
    );
    w.persist_with_outcome(&outcome)
        .await
        .map_err(Error::PatchStatus)?;
    Ok(Identity::Wait(outcome))
}
