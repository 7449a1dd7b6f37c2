//! Day 2 of a running instance: executing the plan's step (rename / description, start, stop, change
//! the image), the rules an image change must meet before the instance is stopped for it, and reboot
//! requests (at most one reboot per annotation value).

use tracing::info;

use super::create::{Writer, persist, validate_image};
use super::error::Error;
use super::model::{describe_action, reboot_request};
use super::references::read_user_data;
use crate::api::condition::reason;
use crate::api::edge_instance::EdgeInstance;
use crate::controller::events::EventType;
use crate::controller::runtime::{Context, Outcome};
use crate::provider::plan::InstanceAction;
use crate::provider::{ChangeOs, InstanceApi, InstanceState, ObservedInstance, PowerAction, Provider};

/// Executes the first actionable step of the plan; returns what it did.
pub(super) async fn execute(
    ei: &EdgeInstance,
    ctx: &Context,
    api: &dyn InstanceApi,
    provider: &dyn Provider,
    observed: &ObservedInstance,
    actions: Vec<InstanceAction>,
) -> Result<Vec<String>, Error> {
    let id = observed.id.clone();
    let ids = std::slice::from_ref(&id);
    let modes = ei.spec.power_modes();
    let mut done = Vec::new();
    for action in actions {
        let what = describe_action(&action);
        let op = |source| Error::Operate {
            action: what.clone(),
            id: id.clone(),
            source,
        };
        match &action {
            InstanceAction::Wait { .. } | InstanceAction::Replace { .. } => continue,
            InstanceAction::Update(u) => {
                api.update(&id, u).await.map_err(op)?;
            }
            InstanceAction::Start => {
                api.power(ids, PowerAction::Start).await.map_err(op)?;
            }
            InstanceAction::Stop { .. } => {
                api.power(
                    ids,
                    PowerAction::Stop {
                        force: modes.hard_stop,
                    },
                )
                .await
                .map_err(op)?;
            }
            InstanceAction::ChangeOs(c) => {
                validate_image(provider, &c.image).await?;
                let request = ChangeOs {
                    image: c.image.clone(),
                    key_name: ei.spec.key_name.clone(),
                    user_data: read_user_data(ei, ctx).await?,
                };
                api.change_os(&id, &request).await.map_err(op)?;
            }
        }
        info!(instance_id = %id, action = %what, "changed cloud instance");
        ctx.publish(
            ei,
            EventType::Normal,
            "Updated",
            "Update",
            format!("cloud instance {id}: {what}"),
        )
        .await;
        done.push(what);
    }
    Ok(done)
}

/// Checks the rules of an image change before the instance is stopped for it: the new OS must be
/// reachable, by a key pair or user data, or by the admin password where the cloud's reimage sets one
/// (`Capabilities::instance.reimage_sets_password`).
#[allow(clippy::result_large_err)] // the controller's one error type; this is not a hot path
pub(super) fn check_image_change(
    ei: &EdgeInstance,
    reimage_sets_password: bool,
    actions: &[InstanceAction],
) -> Result<(), Error> {
    let changes_image = actions.iter().any(|a| {
        matches!(
            a,
            InstanceAction::ChangeOs(_) | InstanceAction::Stop { for_change_os: true }
        )
    });
    let s = &ei.spec;
    let password = reimage_sets_password && s.admin_password_secret_ref.is_some();
    if changes_image && s.key_name.is_none() && s.user_data_secret_ref.is_none() && !password {
        let message = if reimage_sets_password {
            "changing the image reinstalls the system disk: set spec.keyName, spec.userDataSecretRef or spec.adminPasswordSecretRef so the new OS can be logged into"
        } else {
            "changing the image reinstalls the system disk and the cloud cannot set a password when it does: set spec.keyName (or spec.userDataSecretRef) so the new OS can be logged into"
        };
        return Err(Error::InvalidSpec {
            field: "spec.image",
            message: message.to_owned(),
        });
    }
    Ok(())
}

/// Acts on a new reboot request (annotation value ≠ status.lastRebootRequest). The value is recorded
/// before the call (at most one reboot per value, even across restarts) and restored if the cloud
/// refuses, so a failed request is retried.
pub(super) async fn handle_reboot(
    ei: &EdgeInstance,
    ctx: &Context,
    api: &dyn InstanceApi,
    observed: &ObservedInstance,
    w: &mut Writer,
) -> Result<Option<Outcome>, Error> {
    let Some(requested) = reboot_request(ei) else {
        return Ok(None);
    };
    if w.status.last_reboot_request.as_deref() == Some(requested.as_str()) {
        return Ok(None);
    }
    let id = observed.id.clone();
    if observed.state != InstanceState::Running {
        // A stopped instance has nothing to reboot; the request is recorded as handled.
        w.status.last_reboot_request = Some(requested);
        return Ok(None);
    }
    let previous = w.status.last_reboot_request.replace(requested.clone());
    persist(w).await?;
    let hard = ei.spec.power_modes().hard_reboot;
    if let Err(source) = api
        .power(std::slice::from_ref(&id), PowerAction::Reboot { force: hard })
        .await
    {
        w.status.last_reboot_request = previous;
        persist(w).await?;
        return Err(Error::Operate {
            action: "reboot".to_owned(),
            id,
            source,
        });
    }
    info!(instance_id = %id, request = %requested, "rebooted cloud instance");
    ctx.publish(
        ei,
        EventType::Normal,
        "Rebooted",
        "Reboot",
        format!("rebooted cloud instance {id} (request {requested:?})"),
    )
    .await;
    Ok(Some(Outcome::progressing(
        reason::UPDATING,
        reason::IN_PROGRESS,
        format!("rebooting cloud instance {id} (request {requested:?})"),
    )))
}
