//! References and Secrets of an EdgeInstance: the Vpc, its subnets and the SecurityGroups resolved to
//! cloud ids (waiting, with the field named, until each is Ready), the fleet (`spec.fleetRef`: an
//! EdgeCloud, waited for until it has a cloud id; or `spec.fleetId`), and Secret values read only when
//! they are sent.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use super::error::Error;
use super::model::{Network, is_ready};
use crate::api::common::SecretKeyRef;
use crate::api::edge_cloud::EdgeCloud;
use crate::api::edge_instance::EdgeInstance;
use crate::api::security_group::SecurityGroup;
use crate::api::vpc::Vpc;
use crate::controller::runtime::Context;
use crate::provider::SecretString;

/// Resolves vpcRef/vpcId, subnets and security groups to cloud ids, waiting for referenced objects to
/// be Ready. A spec without a VPC resolves to an empty VPC id.
pub(super) async fn resolve_network(ei: &EdgeInstance, ctx: &Context) -> Result<Network, Error> {
    let ns = ei.namespace().unwrap_or_default();
    let n = &ei.spec.network;
    let mut net = Network {
        fleet_id: resolve_fleet(ei, ctx, &ns).await?,
        ..Network::default()
    };
    let vpc_obj = match (&n.vpc_ref, &n.vpc_id) {
        (Some(r), _) => {
            let vpc = ctx
                .lookups
                .get::<Vpc>(&ctx.client, &ns, &r.name)
                .await
                .map_err(|source| Error::ReadReference {
                    kind: "Vpc",
                    name: r.name.clone(),
                    source,
                })?
                .ok_or_else(|| Error::WaitingForReference {
                    kind: "Vpc",
                    name: r.name.clone(),
                    field: "spec.network.vpcRef",
                    what: "exist",
                })?;
            let status = vpc.status.clone().unwrap_or_default();
            if !is_ready(&status.conditions) {
                return Err(Error::WaitingForReference {
                    kind: "Vpc",
                    name: r.name.clone(),
                    field: "spec.network.vpcRef",
                    what: "become Ready",
                });
            }
            net.vpc_id = status.vpc_id.clone().ok_or_else(|| Error::WaitingForReference {
                kind: "Vpc",
                name: r.name.clone(),
                field: "spec.network.vpcRef",
                what: "get a cloud id",
            })?;
            Some((r.name.clone(), status))
        }
        (None, Some(id)) => {
            net.vpc_id = id.clone();
            None
        }
        // No network: the provider says whether its cloud needs one (before a create).
        (None, None) => None,
    };
    for (i, s) in n.subnets.iter().enumerate() {
        match (&s.id, &s.name, &vpc_obj) {
            (Some(id), _, _) => net.subnet_ids.push(id.clone()),
            (None, Some(name), Some((vpc_name, status))) => {
                let id = status
                    .subnets
                    .iter()
                    .find(|x| &x.name == name)
                    .and_then(|x| x.id.clone())
                    .ok_or_else(|| Error::InvalidSpec {
                        field: "spec.network.subnets",
                        message: format!(
                            "subnets[{i}].name {name:?}: Vpc {vpc_name:?} has no subnet with that name"
                        ),
                    })?;
                net.subnet_ids.push(id);
            }
            _ => {
                return Err(Error::InvalidSpec {
                    field: "spec.network.subnets",
                    message: format!("subnets[{i}] needs an id (or a name together with vpcRef)"),
                });
            }
        }
    }
    if !n.security_group_refs.is_empty() {
        for r in &n.security_group_refs {
            let sg = ctx
                .lookups
                .get::<SecurityGroup>(&ctx.client, &ns, &r.name)
                .await
                .map_err(|source| Error::ReadReference {
                    kind: "SecurityGroup",
                    name: r.name.clone(),
                    source,
                })?
                .ok_or_else(|| Error::WaitingForReference {
                    kind: "SecurityGroup",
                    name: r.name.clone(),
                    field: "spec.network.securityGroupRefs",
                    what: "exist",
                })?;
            let status = sg.status.clone().unwrap_or_default();
            let id = status
                .security_group_id
                .clone()
                .filter(|_| is_ready(&status.conditions))
                .ok_or_else(|| Error::WaitingForReference {
                    kind: "SecurityGroup",
                    name: r.name.clone(),
                    field: "spec.network.securityGroupRefs",
                    what: "become Ready",
                })?;
            if !net.security_group_ids.contains(&id) {
                net.security_group_ids.push(id);
            }
        }
    }
    for id in &n.security_group_ids {
        if !net.security_group_ids.contains(id) {
            net.security_group_ids.push(id.clone());
        }
    }
    Ok(net)
}

/// The fleet of `spec.fleetRef` (the EdgeCloud's `status.edgeCloudId`, waiting until it exists and
/// has one) or `spec.fleetId`; `None` when the spec names neither.
async fn resolve_fleet(ei: &EdgeInstance, ctx: &Context, ns: &str) -> Result<Option<String>, Error> {
    let Some(r) = &ei.spec.fleet_ref else {
        return Ok(ei.spec.fleet_id.clone());
    };
    let ec = ctx
        .lookups
        .get::<EdgeCloud>(&ctx.client, ns, &r.name)
        .await
        .map_err(|source| Error::ReadReference {
            kind: "EdgeCloud",
            name: r.name.clone(),
            source,
        })?
        .ok_or_else(|| Error::WaitingForReference {
            kind: "EdgeCloud",
            name: r.name.clone(),
            field: "spec.fleetRef",
            what: "exist",
        })?;
    ec.status
        .as_ref()
        .and_then(|s| s.edge_cloud_id.clone())
        .filter(|id| !id.is_empty())
        .map(Some)
        .ok_or_else(|| Error::WaitingForReference {
            kind: "EdgeCloud",
            name: r.name.clone(),
            field: "spec.fleetRef",
            what: "get a cloud id",
        })
}

/// Reads one Secret key as text. The value goes only into the cloud request.
pub(super) async fn read_secret(
    ei: &EdgeInstance,
    ctx: &Context,
    field: &'static str,
    r: &SecretKeyRef,
) -> Result<SecretString, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ei.namespace().unwrap_or_default());
    let secret = api
        .get_opt(&r.name)
        .await
        .map_err(|source| Error::ReadSecret {
            field,
            name: r.name.clone(),
            source,
        })?
        .ok_or_else(|| Error::SecretUnavailable {
            field,
            name: r.name.clone(),
            problem: "does not exist".to_owned(),
        })?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(&r.key))
                .map(|s| s.as_bytes().to_vec())
        })
        .ok_or_else(|| Error::SecretUnavailable {
            field,
            name: r.name.clone(),
            problem: format!("has no key {:?}", r.key),
        })?;
    let text = String::from_utf8(bytes).map_err(|_| Error::SecretUnavailable {
        field,
        name: r.name.clone(),
        problem: format!("key {:?} is not UTF-8 text", r.key),
    })?;
    Ok(SecretString::new(text))
}

/// User data from its Secret, as written (the provider's client encodes it the way its cloud expects).
pub(super) async fn read_user_data(ei: &EdgeInstance, ctx: &Context) -> Result<Option<SecretString>, Error> {
    match &ei.spec.user_data_secret_ref {
        None => Ok(None),
        Some(r) => Ok(Some(read_secret(ei, ctx, "spec.userDataSecretRef", r).await?)),
    }
}
