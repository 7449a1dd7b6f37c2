//! The EdgeInstance controller: one cloud instance per object, from creation (crash-safe: intent first,
//! then the call, then the id) through day 2 (rename/description, security groups, power state, reboot
//! requests, image change via change-OS) to deletion (batch delete, waiting while the cloud still
//! builds, confirmed only when the cloud reports the instance `DELETED` or gone).
//!
//! The pipeline of `apply`: resolve the account → check the spec fits the account's cloud (provider
//! sections, a fleet where the capabilities forbid one) → resolve references (Vpc, subnets,
//! SecurityGroups, the fleet's EdgeCloud; waiting until each is Ready or has its id, naming the one it
//! waits for) → identity (status id, `spec.adoptId`,
//! recovery of an interrupted create, or a new create after the provider's checks: its rules for the
//! spec, then placement, flavor and image against its catalog) → observe → plan (`provider::plan::plan_instance`, pure) → execute one
//! step → status. Multi-step changes (stop → change OS → start) unfold over successive passes.
//!
//! Crash safety (design.md) is the one lifecycle of `controller::managed` (observe, adopt, track,
//! recover, create, deletion target); this kind supplies its cloud-facing steps (`identity::InstanceCloud`)
//! and keeps its intent on the object's metadata (`managed::OnMetadata`). The identity of a create is the
//! deterministic cloud name (spec.name or metadata.name) with the object's placement and provider
//! section; the provider finds instances by it (`InstanceApi::find_by_identity`: on a cloud without
//! client tokens or unique names, by name at the site, including the site prefix its cloud may add). A
//! fresh create whose name is already used there stalls with `NameConflict` (edgefleet never adopts by
//! accident), so a later recovery lookup can only find what this object created. The create response
//! carries the server id; the pass reads the instance once and its closing status write carries the id
//! (written earlier if the pass mutates anything else, at once if the instance cannot be read yet); a
//! crash before that is recovered by the intent's name lookup. Identity lookups may be answered from a
//! list of the account no older than `model::lookup_age` (`InstanceApi::find_by_identity_within`:
//! ModelArts, whose list has no name filter, answers a burst of creates from one list); once the recovery
//! grace has passed, only from a list begun after it ended (`model::recovery_age`), so a create is never
//! repeated on an older list's word. The intent is the `edgefleet.io/create-intent` annotation, written
//! with the finalizer in one patch before the call (`super::intent`); the finalizer is added by the pass
//! that first needs it (`run_finalizer_in_pass`), so a create costs one metadata write, the create and
//! the closing status write. A created instance that cannot be read yet keeps the intent in
//! `status.pendingCreate` (with its id as the handle) until it is observed. A prepaid create answered
//! with a billing order records it in `status.orderId` at once and polls it (never ordering twice).
//!
//! Members of an EdgeCloud (label `edgefleet.io/edge-cloud`, or an EdgeCloud owner) are adopted by
//! `spec.adoptId` and managed like any other instance, except that a member whose cloud instance has
//! vanished is never recreated here (the EdgeCloud replaces members), and a FAILED instance only reports
//! `Stalled InstanceFailed` (for members, remediation is the EdgeCloud's).
//!
//! Secrets (admin password, user data) are read only when they are sent (create, change-OS) and never
//! enter status, events, logs or error messages.
//!
//! Modules, each importing only the ones listed before it: `error` (the error type and its tables) →
//! `model` (pure CRD ↔ domain mapping) → `references` (Vpc, SecurityGroups, Secrets) → `nics` → `create`
//! (catalog check, create request, the create call) → `identity` (the lifecycle's cloud steps: observe,
//! lookups, member rules, the order poll) → `day2` (plan steps, image change rules, reboots) → `delete`;
//! this file wires them into a pass and runs the controller.

mod create;
mod day2;
mod delete;
mod error;
mod identity;
mod model;
mod nics;
mod references;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as RuntimeConfig};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tracing::debug;

use self::create::{Writer, api_for, durable_identity};
use self::day2::{check_image_change, execute, handle_reboot};
use self::delete::cleanup;
pub use self::error::{Error, INSTANCE_FAILED, ORDER_FAILED, ORDER_PENDING, ORDER_UNKNOWN};
use self::identity::{InstanceCloud, ensure_identity};
use self::model::is_ready;
pub use self::model::{
    Network, check_cloud_fit, check_spec, cloud_name, describe_action, field_path, identity_spec, is_member,
    observation_age, params_hash, planning_spec, reboot_request, record_observed, security_group_change,
};
pub use self::nics::{NicPlan, ipv4_in_cidr, plan_nics};
use self::nics::{describe_nics, execute_nics, nic_plan};
use self::references::resolve_network;
use super::runtime::{
    Context, PassError, error_policy, instrumented, intent_of_ignoring_own_metadata, provider_config_trigger,
    run_finalizer_in_pass,
};
use super::runtime::{Intervals, Outcome, StatusWriter, resolve_provider};
use crate::api::common::{ManagementPolicy, SecretKeyRef};
use crate::api::condition::reason;
use crate::api::edge_cloud::EdgeCloud;
use crate::api::edge_instance::EdgeInstance;
use crate::api::provider_config::ProviderConfig;
use crate::api::security_group::SecurityGroup;
use crate::api::vpc::Vpc;
use crate::controller::events::EventType;
use crate::controller::managed::Identity;
use crate::provider::plan::{InstanceAction, InstanceContext, plan_instance};
use crate::provider::{Capabilities, FieldChange, InstanceApi, InstanceState, ObservedInstance, Provider};

fn ready_message(o: &ObservedInstance) -> String {
    let mut m = format!("cloud instance {} is {}", o.id, o.raw_status);
    if let Some(site) = &o.placement.site_id {
        m.push_str(&format!(" at site {site}"));
    }
    if !o.private_ips.is_empty() {
        m.push_str(&format!(" ({})", o.private_ips.join(", ")));
    }
    m
}

/// Resolves the account and the references, finds the instance (or creates it), and converges it.
async fn apply_steps(
    ei: &EdgeInstance,
    ctx: &Context,
    w: &mut Writer,
) -> Result<(Outcome, Intervals), Error> {
    let resolved = resolve_provider(ctx, &ei.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: false,
            source,
        })?;
    let provider = resolved.provider.as_ref();
    let intervals = resolved.intervals;
    check_cloud_fit(ei, provider.capabilities())?;
    let net = resolve_network(ei, ctx).await?;
    let cloud = InstanceCloud::new(ei, ctx, provider, &net, intervals, observation_age(ei, intervals))
        .map_err(Error::Unsupported)?;
    let mut observed = match ensure_identity(&cloud, w).await? {
        Identity::Observed(o) => o,
        Identity::Wait(outcome) => return Ok((outcome, intervals)),
    };
    observed.key_name = observed.key_name.take().filter(|k| !k.is_empty());
    record_observed(&mut w.status, &observed);
    let outcome = converge(ei, ctx, provider, &net, &observed, w).await?;
    Ok((outcome, intervals))
}

/// Plans the observed instance against the spec and takes the first step: report drift (ObserveOnly),
/// wait while the cloud works, refuse what cannot change in place, set security groups, change NICs,
/// execute the plan, or act on a reboot request; Available when nothing is left.
async fn converge(
    ei: &EdgeInstance,
    ctx: &Context,
    provider: &dyn Provider,
    net: &Network,
    observed: &ObservedInstance,
    w: &mut Writer,
) -> Result<Outcome, Error> {
    let api = provider.instances().map_err(Error::Unsupported)?;
    let caps: &Capabilities = provider.capabilities();
    let id = observed.id.clone();
    if observed.state == InstanceState::Failed {
        return Err(Error::InstanceFailed {
            id,
            status: observed.raw_status.clone(),
            detail: if is_member(ei) {
                "the cloud can only delete it; its EdgeCloud replaces failed members"
            } else {
                "the cloud can only delete it; delete this EdgeInstance (or recreate it) to get a new one"
            },
        });
    }
    let want = planning_spec(ei, net, observed);
    if ei.spec.name.is_some() {
        // A name the user asks for is sent as a rename: the cloud's rename rules apply.
        check_spec(ei, &api.validate(&want, false))?;
    }
    let shown_name = api
        .shows_name(&observed.name, &want)
        .then(|| observed.name.clone());
    let plan_ctx = InstanceContext {
        observed,
        applied_unobservable_hash: None,
        expected_cloud_name: shown_name.as_deref(),
    };
    let actions = plan_instance(&want, &plan_ctx, caps);
    // Only where the cloud changes groups in place (and shows them): elsewhere they are the create's.
    let sg_change = (caps.instance_fields.security_groups == FieldChange::InPlace)
        .then(|| security_group_change(net, observed))
        .flatten();

    if ei.spec.management_policy == ManagementPolicy::ObserveOnly {
        return observe_only(provider, net, observed, &actions, sg_change.as_deref()).await;
    }
    if let Some(InstanceAction::Wait { state }) = actions.first() {
        return Ok(Outcome::progressing(
            if observed.state == InstanceState::Creating {
                reason::CREATING
            } else {
                reason::UPDATING
            },
            reason::IN_PROGRESS,
            format!("cloud instance {id} is {} ({state})", observed.raw_status),
        ));
    }
    if let Some(InstanceAction::Replace { fields }) = actions
        .iter()
        .find(|a| matches!(a, InstanceAction::Replace { .. }))
    {
        return Err(Error::UnsupportedChange {
            id,
            fields: fields.join(", "),
        });
    }
    check_image_change(ei, caps.instance.reimage_sets_password, &actions)?;
    let mutates = sg_change.is_some() || actions.iter().any(|a| !matches!(a, InstanceAction::Wait { .. }));
    if mutates {
        durable_identity(w).await?;
    }
    if let Some(sgs) = sg_change {
        return set_security_groups(ei, ctx, api, &id, &sgs).await;
    }
    if actions.is_empty() {
        let nics = nic_plan(provider, net, observed).await?;
        if !nics.is_empty() {
            durable_identity(w).await?;
            let what = execute_nics(ei, ctx, api, net, observed, &nics).await?;
            return Ok(Outcome::progressing(
                reason::UPDATING,
                reason::IN_PROGRESS,
                format!("cloud instance {id}: {what}"),
            ));
        }
    }
    let done = execute(ei, ctx, api, provider, observed, actions).await?;
    if !done.is_empty() {
        return Ok(Outcome::progressing(
            reason::UPDATING,
            reason::IN_PROGRESS,
            format!("cloud instance {id}: {}", done.join("; ")),
        ));
    }
    if let Some(outcome) = handle_reboot(ei, ctx, api, observed, w).await? {
        return Ok(outcome);
    }
    Ok(Outcome::available(ready_message(observed)))
}

/// ObserveOnly: Ready with what the plan would change, never a change.
async fn observe_only(
    provider: &dyn Provider,
    net: &Network,
    observed: &ObservedInstance,
    actions: &[InstanceAction],
    sg_change: Option<&[String]>,
) -> Result<Outcome, Error> {
    let mut drift: Vec<String> = actions
        .iter()
        .filter(|a| !matches!(a, InstanceAction::Wait { .. }))
        .map(describe_action)
        .collect();
    if let Some(sgs) = sg_change {
        drift.push(format!("set security groups to {}", sgs.join(", ")));
    }
    if !matches!(observed.state, InstanceState::Creating) {
        drift.extend(describe_nics(&nic_plan(provider, net, observed).await?));
    }
    let message = if drift.is_empty() {
        format!("observing {}; it matches the spec", ready_message(observed))
    } else {
        format!(
            "observing {}; drift (not corrected under ObserveOnly): would {}",
            ready_message(observed),
            drift.join("; ")
        )
    };
    Ok(Outcome::Ready {
        reason: reason::OBSERVED,
        message,
    })
}

/// Sets the instance's security groups to the spec's.
async fn set_security_groups(
    ei: &EdgeInstance,
    ctx: &Context,
    api: &dyn InstanceApi,
    id: &str,
    sgs: &[String],
) -> Result<Outcome, Error> {
    api.set_security_groups(id, sgs)
        .await
        .map_err(|source| Error::Operate {
            action: "set the security groups of".to_owned(),
            id: id.to_owned(),
            source,
        })?;
    ctx.publish(
        ei,
        EventType::Normal,
        "Updated",
        "Update",
        format!("cloud instance {id}: security groups set to {}", sgs.join(", ")),
    )
    .await;
    Ok(Outcome::progressing(
        reason::UPDATING,
        reason::IN_PROGRESS,
        format!("set the security groups of cloud instance {id}"),
    ))
}

async fn apply(ei: Arc<EdgeInstance>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &ei), ei.clone(), ei.status.as_ref());
    match apply_steps(&ei, ctx, &mut w).await {
        Ok((outcome, intervals)) => w
            .finish(ctx, outcome, intervals)
            .await
            .map_err(Error::PatchStatus),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

async fn reconcile(ei: Arc<EdgeInstance>, ctx: Arc<Context>) -> Result<Action, PassError<Error>> {
    let api = api_for(&ctx, &ei);
    let pass = run_finalizer_in_pass(&api, ei.clone(), |o| apply(o, &ctx), |o| cleanup(o, &ctx));
    instrumented(ei.as_ref(), &ctx, pass).await
}

fn provider_config_of(ei: &EdgeInstance) -> &str {
    &ei.spec.provider_config_ref.name
}

/// Runs the EdgeInstance controller until `shutdown` resolves. Besides EdgeInstances it watches
/// ProviderConfigs (objects waiting on an account continue when it is fixed), Vpcs, SecurityGroups and
/// EdgeClouds (an instance waiting for a reference continues as soon as the referenced object changes) and Secrets
/// (an instance that is not Ready continues as soon as a Secret it names appears or changes).
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let controller = ctx
        .user_controller(
            ctx.config.namespaced_api::<EdgeInstance>(&client),
            ctx.config.watcher_config(),
            intent_of_ignoring_own_metadata,
            provider_config_of,
        )
        .with_config(RuntimeConfig::default().concurrency(ctx.config.concurrency));
    let by_vpc = controller.store();
    let vpc_lookups = ctx.lookups.clone();
    let sg_lookups = ctx.lookups.clone();
    let by_sg = controller.store();
    let by_secret = controller.store();
    let by_fleet = controller.store();
    let fleet_lookups = ctx.lookups.clone();
    let trigger = provider_config_trigger(ctx.lookups.clone(), controller.store(), provider_config_of);
    controller
        .watches(
            Api::<ProviderConfig>::all(client.clone()),
            watcher::Config::default(),
            trigger,
        )
        .watches(
            ctx.config.namespaced_api::<Vpc>(&client),
            ctx.config.watcher_config(),
            move |vpc: Vpc| {
                let (ns, name) = (vpc.namespace(), vpc.name_any());
                vpc_lookups.forget::<Vpc>(ns.as_deref().unwrap_or_default(), &name);
                by_vpc
                    .state()
                    .into_iter()
                    .filter(|ei| {
                        ei.namespace() == ns
                            && ei.spec.network.vpc_ref.as_ref().is_some_and(|r| r.name == name)
                    })
                    .map(|ei| ObjectRef::from_obj(ei.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            ctx.config.namespaced_api::<SecurityGroup>(&client),
            ctx.config.watcher_config(),
            move |sg: SecurityGroup| {
                let (ns, name) = (sg.namespace(), sg.name_any());
                sg_lookups.forget::<SecurityGroup>(ns.as_deref().unwrap_or_default(), &name);
                by_sg
                    .state()
                    .into_iter()
                    .filter(|ei| {
                        ei.namespace() == ns
                            && ei.spec.network.security_group_refs.iter().any(|r| r.name == name)
                    })
                    .map(|ei| ObjectRef::from_obj(ei.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            ctx.config.namespaced_api::<EdgeCloud>(&client),
            ctx.config.watcher_config(),
            move |ec: EdgeCloud| {
                let (ns, name) = (ec.namespace(), ec.name_any());
                fleet_lookups.forget::<EdgeCloud>(ns.as_deref().unwrap_or_default(), &name);
                by_fleet
                    .state()
                    .into_iter()
                    .filter(|ei| {
                        ei.namespace() == ns && ei.spec.fleet_ref.as_ref().is_some_and(|r| r.name == name)
                    })
                    .map(|ei| ObjectRef::from_obj(ei.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            ctx.config.namespaced_api::<Secret>(&client),
            watcher::Config::default(),
            move |secret: Secret| {
                let (ns, name) = (secret.namespace(), secret.name_any());
                let names_it = |r: &Option<SecretKeyRef>| r.as_ref().is_some_and(|r| r.name == name);
                // Only objects still waiting: a Ready instance has already used its Secrets.
                by_secret
                    .state()
                    .into_iter()
                    .filter(|ei| {
                        ei.namespace() == ns
                            && (names_it(&ei.spec.admin_password_secret_ref)
                                || names_it(&ei.spec.user_data_secret_ref))
                            && !ei.status.as_ref().is_some_and(|s| is_ready(&s.conditions))
                    })
                    .map(|ei| ObjectRef::from_obj(ei.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                debug!(error = %e, kind = EdgeInstance::kind(&()).as_ref(), "controller event");
            }
        })
        .await;
}
