//! The Vpc controller: creates the cloud VPC (crash-safe: intent first, then the call, then the id),
//! observes it, updates in place what the cloud can change (name, cidr), manages the subnets of CUSTOMER
//! VPCs (create / update / delete to match spec.subnets), reports the subnets the cloud made for SYSTEM
//! VPCs, corrects drift (recreates a VPC deleted out of band under Manage, reports it under
//! ObserveOnly), adopts only by explicit `spec.adoptId`, and deletes in dependency order (subnets, then
//! the VPC), waiting — with backoff, never in a hot loop — while the cloud says something is in use.
//!
//! Crash safety (design.md, [`managed`]): the create carries a [`CreateIdentity`] — the VPC name and,
//! where the cloud has tags (`Capabilities::tags`), the owner tag ([`OWNER_TAG`] = the object's uid).
//! The intent's token is the owner uid where the cloud has tags (veEN: names are not unique), else the
//! VPC name (IEC: unique per account, `Capabilities::unique_names.vpc`). Recovery of an intent without
//! an id looks the token up (by tag or by name): one match → adopt, none → create once the
//! eventual-consistency grace has passed, several → Stalled. A fresh create whose unique name is already taken by a VPC we have no intent for is never
//! adopted: the object stalls with `NameConflict` and tells the user to set `spec.adoptId`. What a
//! cloud cannot honour (a provider section's rules) is checked by the provider before any call
//! (`VpcApi::validate`) and reported as `Stalled InvalidSpec` naming the field. Subnets need no intent:
//! their CIDR is unique within a VPC, so a lost create is found by the next observation.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::controller::events::EventType;
use async_trait::async_trait;
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as RuntimeConfig};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};
use tracing::{debug, info};

use super::managed::{
    self, CloudSteps, CreateCall, Created, DeletionTarget, Identity, InStatus, Intent, LifecycleError,
    keeps_cloud_object, publish_orphaned,
};
use super::provider_error_class;
use super::runtime::{
    Context, ErrorClass, PassError, ReconcileError, error_policy, instrumented, intent_of,
    provider_config_trigger, run_finalizer,
};
use super::runtime::{Intervals, Outcome, StatusWriter};
use super::runtime::{ResolveProviderError, resolve_provider};
use crate::api::common::ManagementPolicy;
use crate::api::condition::reason;
use crate::api::provider_config::ProviderConfig;
use crate::api::vpc::{SubnetStatus, Vpc, VpcStatus};
use crate::provider::plan::{VpcAction, plan_vpc};
use crate::provider::{
    Capabilities, CreateIdentity, FieldError, OWNER_TAG, ObservedVpc, ProviderError, ProviderResult,
    SubnetSpec, SubnetState, VpcApi, VpcMode, VpcSpec,
};

/// Errors of the Vpc controller, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ProviderConfig (or its credentials) is not usable.
    #[error("{}", if *.deleting { "cannot confirm the deletion of the cloud VPC: the account is unavailable" } else { "the account is unavailable" })]
    ProviderUnavailable {
        /// Whether the object is being deleted (the finalizer stays until the cloud confirms).
        deleting: bool,
        /// Why.
        #[source]
        source: ResolveProviderError,
    },
    /// The provider offers no VPCs.
    #[error("the provider does not manage VPCs")]
    Unsupported(#[source] ProviderError),
    /// Reading the VPC failed.
    #[error("failed to observe cloud VPC {id}")]
    Observe {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The identity lifecycle (observe, adopt, recover, create; deletion target) failed.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// Changing the VPC in place failed.
    #[error("failed to update cloud VPC {id}")]
    Update {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// A subnet operation failed.
    #[error("failed to {action} subnet {subnet} of cloud VPC {vpc_id}")]
    Subnet {
        /// create, update or delete.
        action: &'static str,
        /// Subnet name or id.
        subnet: String,
        /// VPC id.
        vpc_id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deleting the VPC failed.
    #[error("failed to delete cloud VPC {id}")]
    Delete {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deletion waits: the cloud says the VPC or a subnet is still in use.
    #[error("deletion of cloud VPC {id} waits: {blocker}")]
    InUse {
        /// Cloud id.
        id: String,
        /// What blocks it.
        blocker: String,
        /// What the cloud said.
        #[source]
        source: ProviderError,
    },
    /// A spec field this cloud cannot honour (the provider's validation, before any call).
    #[error("invalid spec for this cloud: {0}")]
    InvalidSpec(FieldError),
    /// The spec asks for a change the cloud cannot make.
    #[error(
        "the cloud VPC {id} differs in {fields} and the cloud cannot change that in place; recreate the object (or fix the spec)"
    )]
    UnsupportedChange {
        /// Cloud id.
        id: String,
        /// The fields.
        fields: String,
    },
    /// Writing status failed.
    #[error("failed to patch the status")]
    PatchStatus(#[source] kube::Error),
}

impl ReconcileError for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Update { source, .. }
            | Self::Subnet { source, .. }
            | Self::Delete { source, .. } => source.category(),
            Self::Lifecycle(e) => e.category(),
            Self::ProviderUnavailable { .. } => "ProviderConfigUnavailable",
            Self::InUse { .. } => "InUse",
            Self::UnsupportedChange { .. } => "UnsupportedChange",
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::PatchStatus(..) => "PatchStatus",
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Update { source, .. }
            | Self::Subnet { source, .. }
            | Self::Delete { source, .. } => provider_error_class(source).0,
            Self::Lifecycle(e) => e.class(),
            Self::ProviderUnavailable {
                source: ResolveProviderError::Kube { .. },
                ..
            }
            | Self::PatchStatus(_) => ErrorClass::Transient,
            Self::ProviderUnavailable { .. } | Self::InUse { .. } => ErrorClass::Waiting,
            Self::UnsupportedChange { .. } | Self::InvalidSpec(_) => ErrorClass::Stalled { recheck: false },
        }
    }

    fn stalled_reason(&self) -> Option<&'static str> {
        match self {
            Self::ProviderUnavailable { deleting: true, .. } | Self::InUse { .. } => {
                Some(reason::DELETION_BLOCKED)
            }
            Self::Lifecycle(e) => e.stalled_reason(),
            Self::UnsupportedChange { .. } => Some(reason::UNSUPPORTED_CHANGE),
            Self::InvalidSpec(_) => Some(reason::INVALID_SPEC),
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Update { source, .. }
            | Self::Subnet { source, .. }
            | Self::Delete { source, .. } => provider_error_class(source).1,
            Self::ProviderUnavailable { deleting: false, .. } | Self::PatchStatus(_) => None,
        }
    }

    fn ready_reason(&self) -> Option<&'static str> {
        match self {
            Self::ProviderUnavailable { deleting: false, .. } => Some(reason::WAITING_FOR_DEPENDENCY),
            Self::Lifecycle(e) => e.ready_reason(),
            Self::ProviderUnavailable { deleting: true, .. }
            | Self::Unsupported(_)
            | Self::Observe { .. }
            | Self::Update { .. }
            | Self::Subnet { .. }
            | Self::Delete { .. }
            | Self::InUse { .. }
            | Self::UnsupportedChange { .. }
            | Self::InvalidSpec(_)
            | Self::PatchStatus(_) => None,
        }
    }
}

/// The cloud name of a Vpc: spec.name or metadata.name.
pub fn cloud_name(vpc: &Vpc) -> String {
    vpc.spec.name.clone().unwrap_or_else(|| vpc.name_any())
}

/// The desired domain VPC of a Vpc object.
pub fn desired(vpc: &Vpc) -> VpcSpec {
    let mode = vpc.spec.cloud_mode();
    VpcSpec {
        name: cloud_name(vpc),
        cidr: vpc.spec.cidr.clone(),
        mode,
        subnets: vpc
            .spec
            .subnets
            .iter()
            .map(|s| SubnetSpec {
                name: s.name.clone(),
                cidr: s.cidr.clone(),
                gateway_ip: s.gateway_ip.clone(),
                site_id: s.site_id.clone().unwrap_or_default(),
                dhcp_enable: s.dhcp_enable,
                primary_dns: s.dns_list.first().cloned(),
                secondary_dns: s.dns_list.get(1).cloned(),
            })
            .collect(),
        ext: vpc.spec.provider_ext(),
    }
}

/// Hash of the parameters a create sends (recorded in the intent).
pub fn params_hash(spec: &VpcSpec) -> String {
    let mut h = Sha256::new();
    h.update(format!("{}|{}|{:?}|{:?}", spec.name, spec.cidr, spec.mode, spec.ext).as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn mode_str(mode: Option<VpcMode>) -> Option<String> {
    mode.map(|m| match m {
        VpcMode::System => "SYSTEM".to_owned(),
        VpcMode::Customer => "CUSTOMER".to_owned(),
    })
}

fn state_str(state: &SubnetState) -> String {
    match state {
        SubnetState::Active => "ACTIVE".to_owned(),
        SubnetState::Pending => "UNKNOWN".to_owned(),
        SubnetState::Error => "ERROR".to_owned(),
        SubnetState::Other(s) => s.clone(),
    }
}

/// Copies the observed cloud VPC into status.
pub fn record_observed(status: &mut VpcStatus, observed: &ObservedVpc) {
    status.vpc_id = Some(observed.id.clone());
    status.name = Some(observed.name.clone());
    status.cidr = Some(observed.cidr.clone());
    status.mode = mode_str(observed.mode);
    let mut subnets: Vec<SubnetStatus> = observed
        .subnets
        .iter()
        .map(|s| SubnetStatus {
            name: s.name.clone(),
            id: Some(s.id.clone()),
            cidr: Some(s.cidr.clone()),
            gateway_ip: s.gateway_ip.clone(),
            site_id: s.site_id.clone(),
            status: Some(state_str(&s.state)),
        })
        .collect();
    subnets.sort_by(|a, b| (&a.name, &a.cidr, &a.id).cmp(&(&b.name, &b.cidr, &b.id)));
    status.subnets = subnets;
}

type Writer = StatusWriter<Vpc, VpcStatus>;

/// The cloud-facing identity steps of a Vpc (the lifecycle itself is [`managed`]). The recovery token is
/// the owner uid where the cloud has tags, else the VPC name ([`token`]); where the cloud keeps VPC names
/// unique (`Capabilities::unique_names`) a fresh create also refuses a name that is already taken.
struct VpcCloud<'a> {
    api: &'a dyn VpcApi,
    want: &'a VpcSpec,
    identity: CreateIdentity,
    unique_names: bool,
    tags: bool,
}

impl<'a> VpcCloud<'a> {
    fn new(api: &'a dyn VpcApi, want: &'a VpcSpec, vpc: &Vpc, caps: &Capabilities) -> Self {
        let uid = vpc.uid().unwrap_or_default();
        Self {
            api,
            want,
            identity: CreateIdentity::for_create(&want.name, &token(vpc, want, caps), &uid, caps),
            unique_names: caps.unique_names.vpc,
            tags: caps.tags,
        }
    }
}

/// The recovery token of a create: the owner uid (what the [`OWNER_TAG`] carries) where the cloud has
/// tags, else the VPC name.
fn token(vpc: &Vpc, want: &VpcSpec, caps: &Capabilities) -> String {
    match vpc.uid() {
        Some(uid) if caps.tags => uid,
        _ => want.name.clone(),
    }
}

#[async_trait]
impl CloudSteps for VpcCloud<'_> {
    type Object = Vpc;
    type Status = VpcStatus;
    type Error = LifecycleError;
    type Prepared = ();
    type Observed = ObservedVpc;
    const NOUN: &'static str = "cloud VPC";

    fn status_of(vpc: &Vpc) -> Option<&VpcStatus> {
        vpc.status.as_ref()
    }

    fn id_of(observed: &ObservedVpc) -> &str {
        &observed.id
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedVpc> {
        self.api.get(id).await
    }

    /// By the owner tag where the cloud has tags (the token is the uid), else by name.
    async fn find(&self, token: &str, _elapsed: Duration) -> ProviderResult<Vec<ObservedVpc>> {
        let identity = if self.tags {
            CreateIdentity {
                name: self.want.name.clone(),
                client_token: None,
                tags: [(OWNER_TAG.to_owned(), token.to_owned())].into(),
            }
        } else {
            CreateIdentity {
                name: token.to_owned(),
                ..CreateIdentity::default()
            }
        };
        self.api.find_by_identity(&identity).await
    }

    async fn taken(&self) -> ProviderResult<Vec<ObservedVpc>> {
        if !self.unique_names {
            return Ok(Vec::new());
        }
        self.api.find_by_name(&self.want.name).await
    }

    async fn prepare(&self) -> Result<(), LifecycleError> {
        Ok(())
    }

    async fn create(&self, (): (), _call: CreateCall<'_>) -> ProviderResult<Created> {
        Ok(Created::Id(self.api.create(self.want, &self.identity).await?.id))
    }
}

fn intent(vpc: &Vpc, want: &VpcSpec, caps: &Capabilities) -> Intent {
    Intent {
        token: token(vpc, want, caps),
        params_hash: params_hash(want),
        name: want.name.clone(),
    }
}

/// Whether the subnets of `observed` are the user's to create and delete: the cloud manages subnets,
/// and (IEC) only in CUSTOMER VPCs where it says so.
fn user_subnets(caps: &Capabilities, observed: &ObservedVpc) -> bool {
    caps.supports.subnets && (!caps.subnets_only_in_customer_vpcs || observed.mode == Some(VpcMode::Customer))
}

fn describe_action(a: &VpcAction) -> String {
    match a {
        VpcAction::Create => "create the VPC".to_owned(),
        VpcAction::Update(u) => {
            let mut parts = vec![];
            if let Some(n) = &u.name {
                parts.push(format!("name to {n:?}"));
            }
            if let Some(c) = &u.cidr {
                parts.push(format!("cidr to {c}"));
            }
            format!("change {}", parts.join(" and "))
        }
        VpcAction::RequiresReplacement { fields } => format!("replace ({})", fields.join(", ")),
        VpcAction::CreateSubnet(s) if s.site_id.is_empty() => {
            format!("create subnet {} ({})", s.name, s.cidr)
        }
        VpcAction::CreateSubnet(s) => format!("create subnet {} ({} in site {})", s.name, s.cidr, s.site_id),
        VpcAction::UpdateSubnet { id, .. } => format!("update subnet {id}"),
        VpcAction::DeleteSubnet { id } => format!("delete subnet {id}"),
    }
}

async fn execute(
    vpc: &Vpc,
    ctx: &Context,
    api: &dyn VpcApi,
    id: &str,
    actions: Vec<VpcAction>,
) -> Result<usize, Error> {
    let mut done = 0;
    for action in actions {
        let what = describe_action(&action);
        match action {
            VpcAction::Create | VpcAction::RequiresReplacement { .. } => continue,
            VpcAction::Update(u) => {
                api.update(id, &u).await.map_err(|source| Error::Update {
                    id: id.to_owned(),
                    source,
                })?;
            }
            VpcAction::CreateSubnet(s) => match api.create_subnet(id, &s).await {
                Ok(_) => {}
                // Lost response of an earlier pass: the next observation shows it.
                Err(ProviderError::Conflict { .. }) => {}
                Err(source) => {
                    return Err(Error::Subnet {
                        action: "create",
                        subnet: s.name,
                        vpc_id: id.to_owned(),
                        source,
                    });
                }
            },
            VpcAction::UpdateSubnet { id: sid, update } => {
                api.update_subnet(id, &sid, &update)
                    .await
                    .map_err(|source| Error::Subnet {
                        action: "update",
                        subnet: sid,
                        vpc_id: id.to_owned(),
                        source,
                    })?;
            }
            VpcAction::DeleteSubnet { id: sid } => match api.delete_subnet(id, &sid).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(source) => {
                    return Err(Error::Subnet {
                        action: "delete",
                        subnet: sid,
                        vpc_id: id.to_owned(),
                        source,
                    });
                }
            },
        }
        done += 1;
        ctx.publish(
            vpc,
            EventType::Normal,
            "Updated",
            "Update",
            format!("cloud VPC {id}: {what}"),
        )
        .await;
    }
    Ok(done)
}

async fn apply_steps(vpc: &Vpc, ctx: &Context, w: &mut Writer) -> Result<(Outcome, Intervals), Error> {
    let resolved = resolve_provider(ctx, &vpc.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: false,
            source,
        })?;
    let api = resolved.provider.vpcs().map_err(Error::Unsupported)?;
    let caps = resolved.provider.capabilities();
    let intervals = resolved.intervals;
    let want = desired(vpc);
    if let Some(problem) = api.validate(&want).into_iter().next() {
        return Err(Error::InvalidSpec(problem));
    }
    let cloud = VpcCloud::new(api, &want, vpc, caps);
    let intent = intent(vpc, &want, caps);
    let mut observed =
        match managed::ensure_identity(vpc, &vpc.spec, ctx, &cloud, &InStatus, &intent, w).await? {
            Identity::Observed(o) => o,
            Identity::Wait(outcome) => return Ok((outcome, intervals)),
        };
    // An empty DNS string and no DNS are the same setting; comparing them would update forever.
    for s in &mut observed.subnets {
        s.primary_dns = s.primary_dns.take().filter(|d| !d.is_empty());
        s.secondary_dns = s.secondary_dns.take().filter(|d| !d.is_empty());
    }
    record_observed(&mut w.status, &observed);
    let actions = plan_vpc(&want, Some(&observed), caps);
    let id = observed.id.clone();
    if observed.busy {
        return Ok((
            Outcome::progressing(
                reason::CREATING,
                reason::IN_PROGRESS,
                format!("the cloud is still setting up cloud VPC {id}"),
            ),
            intervals,
        ));
    }

    if vpc.spec.management_policy == ManagementPolicy::ObserveOnly {
        let drift: Vec<String> = actions.iter().map(describe_action).collect();
        let message = if drift.is_empty() {
            format!("observing cloud VPC {id}; it matches the spec")
        } else {
            format!(
                "observing cloud VPC {id}; drift (not corrected under ObserveOnly): would {}",
                drift.join("; ")
            )
        };
        return Ok((
            Outcome::Ready {
                reason: reason::OBSERVED,
                message,
            },
            intervals,
        ));
    }
    if let Some(VpcAction::RequiresReplacement { fields }) = actions
        .iter()
        .find(|a| matches!(a, VpcAction::RequiresReplacement { .. }))
    {
        return Err(Error::UnsupportedChange {
            id,
            fields: fields.join(", "),
        });
    }
    let done = execute(vpc, ctx, api, &id, actions).await?;
    if done > 0 {
        return Ok((
            Outcome::progressing(
                reason::UPDATING,
                reason::IN_PROGRESS,
                format!("applied {done} change(s) to cloud VPC {id}"),
            ),
            intervals,
        ));
    }
    let pending: Vec<&str> = observed
        .subnets
        .iter()
        .filter(|s| s.state == SubnetState::Pending)
        .map(|s| s.name.as_str())
        .collect();
    let failed: Vec<&str> = observed
        .subnets
        .iter()
        .filter(|s| s.state == SubnetState::Error)
        .map(|s| s.name.as_str())
        .collect();
    if !failed.is_empty() {
        return Ok((
            Outcome::progressing(
                reason::UNAVAILABLE,
                reason::IN_PROGRESS,
                format!("subnets in ERROR state: {}", failed.join(", ")),
            ),
            intervals,
        ));
    }
    if !pending.is_empty() {
        return Ok((
            Outcome::progressing(
                reason::CREATING,
                reason::IN_PROGRESS,
                format!("waiting for subnets to become ACTIVE: {}", pending.join(", ")),
            ),
            intervals,
        ));
    }
    Ok((
        Outcome::available(format!("cloud VPC {id} matches the spec")),
        intervals,
    ))
}

async fn apply(vpc: Arc<Vpc>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &vpc), vpc.clone(), vpc.status.as_ref());
    match apply_steps(&vpc, ctx, &mut w).await {
        Ok((outcome, intervals)) => w
            .finish(ctx, outcome, intervals)
            .await
            .map_err(Error::PatchStatus),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

/// Deletes the cloud VPC (subnets first). `Ok` only once the cloud confirms it is gone.
async fn cleanup_steps(vpc: &Vpc, ctx: &Context, w: &mut Writer) -> Result<(), Error> {
    if keeps_cloud_object(&vpc.spec) {
        if let Some(id) = &w.status.vpc_id {
            publish_orphaned(ctx, vpc, <VpcCloud as CloudSteps>::NOUN, id).await;
        }
        return Ok(());
    }
    if w.status.vpc_id.is_none() && w.status.pending_create.is_none() {
        return Ok(());
    }
    let resolved = resolve_provider(ctx, &vpc.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: true,
            source,
        })?;
    let api = resolved.provider.vpcs().map_err(Error::Unsupported)?;
    let want = desired(vpc);
    let caps = resolved.provider.capabilities();
    let cloud = VpcCloud::new(api, &want, vpc, caps);
    let id = match managed::deletion_target(ctx, &cloud, &InStatus, vpc, &w.status).await? {
        DeletionTarget::Id(id) => id,
        DeletionTarget::Nothing => return Ok(()),
    };
    let observed = match api.get(&id).await {
        Ok(o) => o,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(source) => return Err(Error::Observe { id, source }),
    };
    if user_subnets(caps, &observed) {
        for s in &observed.subnets {
            match api.delete_subnet(&id, &s.id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(source @ (ProviderError::InUse { .. } | ProviderError::Conflict { .. })) => {
                    return Err(Error::InUse {
                        id,
                        blocker: format!("subnet {} ({}) is still in use", s.name, s.id),
                        source,
                    });
                }
                Err(source) => {
                    return Err(Error::Subnet {
                        action: "delete",
                        subnet: s.id.clone(),
                        vpc_id: id,
                        source,
                    });
                }
            }
        }
    }
    match api.delete(&id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(source @ (ProviderError::InUse { .. } | ProviderError::Conflict { .. })) => {
            let names: Vec<String> = observed
                .subnets
                .iter()
                .map(|s| format!("{} ({})", s.name, s.id))
                .collect();
            let blocker = if names.is_empty() {
                "the cloud says the VPC is still in use".to_owned()
            } else {
                format!("the VPC still contains subnets {}", names.join(", "))
            };
            return Err(Error::InUse { id, blocker, source });
        }
        Err(source) => return Err(Error::Delete { id, source }),
    }
    info!(vpc_id = %id, "deleted cloud VPC");
    ctx.publish(
        vpc,
        EventType::Normal,
        "Deleted",
        "Delete",
        format!("deleted cloud VPC {id}"),
    )
    .await;
    Ok(())
}

async fn cleanup(vpc: Arc<Vpc>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &vpc), vpc.clone(), vpc.status.as_ref());
    match cleanup_steps(&vpc, ctx, &mut w).await {
        Ok(()) => Ok(Action::await_change()),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

fn api_for(ctx: &Context, vpc: &Vpc) -> Api<Vpc> {
    Api::namespaced(ctx.client.clone(), &vpc.namespace().unwrap_or_default())
}

async fn reconcile(vpc: Arc<Vpc>, ctx: Arc<Context>) -> Result<Action, PassError<Error>> {
    let api = api_for(&ctx, &vpc);
    let pass = run_finalizer(&api, vpc.clone(), |o| apply(o, &ctx), |o| cleanup(o, &ctx));
    instrumented(vpc.as_ref(), &ctx, pass).await
}

fn provider_config_of(vpc: &Vpc) -> &str {
    &vpc.spec.provider_config_ref.name
}

/// Runs the Vpc controller until `shutdown` resolves. Besides Vpcs (in the configured namespace and
/// label scope) it watches ProviderConfigs, so objects waiting on an account (missing, bad credentials)
/// continue as soon as it is fixed.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let controller = ctx
        .user_controller(
            ctx.config.namespaced_api::<Vpc>(&client),
            ctx.config.watcher_config(),
            intent_of,
            |o: &Vpc| &o.spec.provider_config_ref.name,
        )
        .with_config(RuntimeConfig::default().concurrency(ctx.config.concurrency));
    let trigger = provider_config_trigger(ctx.lookups.clone(), controller.store(), provider_config_of);
    controller
        .watches(
            Api::<ProviderConfig>::all(client),
            watcher::Config::default(),
            trigger,
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                debug!(error = %e, kind = Vpc::kind(&()).as_ref(), "controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::{DeletionPolicy, ProviderConfigRef};
    use crate::api::vpc::{SubnetSpec as CrdSubnet, VpcSpec as CrdVpcSpec};

    fn vpc(name: Option<&str>) -> Vpc {
        Vpc::new(
            "net",
            CrdVpcSpec {
                provider_config_ref: ProviderConfigRef { name: "acct".into() },
                deletion_policy: DeletionPolicy::Delete,
                management_policy: ManagementPolicy::Manage,
                adopt_id: None,
                name: name.map(str::to_owned),
                cidr: "10.0.0.0/16".into(),
                subnets: vec![CrdSubnet {
                    name: "a".into(),
                    cidr: "10.0.1.0/24".into(),
                    gateway_ip: None,
                    site_id: Some("site-1".into()),
                    dns_list: vec!["8.8.8.8".into(), "1.1.1.1".into(), "9.9.9.9".into()],
                    dhcp_enable: true,
                }],
                ..CrdVpcSpec::default()
            },
        )
    }

    #[test]
    fn desired_maps_name_mode_and_subnets() {
        let d = desired(&vpc(None));
        assert_eq!(d.name, "net", "metadata.name is the default cloud name");
        assert_eq!(d.mode, VpcMode::System, "no provider section: the default mode");
        assert_eq!(d.subnets[0].primary_dns.as_deref(), Some("8.8.8.8"));
        assert_eq!(d.subnets[0].secondary_dns.as_deref(), Some("1.1.1.1"));
        assert_eq!(desired(&vpc(Some("cloud-net"))).name, "cloud-net");
        assert_eq!(
            params_hash(&d),
            params_hash(&desired(&vpc(None))),
            "deterministic"
        );
        assert_ne!(params_hash(&d), params_hash(&desired(&vpc(Some("x")))));
    }

    #[test]
    fn error_classes_follow_the_policy() {
        let conflict = Error::from(LifecycleError::NameConflict {
            noun: <VpcCloud as CloudSteps>::NOUN,
            name: "n".into(),
            place: String::new(),
            ids: "v-1".into(),
        });
        assert_eq!(conflict.class(), ErrorClass::Stalled { recheck: false });
        assert!(conflict.to_string().contains("spec.adoptId"));
        let in_use = Error::InUse {
            id: "v".into(),
            blocker: "subnet s".into(),
            source: ProviderError::InUse {
                detail: crate::provider::ErrorDetail::local("op", "m"),
            },
        };
        assert_eq!(in_use.class(), ErrorClass::Waiting);
        assert_eq!(in_use.stalled_reason(), Some(reason::DELETION_BLOCKED));
        let throttled = Error::Observe {
            id: "v".into(),
            source: ProviderError::Throttled {
                retry_after: Some(std::time::Duration::from_secs(2)),
                detail: crate::provider::ErrorDetail::local("op", "m"),
            },
        };
        assert_eq!(
            throttled.class(),
            ErrorClass::Throttled(Some(std::time::Duration::from_secs(2)))
        );
        assert_eq!(throttled.category(), "Throttled");
    }

    #[test]
    fn iec_requires_a_site_per_subnet_and_refuses_the_veen_section() {
        let mut v = vpc(None);
        v.spec.iec = Some(crate::api::vpc::IecVpcSpec {
            mode: crate::api::vpc::IecVpcMode::Customer,
        });
        assert!(crate::provider::iec::vpc_problems(&desired(&v)).is_empty());
        v.spec.subnets[0].site_id = None;
        v.spec.iec = None;
        v.spec.veen = Some(crate::api::vpc::VeenVpcSpec {
            cluster_name: "c".into(),
        });
        let fields: Vec<String> = crate::provider::iec::vpc_problems(&desired(&v))
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            ["spec.veen", "spec.subnets"],
            "SYSTEM mode: the subnets are the cloud's"
        );
        v.spec.veen = None;
        v.spec.iec = Some(crate::api::vpc::IecVpcSpec {
            mode: crate::api::vpc::IecVpcMode::Customer,
        });
        v.spec.cidr = "10.0.0.0/26".into();
        let fields: Vec<String> = crate::provider::iec::vpc_problems(&desired(&v))
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["spec.cidr", "spec.subnets[0].siteId"]);
    }

    #[test]
    fn the_recovery_token_is_the_owner_uid_where_the_cloud_has_tags_else_the_name() {
        let mut v = vpc(None);
        v.metadata.uid = Some("uid-1".into());
        let want = desired(&v);
        assert_eq!(token(&v, &want, &crate::provider::iec::capabilities()), "net");
        assert_eq!(token(&v, &want, &crate::provider::veen::capabilities()), "uid-1");
    }
}
