//! One call per id, for clouds whose delete and power APIs take a single instance (Luchen, ModelArts):
//! the ids in turn, each touched in the account's [`Snapshots`] once its call returns (whatever the
//! answer, so no older list answers for it), stopping at the first failure that is not an answer
//! meaning the work is already done (an instance already gone, for a delete).

use std::future::Future;

use super::batch::Snapshots;
use super::{Operation, ProviderError, ProviderResult};

/// Which failures of one id's call count as done.
#[derive(Debug, Clone, Copy)]
pub enum Done {
    /// Only a success (power actions).
    OnSuccess,
    /// A success or a failure `gone` accepts (a delete of an instance the cloud no longer has).
    OrGone(fn(&ProviderError) -> bool),
}

impl Done {
    fn accepts(self, err: &ProviderError) -> bool {
        match self {
            Self::OnSuccess => false,
            Self::OrGone(gone) => gone(err),
        }
    }
}

/// Calls `call` for each of `ids` in order, touching the id in `snapshots` after its call; the first
/// failure `done` does not accept ends the loop with that error (the ids before it were called, the
/// ids after it were not). No handles: the objects' own state tells how the work went.
pub async fn each_id<'a, V, F, Fut>(
    ids: &'a [String],
    snapshots: &Snapshots<V>,
    done: Done,
    mut call: F,
) -> ProviderResult<Operation>
where
    V: Clone,
    F: FnMut(&'a str) -> Fut,
    Fut: Future<Output = ProviderResult<()>>,
{
    for id in ids {
        let answer = call(id).await;
        snapshots.touch([id.as_str()]);
        match answer {
            Ok(()) => {}
            Err(e) if done.accepts(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Operation::default())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::provider::ErrorDetail;

    fn not_found() -> ProviderError {
        ProviderError::NotFound {
            detail: ErrorDetail::local("t", "gone"),
        }
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Runs `each_id` over `names` where `b` answers `err`; returns the outcome and the ids called.
    async fn run(
        names: &[&str],
        done: Done,
        err: fn() -> ProviderError,
    ) -> (ProviderResult<Operation>, Vec<String>) {
        let snapshots = Snapshots::<()>::default();
        let called = Mutex::new(Vec::new());
        let list = ids(names);
        let outcome = each_id(&list, &snapshots, done, |id| {
            called.lock().unwrap().push(id.to_owned());
            async move { if id == "b" { Err(err()) } else { Ok(()) } }
        })
        .await;
        (outcome, called.into_inner().unwrap())
    }

    #[tokio::test]
    async fn a_gone_instance_counts_as_done_only_where_the_call_says_so() {
        let (outcome, called) = run(
            &["a", "b", "c"],
            Done::OrGone(ProviderError::is_not_found),
            not_found,
        )
        .await;
        assert_eq!(outcome.unwrap(), Operation::default());
        assert_eq!(called, ids(&["a", "b", "c"]), "every id called");

        let (outcome, called) = run(&["a", "b", "c"], Done::OnSuccess, not_found).await;
        assert_eq!(outcome.err().map(|e| e.category()), Some("NotFound"));
        assert_eq!(called, ids(&["a", "b"]), "the loop stops at the first failure");
    }

    #[tokio::test]
    async fn a_failure_the_check_does_not_accept_stops_the_loop() {
        let conflict = || ProviderError::Conflict {
            detail: ErrorDetail::local("t", "busy"),
        };
        let (outcome, called) = run(
            &["a", "b", "c"],
            Done::OrGone(ProviderError::is_not_found),
            conflict,
        )
        .await;
        assert_eq!(outcome.err().map(|e| e.category()), Some("Conflict"));
        assert_eq!(called, ids(&["a", "b"]));
    }
}
