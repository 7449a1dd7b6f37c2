//! App servers as instances: how one is shown ([`server_from`]: `vm_status` and the registration
//! `status` → [`InstanceState`], placement = its availability zone, addresses, flavor = product id) and
//! the [`InstanceApi`] of fleet members: read one, list (all pages; a group's or the account's), the
//! drift poll answered from one list of the account's servers ([`Snapshots`](crate::provider::batch)),
//! rename, power (batch start/stop/reboot), delete (batch-delete jobs, ≤ 20 per call). Servers are
//! created only by their fleet (a create job into a server group), never one by one here.
//!
//! Readiness: a server runs (`Running`) once its VM is `ACTIVE` and its access agent has registered
//! (`status` `REGISTERED`); `ACTIVE` but `UNREGISTER` still counts as `Creating`.

use async_trait::async_trait;
use serde_json::json;

use super::WorkspaceProvider;
use super::client::MAX_BATCH_DELETE;
use super::types::AppServer;
use crate::provider::batch::{ListedInstances, Snapshots};
use crate::provider::metrics::ObservationSource;
use crate::provider::{
    CreateIdentity, InstanceApi, InstanceField, InstanceFieldError, InstanceFilter, InstanceSpec,
    InstanceState, InstanceUpdate, ObservedInstance, ObservedNic, Operation, Placement, PowerAction,
    ProviderError, ProviderResult,
};

/// The domain state of a server's `vm_status` and registration `status`.
pub fn state_of(vm_status: &str, registration: Option<&str>) -> InstanceState {
    match vm_status.to_ascii_uppercase().as_str() {
        "BUILD" | "BUILD_IMAGE" => InstanceState::Creating,
        "ACTIVE" => match registration.map(str::to_ascii_uppercase).as_deref() {
            Some("UNREGISTER") => InstanceState::Creating,
            _ => InstanceState::Running,
        },
        "SHUTOFF" => InstanceState::Stopped,
        "BUILD_FAIL" | "ERROR" | "REBUILD_FAIL" => InstanceState::Failed,
        "REBOOT" | "HARD_REBOOT" | "MIGRATING" | "RESIZE" | "REVERT_RESIZE" | "VERIFY_RESIZE" => {
            InstanceState::Transitioning
        }
        "REBUILD" | "BUILD_SNAPSHOT" | "RESTORE_SNAPSHOT" => InstanceState::Rebuilding,
        "DELETING" => InstanceState::Deleting,
        "DELETED" | "SOFT_DELETED" => InstanceState::Deleted,
        other => InstanceState::Other(other.to_owned()),
    }
}

/// An app server as an [`ObservedInstance`].
pub fn server_from(s: AppServer) -> ObservedInstance {
    let vm = s.vm_status.clone().unwrap_or_default();
    let state = state_of(&vm, s.status.as_deref());
    let raw_status = match s.status.as_deref() {
        Some(r) if !r.is_empty() => format!("{vm}/{r}"),
        _ => vm,
    };
    let fixed =
        |a: &&super::types::Address| a.kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case("fixed"));
    let private_ips = s
        .host_address
        .iter()
        .filter(fixed)
        .filter_map(|a| a.addr.clone())
        .collect();
    let public_ips = s
        .host_address
        .iter()
        .filter(|a| {
            a.kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("floating"))
        })
        .filter_map(|a| a.addr.clone())
        .collect();
    let nics = s
        .host_address
        .iter()
        .filter(fixed)
        .filter_map(|a| {
            Some(ObservedNic {
                id: a.port_id.clone()?,
                private_ips: a.addr.clone().into_iter().collect(),
                mac: a.mac.clone(),
            })
        })
        .collect();
    let vpc_id = s
        .host_address
        .iter()
        .find_map(|a| a.vpc_id.clone())
        .or_else(|| s.metadata.as_ref().and_then(|m| m.get("vpc_id").cloned()));
    let flavor = s
        .product_info
        .as_ref()
        .and_then(|p| p.product_id.clone())
        .filter(|p| !p.is_empty());
    ObservedInstance {
        id: s.id,
        name: s.name,
        description: s.description.unwrap_or_default(),
        state,
        raw_status,
        flavor,
        image: s.image_id.filter(|i| !i.is_empty()),
        placement: Placement {
            site_id: s.availability_zone.clone(),
            zone: s.availability_zone,
            ..Placement::default()
        },
        fleet_id: s.server_group_id,
        private_ips,
        public_ips,
        nics,
        security_groups: Vec::new(),
        vpc_id,
        key_name: None,
        created: s.create_time,
        tags: s.tags.into_iter().map(|t| (t.key, t.value)).collect(),
    }
}

impl WorkspaceProvider {
    /// Every server (of `group`, or of the account), observed.
    pub(super) async fn servers(&self, group: Option<&str>) -> ProviderResult<Vec<ObservedInstance>> {
        Ok(self
            .client
            .list_servers(group)
            .await?
            .into_iter()
            .map(server_from)
            .collect())
    }

    /// Batch-deletes `ids` (≤ 20 per call): the delete jobs.
    pub(super) async fn delete_servers(&self, ids: &[String]) -> ProviderResult<Operation> {
        let mut op = Operation::default();
        for chunk in ids.chunks(MAX_BATCH_DELETE) {
            let answer = self.client.batch_delete(chunk).await;
            self.servers.touch(chunk.iter().map(String::as_str));
            // 409 here means a server of the batch has a job in flight: busy, not "in use".
            let answer = answer.map_err(|e| match e {
                ProviderError::InUse { detail } => ProviderError::Conflict { detail },
                other => other,
            })?;
            op.job_ids.extend(answer.job_id);
        }
        Ok(op)
    }
}

#[async_trait]
impl InstanceApi for WorkspaceProvider {
    async fn create(
        &self,
        _spec: &InstanceSpec,
        _count: u32,
        _identity: &CreateIdentity,
    ) -> ProviderResult<Operation> {
        Err(ProviderError::unsupported(
            "workspace.instance.create",
            "Workspace app servers are created by their server group: scale the EdgeCloud instead",
        ))
    }

    fn validate(&self, _spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
        if creating {
            return vec![InstanceFieldError::invalid(
                InstanceField::Fleet,
                "Workspace app servers are created by their server group: scale the EdgeCloud, or adopt a member by id",
            )];
        }
        Vec::new()
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedInstance> {
        self.client.get_server(id).await.map(server_from)
    }

    async fn list(&self, filter: &InstanceFilter) -> ProviderResult<Vec<ObservedInstance>> {
        let all = self.servers(filter.fleet_id.as_deref()).await?;
        Ok(all
            .into_iter()
            .filter(|i| filter.name.as_ref().is_none_or(|n| &i.name == n))
            .filter(|i| {
                filter
                    .site_id
                    .as_ref()
                    .is_none_or(|s| i.placement.site_id.as_ref() == Some(s))
            })
            .filter(|i| filter.ids.is_empty() || filter.ids.contains(&i.id))
            .collect())
    }

    /// One list of the account's servers answers every drift poll.
    fn listed(&self) -> Option<&dyn ListedInstances> {
        Some(self)
    }

    async fn update(&self, id: &str, update: &InstanceUpdate) -> ProviderResult<()> {
        let mut patch = serde_json::Map::new();
        if let Some(n) = &update.name {
            patch.insert("name".into(), json!(n));
        }
        if let Some(d) = &update.description {
            patch.insert("description".into(), json!(d));
        }
        if patch.is_empty() {
            return Ok(());
        }
        let r = self.client.update_server(id, &patch.into()).await;
        self.servers.touch([id]);
        r
    }

    async fn delete(&self, ids: &[String]) -> ProviderResult<Operation> {
        self.delete_servers(ids).await
    }

    async fn power(&self, ids: &[String], action: PowerAction) -> ProviderResult<Operation> {
        let (path, hard) = match action {
            PowerAction::Start => ("batch-start", None),
            PowerAction::Stop { force } => ("batch-stop", Some(force)),
            PowerAction::Reboot { force } => ("batch-reboot", Some(force)),
        };
        let r = self.client.batch_power(path, ids, hard).await;
        self.servers.touch(ids.iter().map(String::as_str));
        Ok(Operation {
            job_ids: r?.job_id.into_iter().collect(),
            ..Operation::default()
        })
    }
}

#[async_trait]
impl ListedInstances for WorkspaceProvider {
    fn snapshots(&self) -> &Snapshots<ObservedInstance> {
        &self.servers
    }

    async fn list_all(&self) -> ProviderResult<Vec<ObservedInstance>> {
        self.servers(None).await
    }

    fn count_observation(&self, source: ObservationSource) {
        self.client.count_observation("instance", source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_server_states_need_the_agent_registered_to_run() {
        assert_eq!(state_of("BUILD", None), InstanceState::Creating);
        assert_eq!(state_of("ACTIVE", Some("UNREGISTER")), InstanceState::Creating);
        assert_eq!(state_of("ACTIVE", Some("REGISTERED")), InstanceState::Running);
        assert_eq!(state_of("SHUTOFF", Some("STOPPED")), InstanceState::Stopped);
        assert_eq!(state_of("BUILD_FAIL", None), InstanceState::Failed);
        assert_eq!(state_of("DELETING", None), InstanceState::Deleting);
        assert_eq!(state_of("FREEZE", None), InstanceState::Other("FREEZE".into()));
    }

    #[test]
    fn a_workspace_server_shows_zone_group_addresses_and_product() {
        let s: AppServer = serde_json::from_value(json!({
            "id": "s1", "name": "ws-0001", "server_group_id": "g1", "vm_status": "ACTIVE",
            "status": "REGISTERED", "availability_zone": "cn-north-4a", "image_id": "img",
            "product_info": {"product_id": "workspace.appstream.general.xlarge.2"},
            "host_address": [{"addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS:port_id": "p1",
                              "vpc_id": "v1"}],
            "create_time": "2026-12-04T05:00:00Z"
        }))
        .unwrap();
        let o = server_from(s);
        assert_eq!(o.state, InstanceState::Running);
        assert_eq!(o.raw_status, "ACTIVE/REGISTERED");
        assert_eq!(o.placement.site_id.as_deref(), Some("cn-north-4a"));
        assert_eq!(o.fleet_id.as_deref(), Some("g1"));
        assert_eq!(o.private_ips, vec!["10.0.0.5".to_owned()]);
        assert_eq!(o.vpc_id.as_deref(), Some("v1"));
        assert_eq!(o.flavor.as_deref(), Some("workspace.appstream.general.xlarge.2"));
        assert_eq!(o.nics.len(), 1);
    }
}
