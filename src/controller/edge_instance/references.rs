//! References and Secrets of an EdgeInstance: the Vpc, its subnets and the SecurityGroups resolved to
//! cloud ids (waiting, with the field named, until each is Ready), the fleet (`spec.fleetRef`: an
//! EdgeCloud, waited for until it has a cloud id; or `spec.fleetId`), and Secret values read only when
//! they are sent — all by the shared rule of [`References`]; subnet names are resolved here.

use kube::ResourceExt;

use super::error::Error;
use super::model::Network;
use crate::api::common::SecretKeyRef;
use crate::api::edge_instance::EdgeInstance;
use crate::controller::runtime::{Context, References};
use crate::provider::SecretString;

/// Resolves vpcRef/vpcId, subnets and security groups to cloud ids, waiting for referenced objects to
/// be Ready (the one rule of [`References`]). A spec without a VPC resolves to an empty VPC id.
pub(super) async fn resolve_network(ei: &EdgeInstance, ctx: &Context) -> Result<Network, Error> {
    let ns = ei.namespace().unwrap_or_default();
    let refs = References::new(ctx, &ns);
    let n = &ei.spec.network;
    let fleet_id = match &ei.spec.fleet_ref {
        Some(r) => Some(refs.edge_cloud_id("spec.fleetRef", r).await?),
        None => ei.spec.fleet_id.clone(),
    };
    let vpc = refs
        .vpc("spec.network.vpcRef", n.vpc_ref.as_ref(), n.vpc_id.as_ref())
        .await?;
    let mut net = Network {
        fleet_id,
        vpc_id: vpc.as_ref().map(|v| v.id.clone()).unwrap_or_default(),
        ..Network::default()
    };
    let referenced = vpc.and_then(|v| v.referenced);
    for (i, s) in n.subnets.iter().enumerate() {
        match (&s.id, &s.name, &referenced) {
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
    net.security_group_ids = refs
        .security_groups(
            "spec.network.securityGroupRefs",
            &n.security_group_refs,
            &n.security_group_ids,
        )
        .await?;
    Ok(net)
}

/// Reads one Secret key as text. The value goes only into the cloud request.
pub(super) async fn read_secret(
    ei: &EdgeInstance,
    ctx: &Context,
    field: &'static str,
    r: &SecretKeyRef,
) -> Result<SecretString, Error> {
    let ns = ei.namespace().unwrap_or_default();
    Ok(References::new(ctx, &ns).secret(field, r).await?)
}

/// User data from its Secret, as written (the provider's client encodes it the way its cloud expects).
pub(super) async fn read_user_data(ei: &EdgeInstance, ctx: &Context) -> Result<Option<SecretString>, Error> {
    let ns = ei.namespace().unwrap_or_default();
    Ok(References::new(ctx, &ns)
        .optional_secret("spec.userDataSecretRef", ei.spec.user_data_secret_ref.as_ref())
        .await?)
}
