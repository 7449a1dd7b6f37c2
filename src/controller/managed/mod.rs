//! The one crash-safe identity lifecycle of a managed cloud object (design.md "Crash safety"): which
//! cloud object a Kubernetes object stands for, found, adopted, recovered or created exactly once, and
//! which one its deletion must remove. A kind implements only its cloud-facing steps ([`CloudSteps`]:
//! get, find by recovery token, the create and what it needs first) and chooses where its create intent
//! is kept ([`IntentStore`]: [`InStatus`] for Vpc and SecurityGroup, [`OnMetadata`] for EdgeInstance,
//! whose intent rides on the annotation written with the finalizer in one patch); it keeps its own update,
//! rule, subnet and day-2 logic.
//!
//! The protocol, in the order [`ensure_identity`] runs it:
//! 1. **Observe by id.** A cloud id in status is read. Gone within the recovery grace of a create →
//!    wait (an eventually consistent list); a create replacing it already under way → recover it (step
//!    4); gone otherwise → `ExternallyDeleted` under ObserveOnly or where the kind may not recreate it
//!    ([`CloudSteps::keeps_vanished`]), else a warning event and a fresh create (drift correction).
//! 2. **Adopt.** `spec.adoptId` names the object to take over: it is read and an `Adopted` event noted
//!    (the id is durable in the spec; the pass's closing write records it). Nothing else ever adopts.
//! 3. **Track.** A create that the cloud answered with a handle (a billing order, a job) instead of an id
//!    has that handle in status ([`CloudSteps::operation`]): it is polled ([`CloudSteps::track`]) until
//!    it made the object, never sent again; one that ended without it either stalls (the kind's error) or,
//!    abandoned by the kind (a spec change since), lets this pass create anew.
//! 4. **Recover.** An intent without an id ([`IntentStore::pending`]) means an earlier pass may have
//!    created the object and lost the answer: the cloud is searched by the intent's token (one match →
//!    `Recovered`, none within the grace → wait, none after it → create again unless the kind refuses
//!    ([`CloudSteps::before_resend`]), several → `AmbiguousRecovery`).
//! 5. **Create.** Where the cloud keeps names unique, an existing object with the name that this object
//!    never created stalls with `NameConflict` (adopting it would be an accident), unless the object as
//!    stored shows an earlier pass made it (a pass begun from an older cached copy). Otherwise the kind
//!    checks and prepares the create (catalog, secrets), the intent is made durable, the cloud called, and
//!    the answer made durable at once: the id (or, where the kind observes the new object in the same
//!    pass, with the pass's closing write; the kind writes it before any further mutation), or the handle.
//!    A definite rejection ([`crate::provider::ProviderError::created_nothing`]) drops the intent so a fixed spec creates
//!    without waiting out the grace. A status intent stays until the object is observed once.
//!
//! [`deletion_target`] resolves what a deletion removes by the same rules (an intent without an id is
//! searched for; within the grace the deletion waits as progress, `DeletionPending`).
//!
//! Modules, importing downward only: `error` (`LifecycleError` and its tables) → `store` (where a kind
//! keeps its intent: `IntentStore`, `InStatus`, `OnMetadata`) → this file (the protocol).

mod error;
mod store;
#[cfg(test)]
mod tests;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Resource, ResourceExt};
use tracing::info;

pub use self::error::LifecycleError;
use self::error::OBSERVE_ONLY_KEEPS;
use self::store::persist;
pub use self::store::{InStatus, IntentStore, Object, OnMetadata, Status};
use super::events::EventType;
use super::runtime::now;
use super::runtime::{Context, Outcome, StatusWriter, elapsed_since};
use crate::api::common::{DeletionPolicy, ManagedSpec, ManagedStatus, ManagementPolicy, PendingOperation};
use crate::api::condition::reason;
use crate::provider::ProviderResult;

/// What a create answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The new object's cloud id.
    Id(String),
    /// A handle to poll (a billing order, a job) instead of an id: the object appears once it completes.
    Handle(String),
    /// Accepted without an id or a handle: the next pass recovers the object by the intent's token.
    Accepted,
}

/// What a create call needs of the lifecycle: the intent it runs under (its token and start), and the
/// cloud id it replaces (one deleted outside edgefleet), for an idempotency token that tells a retried
/// create from a new one.
#[derive(Debug, Clone, Copy)]
pub struct CreateCall<'a> {
    /// The durable intent.
    pub intent: &'a PendingOperation,
    /// The vanished cloud object this create replaces, if any.
    pub replaces: Option<&'a str>,
}

/// Where polling a create's handle left it ([`CloudSteps::track`]).
#[derive(Debug)]
pub enum Tracked<E> {
    /// Still running: end the pass with this outcome.
    Running(Outcome),
    /// Done: the ids the cloud names for what it made (empty: look it up by name, [`CloudSteps::taken`]).
    Made(Vec<String>),
    /// Ended without the object, and it stays so (the kind's error says why and what to do).
    Failed(E),
    /// Ended without the object and given up (the spec changed since): this pass creates anew.
    Abandoned,
}

/// The cloud-facing steps of one kind, for one pass (the implementor holds the API and the desired spec).
#[async_trait]
pub trait CloudSteps: Send + Sync {
    /// The Kubernetes object.
    type Object: Object;
    /// Its status.
    type Status: Status;
    /// The kind's error; the lifecycle's own failures convert into it.
    type Error: From<LifecycleError> + Send;
    /// What [`CloudSteps::prepare`] hands the create (the full create request, secrets included).
    type Prepared: Send;
    /// What the cloud shows of the object.
    type Observed: Clone + Send + Sync;
    /// The object's name in messages, e.g. "cloud VPC" (plural: with an "s").
    const NOUN: &'static str;
    /// What a create's handle is, in messages ("order").
    const HANDLE: &'static str = "operation";
    /// The Reconciling reason while a handle is polled.
    const HANDLE_PENDING: &'static str = reason::IN_PROGRESS;

    /// The status of a stored object.
    fn status_of(obj: &Self::Object) -> Option<&Self::Status>;
    /// The cloud id of an observed object.
    fn id_of(observed: &Self::Observed) -> &str;
    /// Where the object is, for messages (" at site X"); empty by default.
    fn place(&self) -> String {
        String::new()
    }
    /// Reads the object recorded in status (NotFound when gone); the pass's observation, which may come
    /// from a recent list of the account. By default a fresh [`CloudSteps::get`].
    async fn observe(&self, id: &str) -> ProviderResult<Self::Observed> {
        self.get(id).await
    }
    /// Reads the object by id, fresh (NotFound when gone).
    async fn get(&self, id: &str) -> ProviderResult<Self::Observed>;
    /// The cloud objects carrying a create's recovery token (name, ownership marker, client token);
    /// `elapsed` is the time since the create's intent was recorded (a kind answering from a list of the
    /// account reads one begun after the grace once it has passed).
    async fn find(&self, token: &str, elapsed: Duration) -> ProviderResult<Vec<Self::Observed>>;
    /// Objects a fresh create would collide with (clouds keeping names unique); none by default.
    async fn taken(&self) -> ProviderResult<Vec<Self::Observed>> {
        Ok(Vec::new())
    }
    /// Why this object may not recreate its cloud object when it vanished (another controller replaces
    /// it); `None`, the default: it may.
    fn keeps_vanished(&self) -> Option<&'static str> {
        None
    }
    /// The checks of a create that need no cloud call (the cloud's rules for the spec), before a
    /// recovery or a create.
    fn check_create(&self) -> Result<(), Self::Error> {
        Ok(())
    }
    /// Refuses to send a create again whose earlier answer was lost and whose object is not found after
    /// the grace (a prepaid create: its object is listed only once its order is paid).
    fn before_resend(&self, _token: &str) -> Result<(), Self::Error> {
        Ok(())
    }
    /// What the create needs, checked against the cloud (catalog) and read at the last moment (secrets),
    /// before its intent is recorded.
    async fn prepare(&self) -> Result<Self::Prepared, Self::Error>;
    /// Creates the object.
    async fn create(&self, prepared: Self::Prepared, call: CreateCall<'_>) -> ProviderResult<Created>;
    /// The new object `id`, read in the creating pass when the kind goes on with it at once (`None`, the
    /// default: the id is written now and the next pass observes it).
    async fn observe_created(&self, _id: &str) -> Option<Self::Observed> {
        None
    }
    /// Records a found or created id in status (the kind may note more with it).
    fn record_id(&self, status: &mut Self::Status, id: &str) {
        status.set_cloud_id(Some(id.to_owned()));
    }
    /// The create handle recorded in status, if any (kinds whose creates answer with one).
    fn operation(_status: &Self::Status) -> Option<&str> {
        None
    }
    /// Records (or forgets) the create handle in status.
    fn set_operation(&self, _status: &mut Self::Status, _handle: Option<String>) {}
    /// Polls the create handle `handle` (noting its state in status).
    async fn track(
        &self,
        _handle: &str,
        _status: &mut Self::Status,
    ) -> Result<Tracked<Self::Error>, Self::Error> {
        Ok(Tracked::Abandoned)
    }
}

/// How the create of this pass can be found again after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The identity the cloud object will carry (its unique name, a marker, a client token).
    pub token: String,
    /// Hash of what the create sends.
    pub params_hash: String,
    /// The cloud name, for messages.
    pub name: String,
}

/// Where the identity step left the object.
#[derive(Debug)]
pub enum Identity<O> {
    /// The cloud object, observed.
    Observed(O),
    /// Not observable yet (creating, recovering): end the pass with this outcome.
    Wait(Outcome),
}

/// What a deletion removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionTarget {
    /// No cloud object exists for this object (never created, or already gone): nothing to delete.
    Nothing,
    /// The cloud object with this id.
    Id(String),
}

/// Whether a deletion leaves the cloud object in place (`deletionPolicy: Orphan` or ObserveOnly).
pub fn keeps_cloud_object(spec: &impl ManagedSpec) -> bool {
    spec.deletion_policy() == DeletionPolicy::Orphan
        || spec.management_policy() == ManagementPolicy::ObserveOnly
}

/// Announces that a deletion left the cloud object `id` in place.
pub async fn publish_orphaned<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K, noun: &str, id: &str) {
    ctx.publish(
        obj,
        EventType::Normal,
        "Orphaned",
        "Delete",
        format!("left {noun} {id} in place"),
    )
    .await;
}

/// The status writer of a kind.
pub type Writer<C> = StatusWriter<<C as CloudSteps>::Object, <C as CloudSteps>::Status>;

fn ids_of<C: CloudSteps>(found: &[C::Observed]) -> String {
    found.iter().map(C::id_of).collect::<Vec<_>>().join(", ")
}

fn within_grace(ctx: &Context, started_at: &Time) -> bool {
    elapsed_since(started_at) < ctx.config.recovery_grace
}

fn ambiguous<C: CloudSteps>(cloud: &C, token: &str, many: &[C::Observed]) -> LifecycleError {
    LifecycleError::AmbiguousRecovery {
        noun: C::NOUN,
        token: token.to_owned(),
        place: cloud.place(),
        ids: ids_of::<C>(many),
    }
}

/// One pass of the lifecycle: the object, its cloud steps, its intent store and its status writer.
struct Pass<'a, C: CloudSteps, I> {
    obj: &'a C::Object,
    ctx: &'a Context,
    cloud: &'a C,
    store: &'a I,
}

/// Finds, adopts, recovers or creates the cloud object of `obj` (the protocol in the module docs).
pub async fn ensure_identity<C, I>(
    obj: &C::Object,
    spec: &impl ManagedSpec,
    ctx: &Context,
    cloud: &C,
    store: &I,
    intent: &Intent,
    w: &mut Writer<C>,
) -> Result<Identity<C::Observed>, C::Error>
where
    C: CloudSteps,
    I: IntentStore<C::Object, C::Status>,
{
    let pass = Pass {
        obj,
        ctx,
        cloud,
        store,
    };
    let observe_only = spec.management_policy() == ManagementPolicy::ObserveOnly;
    // The id in status gone: recreated (`Drifted`), or recreating already (`Recreating`).
    let mut vanished = Vanished::No;
    if let Some(id) = w.status.cloud_id().map(str::to_owned) {
        match pass.observe_by_id(&id, observe_only, w).await? {
            Observation::Found(identity) => return Ok(identity),
            Observation::Vanished(how) => vanished = how,
        }
    }
    if vanished == Vanished::No
        && let Some(adopt) = spec.adopt_id()
    {
        return Ok(pass.adopt_by_id(adopt, w).await?);
    }
    if observe_only {
        return Err(LifecycleError::NothingToObserve.into());
    }
    let mut abandoned = false;
    if w.status.cloud_id().is_none()
        && let Some(handle) = C::operation(&w.status).map(str::to_owned)
    {
        match pass.track(&handle, intent, w).await? {
            Some(identity) => return Ok(identity),
            None => abandoned = true,
        }
    }
    cloud.check_create()?;
    // After drift the last intent is the vanished object's own, after an abandoned handle the handle's:
    // a new create is checked by name.
    let pending = (vanished != Vanished::Drifted && !abandoned)
        .then(|| store.pending(obj, &w.status))
        .flatten();
    if let Some(pending) = pending {
        if let Some(identity) = pass.recover(&pending, w).await? {
            return Ok(identity);
        }
    } else if let Some(identity) = pass.refuse_taken_name(intent, w).await? {
        return Ok(identity);
    }
    pass.create(intent, w).await
}

/// What became of the object status names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vanished {
    /// Not gone (or no id).
    No,
    /// Gone and forgotten: a fresh create follows.
    Drifted,
    /// Gone, and a create replacing it is under way: it is recovered.
    Recreating,
}

enum Observation<O> {
    Found(Identity<O>),
    Vanished(Vanished),
}

impl<C, I> Pass<'_, C, I>
where
    C: CloudSteps,
    I: IntentStore<C::Object, C::Status>,
{
    /// Records a found id: the finalizer first where the pass adds it, then the kind's record.
    async fn identified(&self, id: &str, w: &mut Writer<C>) -> Result<(), LifecycleError> {
        self.store.secure(self.obj, w).await?;
        self.cloud.record_id(&mut w.status, id);
        Ok(())
    }

    /// An object found by a lookup becomes this object's: its id recorded and written at once (nothing
    /// else names it), announced by `event` (reason, action).
    async fn take_found(
        &self,
        one: &C::Observed,
        event: (&'static str, &'static str),
        message: String,
        w: &mut Writer<C>,
    ) -> Result<Identity<C::Observed>, LifecycleError> {
        self.identified(C::id_of(one), w).await?;
        w.status.set_pending_create(None);
        persist(w).await?;
        self.ctx
            .publish(self.obj, EventType::Normal, event.0, event.1, message)
            .await;
        Ok(Identity::Observed(one.clone()))
    }

    /// Step 1: the id in status.
    async fn observe_by_id(
        &self,
        id: &str,
        observe_only: bool,
        w: &mut Writer<C>,
    ) -> Result<Observation<C::Observed>, LifecycleError> {
        match self.cloud.observe(id).await {
            Ok(observed) => {
                self.store.secure(self.obj, w).await?;
                w.status.set_pending_create(None);
                return Ok(Observation::Found(Identity::Observed(observed)));
            }
            Err(e) if e.is_not_found() => {}
            Err(source) => {
                return Err(LifecycleError::Observe {
                    noun: C::NOUN,
                    id: id.to_owned(),
                    source,
                });
            }
        }
        if let Some(p) = w.status.pending_create()
            && within_grace(self.ctx, &p.started_at)
        {
            return Ok(Observation::Found(Identity::Wait(Outcome::progressing(
                reason::CREATING,
                reason::IN_PROGRESS,
                format!("created {} {id}; waiting for the cloud to list it", C::NOUN),
            ))));
        }
        if self.store.replaces(self.obj, id) {
            return Ok(Observation::Vanished(Vanished::Recreating));
        }
        let keeps = if observe_only {
            Some(OBSERVE_ONLY_KEEPS)
        } else {
            self.cloud.keeps_vanished()
        };
        if let Some(why) = keeps {
            return Err(LifecycleError::ExternallyDeleted {
                noun: C::NOUN,
                id: id.to_owned(),
                why,
            });
        }
        self.ctx
            .publish(
                self.obj,
                EventType::Warning,
                "ExternallyDeleted",
                "Recreate",
                format!("{} {id} was deleted outside edgefleet; recreating it", C::NOUN),
            )
            .await;
        w.status.set_cloud_id(None);
        w.status.set_pending_create(None);
        w.status.forget_observed();
        Ok(Observation::Vanished(Vanished::Drifted))
    }

    /// Step 2: `spec.adoptId`. The id is durable in the spec already: the closing write records it.
    async fn adopt_by_id(
        &self,
        adopt: &str,
        w: &mut Writer<C>,
    ) -> Result<Identity<C::Observed>, LifecycleError> {
        match self.cloud.get(adopt).await {
            Ok(observed) => {
                self.identified(C::id_of(&observed), w).await?;
                w.note("Adopted", "Adopt", format!("adopted {} {adopt}", C::NOUN));
                Ok(Identity::Observed(observed))
            }
            Err(e) if e.is_not_found() => Err(LifecycleError::AdoptTargetNotFound {
                noun: C::NOUN,
                id: adopt.to_owned(),
            }),
            Err(source) => Err(LifecycleError::Observe {
                noun: C::NOUN,
                id: adopt.to_owned(),
                source,
            }),
        }
    }

    /// Step 3: the create's handle. `None` means the kind abandoned it: this pass creates anew.
    async fn track(
        &self,
        handle: &str,
        intent: &Intent,
        w: &mut Writer<C>,
    ) -> Result<Option<Identity<C::Observed>>, C::Error> {
        let ids = match self.cloud.track(handle, &mut w.status).await? {
            Tracked::Running(outcome) => return Ok(Some(Identity::Wait(outcome))),
            Tracked::Failed(err) => {
                w.status.set_pending_create(None);
                return Err(err);
            }
            Tracked::Abandoned => {
                self.cloud.set_operation(&mut w.status, None);
                w.status.set_pending_create(None);
                self.store.clear(self.obj, w).await?;
                return Ok(None);
            }
            Tracked::Made(ids) => ids,
        };
        let found = match ids.first() {
            Some(id) => match self.cloud.get(id).await {
                Ok(o) => vec![o],
                Err(e) if e.is_not_found() => Vec::new(),
                Err(source) => {
                    return Err(LifecycleError::Observe {
                        noun: C::NOUN,
                        id: id.clone(),
                        source,
                    }
                    .into());
                }
            },
            None => self.taken(intent).await?,
        };
        match found.as_slice() {
            [] => Ok(Some(Identity::Wait(Outcome::progressing(
                reason::CREATING,
                C::HANDLE_PENDING,
                format!(
                    "{} {handle} for {} {:?} is done; waiting for the cloud to list it",
                    C::HANDLE,
                    C::NOUN,
                    intent.name
                ),
            )))),
            [one] => {
                let message = format!(
                    "{} {handle} is done: {} {} ({})",
                    C::HANDLE,
                    C::NOUN,
                    C::id_of(one),
                    intent.name
                );
                Ok(Some(
                    self.take_found(one, ("Created", "Create"), message, w).await?,
                ))
            }
            many => Err(ambiguous(self.cloud, &intent.name, many).into()),
        }
    }

    /// Step 4: an intent without an id. `None` means nothing was found after the grace: create.
    async fn recover(
        &self,
        pending: &PendingOperation,
        w: &mut Writer<C>,
    ) -> Result<Option<Identity<C::Observed>>, C::Error> {
        let elapsed = elapsed_since(&pending.started_at);
        let found = find(self.cloud, &pending.token, elapsed).await?;
        match found.as_slice() {
            [one] => {
                let message = format!(
                    "found {} {} created by an interrupted pass",
                    C::NOUN,
                    C::id_of(one)
                );
                Ok(Some(
                    self.take_found(one, ("Recovered", "Recover"), message, w).await?,
                ))
            }
            [] if elapsed < self.ctx.config.recovery_grace => Ok(Some(Identity::Wait(Outcome::progressing(
                reason::CREATING,
                reason::RECOVERING,
                format!(
                    "a create of {} {:?} was interrupted; waiting for the cloud to list it",
                    C::NOUN,
                    pending.token
                ),
            )))),
            [] => {
                self.cloud.before_resend(&pending.token)?;
                Ok(None)
            }
            many => Err(ambiguous(self.cloud, &pending.token, many).into()),
        }
    }

    async fn taken(&self, intent: &Intent) -> Result<Vec<C::Observed>, LifecycleError> {
        self.cloud.taken().await.map_err(|source| LifecycleError::Lookup {
            noun: C::NOUN,
            token: intent.name.clone(),
            source,
        })
    }

    /// A fresh create never takes over an object with the same unique name: that needs `spec.adoptId`.
    /// Unless the objects found are this object's own after all (`Some`, see [`Self::made_earlier`]).
    async fn refuse_taken_name(
        &self,
        intent: &Intent,
        w: &mut Writer<C>,
    ) -> Result<Option<Identity<C::Observed>>, LifecycleError> {
        let taken = self.taken(intent).await?;
        if taken.is_empty() {
            return Ok(None);
        }
        if let Some(identity) = self.made_earlier(&taken, w).await? {
            return Ok(Some(identity));
        }
        Err(LifecycleError::NameConflict {
            noun: C::NOUN,
            name: intent.name.clone(),
            place: self.cloud.place(),
            ids: ids_of::<C>(&taken),
        })
    }

    /// Whether the objects `found` under this object's name are its own after all, made by the pass
    /// before this one: a pass can start from a cached copy of the object older than the previous pass's
    /// writes (a trigger queued during that pass, dispatched before the watch delivered them), which
    /// shows neither the create intent nor the id. The object as stored decides, read only on this rare
    /// path: its recorded id among `found` → that object, on the stored status; a create intent still
    /// pending → wait for the next pass, which recovers it; neither → `None`, a real conflict. Either way
    /// the writer starts over from the stored status, so this pass's write does not undo the earlier one's.
    async fn made_earlier(
        &self,
        found: &[C::Observed],
        w: &mut Writer<C>,
    ) -> Result<Option<Identity<C::Observed>>, LifecycleError> {
        let stored = w
            .api()
            .get(&self.obj.name_any())
            .await
            .map_err(LifecycleError::ReadStored)?;
        let status = C::status_of(&stored).cloned().unwrap_or_default();
        let recorded = status.cloud_id();
        if let Some(own) = found.iter().find(|o| Some(C::id_of(o)) == recorded) {
            w.rebase(Some(&status));
            return Ok(Some(Identity::Observed(own.clone())));
        }
        let Some(pending) = self.store.pending(&stored, &status) else {
            return Ok(None);
        };
        w.rebase(Some(&status));
        Ok(Some(Identity::Wait(Outcome::progressing(
            reason::CREATING,
            reason::RECOVERING,
            format!(
                "this pass began from an older copy of the object; the create of {} {:?} is recovered by the next one",
                C::NOUN,
                pending.token
            ),
        ))))
    }

    /// Step 5: prepared, intent durable, the call, the answer durable.
    async fn create(&self, intent: &Intent, w: &mut Writer<C>) -> Result<Identity<C::Observed>, C::Error> {
        let prepared = self.cloud.prepare().await?;
        let pending = PendingOperation {
            token: intent.token.clone(),
            params_hash: intent.params_hash.clone(),
            started_at: now(),
            handle: None,
        };
        // The id the stored status names: the vanished object this create replaces, if any.
        let replaces = w.written().cloud_id().map(str::to_owned);
        self.store
            .record(self.obj, w, &pending, replaces.as_deref())
            .await?;
        let call = CreateCall {
            intent: &pending,
            replaces: replaces.as_deref(),
        };
        let created = match self.cloud.create(prepared, call).await {
            Ok(created) => created,
            Err(source) => {
                // A definite rejection created nothing: drop the intent, so a fixed spec creates at once
                // instead of waiting out the recovery grace.
                if source.created_nothing() {
                    self.store.clear(self.obj, w).await?;
                }
                return Err(LifecycleError::Create {
                    noun: C::NOUN,
                    name: intent.name.clone(),
                    source,
                }
                .into());
            }
        };
        let identity = match created {
            Created::Id(id) => self.created(intent, &pending, id, w).await?,
            Created::Handle(handle) => self.handed(intent, &pending, handle, w).await?,
            // No id in the answer: the next pass recovers by the intent's token.
            Created::Accepted => Identity::Wait(Outcome::progressing(
                reason::CREATING,
                reason::RECOVERING,
                format!(
                    "create of {} {:?} accepted without an id; looking it up",
                    C::NOUN,
                    intent.name
                ),
            )),
        };
        Ok(identity)
    }

    /// The create answered with an id: recorded, the new object observed at once where the kind goes on
    /// with it (its closing write carries the id), else written now with the pass's end state.
    async fn created(
        &self,
        intent: &Intent,
        pending: &PendingOperation,
        id: String,
        w: &mut Writer<C>,
    ) -> Result<Identity<C::Observed>, LifecycleError> {
        self.cloud.record_id(&mut w.status, &id);
        info!(cloud_id = %id, name = %intent.name, noun = C::NOUN, "created");
        w.note(
            "Created",
            "Create",
            format!("created {} {id} ({}){}", C::NOUN, intent.name, self.cloud.place()),
        );
        if let Some(observed) = self.cloud.observe_created(&id).await {
            w.status.set_pending_create(None);
            return Ok(Identity::Observed(observed));
        }
        // The intent stays in status, with the id as its handle, until the object is observed once, so
        // an object not yet listed by an eventually consistent cloud is not mistaken for a deleted one.
        w.status.set_pending_create(Some(PendingOperation {
            handle: Some(id.clone()),
            ..pending.clone()
        }));
        let outcome = Outcome::progressing(
            reason::CREATING,
            reason::IN_PROGRESS,
            format!("created {} {id}; waiting for it to build", C::NOUN),
        );
        // One write: the id (crash-safety step 2) with this pass's end state, so `finish` writes nothing.
        w.persist_with_outcome(&outcome)
            .await
            .map_err(LifecycleError::PatchStatus)?;
        Ok(Identity::Wait(outcome))
    }

    /// The create answered with a handle and no object: the handle is made durable at once (in status,
    /// and as the handle of the intent in status), before anything else, so a restarted controller polls
    /// it instead of creating again.
    async fn handed(
        &self,
        intent: &Intent,
        pending: &PendingOperation,
        handle: String,
        w: &mut Writer<C>,
    ) -> Result<Identity<C::Observed>, LifecycleError> {
        info!(handle = %handle, name = %intent.name, noun = C::NOUN, "create answered with a handle");
        self.cloud.set_operation(&mut w.status, Some(handle.clone()));
        w.status.set_pending_create(Some(PendingOperation {
            handle: Some(handle.clone()),
            ..pending.clone()
        }));
        w.note(
            "Accepted",
            "Create",
            format!("{} {handle} placed for {} {:?}", C::HANDLE, C::NOUN, intent.name),
        );
        let outcome = Outcome::progressing(
            reason::CREATING,
            C::HANDLE_PENDING,
            format!(
                "{} {handle} for {} {:?} placed; the {} appears once it completes",
                C::HANDLE,
                C::NOUN,
                intent.name,
                C::NOUN
            ),
        );
        w.persist_with_outcome(&outcome)
            .await
            .map_err(LifecycleError::PatchStatus)?;
        Ok(Identity::Wait(outcome))
    }
}

async fn find<C: CloudSteps>(
    cloud: &C,
    token: &str,
    elapsed: Duration,
) -> Result<Vec<C::Observed>, LifecycleError> {
    cloud
        .find(token, elapsed)
        .await
        .map_err(|source| LifecycleError::Lookup {
            noun: C::NOUN,
            token: token.to_owned(),
            source,
        })
}

/// The cloud object a deletion must remove: the object an interrupted create may have made (an intent
/// the store still counts as pending, searched by its token; within the grace the deletion waits for it
/// to become visible), else the id in status.
pub async fn deletion_target<C, I>(
    ctx: &Context,
    cloud: &C,
    store: &I,
    obj: &C::Object,
    status: &C::Status,
) -> Result<DeletionTarget, LifecycleError>
where
    C: CloudSteps,
    I: IntentStore<C::Object, C::Status>,
{
    let recorded = || {
        status
            .cloud_id()
            .map_or(DeletionTarget::Nothing, |id| DeletionTarget::Id(id.to_owned()))
    };
    let Some(pending) = store.pending(obj, status) else {
        return Ok(recorded());
    };
    let elapsed = elapsed_since(&pending.started_at);
    let found = find(cloud, &pending.token, elapsed).await?;
    match found.as_slice() {
        [one] => Ok(DeletionTarget::Id(C::id_of(one).to_owned())),
        [] if elapsed < ctx.config.recovery_grace => Err(LifecycleError::DeletionPending {
            noun: C::NOUN,
            token: pending.token.clone(),
        }),
        [] => Ok(recorded()),
        many => Err(ambiguous(cloud, &pending.token, many)),
    }
}
