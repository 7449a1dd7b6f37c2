//! Creating the cloud instance (the kind's create steps of the lifecycle, `managed`): the provider's
//! catalog check before anything is created (it also completes what its cloud derives, e.g. a line or a
//! subnet), the create request (Secrets read at the last moment), and the call with the create identity
//! (the name always; an idempotency token and an owner tag where the cloud has them). Also the small
//! status-writer steps the pass shares (the reboot baseline of a new id, persist before a mutation).

use kube::ResourceExt;
use kube::api::Api;
use tracing::info;

use super::error::Error;
use super::model::{check_spec, reboot_request};
use super::references::{read_secret, read_user_data};
use crate::api::edge_instance::{EdgeInstance, EdgeInstanceStatus};
use crate::controller::managed::{CreateCall, Created};
use crate::controller::runtime::{Context, StatusWriter};
use crate::provider::{CreateIdentity, ImageFilter, InstanceApi, InstanceSpec, Provider, ProviderResult};

pub(super) fn api_for(ctx: &Context, ei: &EdgeInstance) -> Api<EdgeInstance> {
    Api::namespaced(ctx.client.clone(), &ei.namespace().unwrap_or_default())
}

pub(super) type Writer = StatusWriter<EdgeInstance, EdgeInstanceStatus>;

pub(super) async fn persist(w: &mut Writer) -> Result<(), Error> {
    w.persist().await.map_err(Error::PatchStatus)
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

/// The idempotency token of a create (for clouds with client tokens): the intent's name, the object and
/// the instance it replaces. A create retried under the same intent replays the first call's answer; the
/// recreate of a vanished instance (`replaces` names it) is a new create, not a replay of the create
/// that made the vanished one.
pub(super) fn idempotency_token(token: &str, uid: &str, replaces: Option<&str>) -> String {
    format!("{token}/{uid}/{}", replaces.unwrap_or_default())
}

/// Records the reboot request current when an id is first found (adopt / recover / create), so the
/// request that existed before the instance does not reboot it.
pub(super) fn record_reboot_baseline(ei: &EdgeInstance, status: &mut EdgeInstanceStatus) {
    if status.last_reboot_request.is_none() {
        status.last_reboot_request = reboot_request(ei);
    }
}

/// The create request, checked before its intent is recorded: the provider's placement and flavor
/// check (completing what its cloud derives), the image against the catalog, the Secrets read, and the
/// cloud's rules once more with them (a cloud may not take a password or user data at all).
pub(super) async fn prepare(
    ei: &EdgeInstance,
    ctx: &Context,
    provider: &dyn Provider,
    api: &dyn InstanceApi,
    mut spec: InstanceSpec,
) -> Result<InstanceSpec, Error> {
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
    check_spec(ei, &api.validate(&spec, true))?;
    Ok(spec)
}

/// Sends the create: the id comes back with the answer, or (a prepaid create) a billing order, or
/// neither (the next pass recovers by name).
pub(super) async fn send(
    ei: &EdgeInstance,
    provider: &dyn Provider,
    api: &dyn InstanceApi,
    spec: &InstanceSpec,
    call: CreateCall<'_>,
) -> ProviderResult<Created> {
    let uid = ei.uid().unwrap_or_default();
    let identity = CreateIdentity::for_create(
        &spec.name,
        &idempotency_token(&call.intent.token, &uid, call.replaces),
        &uid,
        provider.capabilities(),
    );
    let op = api.create(spec, 1, &identity).await?;
    if let Some(id) = op.resource_ids.first() {
        return Ok(Created::Id(id.clone()));
    }
    if let Some(order) = op.order_id {
        info!(order_id = %order, name = %spec.name, site = %spec.site, "placed the order of a prepaid cloud instance");
        return Ok(Created::Handle(order));
    }
    Ok(Created::Accepted)
}
