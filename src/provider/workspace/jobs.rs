//! Workspace jobs as the [`OperationApi`]: `GET /v2/{project_id}/job/{job_id}` read once and mapped
//! to an [`OperationState`] by [`state_of`], the one place a job's outcome is interpreted: `WAITING` /
//! `RUNNING` are `Running` (progress: the job's own, else the share of finished sub-jobs), `SUCCESS` is
//! `Succeeded` with the servers its sub-jobs made (`sub_jobs[].job_resource_info.resource_id`),
//! `FAILED` is `Failed` with the code and message of the first failed sub-job (else the job's own). A
//! job the cloud no longer knows is `NotFound`; an order handle is `Unsupported` (Workspace servers are
//! on-demand here).

use async_trait::async_trait;
use serde_json::Value;

use super::WorkspaceProvider;
use super::types::Job;
use crate::provider::{OperationApi, OperationHandle, OperationState, ProviderError, ProviderResult};

/// Sub-job states that ended without success.
const SUB_FAILED: &[&str] = &["FAILED", "ABNORMAL", "ROLLBACK"];

fn progress_of(job: &Job) -> Option<u8> {
    let own = match &job.progress {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().trim_end_matches('%').parse::<f64>().ok(),
        _ => None,
    };
    if let Some(p) = own {
        return Some(p.clamp(0.0, 100.0) as u8);
    }
    let total = job
        .sub_jobs_total
        .map(|t| t as usize)
        .unwrap_or(job.sub_jobs.len());
    if total == 0 {
        return None;
    }
    let done = job
        .sub_jobs
        .iter()
        .filter(|s| {
            s.status
                .as_deref()
                .is_some_and(|st| st == "SUCCESS" || SUB_FAILED.contains(&st))
        })
        .count();
    Some(((done * 100) / total).min(100) as u8)
}

/// Where job `job` stands.
pub fn state_of(job: &Job) -> OperationState {
    let status = job.status.as_deref().unwrap_or("").to_ascii_uppercase();
    match status.as_str() {
        "SUCCESS" => OperationState::Succeeded {
            resource_ids: job
                .sub_jobs
                .iter()
                .filter(|s| s.status.as_deref().is_none_or(|st| st == "SUCCESS"))
                .filter_map(|s| s.job_resource_info.as_ref()?.resource_id.clone())
                .filter(|id| !id.is_empty())
                .collect(),
        },
        "FAILED" => {
            let failed = job
                .sub_jobs
                .iter()
                .find(|s| s.status.as_deref().is_some_and(|st| SUB_FAILED.contains(&st)));
            let code = failed
                .and_then(|s| s.error_code.clone())
                .or_else(|| job.error_code.clone())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "FAILED".to_owned());
            let message = failed
                .and_then(|s| s.error_message.clone())
                .or_else(|| job.error_message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("job {} failed", job.id.as_deref().unwrap_or("")));
            OperationState::Failed { code, message }
        }
        // WAITING, RUNNING and anything newer: not ended.
        _ => OperationState::Running {
            progress: progress_of(job),
            state: (!status.is_empty()).then_some(status),
        },
    }
}

#[async_trait]
impl OperationApi for WorkspaceProvider {
    async fn poll(&self, handle: &OperationHandle) -> ProviderResult<OperationState> {
        match handle {
            OperationHandle::Job(id) => Ok(state_of(&self.client.get_job(id).await?)),
            other => Err(ProviderError::unsupported(
                "workspace.operation.poll",
                format!("Workspace issues jobs only, not {other:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(v: serde_json::Value) -> Job {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_workspace_job_maps_to_one_typed_outcome() {
        let running = job(serde_json::json!({"id":"j","status":"RUNNING","sub_jobs_total":4,
            "sub_jobs":[{"status":"SUCCESS"},{"status":"RUNNING"},{"status":"WAITING"},{"status":"WAITING"}]}));
        assert_eq!(
            state_of(&running),
            OperationState::Running {
                progress: Some(25),
                state: Some("RUNNING".into())
            }
        );
        let waiting = job(serde_json::json!({"status":"WAITING"}));
        assert_eq!(
            state_of(&waiting),
            OperationState::Running {
                progress: None,
                state: Some("WAITING".into())
            }
        );
        let own = job(serde_json::json!({"status":"RUNNING","progress":"60%"}));
        assert_eq!(
            state_of(&own),
            OperationState::Running {
                progress: Some(60),
                state: Some("RUNNING".into())
            }
        );
        let done = job(serde_json::json!({"status":"SUCCESS","sub_jobs":[
            {"status":"SUCCESS","job_resource_info":{"resource_id":"s1"}},
            {"status":"SUCCESS","job_resource_info":{"resource_id":"s2"}}]}));
        assert_eq!(
            state_of(&done),
            OperationState::Succeeded {
                resource_ids: vec!["s1".into(), "s2".into()]
            }
        );
        let failed = job(serde_json::json!({"id":"j9","status":"FAILED","sub_jobs":[
            {"status":"SUCCESS","job_resource_info":{"resource_id":"s1"}},
            {"status":"FAILED","error_code":"WKS.00211401","error_message":"no capacity"}]}));
        assert_eq!(
            state_of(&failed),
            OperationState::Failed {
                code: "WKS.00211401".into(),
                message: "no capacity".into()
            }
        );
        let bare = job(serde_json::json!({"id":"j9","status":"FAILED"}));
        assert_eq!(
            state_of(&bare),
            OperationState::Failed {
                code: "FAILED".into(),
                message: "job j9 failed".into()
            }
        );
    }
}
