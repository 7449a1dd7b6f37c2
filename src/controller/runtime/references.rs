//! References between edgefleet objects, and the Secret values a spec names, resolved by one rule for
//! every controller (EdgeInstance, EdgeCloud, SecurityGroup):
//!
//! - a referenced Vpc or SecurityGroup is read in the referrer's namespace through the lookup cache
//!   ([`super::lookup`]) and counts once it exists, is Ready and has its cloud id; until then the
//!   referrer waits ([`ReferenceError::Waiting`], the message naming the spec field and what is
//!   awaited). A referenced EdgeCloud (a fleet to join) counts once it has its cloud id: a fleet that is
//!   scaling or rolling is not Ready, and an instance may still join it; a peer SecurityGroup in a rule
//!   (`remoteGroupRef`) counts once it has its cloud id, so groups naming each other do not deadlock;
//!   a cached copy that is not usable yet is read afresh, so the cache never prolongs a wait;
//! - a literal cloud id is taken as written (the CRDs allow the reference or the id, not both);
//! - a Secret value is read only when it is about to be sent; the Secret must exist and hold the key as
//!   non-empty UTF-8 text ([`SecretError::Unavailable`] says which, never the value), and the
//!   value lives only in the returned [`SecretString`].
//!
//! Each controller turns a [`ReferenceError`] / [`SecretError`] into its own error type (its variants keep the field), so the
//! conditions read the same for every kind: waiting → `Ready=False WaitingForDependency`, a failed read →
//! retried as transient.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::context::Context;
use crate::api::common::{LocalObjectRef, SecretKeyRef};
use crate::api::condition::{Condition, READY, is_condition_true};
use crate::api::edge_cloud::EdgeCloud;
use crate::api::security_group::SecurityGroup;
use crate::api::vpc::{Vpc, VpcStatus};
use crate::provider::SecretString;

/// Why a reference or a Secret value is not usable (yet). Never carries a Secret value.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The referenced object is missing, not Ready or without its cloud id.
    #[error("waiting for {kind} {name:?} (named by {field}) to {what}")]
    Waiting {
        /// Vpc, SecurityGroup or EdgeCloud.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The spec field naming it.
        field: &'static str,
        /// "exist", "become Ready" or "get a cloud id".
        what: &'static str,
    },
    /// Reading the referenced object failed.
    #[error("failed to read {kind} {name:?} (named by {field})")]
    Read {
        /// Kind.
        kind: &'static str,
        /// Name.
        name: String,
        /// The spec field naming it.
        field: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// Why a Secret value named by a spec is not usable (yet). Never carries the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The Secret is missing, lacks the key, or the value is not non-empty text.
    #[error("Secret {name:?} (named by {field}) {problem}")]
    Unavailable {
        /// The spec field.
        field: &'static str,
        /// The Secret name.
        name: String,
        /// "does not exist", "has no key \"k\"", ...
        problem: String,
    },
    /// Reading the Secret failed.
    #[error("failed to read Secret {name:?} (named by {field})")]
    Read {
        /// The spec field.
        field: &'static str,
        /// The Secret name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// A Vpc resolved to its cloud id; `status` is the Vpc's when it was named by reference (its subnets
/// resolve subnet names), `None` for a literal id.
#[derive(Debug, Clone)]
pub struct ResolvedVpc {
    /// The cloud id.
    pub id: String,
    /// The referenced Vpc's name and status (only for a reference).
    pub referenced: Option<(String, VpcStatus)>,
}

/// Resolves references and Secrets in one namespace (the referrer's).
#[derive(Clone, Copy)]
pub struct References<'a> {
    ctx: &'a Context,
    namespace: &'a str,
}

impl<'a> References<'a> {
    /// References made by an object in `namespace`.
    pub fn new(ctx: &'a Context, namespace: &'a str) -> Self {
        Self { ctx, namespace }
    }

    /// The VPC of `vpc_ref` (Ready, with a cloud id) or the literal `vpc_id`; `None` when neither is set.
    pub async fn vpc(
        &self,
        field: &'static str,
        vpc_ref: Option<&LocalObjectRef>,
        vpc_id: Option<&String>,
    ) -> Result<Option<ResolvedVpc>, ReferenceError> {
        if let Some(r) = vpc_ref {
            let resolved = self
                .resolve("Vpc", field, &r.name, |vpc: &Vpc| {
                    let status = vpc.status.clone().unwrap_or_default();
                    let id = ready_id("Vpc", field, &r.name, &status.conditions, status.vpc_id.as_ref())?;
                    Ok(ResolvedVpc {
                        id,
                        referenced: Some((r.name.clone(), status)),
                    })
                })
                .await?;
            return Ok(Some(resolved));
        }
        Ok(vpc_id.map(|id| ResolvedVpc {
            id: id.clone(),
            referenced: None,
        }))
    }

    /// The cloud ids of the SecurityGroups of `refs` (each Ready) followed by the literal `ids`, each
    /// once, in the order given.
    pub async fn security_groups(
        &self,
        field: &'static str,
        refs: &[LocalObjectRef],
        ids: &[String],
    ) -> Result<Vec<String>, ReferenceError> {
        let mut out: Vec<String> = Vec::new();
        for r in refs {
            let id = self
                .resolve("SecurityGroup", field, &r.name, |sg: &SecurityGroup| {
                    let status = sg.status.as_ref();
                    ready_id(
                        "SecurityGroup",
                        field,
                        &r.name,
                        status.map_or(&[][..], |s| &s.conditions),
                        status.and_then(|s| s.security_group_id.as_ref()),
                    )
                })
                .await?;
            push_once(&mut out, id);
        }
        for id in ids {
            push_once(&mut out, id.clone());
        }
        Ok(out)
    }

    /// The cloud id of the EdgeCloud `r` names (a fleet to join: its id is enough, see the module docs).
    pub async fn edge_cloud_id(
        &self,
        field: &'static str,
        r: &LocalObjectRef,
    ) -> Result<String, ReferenceError> {
        self.resolve("EdgeCloud", field, &r.name, |ec: &EdgeCloud| {
            ec.status
                .as_ref()
                .and_then(|s| s.edge_cloud_id.clone())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| waiting("EdgeCloud", field, &r.name, "get a cloud id"))
        })
        .await
    }

    /// The cloud id of a peer SecurityGroup in a rule (`remoteGroupRef`): its id is enough, so two groups
    /// whose rules name each other do not wait for each other.
    pub async fn peer_security_group_id(
        &self,
        field: &'static str,
        r: &LocalObjectRef,
    ) -> Result<String, ReferenceError> {
        self.resolve("SecurityGroup", field, &r.name, |sg: &SecurityGroup| {
            sg.status
                .as_ref()
                .and_then(|s| s.security_group_id.clone())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| waiting("SecurityGroup", field, &r.name, "get a cloud id"))
        })
        .await
    }

    /// The text of one Secret key. The value goes only into the cloud request.
    pub async fn secret(&self, field: &'static str, r: &SecretKeyRef) -> Result<SecretString, SecretError> {
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), self.namespace);
        let secret = api.get_opt(&r.name).await.map_err(|source| SecretError::Read {
            field,
            name: r.name.clone(),
            source,
        })?;
        secret_text(field, r, secret.as_ref()).map(SecretString::new)
    }

    /// The optional Secret key `r`, read only when set.
    pub async fn optional_secret(
        &self,
        field: &'static str,
        r: Option<&SecretKeyRef>,
    ) -> Result<Option<SecretString>, SecretError> {
        match r {
            None => Ok(None),
            Some(r) => self.secret(field, r).await.map(Some),
        }
    }

    /// Applies `usable` to the object `name` of kind `K` (waiting while it does not exist). The object
    /// comes from the lookup cache; when the cached copy is not usable yet it is read afresh once, so the
    /// cache never makes a referrer wait longer than the object does.
    async fn resolve<K, T>(
        &self,
        kind: &'static str,
        field: &'static str,
        name: &str,
        usable: impl Fn(&K) -> Result<T, ReferenceError>,
    ) -> Result<T, ReferenceError>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + Sync
            + 'static,
    {
        let cached: Arc<K> = self.existing(kind, field, name).await?;
        match usable(&cached) {
            Err(ReferenceError::Waiting { .. }) => {
                self.ctx.lookups.forget::<K>(self.namespace, name);
                let fresh: Arc<K> = self.existing(kind, field, name).await?;
                usable(&fresh)
            }
            answer => answer,
        }
    }

    /// The object `name` of kind `K` in the namespace, waiting while it does not exist.
    async fn existing<K>(
        &self,
        kind: &'static str,
        field: &'static str,
        name: &str,
    ) -> Result<Arc<K>, ReferenceError>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + Sync
            + 'static,
    {
        self.ctx
            .lookups
            .get::<K>(&self.ctx.client, self.namespace, name)
            .await
            .map_err(|source| ReferenceError::Read {
                kind,
                name: name.to_owned(),
                field,
                source,
            })?
            .ok_or_else(|| waiting(kind, field, name, "exist"))
    }
}

fn waiting(kind: &'static str, field: &'static str, name: &str, what: &'static str) -> ReferenceError {
    ReferenceError::Waiting {
        kind,
        name: name.to_owned(),
        field,
        what,
    }
}

/// The cloud id of a referenced object that must be Ready and have one.
fn ready_id(
    kind: &'static str,
    field: &'static str,
    name: &str,
    conditions: &[Condition],
    id: Option<&String>,
) -> Result<String, ReferenceError> {
    let id = id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| waiting(kind, field, name, "get a cloud id"))?;
    if !is_condition_true(conditions, READY) {
        return Err(waiting(kind, field, name, "become Ready"));
    }
    Ok(id.clone())
}

fn push_once(ids: &mut Vec<String>, id: String) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

/// The key's value in `secret` as non-empty UTF-8 text.
fn secret_text(
    field: &'static str,
    r: &SecretKeyRef,
    secret: Option<&Secret>,
) -> Result<String, SecretError> {
    let unavailable = |problem: String| SecretError::Unavailable {
        field,
        name: r.name.clone(),
        problem,
    };
    let secret = secret.ok_or_else(|| unavailable("does not exist".to_owned()))?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .ok_or_else(|| unavailable(format!("has no key {:?}", r.key)))?;
    let text = String::from_utf8(bytes.0.clone())
        .map_err(|_| unavailable(format!("key {:?} is not UTF-8 text", r.key)))?;
    if text.is_empty() {
        return Err(unavailable(format!("key {:?} is empty", r.key)));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn key(name: &str, key: &str) -> SecretKeyRef {
        SecretKeyRef {
            name: name.into(),
            key: key.into(),
        }
    }

    fn secret_with(key: &str, value: &[u8]) -> Secret {
        Secret {
            data: Some(BTreeMap::from([(key.to_owned(), ByteString(value.to_vec()))])),
            ..Secret::default()
        }
    }

    fn problem(err: SecretError) -> String {
        match err {
            SecretError::Unavailable { problem, field, .. } => {
                assert_eq!(field, "spec.userDataSecretRef");
                problem
            }
            other => panic!("not SecretUnavailable: {other}"),
        }
    }

    #[test]
    fn a_secret_value_is_text_that_exists_and_is_not_empty() {
        let r = key("boot", "user-data");
        let f = "spec.userDataSecretRef";
        assert_eq!(
            secret_text(f, &r, Some(&secret_with("user-data", b"#!/bin/sh"))).unwrap(),
            "#!/bin/sh"
        );
        assert_eq!(problem(secret_text(f, &r, None).unwrap_err()), "does not exist");
        assert_eq!(
            problem(secret_text(f, &r, Some(&secret_with("other", b"x"))).unwrap_err()),
            "has no key \"user-data\""
        );
        assert_eq!(
            problem(secret_text(f, &r, Some(&secret_with("user-data", b""))).unwrap_err()),
            "key \"user-data\" is empty"
        );
        assert_eq!(
            problem(secret_text(f, &r, Some(&secret_with("user-data", &[0xff, 0xfe]))).unwrap_err()),
            "key \"user-data\" is not UTF-8 text"
        );
    }

    #[test]
    fn a_referenced_object_counts_once_it_has_an_id_and_is_ready() {
        let ready = vec![Condition::new(
            READY,
            crate::api::condition::ConditionStatus::True,
            "Available",
            "",
            None,
        )];
        let id = "vpc-1".to_owned();
        assert_eq!(
            ready_id("Vpc", "spec.vpcRef", "app", &ready, Some(&id)).unwrap(),
            "vpc-1"
        );
        let err = ready_id("Vpc", "spec.vpcRef", "app", &[], Some(&id)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "waiting for Vpc \"app\" (named by spec.vpcRef) to become Ready"
        );
        let err = ready_id("Vpc", "spec.vpcRef", "app", &ready, None).unwrap_err();
        assert!(err.to_string().ends_with("to get a cloud id"), "{err}");
        let empty = String::new();
        assert!(ready_id("Vpc", "spec.vpcRef", "app", &ready, Some(&empty)).is_err());
    }

    #[test]
    fn security_group_ids_are_kept_once_in_order() {
        let mut ids = Vec::new();
        for id in ["b", "a", "b", "c", "a"] {
            push_once(&mut ids, id.to_owned());
        }
        assert_eq!(ids, ["b", "a", "c"]);
    }
}
