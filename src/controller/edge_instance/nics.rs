//! NICs of an instance: each spec subnet entry is one NIC; observed NICs are attributed to subnets by
//! address, planned (add / remove, never the primary or an unattributable one) and changed one step
//! per pass.

use tracing::info;

use super::error::Error;
use super::model::Network;
use crate::api::edge_instance::EdgeInstance;
use crate::controller::events::EventType;
use crate::controller::runtime::Context;
use crate::provider::{AddNics, InstanceApi, ObservedInstance, Provider};

/// Whether `ip` lies in `cidr` (IPv4 `a.b.c.d/n`; anything unparsable is "no").
pub fn ipv4_in_cidr(ip: &str, cidr: &str) -> bool {
    let Some((net, len)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(net), Ok(len)) = (
        ip.parse::<std::net::Ipv4Addr>(),
        net.parse::<std::net::Ipv4Addr>(),
        len.parse::<u32>(),
    ) else {
        return false;
    };
    if len > 32 {
        return false;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// NIC changes towards the spec's subnet list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NicPlan {
    /// Subnets that need more NICs, with how many (in spec order).
    pub add: Vec<(String, u32)>,
    /// NICs (port ids) to remove.
    pub remove: Vec<String>,
}

impl NicPlan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// Plans NIC additions/removals: each spec subnet entry is one NIC. `observed` lists the instance's NICs
/// in order as (port id, subnet id when known). The first NIC (primary) is never removed, and a NIC whose
/// subnet is unknown is left alone (never remove what cannot be attributed).
pub fn plan_nics(desired: &[String], observed: &[(String, Option<String>)]) -> NicPlan {
    let mut want: Vec<(String, u32)> = Vec::new();
    for s in desired {
        match want.iter_mut().find(|(x, _)| x == s) {
            Some((_, n)) => *n += 1,
            None => want.push((s.clone(), 1)),
        }
    }
    let mut plan = NicPlan::default();
    for (i, (port, subnet)) in observed.iter().enumerate() {
        let Some(subnet) = subnet else { continue };
        match want.iter_mut().find(|(x, n)| x == subnet && *n > 0) {
            Some((_, n)) => *n -= 1,
            None if i > 0 => plan.remove.push(port.clone()),
            None => {}
        }
    }
    plan.add = want.into_iter().filter(|(_, n)| *n > 0).collect();
    plan
}

/// The NIC changes the spec asks for (only when it lists several subnets or the instance has several
/// NICs; a single primary NIC never changes). Observed NICs are attributed to subnets by address.
pub(super) async fn nic_plan(
    provider: &dyn Provider,
    net: &Network,
    observed: &ObservedInstance,
) -> Result<NicPlan, Error> {
    if net.subnet_ids.is_empty() || (net.subnet_ids.len() <= 1 && observed.nics.len() <= 1) {
        return Ok(NicPlan::default());
    }
    let vpcs = provider.vpcs().map_err(Error::Unsupported)?;
    let subnets = vpcs
        .list_subnets(&net.vpc_id)
        .await
        .map_err(|source| Error::Catalog {
            what: "subnets",
            source,
        })?;
    let attributed: Vec<(String, Option<String>)> = observed
        .nics
        .iter()
        .map(|nic| {
            let subnet = nic.private_ips.first().and_then(|ip| {
                subnets
                    .iter()
                    .find(|s| ipv4_in_cidr(ip, &s.cidr))
                    .map(|s| s.id.clone())
            });
            (nic.id.clone(), subnet)
        })
        .collect();
    Ok(plan_nics(&net.subnet_ids, &attributed))
}

pub(super) fn describe_nics(plan: &NicPlan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .add
        .iter()
        .map(|(s, n)| format!("add {n} NIC(s) in subnet {s}"))
        .collect();
    if !plan.remove.is_empty() {
        out.push(format!("remove NIC(s) {}", plan.remove.join(", ")));
    }
    out
}

/// Executes one NIC step (adds before removals, so a moved NIC never leaves the instance short).
pub(super) async fn execute_nics(
    ei: &EdgeInstance,
    ctx: &Context,
    api: &dyn InstanceApi,
    net: &Network,
    observed: &ObservedInstance,
    plan: &NicPlan,
) -> Result<String, Error> {
    let id = observed.id.clone();
    let what = if let Some((subnet, count)) = plan.add.first() {
        let groups = if net.security_group_ids.is_empty() {
            // The instance's groups, as far as the cloud can take them back (ids, not names).
            api.security_group_ids(observed)
        } else {
            net.security_group_ids.clone()
        };
        let request = AddNics {
            vpc_id: net.vpc_id.clone(),
            subnet_id: Some(subnet.clone()),
            security_group_ids: groups,
            count: *count,
        };
        let what = format!("add {count} NIC(s) in subnet {subnet}");
        api.add_nics(&id, &request)
            .await
            .map_err(|source| Error::Operate {
                action: format!("{what} to"),
                id: id.clone(),
                source,
            })?;
        what
    } else {
        let what = format!("remove NIC(s) {}", plan.remove.join(", "));
        api.remove_nics(&id, &plan.remove)
            .await
            .map_err(|source| Error::Operate {
                action: format!("{what} from"),
                id: id.clone(),
                source,
            })?;
        what
    };
    info!(instance_id = %id, action = %what, "changed cloud instance NICs");
    ctx.publish(
        ei,
        EventType::Normal,
        "Updated",
        "Update",
        format!("cloud instance {id}: {what}"),
    )
    .await;
    Ok(what)
}
