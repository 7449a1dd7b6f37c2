//! The cloud-facing identity steps of an EdgeInstance ([`InstanceCloud`], the kind's
//! [`managed::CloudSteps`]; the protocol itself is `managed`'s): the recorded instance read from the
//! pass's batched observation, lookups by the create identity answered from a list of bounded age,
//! members that never recreate a vanished instance, the cloud's rules checked before a recovery or a
//! create, the prepaid create's billing order polled, and a prepaid create never sent twice. The intent
//! is kept on the object's metadata ([`OnMetadata`]).

use std::time::Duration;

use async_trait::async_trait;
use kube::ResourceExt;
use tracing::debug;

use super::create::{self, Writer, record_reboot_baseline};
use super::error::{Error, ORDER_PENDING};
use super::model::{
    Network, check_spec, identity_spec, is_deleted, is_member, lookup_age, params_hash, place_of,
    recovery_age,
};
use crate::api::condition::reason;
use crate::api::edge_instance::{EdgeInstance, EdgeInstanceStatus};
use crate::controller::managed::{
    self, CloudSteps, CreateCall, Created, Identity, Intent, OnMetadata, Tracked,
};
use crate::controller::runtime::{Context, Intervals, Outcome};
use crate::provider::{
    CreateIdentity, ErrorDetail, InstanceApi, InstanceSpec, ObservedInstance, OperationHandle,
    OperationState, Provider, ProviderError, ProviderResult,
};

/// Why an EdgeCloud member does not recreate its vanished instance.
const MEMBER_KEEPS: &str =
    "this EdgeInstance is an EdgeCloud member, so the EdgeCloud replaces it (it is not recreated here)";

/// The cloud-facing steps of one EdgeInstance, for one pass.
pub(super) struct InstanceCloud<'a> {
    pub(super) ei: &'a EdgeInstance,
    pub(super) ctx: &'a Context,
    pub(super) provider: &'a dyn Provider,
    pub(super) api: &'a dyn InstanceApi,
    pub(super) net: &'a Network,
    /// The spec's identity part (name, placement, network, provider section).
    pub(super) spec: InstanceSpec,
    /// How old a list may be to answer a name lookup ([`lookup_age`]).
    lookup: Duration,
    /// How old the pass's observation of the recorded instance may be.
    max_age: Duration,
}

impl<'a> InstanceCloud<'a> {
    /// The steps of `ei` on `provider`, with the network its references resolved to (the default one
    /// for a deletion, whose references may be gone: its lookups need only name, placement and section).
    /// Fails when the provider has no instances.
    pub(super) fn new(
        ei: &'a EdgeInstance,
        ctx: &'a Context,
        provider: &'a dyn Provider,
        net: &'a Network,
        intervals: Intervals,
        max_age: Duration,
    ) -> ProviderResult<Self> {
        Ok(Self {
            ei,
            ctx,
            provider,
            api: provider.instances()?,
            net,
            spec: identity_spec(ei, net),
            lookup: lookup_age(intervals),
            max_age,
        })
    }

    /// The intent of a create of this instance: its cloud name is its token.
    pub(super) fn intent(&self) -> Intent {
        Intent {
            token: self.spec.name.clone(),
            params_hash: params_hash(self.ei, self.net),
            name: self.spec.name.clone(),
        }
    }

    /// Live instances carrying the identity `name` (the provider decides how its cloud shows and places
    /// them): the name, and where the cloud has tags the owner tag of the object, as its creates carry
    /// them (`CreateIdentity::for_create`), so a cloud that names instances itself finds them too. The
    /// answer may come from a list of the account that started at most `max_age` ago.
    async fn lookup_by(&self, name: &str, max_age: Duration) -> ProviderResult<Vec<ObservedInstance>> {
        let identity = CreateIdentity::for_create(
            name,
            name,
            &self.ei.uid().unwrap_or_default(),
            self.provider.capabilities(),
        );
        self.api
            .find_by_identity_within(&identity, &self.spec, max_age)
            .await
    }
}

/// An instance the cloud reports `DELETED` is gone.
fn live(observed: ProviderResult<ObservedInstance>) -> ProviderResult<ObservedInstance> {
    match observed {
        Ok(o) if is_deleted(&o) => Err(ProviderError::NotFound {
            detail: ErrorDetail::local("instance.get", format!("cloud instance {} is DELETED", o.id)),
        }),
        other => other,
    }
}

#[async_trait]
impl CloudSteps for InstanceCloud<'_> {
    type Object = EdgeInstance;
    type Status = EdgeInstanceStatus;
    type Error = Error;
    type Prepared = InstanceSpec;
    type Observed = ObservedInstance;
    const NOUN: &'static str = "cloud instance";
    const HANDLE: &'static str = "order";
    const HANDLE_PENDING: &'static str = ORDER_PENDING;

    fn status_of(ei: &EdgeInstance) -> Option<&EdgeInstanceStatus> {
        ei.status.as_ref()
    }

    fn id_of(observed: &ObservedInstance) -> &str {
        &observed.id
    }

    fn place(&self) -> String {
        place_of(&self.spec)
    }

    async fn observe(&self, id: &str) -> ProviderResult<ObservedInstance> {
        live(self.api.observe(id, self.max_age).await)
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedInstance> {
        live(self.api.get(id).await)
    }

    /// Within the grace from any list of the lookup age; after it only from one begun after it ended.
    async fn find(&self, token: &str, elapsed: Duration) -> ProviderResult<Vec<ObservedInstance>> {
        let age = recovery_age(elapsed, self.ctx.config.recovery_grace, self.lookup);
        self.lookup_by(token, age).await
    }

    /// Instance names are the user's identity at a site: a fresh create always checks its name.
    async fn taken(&self) -> ProviderResult<Vec<ObservedInstance>> {
        self.lookup_by(&self.spec.name, self.lookup).await
    }

    fn keeps_vanished(&self) -> Option<&'static str> {
        is_member(self.ei).then_some(MEMBER_KEEPS)
    }

    /// Whether the cloud needs a fleet to create into (the capabilities say), then the cloud's rules.
    fn check_create(&self) -> Result<(), Error> {
        if let Some(problem) = self
            .provider
            .capabilities()
            .fleet_problem(self.spec.fleet_id.is_some(), true)
        {
            check_spec(self.ei, &[problem])?;
        }
        check_spec(self.ei, &self.api.validate(&self.spec, true))
    }

    /// A prepaid create's instance is listed only once its order is paid: the create may have placed an
    /// order that is not paid yet, so it is never sent again.
    fn before_resend(&self, token: &str) -> Result<(), Error> {
        if self.api.pays_before_create(&self.spec) {
            return Err(Error::OrderUnknown {
                name: token.to_owned(),
            });
        }
        Ok(())
    }

    async fn prepare(&self) -> Result<InstanceSpec, Error> {
        create::prepare(self.ei, self.ctx, self.provider, self.api, self.spec.clone()).await
    }

    async fn create(&self, spec: InstanceSpec, call: CreateCall<'_>) -> ProviderResult<Created> {
        create::send(self.ei, self.provider, self.api, &spec, call).await
    }

    /// Observed at once: the pass then goes on with the instance's first state, and its closing status
    /// write carries the id (one write where an id write plus a second pass's write were needed). The
    /// id is made durable before any further cloud mutation (`durable_identity`); a crash before that is
    /// recovered by the intent's name lookup.
    async fn observe_created(&self, id: &str) -> Option<ObservedInstance> {
        match self.api.get(id).await {
            Ok(o) if !is_deleted(&o) => Some(o),
            Ok(_) => {
                debug!(instance_id = %id, "the new instance is not listed yet");
                None
            }
            Err(e) => {
                debug!(instance_id = %id, error = %e, "could not observe the new instance yet");
                None
            }
        }
    }

    fn record_id(&self, status: &mut EdgeInstanceStatus, id: &str) {
        status.instance_id = Some(id.to_owned());
        record_reboot_baseline(self.ei, status);
    }

    fn operation(status: &EdgeInstanceStatus) -> Option<&str> {
        status.order_id.as_deref()
    }

    fn set_operation(&self, status: &mut EdgeInstanceStatus, order: Option<String>) {
        status.order_state = order.as_ref().map(|_| "placed".to_owned());
        status.order_id = order;
    }

    /// Polls the billing order of a prepaid create: pending → Reconciling with the order's state; paid →
    /// the instance it made; failed → Stalled `OrderFailed`, or, when the spec changed since the object
    /// was last acted on, abandoned so that the pass orders anew.
    async fn track(&self, order: &str, status: &mut EdgeInstanceStatus) -> Result<Tracked<Error>, Error> {
        let ops = self.provider.operations().map_err(Error::Unsupported)?;
        let name = &self.spec.name;
        let state = ops
            .poll(&OperationHandle::Order(order.to_owned()))
            .await
            .map_err(|source| Error::Order {
                order: order.to_owned(),
                source,
            })?;
        Ok(match state {
            OperationState::Running { state, .. } => {
                let words = state.unwrap_or_else(|| "in progress".to_owned());
                status.order_state = Some(words.clone());
                Tracked::Running(Outcome::progressing(
                    reason::CREATING,
                    ORDER_PENDING,
                    format!(
                        "order {order} for cloud instance {name:?} is {words}; the instance is created once it is paid"
                    ),
                ))
            }
            OperationState::Failed { code, message } => {
                let spec_changed = self.ei.status.as_ref().and_then(|s| s.observed_generation)
                    != self.ei.metadata.generation;
                if spec_changed {
                    Tracked::Abandoned
                } else {
                    status.order_state = Some(format!("failed ({code})"));
                    Tracked::Failed(Error::OrderFailed {
                        order: order.to_owned(),
                        name: name.clone(),
                        code,
                        message,
                    })
                }
            }
            OperationState::Succeeded { resource_ids } => {
                status.order_state = Some("paid".to_owned());
                Tracked::Made(resource_ids)
            }
        })
    }
}

/// Finds, adopts, recovers or creates the cloud instance (the lifecycle, `managed::ensure_identity`).
pub(super) async fn ensure_identity(
    cloud: &InstanceCloud<'_>,
    w: &mut Writer,
) -> Result<Identity<ObservedInstance>, Error> {
    let intent = cloud.intent();
    managed::ensure_identity(
        cloud.ei,
        &cloud.ei.spec,
        cloud.ctx,
        cloud,
        &OnMetadata,
        &intent,
        w,
    )
    .await
}
