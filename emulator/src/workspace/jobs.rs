//! Workspace jobs: the asynchronous work behind creating and deleting application servers, and the
//! reads of it — `GET /v2/{project_id}/job/{job_id}` (SDK `ShowJobDetail`: string statuses, one
//! sub-job per server with `job_resource_info.resource_id`), `GET /v1/{project_id}/job/{job_id}`
//! (SDK `ShowJob`: integer statuses), `GET /v1/{project_id}/app-server-sub-jobs` (`ListSubJobs`) and
//! `GET /v1/{project_id}/app-server-sub-jobs/actions/count` (`CountSubJobs`).
//!
//! A job is decided when it is accepted: its sub-jobs, which of them fail (job-failure rules, the
//! core `instance_failure_rate` fault) and the times of its steps (delays `workspace_job_start`,
//! `workspace_server_build`, `workspace_server_register`, `workspace_server_delete`), scheduled as
//! timers of kind [`kinds::JOB`] (the core `stuck` fault on that kind keeps a job WAITING). Steps:
//! `start` (WAITING → RUNNING; a create job's servers appear in `BUILD`, a delete job's servers go
//! `DELETING`), `finish` (sub-jobs SUCCESS or FAILED, the job SUCCESS when all succeeded, else
//! FAILED) and, for creates, `register` (built servers `UNREGISTER` → `REGISTERED`).
//!
//! Job-failure rules ([`FailureRule`]) come from `Config.workspace.job_failures` and from the admin
//! knob `PUT|GET|DELETE /_emulator/workspace/job-failures` (kept in the emulator state of every
//! configured account).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::faults::matches;
use crate::core::net::Ipv4Cidr;
use crate::core::paging::QueryParams;
use crate::core::state::{Record, StateError, Store, Timer};
use crate::workspace::common::{Page, time};
use crate::workspace::servers::AppServer;
use crate::workspace::{errors, kinds};

/// `CREATE_SERVER`.
pub const CREATE_SERVER: &str = "CREATE_SERVER";
/// `DELETE_SERVER`.
pub const DELETE_SERVER: &str = "DELETE_SERVER";
/// The SDK's `JobType` enum in order (the v1 API's integer job type is the index).
const JOB_TYPES: &[&str] = &[
    CREATE_SERVER,
    DELETE_SERVER,
    "UPDATE_FREEZE_STATUS",
    "CREATE_SERVER_IMAGE",
    "REINSTALL_OS",
    "CHANGE_SERVER_IMAGE",
    "REJOIN_DOMAIN",
    "MIGRATE_SERVER",
];

/// A job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Job id.
    pub id: String,
    /// `CREATE_SERVER` or `DELETE_SERVER`.
    pub job_type: String,
    /// `WAITING`, `RUNNING`, `SUCCESS` or `FAILED`.
    pub status: String,
    /// Accepted, epoch ms.
    pub create_ms: u64,
    /// Started.
    pub begin_ms: Option<u64>,
    /// Finished.
    pub end_ms: Option<u64>,
    /// The server group the job works on.
    pub server_group_id: String,
    /// One per server.
    pub sub_jobs: Vec<SubJob>,
    /// What a create job builds.
    pub plan: Option<CreatePlan>,
}

impl Record for Job {
    const KIND: &'static str = kinds::JOB;
    fn id(&self) -> &str {
        &self.id
    }
}

/// One server's part of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubJob {
    /// Sub-job id.
    pub id: String,
    /// `WAITING`, `RUNNING`, `SUCCESS` or `FAILED`.
    pub status: String,
    /// The server id (empty until a create job starts).
    pub resource_id: String,
    /// The server name.
    pub resource_name: String,
    /// Started.
    pub begin_ms: Option<u64>,
    /// Finished.
    pub end_ms: Option<u64>,
    /// Failure code (FAILED only).
    pub error_code: Option<String>,
    /// Failure message (FAILED only).
    pub error_message: Option<String>,
    /// Decided at acceptance: this sub-job fails.
    pub failure: Option<Failure>,
    /// A create sub-job's availability zone.
    #[serde(default)]
    pub availability_zone: String,
}

/// How a sub-job fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// `error_code`.
    pub error_code: String,
    /// `error_message`.
    pub error_message: String,
    /// A failed create leaves the server in `BUILD_FAIL` instead of rolling it back.
    pub leave_server: bool,
}

/// What the servers of a create job are built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePlan {
    /// Product id.
    pub product_id: String,
    /// Flavor id.
    pub flavor_id: String,
    /// Image id (the group's at acceptance).
    pub image_id: String,
    /// OS type.
    pub os_type: String,
    /// OS version text.
    pub os_version: String,
    /// OU.
    pub ou_name: String,
    /// VPC id.
    pub vpc_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// Subnet CIDR (addresses come from it).
    pub cidr: String,
    /// Root volume type.
    pub disk_type: String,
    /// Root volume size, GB.
    pub disk_size: u32,
    /// Enterprise project.
    pub enterprise_project_id: String,
}

/// A job-failure rule: the next `times` jobs (unlimited when absent) of `job_type` on a group whose
/// id or name matches `server_group` fail `sub_jobs` of their sub-jobs (all when absent) with
/// `error_code`/`error_message`. Patterns are exact, `*` or `prefix*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRule {
    /// `CREATE_SERVER`, `DELETE_SERVER` or a pattern.
    #[serde(default = "star")]
    pub job_type: String,
    /// Group id or name pattern.
    #[serde(default = "star")]
    pub server_group: String,
    /// How many matching jobs fail (absent: every one).
    #[serde(default)]
    pub times: Option<u32>,
    /// How many sub-jobs of a matching job fail, the first ones (absent: all).
    #[serde(default)]
    pub sub_jobs: Option<u32>,
    /// The sub-jobs' `error_code`.
    #[serde(default)]
    pub error_code: Option<String>,
    /// The sub-jobs' `error_message`.
    #[serde(default)]
    pub error_message: Option<String>,
    /// A failed create leaves its server (`BUILD_FAIL`, status `NONE`) instead of rolling it back.
    #[serde(default)]
    pub leave_server: bool,
}

fn star() -> String {
    "*".into()
}

/// The admin knob's rules with their remaining counts (one record per account).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRules {
    /// Always `rules`.
    pub id: String,
    /// Rules with the number of jobs each may still fail.
    pub rules: Vec<StoredRule>,
}

/// A rule of the admin knob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRule {
    /// The rule.
    #[serde(flatten)]
    pub rule: FailureRule,
    /// Jobs it may still fail (None: unlimited).
    pub remaining: Option<u32>,
}

impl Record for FailureRules {
    const KIND: &'static str = kinds::JOB_FAILURES;
    fn id(&self) -> &str {
        &self.id
    }
}

const RULES_ID: &str = "rules";

fn default_failure(job_type: &str, rule: Option<&FailureRule>) -> Failure {
    let (code, message) = if job_type == CREATE_SERVER {
        (
            "WKS.00211401",
            "Failed to create the server: insufficient ECS capacity",
        )
    } else {
        ("WKS.00211401", "Failed to delete the server")
    };
    Failure {
        error_code: rule
            .and_then(|r| r.error_code.clone())
            .unwrap_or_else(|| code.into()),
        error_message: rule
            .and_then(|r| r.error_message.clone())
            .unwrap_or_else(|| message.into()),
        leave_server: rule.is_some_and(|r| r.leave_server),
    }
}

/// The first rule matching a new job (consuming one of its `times`), from the admin knob first, then
/// the config.
fn matching_rule(
    tx: &mut Tx<'_>,
    job_type: &str,
    group_id: &str,
    group_name: &str,
) -> Result<Option<FailureRule>, ApiError> {
    let hit = |r: &FailureRule| {
        matches(&r.job_type, job_type)
            && (matches(&r.server_group, group_id) || matches(&r.server_group, group_name))
    };
    if let Some(stored) = tx.store.table::<FailureRules>()?.get_mut(RULES_ID) {
        for s in &mut stored.rules {
            if hit(&s.rule) && s.remaining != Some(0) {
                if let Some(n) = s.remaining.as_mut() {
                    *n -= 1;
                }
                return Ok(Some(s.rule.clone()));
            }
        }
    }
    let config = tx.config;
    for (i, r) in config.workspace.job_failures.iter().enumerate() {
        if hit(r) {
            let used = tx
                .store
                .next_counter(&format!("workspace.job_failures.config.{i}"));
            if r.times.is_none_or(|t| used <= u64::from(t)) {
                return Ok(Some(r.clone()));
            }
        }
    }
    Ok(None)
}

/// Decides which of `n` sub-jobs fail.
fn plan_failures(
    tx: &mut Tx<'_>,
    job_type: &str,
    group_id: &str,
    group_name: &str,
    n: usize,
) -> Result<Vec<Option<Failure>>, ApiError> {
    let rule = matching_rule(tx, job_type, group_id, group_name)?;
    let failing = rule.as_ref().map_or(0, |r| {
        r.sub_jobs.map_or(n, |k| usize::try_from(k).unwrap_or(n).min(n))
    });
    let rate = if job_type == CREATE_SERVER {
        tx.faults.instance_failure_rate
    } else {
        0.0
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let fails = i < failing || (rate > 0.0 && tx.rng.chance(rate));
        out.push(fails.then(|| default_failure(job_type, rule.as_ref())));
    }
    Ok(out)
}

fn sub_job(failure: Option<Failure>, resource_id: &str, resource_name: &str, az: &str) -> SubJob {
    SubJob {
        id: crate::core::ids::resource_id(),
        status: "WAITING".into(),
        resource_id: resource_id.into(),
        resource_name: resource_name.into(),
        begin_ms: None,
        end_ms: None,
        error_code: None,
        error_message: None,
        failure,
        availability_zone: az.into(),
    }
}

/// Accepts a create job of one server per entry of `azs` into group `group_id`; returns its id.
pub fn accept_create(
    tx: &mut Tx<'_>,
    group_id: &str,
    group_name: &str,
    plan: CreatePlan,
    azs: &[String],
) -> Result<String, ApiError> {
    let failures = plan_failures(tx, CREATE_SERVER, group_id, group_name, azs.len())?;
    let job = Job {
        id: crate::core::ids::resource_id(),
        job_type: CREATE_SERVER.into(),
        status: "WAITING".into(),
        create_ms: tx.now_ms,
        begin_ms: None,
        end_ms: None,
        server_group_id: group_id.into(),
        sub_jobs: failures
            .into_iter()
            .zip(azs)
            .map(|(f, az)| sub_job(f, "", "", az))
            .collect(),
        plan: Some(plan),
    };
    let id = job.id.clone();
    tx.store.table::<Job>()?.insert(job);
    let start = tx.delay_ms("workspace_job_start", 1000);
    let build = start + tx.delay_ms("workspace_server_build", 3000);
    let register = build + tx.delay_ms("workspace_server_register", 1000);
    tx.schedule_in(start, kinds::JOB, &id, "start");
    tx.schedule_in(build, kinds::JOB, &id, "finish");
    tx.schedule_in(register, kinds::JOB, &id, "register");
    Ok(id)
}

/// Accepts a delete job of `servers` (`(id, name)`, already checked idle) in group `group_id`;
/// marks them as pending and returns the job id.
pub fn accept_delete(
    tx: &mut Tx<'_>,
    group_id: &str,
    group_name: &str,
    servers: &[(String, String)],
) -> Result<String, ApiError> {
    let failures = plan_failures(tx, DELETE_SERVER, group_id, group_name, servers.len())?;
    let job = Job {
        id: crate::core::ids::resource_id(),
        job_type: DELETE_SERVER.into(),
        status: "WAITING".into(),
        create_ms: tx.now_ms,
        begin_ms: None,
        end_ms: None,
        server_group_id: group_id.into(),
        sub_jobs: failures
            .into_iter()
            .zip(servers)
            .map(|(f, (sid, name))| sub_job(f, sid, name, ""))
            .collect(),
        plan: None,
    };
    let id = job.id.clone();
    let now = tx.now_ms;
    let table = tx.store.table::<AppServer>()?;
    for (sid, _) in servers {
        if let Some(s) = table.get_mut(sid) {
            s.pending_job = Some(id.clone());
            s.job_id = id.clone();
            s.job_type = DELETE_SERVER.into();
            s.job_status = "WAITING".into();
            s.job_ms = now;
        }
    }
    tx.store.table::<Job>()?.insert(job);
    let start = tx.delay_ms("workspace_job_start", 1000);
    let finish = start + tx.delay_ms("workspace_server_delete", 2000);
    tx.schedule_in(start, kinds::JOB, &id, "start");
    tx.schedule_in(finish, kinds::JOB, &id, "finish");
    Ok(id)
}

/// Servers that WAITING create jobs will add to group `group_id` (`None`: to any group).
pub fn pending_creates_in(store: &mut Store, group_id: Option<&str>) -> Result<usize, StateError> {
    Ok(store
        .table::<Job>()?
        .iter()
        .filter(|j| j.job_type == CREATE_SERVER && j.status == "WAITING")
        .filter(|j| group_id.is_none_or(|g| g == j.server_group_id))
        .map(|j| j.sub_jobs.len())
        .sum())
}

/// Servers that WAITING create jobs will add to group `group_id`.
pub fn pending_creates(store: &mut Store, group_id: &str) -> Result<usize, StateError> {
    pending_creates_in(store, Some(group_id))
}

// ---- timers -----------------------------------------------------------------------------------

/// Timer handler for [`kinds::JOB`]: `start`, `finish`, `register`.
pub fn on_timer(store: &mut Store, timer: &Timer, now_ms: u64) -> Result<(), StateError> {
    let Some(mut job) = store.table::<Job>()?.get(&timer.id).cloned() else {
        return Ok(());
    };
    match (timer.action.as_str(), job.job_type.as_str()) {
        ("start", CREATE_SERVER) if job.status == "WAITING" => start_create(store, &mut job, now_ms)?,
        ("start", DELETE_SERVER) if job.status == "WAITING" => start_delete(store, &mut job, now_ms)?,
        ("finish", CREATE_SERVER) if job.status == "RUNNING" => finish_create(store, &mut job, now_ms)?,
        ("finish", DELETE_SERVER) if job.status == "RUNNING" => finish_delete(store, &mut job, now_ms)?,
        ("register", CREATE_SERVER) => register(store, &job, now_ms)?,
        _ => return Ok(()),
    }
    store.table::<Job>()?.insert(job);
    Ok(())
}

fn server_name(store: &mut Store) -> Result<String, StateError> {
    let table = store.table::<AppServer>()?;
    loop {
        let hex = uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase();
        let name = format!("APS-{}", &hex[..6]);
        if !table.iter().any(|s| s.name == name) {
            return Ok(name);
        }
    }
}

fn start_create(store: &mut Store, job: &mut Job, now_ms: u64) -> Result<(), StateError> {
    job.status = "RUNNING".into();
    job.begin_ms = Some(now_ms);
    let Some(plan) = job.plan.clone() else {
        return Ok(());
    };
    let group_name = store
        .table::<crate::workspace::groups::ServerGroup>()?
        .get(&job.server_group_id)
        .map(|g| g.name.clone())
        .unwrap_or_default();
    let cidr: Option<Ipv4Cidr> = plan.cidr.parse().ok();
    for sub in &mut job.sub_jobs {
        sub.status = "RUNNING".into();
        sub.begin_ms = Some(now_ms);
        let ip = cidr.and_then(|c| store.allocate_ip(&plan.subnet_id, c, None).ok());
        let name = server_name(store)?;
        let server = AppServer::building(
            &plan,
            &job.id,
            &job.server_group_id,
            &group_name,
            &name,
            &sub.availability_zone,
            ip,
            now_ms,
        );
        sub.resource_id = server.id.clone();
        sub.resource_name = name;
        store.table::<AppServer>()?.insert(server);
    }
    Ok(())
}

fn finish_sub(sub: &mut SubJob, now_ms: u64) -> bool {
    sub.end_ms = Some(now_ms);
    match &sub.failure {
        Some(f) => {
            sub.status = "FAILED".into();
            sub.error_code = Some(f.error_code.clone());
            sub.error_message = Some(f.error_message.clone());
            false
        }
        None => {
            sub.status = "SUCCESS".into();
            true
        }
    }
}

fn conclude(job: &mut Job, now_ms: u64) {
    job.end_ms = Some(now_ms);
    job.status = if job.sub_jobs.iter().all(|s| s.status == "SUCCESS") {
        "SUCCESS".into()
    } else {
        "FAILED".into()
    };
}

fn finish_create(store: &mut Store, job: &mut Job, now_ms: u64) -> Result<(), StateError> {
    for sub in &mut job.sub_jobs {
        let ok = finish_sub(sub, now_ms);
        let leave = sub.failure.as_ref().is_some_and(|f| f.leave_server);
        let table = store.table::<AppServer>()?;
        if ok {
            if let Some(s) = table.get_mut(&sub.resource_id) {
                s.built(now_ms);
            }
        } else if leave {
            if let Some(s) = table.get_mut(&sub.resource_id) {
                s.build_failed(now_ms);
            }
        } else if let Some(s) = table.remove(&sub.resource_id) {
            s.release(store);
        }
    }
    conclude(job, now_ms);
    Ok(())
}

fn register(store: &mut Store, job: &Job, now_ms: u64) -> Result<(), StateError> {
    let table = store.table::<AppServer>()?;
    for sub in &job.sub_jobs {
        if let Some(s) = table.get_mut(&sub.resource_id)
            && s.vm_status == "ACTIVE"
            && s.status == "UNREGISTER"
        {
            s.status = "REGISTERED".into();
            s.update_ms = now_ms;
        }
    }
    Ok(())
}

fn start_delete(store: &mut Store, job: &mut Job, now_ms: u64) -> Result<(), StateError> {
    job.status = "RUNNING".into();
    job.begin_ms = Some(now_ms);
    let table = store.table::<AppServer>()?;
    for sub in &mut job.sub_jobs {
        sub.status = "RUNNING".into();
        sub.begin_ms = Some(now_ms);
        if let Some(s) = table.get_mut(&sub.resource_id) {
            s.vm_status = "DELETING".into();
            s.task_status = Some("deleting".into());
            s.job_status = "RUNNING".into();
            s.update_ms = now_ms;
        }
    }
    Ok(())
}

fn finish_delete(store: &mut Store, job: &mut Job, now_ms: u64) -> Result<(), StateError> {
    for sub in &mut job.sub_jobs {
        let ok = finish_sub(sub, now_ms);
        let table = store.table::<AppServer>()?;
        if ok {
            if let Some(s) = table.remove(&sub.resource_id) {
                s.release(store);
            }
        } else if let Some(s) = table.get_mut(&sub.resource_id) {
            s.delete_failed(now_ms);
        }
    }
    conclude(job, now_ms);
    Ok(())
}

// ---- reads ------------------------------------------------------------------------------------

fn resource_info(sub: &SubJob) -> Value {
    json!({
        "resource_id": sub.resource_id,
        "resource_name": sub.resource_name,
        "cloud_service_type": "hws.service.type.ec2",
        "resource_type": "hws.resource.type.vm",
    })
}

/// A sub-job as `JobDetailInfo` / `SubJobDetailInfo`.
fn render_sub(job: &Job, sub: &SubJob, project_id: &str) -> Value {
    let mut v = json!({
        "id": sub.id,
        "job_id": job.id,
        "project_id": project_id,
        "job_type": job.job_type,
        "status": sub.status,
        "job_resource_info": resource_info(sub),
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(b) = sub.begin_ms {
            obj.insert("begin_time".into(), json!(time(b)));
        }
        if let Some(e) = sub.end_ms {
            obj.insert("end_time".into(), json!(time(e)));
        }
        if let Some(c) = &sub.error_code {
            obj.insert("error_code".into(), json!(c));
        }
        if let Some(m) = &sub.error_message {
            obj.insert("error_message".into(), json!(m));
        }
    }
    v
}

/// `ShowJobDetailResponse`.
fn render_v2(job: &Job, project_id: &str) -> Value {
    let mut v = json!({
        "id": job.id,
        "job_type": job.job_type,
        "status": job.status,
        "begin_time": time(job.begin_ms.unwrap_or(job.create_ms)),
        "sub_jobs_total": job.sub_jobs.len(),
        "sub_jobs": job.sub_jobs.iter().map(|s| render_sub(job, s, project_id)).collect::<Vec<_>>(),
    });
    if let (Some(obj), Some(e)) = (v.as_object_mut(), job.end_ms) {
        obj.insert("end_time".into(), json!(time(e)));
    }
    v
}

/// The v1 integer status: 0 failed, 1 success, 2 processing, 3 initializing.
fn v1_status(s: &str) -> u8 {
    match s {
        "FAILED" => 0,
        "SUCCESS" => 1,
        "RUNNING" => 2,
        _ => 3,
    }
}

fn v1_type(t: &str) -> usize {
    JOB_TYPES.iter().position(|x| *x == t).unwrap_or(0)
}

/// `ShowJobResponse`.
fn render_v1(job: &Job) -> Value {
    let subs: Vec<Value> = job
        .sub_jobs
        .iter()
        .map(|s| {
            let mut v = json!({
                "job_id": s.id,
                "job_type": v1_type(&job.job_type),
                "job_status": v1_status(&s.status),
                "entities": [resource_info(s)],
                "begin_time": time(s.begin_ms.unwrap_or(job.create_ms)),
            });
            if let Some(obj) = v.as_object_mut() {
                if let Some(e) = s.end_ms {
                    obj.insert("end_time".into(), json!(time(e)));
                }
                if let Some(c) = &s.error_code {
                    obj.insert("execute_code".into(), json!(c));
                }
                if let Some(m) = &s.error_message {
                    obj.insert("execute_message".into(), json!(m));
                }
            }
            v
        })
        .collect();
    let mut v = json!({
        "job_id": job.id,
        "job_type": v1_type(&job.job_type),
        "job_status": v1_status(&job.status),
        "sub_jobs": subs,
        "begin_time": time(job.begin_ms.unwrap_or(job.create_ms)),
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(e) = job.end_ms {
            obj.insert("end_time".into(), json!(time(e)));
        }
        if let Some(f) = job
            .sub_jobs
            .iter()
            .find_map(|s| s.error_code.as_ref().zip(s.error_message.as_ref()))
        {
            obj.insert("execute_code".into(), json!(f.0));
            obj.insert("execute_message".into(), json!(f.1));
        }
    }
    json!({"job": v})
}

fn find_job(tx: &mut Tx<'_>, id: &str) -> Result<Job, ApiError> {
    tx.store
        .table::<Job>()?
        .get(id)
        .cloned()
        .ok_or_else(|| errors::not_found("job", id))
}

async fn show_v2(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((pid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let job = app.tx(&p, |tx| find_job(tx, &id))?;
    Ok(axum::Json(render_v2(&job, &pid)).into_response())
}

async fn show_v1(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let job = app.tx(&p, |tx| find_job(tx, &id))?;
    Ok(axum::Json(render_v1(&job)).into_response())
}

/// The sub-jobs of the caller's jobs that pass the `job_type`, `job_id` and `status` filters of `q`, oldest
/// job first: `(job, sub-job)` pairs.
fn filtered_sub_jobs(jobs: &[Job], q: &QueryParams) -> Vec<(Job, SubJob)> {
    let job_type = q.get("job_type");
    let job_id = q.get("job_id");
    let status = q.get("status");
    jobs.iter()
        .filter(|j| job_type.is_none_or(|t| t == j.job_type) && job_id.is_none_or(|id| id == j.id))
        .flat_map(|j| j.sub_jobs.iter().map(move |s| (j, s)))
        .filter(|(_, s)| status.is_none_or(|st| st == s.status))
        .map(|(j, s)| (j.clone(), s.clone()))
        .collect()
}

fn all_jobs(app: &AppState, p: &crate::core::auth::Principal) -> Result<Vec<Job>, ApiError> {
    app.tx(p, |tx| Ok(tx.store.table::<Job>()?.iter().cloned().collect()))
}

/// `ListSubJobs`: `job_type` is required.
async fn list_sub_jobs(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(pid): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let page = Page::from_query(&q)?;
    if q.get("job_type").is_none() {
        return Err(errors::invalid("job_type", "is required"));
    }
    let subs = filtered_sub_jobs(&all_jobs(&app, &p)?, &q);
    let (count, items) = page.apply(subs.into_iter());
    let items: Vec<Value> = items.iter().map(|(j, s)| render_sub(j, s, &pid)).collect();
    Ok(axum::Json(json!({"count": count, "items": items})).into_response())
}

/// `CountSubJobs`: every filter optional.
async fn count_sub_jobs(
    State(app): State<AppState>,
    Caller(p): Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let count = filtered_sub_jobs(&all_jobs(&app, &p)?, &q).len();
    Ok(axum::Json(json!({"count": count})).into_response())
}

/// The job routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/{project_id}/job/{job_id}", get(show_v2))
        .route("/v1/{project_id}/job/{job_id}", get(show_v1))
        .route("/v1/{project_id}/app-server-sub-jobs", get(list_sub_jobs))
        .route(
            "/v1/{project_id}/app-server-sub-jobs/actions/count",
            get(count_sub_jobs),
        )
}

// ---- admin knob -------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesBody {
    #[serde(default)]
    rules: Vec<FailureRule>,
    /// Only this account (default: every configured account).
    #[serde(default)]
    domain_id: Option<String>,
}

fn admin_error(message: impl Into<String>) -> Response {
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message).neutral_response()
}

fn domains(app: &AppState, only: Option<&str>) -> Vec<String> {
    app.config()
        .accounts
        .iter()
        .map(|a| a.domain_id.clone())
        .filter(|d| only.is_none_or(|o| o == d))
        .collect()
}

fn set_rules(app: &AppState, only: Option<&str>, rules: Vec<StoredRule>) -> Result<(), StateError> {
    let ids = domains(app, only);
    app.with_world(|w| {
        for id in &ids {
            let table = w.account(id).table::<FailureRules>()?;
            table.insert(FailureRules {
                id: RULES_ID.into(),
                rules: rules.clone(),
            });
        }
        Ok(())
    })
}

async fn put_rules(State(app): State<AppState>, body: Bytes) -> Response {
    let parsed: RulesBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(format!("invalid job-failure rules: {e}")),
    };
    let stored = parsed
        .rules
        .into_iter()
        .map(|rule| StoredRule {
            remaining: rule.times,
            rule,
        })
        .collect();
    match set_rules(&app, parsed.domain_id.as_deref(), stored) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(e.to_string()),
    }
}

async fn get_rules(State(app): State<AppState>) -> Response {
    let ids = domains(&app, None);
    let first = ids.first().cloned().unwrap_or_default();
    let rules = app.with_world(|w| {
        w.account(&first)
            .table::<FailureRules>()
            .map(|t| t.get(RULES_ID).map(|r| r.rules.clone()).unwrap_or_default())
    });
    match rules {
        Ok(r) => axum::Json(json!({"rules": r})).into_response(),
        Err(e) => admin_error(e.to_string()),
    }
}

async fn clear_rules(State(app): State<AppState>) -> Response {
    match set_rules(&app, None, Vec::new()) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(e.to_string()),
    }
}

/// The admin knob (an unauthenticated route of the workspace listener).
pub fn admin_routes() -> Router<AppState> {
    Router::new().route(
        "/_emulator/workspace/job-failures",
        get(get_rules).put(put_rules).delete(clear_rules),
    )
}
