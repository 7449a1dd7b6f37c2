//! The ProviderConfig controller: builds (and rebuilds, when the ProviderConfig or its Secret changes) the
//! account's provider client, probes the credentials with a cheap authenticated call and reports
//! `CredentialsValid`, counts the objects that use the account (`status.usedBy`), and keeps its finalizer
//! while any object still uses it (the condition lists them by kind and name).
//!
//! Secrets are watched and mapped to the ProviderConfigs naming them, so a rotated or fixed Secret takes
//! effect without a restart. Users are counted from the controllers' caches (`runtime::UserIndex`; the
//! API server is listed only until they are complete, and for a deletion, which must not release the
//! account on a cache's word), and an object that appears or goes triggers a recount at once (debounced by
//! [`USERS_DEBOUNCE`], so a burst of creates costs one recount and one status write at its end). Credential values never reach logs, events or status: only key names do.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::runtime::controller::{Action, Config as RuntimeConfig};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::Deserialize;
use tracing::{debug, info};

pub use super::runtime::Users;
use super::runtime::{
    Context, ErrorClass, PassError, ReconcileError, error_policy, instrumented, run_finalizer,
};
use super::runtime::{Outcome, StatusWriter, Touched, USER_KINDS, stable_message};
use super::runtime::{
    SettingsError, forget_probe, intervals_for, probe_is_fresh, read_secret, record_probe, settings_from,
};
use crate::api::condition::{CREDENTIALS_VALID, Condition, ConditionStatus, reason, set_condition};
use crate::api::provider_config::{ProviderConfig, ProviderConfigStatus};
use crate::provider::ProviderError;

/// Errors of the ProviderConfig controller, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Secret is missing or lacks a key.
    #[error("failed to read the credentials of ProviderConfig {name:?}")]
    Settings {
        /// ProviderConfig name.
        name: String,
        /// Why.
        #[source]
        source: SettingsError,
    },
    /// The client could not be built from the settings.
    #[error("failed to build the client of ProviderConfig {name:?}")]
    Build {
        /// ProviderConfig name.
        name: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The cloud refused the credentials.
    #[error("the cloud rejected the credentials of ProviderConfig {name:?}")]
    Rejected {
        /// ProviderConfig name.
        name: String,
        /// What the cloud said.
        #[source]
        source: ProviderError,
    },
    /// The probe failed for another reason (cloud unreachable, throttled, 5xx).
    #[error("failed to probe the credentials of ProviderConfig {name:?}")]
    Probe {
        /// ProviderConfig name.
        name: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Reading the Secret or listing the objects that use the account failed.
    #[error("failed to read the Kubernetes API")]
    Kube(#[source] kube::Error),
    /// Deletion waits until no object uses the account.
    #[error(
        "ProviderConfig {name:?} is still used by {users}; delete them first (their cloud objects need this account to be deleted)"
    )]
    InUse {
        /// ProviderConfig name.
        name: String,
        /// The users, by kind and namespace/name.
        users: String,
    },
    /// Writing status failed.
    #[error("failed to patch the status")]
    PatchStatus(#[source] kube::Error),
}

impl ReconcileError for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::Settings { source, .. } => source.reason(),
            Self::Build { source, .. } | Self::Probe { source, .. } => source.category(),
            Self::Rejected { .. } => "Unauthorized",
            Self::Kube(_) => "KubeApi",
            Self::InUse { .. } => "InUse",
            Self::PatchStatus(_) => "PatchStatus",
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Settings { .. } | Self::Build { .. } => ErrorClass::Stalled { recheck: false },
            Self::Rejected { .. } => ErrorClass::Stalled { recheck: true },
            Self::Probe { source, .. } => match source {
                ProviderError::Throttled { retry_after, .. } => ErrorClass::Throttled(*retry_after),
                _ => ErrorClass::Transient,
            },
            Self::Kube(_) | Self::PatchStatus(_) => ErrorClass::Transient,
            Self::InUse { .. } => ErrorClass::Waiting,
        }
    }

    fn stalled_reason(&self) -> Option<&'static str> {
        match self {
            Self::Settings { source, .. } => Some(source.reason()),
            Self::Build { .. } => Some(reason::INVALID_SPEC),
            Self::Rejected { .. } => Some(reason::UNAUTHORIZED),
            Self::InUse { .. } => Some(reason::DELETION_BLOCKED),
            Self::Probe { .. } | Self::Kube(_) | Self::PatchStatus(_) => None,
        }
    }
}

/// Objects per page when counting users: bounds the memory of a count to one page, whatever the fleet.
const USERS_PAGE: u32 = 500;

/// The only fields of a user object that counting reads (the rest of each object is skipped by the
/// parser, never materialised).
#[derive(Debug, Deserialize)]
struct UserPage {
    #[serde(default)]
    items: Vec<UserItem>,
    #[serde(default)]
    metadata: ListMeta,
}

#[derive(Debug, Deserialize)]
struct UserItem {
    #[serde(default)]
    metadata: UserMeta,
    #[serde(default)]
    spec: Option<UserSpec>,
}

#[derive(Debug, Default, Deserialize)]
struct UserMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserSpec {
    #[serde(default)]
    provider_config_ref: Option<NameRef>,
}

#[derive(Debug, Deserialize)]
struct NameRef {
    #[serde(default)]
    name: String,
}

/// Lists every object (of every cloud-backed kind, in the controller's namespace scope) whose
/// `spec.providerConfigRef.name` is `name`, terminating ones included (they still need the account).
/// Kinds whose CRD is not installed count as none. Pages of [`USERS_PAGE`], parsed into
/// [`UserItem`]s only: counting 10,000 instances must not hold 10,000 parsed objects at once
/// (docs/benchmarks.md).
pub async fn users_of(client: &Client, namespace: Option<&str>, name: &str) -> Result<Users, kube::Error> {
    users_of_paged(client, namespace, name, USERS_PAGE).await
}

/// [`users_of`] with pages of `page` objects.
pub async fn users_of_paged(
    client: &Client,
    namespace: Option<&str>,
    name: &str,
    page: u32,
) -> Result<Users, kube::Error> {
    let mut users = Users::default();
    for (kind, plural) in USER_KINDS {
        let gvk = GroupVersionKind::gvk(crate::api::GROUP, crate::api::VERSION, kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
        let url = DynamicObject::url_path(&resource, namespace);
        let mut count = 0;
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(page.max(1));
            if let Some(t) = token.take() {
                params = params.continue_token(&t);
            }
            let request = kube::core::Request::new(&url)
                .list(&params)
                .map_err(kube::Error::BuildRequest)?;
            let page: UserPage = match client.request(request).await {
                Ok(page) => page,
                Err(kube::Error::Api(status)) if status.code == 404 => break,
                Err(e) => return Err(e),
            };
            for item in page.items {
                let uses = item
                    .spec
                    .and_then(|s| s.provider_config_ref)
                    .is_some_and(|r| r.name == name);
                if uses {
                    count += 1;
                    users.objects.push(format!(
                        "{kind} {}/{}",
                        item.metadata.namespace, item.metadata.name
                    ));
                }
            }
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        users.add(kind, count);
    }
    users.objects.sort();
    Ok(users)
}

fn credentials_condition(
    status: &mut ProviderConfigStatus,
    generation: Option<i64>,
    s: ConditionStatus,
    r: &str,
    m: String,
) {
    set_condition(
        &mut status.conditions,
        Condition::new(CREDENTIALS_VALID, s, r, m, generation),
        &super::runtime::now(),
    );
}

async fn apply_steps(
    pc: &ProviderConfig,
    ctx: &Context,
    status: &mut ProviderConfigStatus,
) -> Result<Outcome, Error> {
    let name = pc.name_any();
    let generation = pc.metadata.generation;
    let users = match ctx.users.count(&ctx.caches, &name) {
        Some(users) => users,
        None => users_of(&ctx.client, ctx.config.namespace.as_deref(), &name)
            .await
            .map_err(Error::Kube)?,
    };
    status.used_by = Some(users.usage.clone());
    status.project_id = pc.spec.project_id.clone();

    let secret = read_secret(ctx, pc).await.map_err(Error::Kube)?;
    let settings = match settings_from(pc, secret.as_ref()) {
        Ok(s) => s,
        Err(source) => {
            forget_probe(ctx, &name);
            credentials_condition(
                status,
                generation,
                ConditionStatus::False,
                source.reason(),
                source.to_string(),
            );
            return Err(Error::Settings { name, source });
        }
    };
    let provider = match ctx.providers.get_or_build(&settings) {
        Ok(p) => p,
        Err(source) => {
            credentials_condition(
                status,
                generation,
                ConditionStatus::False,
                reason::INVALID_SPEC,
                stable_message(&source.to_string()),
            );
            return Err(Error::Build { name, source });
        }
    };
    let poll = intervals_for(ctx, pc).poll;
    if !probe_is_fresh(ctx, &settings, poll) {
        match provider.probe().await {
            Ok(()) => record_probe(ctx, &settings),
            Err(source @ ProviderError::Unauthorized { .. }) => {
                forget_probe(ctx, &name);
                credentials_condition(
                    status,
                    generation,
                    ConditionStatus::False,
                    reason::CREDENTIALS_REJECTED,
                    format!(
                        "the cloud rejected the {} credentials from Secret {}/{}; fix the Secret: {}",
                        settings.credentials.kind(),
                        pc.spec.credentials.secret_ref.namespace,
                        pc.spec.credentials.secret_ref.name,
                        stable_message(&source.to_string())
                    ),
                );
                return Err(Error::Rejected { name, source });
            }
            Err(source) => {
                credentials_condition(
                    status,
                    generation,
                    ConditionStatus::Unknown,
                    reason::CLOUD_UNREACHABLE,
                    stable_message(&source.to_string()),
                );
                return Err(Error::Probe { name, source });
            }
        }
    }
    credentials_condition(
        status,
        generation,
        ConditionStatus::True,
        reason::CREDENTIALS_ACCEPTED,
        format!(
            "the cloud accepted the {} credentials",
            settings.credentials.kind()
        ),
    );
    Ok(Outcome::available(format!(
        "used by {} object(s)",
        users.usage.total
    )))
}

async fn apply(pc: Arc<ProviderConfig>, ctx: &Context) -> Result<Action, Error> {
    let api: Api<ProviderConfig> = Api::all(ctx.client.clone());
    let mut writer = StatusWriter::new(api, pc.clone(), pc.status.as_ref());
    match apply_steps(&pc, ctx, &mut writer.status).await {
        Ok(outcome) => writer
            .finish(ctx, outcome, intervals_for(ctx, &pc))
            .await
            .map_err(Error::PatchStatus),
        Err(e) => Err(writer.finish_error(ctx, e).await),
    }
}

async fn cleanup(pc: Arc<ProviderConfig>, ctx: &Context) -> Result<Action, Error> {
    let name = pc.name_any();
    let api: Api<ProviderConfig> = Api::all(ctx.client.clone());
    let mut writer = StatusWriter::new(api, pc.clone(), pc.status.as_ref());
    let users = match users_of(&ctx.client, ctx.config.namespace.as_deref(), &name).await {
        Ok(u) => u,
        Err(e) => return Err(writer.finish_error(ctx, Error::Kube(e)).await),
    };
    if users.usage.total > 0 {
        writer.status.used_by = Some(users.usage.clone());
        let err = Error::InUse {
            name,
            users: users.describe(),
        };
        return Err(writer.finish_error(ctx, err).await);
    }
    ctx.providers.remove(&name);
    forget_probe(ctx, &name);
    info!(provider_config = %name, "no object uses the account any more; releasing it");
    Ok(Action::await_change())
}

async fn reconcile(pc: Arc<ProviderConfig>, ctx: Arc<Context>) -> Result<Action, PassError<Error>> {
    let api: Api<ProviderConfig> = Api::all(ctx.client.clone());
    let pass = run_finalizer(&api, pc.clone(), |pc| apply(pc, &ctx), |pc| cleanup(pc, &ctx));
    instrumented(pc.as_ref(), &ctx, pass).await
}

/// How long the ProviderConfig controller waits after the last trigger before a pass: a burst of new
/// users (thousands of EdgeInstances applied at once) becomes one recount at its end, not one per object.
pub const USERS_DEBOUNCE: Duration = Duration::from_secs(1);

/// Runs the ProviderConfig controller until `shutdown` resolves. Watches ProviderConfigs (label-selected
/// by the ControllerConfig) and the Secrets they name, and is told by the user kinds' controllers when an
/// object that uses an account appears or goes (`UserIndex`: for `usedBy` and to release a deletion once
/// the last user is gone).
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let api: Api<ProviderConfig> = Api::all(client.clone());
    let controller = ctx.controller(api, ctx.config.watcher_config()).with_config(
        RuntimeConfig::default()
            .concurrency(ctx.config.concurrency)
            .debounce(USERS_DEBOUNCE),
    );
    let store = controller.store();
    let secret_store = store.clone();
    let touched_store = store.clone();
    let touched = ctx.users.subscribe().flat_map(move |t| {
        let refs: Vec<ObjectRef<ProviderConfig>> = match t {
            Touched::One(name) => vec![ObjectRef::new(&name)],
            Touched::All => touched_store
                .state()
                .iter()
                .map(|pc| ObjectRef::from_obj(pc.as_ref()))
                .collect(),
        };
        futures::stream::iter(refs)
    });
    controller
        .reconcile_on(touched)
        .watches(
            Api::<Secret>::all(client.clone()),
            watcher::Config::default(),
            move |secret: Secret| {
                let (ns, name) = (secret.namespace().unwrap_or_default(), secret.name_any());
                secret_store
                    .state()
                    .into_iter()
                    .filter(|pc| {
                        let r = &pc.spec.credentials.secret_ref;
                        r.namespace == ns && r.name == name
                    })
                    .map(|pc| ObjectRef::from_obj(pc.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                debug!(error = %e, "ProviderConfig controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_listed_briefly() {
        let users = Users {
            objects: (0..12).map(|i| format!("Vpc ns/v{i}")).collect(),
            usage: crate::api::provider_config::ProviderConfigUsage {
                total: 12,
                vpcs: 12,
                ..Default::default()
            },
        };
        let text = users.describe();
        assert!(text.starts_with("Vpc ns/v0, Vpc ns/v1"), "{text}");
        assert!(text.ends_with("and 2 more"), "{text}");
    }

    #[test]
    fn rejected_credentials_stall_with_unauthorized_and_are_rechecked() {
        let e = Error::Rejected {
            name: "a".into(),
            source: ProviderError::Unauthorized {
                detail: crate::provider::ErrorDetail::local("probe", "bad"),
            },
        };
        assert_eq!(e.class(), ErrorClass::Stalled { recheck: true });
        assert_eq!(e.stalled_reason(), Some(reason::UNAUTHORIZED));
        let e = Error::InUse {
            name: "a".into(),
            users: "Vpc ns/x".into(),
        };
        assert_eq!(e.class(), ErrorClass::Waiting);
        assert_eq!(e.stalled_reason(), Some(reason::DELETION_BLOCKED));
        assert!(e.to_string().contains("Vpc ns/x"));
    }
}
