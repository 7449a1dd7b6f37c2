//! Creating the cloud instance (crash-safety steps 1 and 2): the catalog check before anything is
//! created, the create spec (Secrets read at the last moment), the intent recorded with the finalizer
//! in one patch, the create call, and the id made durable. Also the small status-writer steps the
//! identity protocol shares (record the id, add the finalizer, persist before a mutation).

use kube::ResourceExt;
use kube::api::Api;
use tracing::{debug, info};

use super::error::Error;
use super::model::{
    Network, cloud_name, desired_power, is_deleted, params_hash, reboot_request, with_prefix,
};
use super::references::{read_secret, read_user_data};
use crate::api::common::PendingOperation;
use crate::api::condition::reason;
use crate::api::edge_instance::{EdgeInstance, EdgeInstanceStatus};
use crate::controller::intent::{self, CreateIntent};
use crate::controller::runtime::{Context, Outcome, StatusWriter, now};
use crate::provider::{
    BandwidthSpec, CreateIdentity, ImageFilter, InstanceApi, InstanceSpec, ObservedInstance, Provider, Site,
    SiteFilter, SiteStatus, VolumeSpec,
};

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

/// The line to create the instance's public IP in: `poolId` when given, otherwise the site's first line
/// of `operator` when given (so the operator is honoured), otherwise the cloud's default (`None`).
pub fn line_for(site: &Site, pool_id: Option<&str>, operator: Option<&str>) -> Option<String> {
    match (pool_id, operator) {
        (Some(p), _) => Some(p.to_owned()),
        (None, Some(op)) => site
            .pools
            .iter()
            .find(|p| p.operator.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op)))
            .map(|p| p.id.clone()),
        (None, None) => None,
    }
}

/// Checks site, line, operator, flavor and image against the cloud's catalog (before anything is
/// created), naming the field that the catalog does not offer; returns the line to use.
pub(super) async fn validate_catalog(
    ei: &EdgeInstance,
    provider: &dyn Provider,
    site_id: &str,
) -> Result<Option<String>, Error> {
    let catalog = provider.catalog().map_err(Error::Unsupported)?;
    let placement = &ei.spec.placement;
    let sites = catalog
        .sites(&SiteFilter {
            id: Some(site_id.to_owned()),
            ..SiteFilter::default()
        })
        .await
        .map_err(|source| Error::Catalog {
            what: "sites",
            source,
        })?;
    let site = sites
        .into_iter()
        .find(|s| s.id == site_id)
        .ok_or_else(|| Error::NotInCatalog {
            field: "spec.placement.siteId",
            message: format!("the cloud has no site {site_id:?}"),
        })?;
    if matches!(site.status, SiteStatus::Offline | SiteStatus::SoldOut) {
        return Err(Error::NotInCatalog {
            field: "spec.placement.siteId",
            message: format!(
                "site {site_id} ({}) is {:?} and takes no new instances",
                site.name, site.status
            ),
        });
    }
    if let Some(pool) = &placement.pool_id
        && !site.pool_ids.contains(pool)
    {
        return Err(Error::NotInCatalog {
            field: "spec.placement.poolId",
            message: format!(
                "site {site_id} has no line {pool:?} (it offers {})",
                site.pool_ids.join(", ")
            ),
        });
    }
    if let Some(op) = &placement.operator
        && !site.operators.is_empty()
        && !site.operators.iter().any(|o| o.eq_ignore_ascii_case(op))
    {
        return Err(Error::NotInCatalog {
            field: "spec.placement.operator",
            message: format!(
                "site {site_id} has no operator {op:?} (it offers {})",
                site.operators.join(", ")
            ),
        });
    }
    let flavors = catalog
        .flavors(&[site_id.to_owned()])
        .await
        .map_err(|source| Error::Catalog {
            what: "flavors",
            source,
        })?;
    if !flavors.iter().any(|f| f.id == ei.spec.flavor) {
        return Err(Error::NotInCatalog {
            field: "spec.flavor",
            message: format!("flavor {:?} is not offered at site {site_id}", ei.spec.flavor),
        });
    }
    validate_image(provider, &ei.spec.image).await?;
    Ok(line_for(
        &site,
        placement.pool_id.as_deref(),
        placement.operator.as_deref(),
    ))
}

pub(super) async fn validate_image(provider: &dyn Provider, image: &str) -> Result<(), Error> {
    let catalog = provider.catalog().map_err(Error::Unsupported)?;
    let images = catalog
        .images(&ImageFilter {
            id: Some(image.to_owned()),
            ..ImageFilter::default()
        })
        .await
        .map_err(|source| Error::Catalog {
            what: "images",
            source,
        })?;
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

/// The subnets of the create: the spec's, or the VPC's subnet at the site.
pub(super) async fn create_subnets(
    provider: &dyn Provider,
    net: &Network,
    site: &str,
) -> Result<Vec<String>, Error> {
    if !net.subnet_ids.is_empty() {
        return Ok(net.subnet_ids.clone());
    }
    let vpcs = provider.vpcs().map_err(Error::Unsupported)?;
    let subnets = vpcs
        .list_subnets(&net.vpc_id)
        .await
        .map_err(|source| Error::Catalog {
            what: "subnets",
            source,
        })?;
    subnets
        .into_iter()
        .find(|s| s.site_id.as_deref() == Some(site))
        .map(|s| vec![s.id])
        .ok_or_else(|| Error::InvalidSpec {
            field: "spec.network.subnets",
            message: format!(
                "VPC {} has no subnet at site {site}; IEC creates single instances only in existing subnets (give a CUSTOMER Vpc a subnet at the site, or list subnet ids)",
                net.vpc_id
            ),
        })
}

/// The full create spec (secrets read here, at the last moment).
pub(super) async fn create_spec(
    ei: &EdgeInstance,
    ctx: &Context,
    net: &Network,
    site: &str,
    subnet_ids: Vec<String>,
) -> Result<InstanceSpec, Error> {
    let s = &ei.spec;
    let admin_password = match &s.admin_password_secret_ref {
        Some(r) => Some(read_secret(ei, ctx, "spec.adminPasswordSecretRef", r).await?),
        None => None,
    };
    let user_data = read_user_data(ei, ctx).await?;
    let volume = |size: i32, t: &str| VolumeSpec {
        size_gb: u32::try_from(size).unwrap_or_default(),
        volume_type: t.to_owned(),
    };
    Ok(InstanceSpec {
        name: cloud_name(ei),
        description: s.description.clone().unwrap_or_default(),
        flavor: s.flavor.clone(),
        image: s.image.clone(),
        site: site.to_owned(),
        pool_id: s.placement.pool_id.clone(),
        vpc_id: net.vpc_id.clone(),
        subnet_ids,
        security_group_ids: net.security_group_ids.clone(),
        root_volume: volume(s.root_volume.size, &s.root_volume.type_),
        data_volumes: s.data_volumes.iter().map(|d| volume(d.size, &d.type_)).collect(),
        key_name: s.key_name.clone(),
        admin_password,
        user_data,
        bandwidth: s.bandwidth.as_ref().map(|b| BandwidthSpec {
            size_mbit: b.size.and_then(|x| u32::try_from(x).ok()),
            share_type: "WHOLE".to_owned(),
        }),
        power: desired_power(ei),
        with_prefix: with_prefix(ei),
    })
}

/// Validates, records the intent, creates, records the id.
pub(super) async fn create(
    ei: &EdgeInstance,
    ctx: &Context,
    provider: &dyn Provider,
    api: &dyn InstanceApi,
    net: &Network,
    site: &str,
    w: &mut Writer,
) -> Result<Identity, Error> {
    let line = validate_catalog(ei, provider, site).await?;
    let subnets = create_subnets(provider, net, site).await?;
    let mut spec = create_spec(ei, ctx, net, site, subnets).await?;
    spec.pool_id = line;
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
    let identity = CreateIdentity {
        name: name.clone(),
        ..CreateIdentity::default()
    };
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
        format!("created cloud instance {id} ({name}) at site {site}"),
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
