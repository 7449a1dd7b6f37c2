//! The crash-safety intent of a create carried on the object's metadata (design.md, crash safety step 1:
//! "persist an intent on the object ... or an annotation"), and the finalizer that goes with it.
//!
//! One merge patch before the cloud call adds the finalizer (when missing, guarded by the
//! `resourceVersion` the pass read, since a merge patch replaces the whole finalizer list) and sets the
//! [`CREATE_INTENT_ANNOTATION`] to a [`CreateIntent`]: the deterministic identity the cloud will carry
//! (`token`), the parameters' hash, when it started, the object's uid, and the cloud id it replaces when
//! the create recreates an instance deleted outside edgefleet. One Kubernetes write instead of two (the
//! finalizer, then an intent in status), which is most of what an operator's create costs the apiserver
//! (docs/benchmarks.md).
//!
//! The annotation is never removed after a successful create (that would be a write per object): it stays
//! as the record of the last create, and counts as pending only while status names no instance, or still
//! names the one it `replaces` ([`CreateIntent::pending`]). A copy of the object (another uid) ignores it.
//! A create the cloud rejected outright removes it ([`clear`]), so a fixed spec creates at once.
//!
//! The controller's watch predicate ignores this annotation and the finalizer
//! (`runtime::intent_of_ignoring_own_metadata`): the pass that writes them goes on to the create itself,
//! and a second pass triggered by its own patch could read a cache that has the intent but not yet the
//! closing status write.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::common::PendingOperation;
use crate::api::{CREATE_INTENT_ANNOTATION, FIELD_MANAGER, FINALIZER};

/// The value of [`CREATE_INTENT_ANNOTATION`] (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIntent {
    /// The identity the cloud object will carry (its deterministic name).
    pub token: String,
    /// Hash of the parameters sent to the cloud.
    pub params_hash: String,
    /// When the intent was recorded (bounds the grace for eventually consistent lists).
    pub started_at: Time,
    /// The uid of the object that recorded it: a copy of the object (another uid) ignores it.
    pub uid: String,
    /// The cloud id this create replaces (an instance deleted outside edgefleet), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

impl CreateIntent {
    /// The intent recorded on `obj`, if any and if it is `obj`'s own. An unreadable value is ignored
    /// (logged): the name check before a fresh create still keeps edgefleet from adopting by accident.
    pub fn of<K: Resource>(obj: &K) -> Option<Self> {
        let raw = obj.meta().annotations.as_ref()?.get(CREATE_INTENT_ANNOTATION)?;
        let intent: Self = match serde_json::from_str(raw) {
            Ok(intent) => intent,
            Err(e) => {
                tracing::warn!(error = %e, annotation = CREATE_INTENT_ANNOTATION, "ignoring an unreadable create intent");
                return None;
            }
        };
        (obj.meta().uid.as_deref() == Some(intent.uid.as_str())).then_some(intent)
    }

    /// Whether the create may still be in flight, given the cloud id status names: none, or the one this
    /// create replaces. Once status names another instance, this create has completed.
    pub fn pending(&self, status_id: Option<&str>) -> bool {
        status_id.is_none() || status_id == self.replaces.as_deref()
    }

    /// As the status form of an intent (for the recovery and deletion paths shared with it).
    pub fn to_pending(&self) -> PendingOperation {
        PendingOperation {
            token: self.token.clone(),
            params_hash: self.params_hash.clone(),
            started_at: self.started_at.clone(),
            handle: None,
        }
    }
}

/// The pending create of an object: the newer of the intent in status (`status_pending`, written when a
/// created instance is not observable yet, and by versions before the annotation) and the annotation's,
/// when that is still pending for `status_id`.
pub fn pending_create<K: Resource>(
    obj: &K,
    status_id: Option<&str>,
    status_pending: Option<&PendingOperation>,
) -> Option<PendingOperation> {
    let annotated = CreateIntent::of(obj)
        .filter(|i| i.pending(status_id))
        .map(|i| i.to_pending());
    match (status_pending, annotated) {
        (Some(s), Some(a)) if a.started_at.0 > s.started_at.0 => Some(a),
        (Some(s), _) => Some(s.clone()),
        (None, a) => a,
    }
}

/// Whether `obj` carries edgefleet's finalizer.
pub fn has_finalizer<K: Resource>(obj: &K) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// Records `intent` on `obj` (and the finalizer, when missing) in one merge patch. Fails with a conflict
/// when the finalizer must be added and `obj` changed since the pass read it (the next pass retries).
pub async fn record<K>(api: &Api<K>, obj: &K, intent: &CreateIntent) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let value = serde_json::to_string(intent).map_err(kube::Error::SerdeError)?;
    let mut metadata = json!({"annotations": {CREATE_INTENT_ANNOTATION: value}});
    add_finalizer_to(obj, &mut metadata);
    patch_metadata(api, obj, metadata).await
}

/// Adds the finalizer to `obj` when missing (before the pass records a cloud id it may have to clean up).
pub async fn ensure_finalizer<K>(api: &Api<K>, obj: &K) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    if has_finalizer(obj) {
        return Ok(());
    }
    let mut metadata = json!({});
    add_finalizer_to(obj, &mut metadata);
    patch_metadata(api, obj, metadata).await
}

/// Removes the intent from `obj` (after the cloud rejected the create outright: nothing was created).
/// Always patches: the intent was typically recorded by this very pass, after `obj` was read.
pub async fn clear<K>(api: &Api<K>, obj: &K) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let metadata = json!({"annotations": {CREATE_INTENT_ANNOTATION: null}});
    patch_metadata(api, obj, metadata).await
}

/// Adds the finalizer list (the current one plus ours) and the `resourceVersion` guarding it to a
/// metadata patch, when `obj` lacks the finalizer.
fn add_finalizer_to<K: Resource>(obj: &K, metadata: &mut serde_json::Value) {
    if has_finalizer(obj) {
        return;
    }
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    metadata["finalizers"] = json!(finalizers);
    metadata["resourceVersion"] = json!(obj.resource_version());
}

async fn patch_metadata<K>(api: &Api<K>, obj: &K, metadata: serde_json::Value) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let body = json!({ "metadata": metadata });
    api.patch(&obj.name_any(), &params, &Patch::Merge(&body)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use kube::api::ObjectMeta;
    use kube::core::DynamicObject;
    use kube::discovery::ApiResource;

    use super::*;

    fn object(uid: &str, intent: Option<&CreateIntent>) -> DynamicObject {
        let ar = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        let mut o = DynamicObject::new("x", &ar);
        o.metadata = ObjectMeta {
            uid: Some(uid.to_owned()),
            annotations: intent.map(|i| {
                [(
                    CREATE_INTENT_ANNOTATION.to_owned(),
                    serde_json::to_string(i).unwrap(),
                )]
                .into()
            }),
            ..ObjectMeta::default()
        };
        o
    }

    fn intent(at_ms: i64, replaces: Option<&str>) -> CreateIntent {
        CreateIntent {
            token: "web-1".to_owned(),
            params_hash: "h".to_owned(),
            started_at: Time(k8s_openapi::jiff::Timestamp::from_millisecond(at_ms).unwrap()),
            uid: "u1".to_owned(),
            replaces: replaces.map(str::to_owned),
        }
    }

    #[test]
    fn an_intent_is_pending_until_status_names_another_instance() {
        let fresh = intent(1_000, None);
        assert!(fresh.pending(None));
        assert!(!fresh.pending(Some("i-new")));
        let recreate = intent(1_000, Some("i-old"));
        assert!(recreate.pending(None));
        assert!(
            recreate.pending(Some("i-old")),
            "the replaced id is still in status"
        );
        assert!(!recreate.pending(Some("i-new")));
    }

    #[test]
    fn only_the_objects_own_readable_intent_counts() {
        let i = intent(1_000, None);
        assert_eq!(CreateIntent::of(&object("u1", Some(&i))), Some(i.clone()));
        assert_eq!(
            CreateIntent::of(&object("u2", Some(&i))),
            None,
            "a copy of the object"
        );
        let mut garbled = object("u1", None);
        garbled.metadata.annotations =
            Some([(CREATE_INTENT_ANNOTATION.to_owned(), "{not json".to_owned())].into());
        assert_eq!(CreateIntent::of(&garbled), None);
    }

    #[test]
    fn the_newer_of_the_status_and_annotation_intents_is_the_pending_one() {
        let annotated = intent(2_000, None);
        let obj = object("u1", Some(&annotated));
        let older = intent(1_000, None).to_pending();
        let newer = PendingOperation {
            handle: Some("i-9".to_owned()),
            ..intent(3_000, None).to_pending()
        };
        assert_eq!(pending_create(&obj, None, None), Some(annotated.to_pending()));
        assert_eq!(
            pending_create(&obj, None, Some(&older)),
            Some(annotated.to_pending())
        );
        assert_eq!(pending_create(&obj, None, Some(&newer)), Some(newer.clone()));
        assert_eq!(
            pending_create(&obj, Some("i-1"), None),
            None,
            "status names the created instance"
        );
        assert_eq!(
            pending_create(&object("u1", None), Some("i-1"), Some(&older)),
            Some(older)
        );
    }
}
