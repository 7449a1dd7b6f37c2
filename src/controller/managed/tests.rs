//! Unit tests of the lifecycle's pure parts: the intent stores and the error tables.

use super::error::OBSERVE_ONLY_KEEPS;
use super::*;
use crate::api::CREATE_INTENT_ANNOTATION;
use crate::api::vpc::{Vpc, VpcSpec, VpcStatus};
use crate::controller::NAME_CONFLICT;
use crate::controller::intent::CreateIntent;
use crate::controller::runtime::{ErrorClass, ReconcileError};
use crate::provider::ProviderError;

fn pending_at(ms: i64) -> PendingOperation {
    PendingOperation {
        token: "web".into(),
        params_hash: "h".into(),
        started_at: Time(k8s_openapi::jiff::Timestamp::from_millisecond(ms).unwrap()),
        handle: None,
    }
}

fn status(id: Option<&str>, pending: Option<PendingOperation>) -> VpcStatus {
    VpcStatus {
        vpc_id: id.map(str::to_owned),
        pending_create: pending,
        ..VpcStatus::default()
    }
}

fn object(intent: Option<&CreateIntent>) -> Vpc {
    let mut vpc = Vpc::new("net", VpcSpec::default());
    vpc.metadata.uid = Some("u1".into());
    vpc.metadata.annotations = intent.map(|i| {
        [(
            CREATE_INTENT_ANNOTATION.to_owned(),
            serde_json::to_string(i).unwrap(),
        )]
        .into()
    });
    vpc
}

#[test]
fn a_status_intent_is_pending_only_while_no_id_is_recorded() {
    let vpc = object(None);
    let p = pending_at(1_000);
    assert_eq!(
        InStatus.pending(&vpc, &status(None, Some(p.clone()))),
        Some(p.clone())
    );
    assert_eq!(
        InStatus.pending(&vpc, &status(Some("v-1"), Some(p))),
        None,
        "created and waiting to be listed: the id is the target, not a search"
    );
    assert_eq!(InStatus.pending(&vpc, &status(None, None)), None);
    assert!(!IntentStore::<Vpc, VpcStatus>::replaces(&InStatus, &vpc, "v-1"));
}

#[test]
fn a_metadata_intent_is_pending_until_status_names_another_object_and_knows_what_it_replaces() {
    let recreate = CreateIntent {
        token: "web".into(),
        params_hash: "h".into(),
        started_at: pending_at(2_000).started_at,
        uid: "u1".into(),
        replaces: Some("v-old".into()),
    };
    let vpc = object(Some(&recreate));
    assert_eq!(
        OnMetadata.pending(&vpc, &status(Some("v-old"), None)),
        Some(recreate.to_pending()),
        "status still names the vanished object"
    );
    assert_eq!(OnMetadata.pending(&vpc, &status(Some("v-new"), None)), None);
    assert!(IntentStore::<Vpc, VpcStatus>::replaces(
        &OnMetadata,
        &vpc,
        "v-old"
    ));
    assert!(!IntentStore::<Vpc, VpcStatus>::replaces(
        &OnMetadata,
        &vpc,
        "v-new"
    ));
    let mut copy = vpc.clone();
    copy.metadata.uid = Some("u2".into());
    assert!(
        !IntentStore::<Vpc, VpcStatus>::replaces(&OnMetadata, &copy, "v-old"),
        "a copy of the object (another uid) ignores the intent"
    );
}

#[test]
fn a_create_rejected_for_a_missing_reference_stalls_as_an_invalid_spec() {
    let e = LifecycleError::Create {
        noun: "cloud security group",
        name: "web".into(),
        source: ProviderError::NotFound {
            detail: crate::provider::ErrorDetail::local("sg.create", "no such vpc"),
        },
    };
    assert_eq!(e.category(), "InvalidSpec");
    assert_eq!(e.class(), ErrorClass::Stalled { recheck: true });
    assert_eq!(e.stalled_reason(), Some(reason::INVALID_SPEC));
}

fn provider_err() -> ProviderError {
    ProviderError::Invalid {
        detail: crate::provider::ErrorDetail::local("vpc.create", "bad cidr"),
    }
}

#[test]
fn every_lifecycle_error_has_a_category_class_and_a_stalled_reason_where_it_stalls() {
    let errors = vec![
        LifecycleError::Observe {
            noun: "cloud VPC",
            id: "v".into(),
            source: provider_err(),
        },
        LifecycleError::Create {
            noun: "cloud VPC",
            name: "n".into(),
            source: provider_err(),
        },
        LifecycleError::NameConflict {
            noun: "cloud VPC",
            name: "n".into(),
            place: String::new(),
            ids: "a".into(),
        },
        LifecycleError::AmbiguousRecovery {
            noun: "cloud VPC",
            token: "t".into(),
            place: String::new(),
            ids: "a, b".into(),
        },
        LifecycleError::AdoptTargetNotFound {
            noun: "cloud VPC",
            id: "v".into(),
        },
        LifecycleError::ExternallyDeleted {
            noun: "cloud VPC",
            id: "v".into(),
            why: OBSERVE_ONLY_KEEPS,
        },
        LifecycleError::NothingToObserve,
        LifecycleError::DeletionPending {
            noun: "cloud VPC",
            token: "t".into(),
        },
    ];
    for e in &errors {
        assert!(!e.category().is_empty(), "{e}");
        if matches!(e.class(), ErrorClass::Stalled { .. }) {
            assert!(e.stalled_reason().is_some(), "{e} stalls without a reason");
        }
    }
    assert_eq!(errors[2].category(), NAME_CONFLICT);
    assert_eq!(errors[7].class(), ErrorClass::Waiting);
    assert_eq!(errors[5].class(), ErrorClass::Stalled { recheck: true });
}

#[test]
fn messages_name_the_cloud_object_and_what_to_do() {
    let e = LifecycleError::NameConflict {
        noun: "cloud VPC",
        name: "prod".into(),
        place: String::new(),
        ids: "vpc-1".into(),
    };
    let text = e.to_string();
    assert!(
        text.contains("cloud VPC named \"prod\"") && text.contains("spec.adoptId"),
        "{text}"
    );
    let e = LifecycleError::Lookup {
        noun: "cloud security group",
        token: "ef-0123".into(),
        source: provider_err(),
    };
    assert_eq!(
        e.to_string(),
        "failed to look up cloud security groups by \"ef-0123\""
    );
}
