//! The identity of an EdgeInstance's cloud instance (the crash-safety protocol): observe the recorded
//! id, adopt `spec.adoptId`, recover an interrupted create by its intent, refuse a name already used,
//! or create; a recorded instance that vanished is recreated only where the object may do so.

use std::time::Duration;

use super::create::{Identity, Writer, create, ensure_finalizer, persist, record_identity};
use super::error::{Error, ORDER_PENDING};
use super::model::{
    Network, check_spec, identity_spec, is_deleted, is_member, lookup_age, place_of, recovery_age,
};
use crate::api::common::ManagementPolicy;
use crate::api::condition::reason;
use crate::api::edge_instance::EdgeInstance;
use crate::controller::events::EventType;
use crate::controller::intent::{self, CreateIntent};
use crate::controller::runtime::{Context, Intervals, Outcome, elapsed_since};
use kube::ResourceExt;

use crate::provider::{
    CreateIdentity, InstanceSpec, ObservedInstance, OperationHandle, OperationState, Provider,
};

/// Live instances carrying the identity `name` for `spec` (the provider decides how its cloud shows
/// and places them): the name, and where the cloud has tags the owner tag of `ei`, as its creates
/// carry them (`CreateIdentity::for_create`), so a cloud that names instances itself finds them too.
/// The answer may come from a list of the account that started at most `max_age` ago (see
/// [`lookup_age`] and [`recovery_age`]).
pub(super) async fn find_by_identity(
    provider: &dyn Provider,
    ei: &EdgeInstance,
    spec: &InstanceSpec,
    name: &str,
    max_age: Duration,
) -> Result<Vec<ObservedInstance>, Error> {
    let api = provider.instances().map_err(Error::Unsupported)?;
    let identity =
        CreateIdentity::for_create(name, name, &ei.uid().unwrap_or_default(), provider.capabilities());
    api.find_by_identity_within(&identity, spec, max_age)
        .await
        .map_err(|source| Error::Lookup {
            name: name.to_owned(),
            source,
        })
}

pub(super) fn ids_of(found: &[ObservedInstance]) -> String {
    found.iter().map(|i| i.id.as_str()).collect::<Vec<_>>().join(", ")
}

/// Finds, adopts, recovers or creates the cloud instance (the crash-safety protocol).
pub(super) async fn ensure_identity(
    ei: &EdgeInstance,
    ctx: &Context,
    provider: &dyn Provider,
    net: &Network,
    intervals: Intervals,
    max_age: Duration,
    w: &mut Writer,
) -> Result<Identity, Error> {
    let api = provider.instances().map_err(Error::Unsupported)?;
    let lookup = lookup_age(intervals);
    let observe_only = ei.spec.management_policy == ManagementPolicy::ObserveOnly;
    let grace = ctx.config.recovery_grace;
    let mut drifted = false;
    let mut recreating = false;
    if let Some(id) = w.status.instance_id.clone() {
        match api.observe(&id, max_age).await {
            Ok(o) if !is_deleted(&o) => {
                ensure_finalizer(ei, w).await?;
                w.status.pending_create = None;
                return Ok(Identity::Observed(Box::new(o)));
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(source) => return Err(Error::Observe { id, source }),
        }
        if let Some(p) = &w.status.pending_create
            && elapsed_since(&p.started_at) < grace
        {
            return Ok(Identity::Wait(Outcome::progressing(
                reason::CREATING,
                reason::IN_PROGRESS,
                format!("created cloud instance {id}; waiting for the cloud to list it"),
            )));
        }
        // A recreate of this vanished instance already under way (its intent names the id it
        // replaces) is recovered below, not started again.
        recreating = CreateIntent::of(ei).is_some_and(|i| i.replaces.as_deref() == Some(id.as_str()));
        if !recreating {
            drift_away_from(ei, ctx, w, id, observe_only).await?;
            drifted = true;
        }
    }
    if !drifted
        && !recreating
        && let Some(adopt) = ei.spec.adopt_id.clone()
    {
        return match api.get(&adopt).await {
            Ok(o) if !is_deleted(&o) => {
                // The id is already durable in the spec: the closing status write records the
                // adoption (`durable_identity` writes it first if the pass goes on to mutate), and the
                // event merges with the Ready transition when the pass ends Ready.
                ensure_finalizer(ei, w).await?;
                record_identity(ei, w, &o.id);
                w.note(
                    "Adopted",
                    "Adopt",
                    format!("adopted cloud instance {adopt} ({})", o.name),
                );
                Ok(Identity::Observed(Box::new(o)))
            }
            Ok(_) => Err(Error::AdoptTargetNotFound { id: adopt }),
            Err(e) if e.is_not_found() => Err(Error::AdoptTargetNotFound { id: adopt }),
            Err(source) => Err(Error::Observe { id: adopt, source }),
        };
    }
    if observe_only {
        return Err(Error::NothingToObserve);
    }
    let spec = identity_spec(ei, net);
    // A prepaid create's order, recorded in status: polled until it made the instance, never placed
    // again (unless it failed and the spec changed since).
    let mut order_abandoned = false;
    if w.status.instance_id.is_none()
        && let Some(order) = w.status.order_id.clone()
    {
        match track_order(ei, ctx, provider, &spec, &order, lookup, w).await? {
            Some(identity) => return Ok(identity),
            None => order_abandoned = true,
        }
    }
    // Whether the cloud needs a fleet to create into (the capabilities say), then the cloud's rules.
    if let Some(problem) = provider
        .capabilities()
        .fleet_problem(spec.fleet_id.is_some(), true)
    {
        check_spec(ei, &[problem])?;
    }
    check_spec(ei, &api.validate(&spec, true))?;
    let name = spec.name.clone();
    // After drift the last intent is the vanished instance's own, after a failed order the order's:
    // a new create is checked by name.
    let pending = (!drifted && !order_abandoned)
        .then(|| {
            intent::pending_create(
                ei,
                w.status.instance_id.as_deref(),
                w.status.pending_create.as_ref(),
            )
        })
        .flatten();
    if let Some(pending) = pending {
        // One `elapsed` for the lookup's age and the decision on what it finds.
        let elapsed = elapsed_since(&pending.started_at);
        let age = recovery_age(elapsed, grace, lookup);
        let found = find_by_identity(provider, ei, &spec, &pending.token, age).await?;
        match found.as_slice() {
            [one] => {
                ensure_finalizer(ei, w).await?;
                record_identity(ei, w, &one.id);
                w.status.pending_create = None;
                persist(w).await?;
                ctx.publish(
                    ei,
                    EventType::Normal,
                    "Recovered",
                    "Recover",
                    format!("found cloud instance {} created by an interrupted pass", one.id),
                )
                .await;
                return Ok(Identity::Observed(Box::new(one.clone())));
            }
            [] if elapsed < grace => {
                return Ok(Identity::Wait(Outcome::progressing(
                    reason::CREATING,
                    reason::RECOVERING,
                    format!(
                        "a create of cloud instance {:?} was interrupted; waiting for the cloud to list it",
                        pending.token
                    ),
                )));
            }
            // A prepaid create's instance is listed only once its order is paid: the create may have
            // placed an order that is not paid yet, so it is never sent again.
            [] if api.pays_before_create(&spec) => {
                return Err(Error::OrderUnknown { name: pending.token });
            }
            [] => {}
            many => {
                return Err(Error::AmbiguousRecovery {
                    name: pending.token,
                    place: place_of(&spec),
                    ids: ids_of(many),
                });
            }
        }
    } else {
        let existing = find_by_identity(provider, ei, &spec, &name, lookup).await?;
        if !existing.is_empty() {
            if let Some(identity) = created_by_an_earlier_pass(ei, w, &existing).await? {
                return Ok(identity);
            }
            return Err(Error::NameConflict {
                name,
                place: place_of(&spec),
                ids: ids_of(&existing),
            });
        }
    }
    create(ei, ctx, provider, api, net, spec, w).await
}

/// Whether the instances `found` under this object's name are its own after all, made by the pass
/// before this one: a pass can start from a cached copy of the object older than the previous pass's
/// writes (a trigger queued during that pass, dispatched before the watch delivered them), which shows
/// neither the create intent nor the id. The object as stored decides, read only on this rare path: its
/// recorded id among `found` → that instance, on the stored status; a create intent still pending →
/// wait for the next pass, which recovers it; neither → `None`, a real conflict. Either way the
/// writer starts over from the stored status, so this pass's write does not undo the earlier one's.
async fn created_by_an_earlier_pass(
    ei: &EdgeInstance,
    w: &mut Writer,
    found: &[ObservedInstance],
) -> Result<Option<Identity>, Error> {
    let name = ei.name_any();
    let stored = w.api().get(&name).await.map_err(|source| Error::ReadReference {
        kind: "EdgeInstance",
        name: name.clone(),
        source,
    })?;
    let status = stored.status.as_ref();
    let recorded = status.and_then(|s| s.instance_id.as_deref());
    if let Some(own) = found.iter().find(|i| Some(i.id.as_str()) == recorded) {
        w.rebase(status);
        return Ok(Some(Identity::Observed(Box::new(own.clone()))));
    }
    let Some(pending) =
        intent::pending_create(&stored, recorded, status.and_then(|s| s.pending_create.as_ref()))
    else {
        return Ok(None);
    };
    w.rebase(status);
    Ok(Some(Identity::Wait(Outcome::progressing(
        reason::CREATING,
        reason::RECOVERING,
        format!(
            "this pass began from an older copy of the object; the create of cloud instance {:?} is recovered by the next one",
            pending.token
        ),
    ))))
}

/// Polls the billing order `order` of a prepaid create (status `orderId`, no instance yet): pending →
/// Reconciling with the order's state; paid → the instance it made (by the ids the cloud names, else by
/// name), recorded at once; failed → Stalled `OrderFailed`, or, when the spec changed since the object
/// was last acted on, the order is forgotten (`None`) so that the pass orders anew.
async fn track_order(
    ei: &EdgeInstance,
    ctx: &Context,
    provider: &dyn Provider,
    spec: &InstanceSpec,
    order: &str,
    lookup: Duration,
    w: &mut Writer,
) -> Result<Option<Identity>, Error> {
    let api = provider.instances().map_err(Error::Unsupported)?;
    let ops = provider.operations().map_err(Error::Unsupported)?;
    let name = spec.name.clone();
    let state = ops
        .poll(&OperationHandle::Order(order.to_owned()))
        .await
        .map_err(|source| Error::Order {
            order: order.to_owned(),
            source,
        })?;
    let ids = match state {
        OperationState::Running { state, .. } => {
            let words = state.unwrap_or_else(|| "in progress".to_owned());
            w.status.order_state = Some(words.clone());
            return Ok(Some(Identity::Wait(Outcome::progressing(
                reason::CREATING,
                ORDER_PENDING,
                format!(
                    "order {order} for cloud instance {name:?} is {words}; the instance is created once it is paid"
                ),
            ))));
        }
        OperationState::Failed { code, message } => {
            let spec_changed =
                ei.status.as_ref().and_then(|s| s.observed_generation) != ei.metadata.generation;
            if spec_changed {
                w.status.order_id = None;
                w.status.order_state = None;
                w.status.pending_create = None;
                intent::clear(w.api(), ei)
                    .await
                    .map_err(|source| Error::PatchMetadata {
                        what: "clear the create intent of a failed order",
                        source,
                    })?;
                return Ok(None);
            }
            w.status.order_state = Some(format!("failed ({code})"));
            w.status.pending_create = None;
            return Err(Error::OrderFailed {
                order: order.to_owned(),
                name,
                code,
                message,
            });
        }
        OperationState::Succeeded { resource_ids } => resource_ids,
    };
    w.status.order_state = Some("paid".to_owned());
    let found = match ids.first() {
        Some(id) => match api.get(id).await {
            Ok(o) if !is_deleted(&o) => vec![o],
            Ok(_) => Vec::new(),
            Err(e) if e.is_not_found() => Vec::new(),
            Err(source) => {
                return Err(Error::Observe {
                    id: id.clone(),
                    source,
                });
            }
        },
        None => find_by_identity(provider, ei, spec, &name, lookup).await?,
    };
    match found.as_slice() {
        [] => Ok(Some(Identity::Wait(Outcome::progressing(
            reason::CREATING,
            ORDER_PENDING,
            format!(
                "order {order} for cloud instance {name:?} is paid; waiting for the cloud to list the instance"
            ),
        )))),
        [one] => {
            ensure_finalizer(ei, w).await?;
            record_identity(ei, w, &one.id);
            w.status.pending_create = None;
            persist(w).await?;
            ctx.publish(
                ei,
                EventType::Normal,
                "Created",
                "Create",
                format!("order {order} is paid: cloud instance {} ({name})", one.id),
            )
            .await;
            Ok(Some(Identity::Observed(Box::new(one.clone()))))
        }
        many => Err(Error::AmbiguousRecovery {
            name,
            place: place_of(spec),
            ids: ids_of(many),
        }),
    }
}

/// The recorded instance `id` is gone from the cloud: an error for objects that may not recreate it
/// (ObserveOnly, EdgeCloud members); otherwise a warning event and the id forgotten, so a new instance
/// is created.
pub(super) async fn drift_away_from(
    ei: &EdgeInstance,
    ctx: &Context,
    w: &mut Writer,
    id: String,
    observe_only: bool,
) -> Result<(), Error> {
    if observe_only {
        return Err(Error::ExternallyDeleted {
            id,
            why: "managementPolicy is ObserveOnly, so it is not recreated",
        });
    }
    if is_member(ei) {
        return Err(Error::ExternallyDeleted {
            id,
            why: "this EdgeInstance is an EdgeCloud member, so the EdgeCloud replaces it (it is not recreated here)",
        });
    }
    ctx.publish(
        ei,
        EventType::Warning,
        "ExternallyDeleted",
        "Recreate",
        format!("cloud instance {id} was deleted outside edgefleet; recreating it"),
    )
    .await;
    w.status.instance_id = None;
    w.status.pending_create = None;
    Ok(())
}
