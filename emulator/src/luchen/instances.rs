//! Luchen GPU instances: `POST /api/instance/{create,list,stop,start,restart,terminate}`.
//!
//! Create (seed 003) validates every documented field in the documented order ([`body`](crate::luchen::body)
//! for the presence rule) and answers `{"instanceId":"notebook-<uuid>"}`. List needs
//! `{"pager":{currentPage,pageSize}}` (500 without it, as observed) and answers
//! `{"instances":[…],"pager":{currentPage,pageSize,totalEntries}}`, newest first; it is the only read
//! (no get-one is documented). Stop and terminate are documented; start and restart are not and are
//! served with the same shape (`{"instanceId"}` in and out). An unknown id is 404
//! `{"message":"ent: instance not found"}`.
//!
//! States (`instanceRuntimeInfo.status`, the third-party enum): create → `Initializing`
//! (`luchen_instance_init` ms) → `PullingImage` (`luchen_instance_pull`) → `Starting`
//! (`luchen_instance_start`) → `Running`; stop `Running → Stopping → Stopped` (`luchen_instance_stop`);
//! start `Stopped|StartingFailed|Archived → Starting → Running`; restart `Running → Restarting → Running`
//! (`luchen_instance_restart`); terminate (any state but `Released`) → `Released`, listed for
//! `luchen_instance_release` ms, then gone; `Stopped → Archived` after `luchen_instance_archive` ms only
//! when that delay is configured. Faults: `stuck: [luchen.instance]` (nothing finishes),
//! `instance_failure_rate` (a new instance ends `StartingFailed`), `capacity_exhausted_sites: [<region>]`
//! (new instances there end `InitializationFailed`), `slow_builds` (Initializing lasts longer, by name).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::calls::ReadAnswer;
use crate::core::clock::rfc3339_seconds;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::state::{Record, StateError, Store, Timer};
use crate::luchen::body::{Fields, parse_object};
use crate::luchen::catalog::LuchenConfig;
use crate::luchen::errors::{INSTANCE_NOT_FOUND, invalid, message, not_found, unset, wrong_status};
use crate::luchen::kinds;

/// Default `luchen_instance_init` (ms).
pub const INIT_MS: u64 = 1000;
/// Default `luchen_instance_pull` (ms).
pub const PULL_MS: u64 = 1000;
/// Default `luchen_instance_start` (ms).
pub const START_MS: u64 = 1000;
/// Default `luchen_instance_stop` (ms).
pub const STOP_MS: u64 = 1000;
/// Default `luchen_instance_restart` (ms).
pub const RESTART_MS: u64 = 1000;
/// Default `luchen_instance_release` (ms).
pub const RELEASE_MS: u64 = 2000;
/// Largest `pager.pageSize`; larger values are clamped.
pub const MAX_PAGE_SIZE: u64 = 100;
/// Longest instance name.
pub const MAX_NAME_CHARS: usize = 64;
/// The documented charge modes.
pub const CHARGE_MODES: &[&str] = &["tidePerHour", "perHour", "perDay", "perWeek", "perMonth"];
/// Remote storage types.
pub const STORAGE_TYPES: &[&str] = &["highspeedstorage", "filesystem"];

/// Status values (the third-party enum).
pub mod status {
    /// Being set up.
    pub const INITIALIZING: &str = "Initializing";
    /// Pulling its image.
    pub const PULLING_IMAGE: &str = "PullingImage";
    /// Starting.
    pub const STARTING: &str = "Starting";
    /// Restarting.
    pub const RESTARTING: &str = "Restarting";
    /// Stopping.
    pub const STOPPING: &str = "Stopping";
    /// Running.
    pub const RUNNING: &str = "Running";
    /// Stopped.
    pub const STOPPED: &str = "Stopped";
    /// Stopped long ago and archived.
    pub const ARCHIVED: &str = "Archived";
    /// Terminated (listed briefly, then gone).
    pub const RELEASED: &str = "Released";
    /// Failed to start.
    pub const STARTING_FAILED: &str = "StartingFailed";
    /// Failed to initialise.
    pub const INITIALIZATION_FAILED: &str = "InitializationFailed";
}

/// `billing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    /// `chargeMode`.
    pub charge_mode: String,
    /// `duration`.
    pub duration: u64,
}

/// One `remoteStorages` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    /// `mountPath`.
    pub mount_path: String,
    /// `remoteStorageName`.
    pub remote_storage_name: String,
    /// `remoteStorageId`.
    pub remote_storage_id: String,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `instanceConfiguration` (defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceConfiguration {
    /// `extraDataDiskSizeDB` (GB).
    #[serde(rename = "extraDataDiskSizeDB")]
    pub extra_data_disk_size_db: u64,
    /// `enableCommonData`.
    pub enable_common_data: bool,
    /// `enableDocker`.
    pub enable_docker: bool,
    /// `dockerStorageSize` (GB).
    pub docker_storage_size: u64,
    /// `initScript`.
    pub init_script: String,
}

/// One node port: the instance port and the node port it is reachable on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePort {
    /// The port inside the instance.
    pub port: u16,
    /// The port on the region's node.
    pub node_port: u16,
}

/// Delays a timer needs later, fixed at the time of the call (timer handlers do not see the config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    /// `luchen_instance_pull`.
    pub pull_ms: u64,
    /// `luchen_instance_start`.
    pub start_ms: u64,
    /// `luchen_instance_archive`, if configured.
    pub archive_ms: Option<u64>,
}

/// A stored instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// `notebook-<uuid>`.
    pub id: String,
    /// Creation order within the account (list order).
    pub seq: u64,
    /// `name`.
    pub name: String,
    /// `imageId`.
    pub image_id: String,
    /// `instanceTypeId`.
    pub instance_type_id: String,
    /// `region` (id).
    pub region_id: String,
    /// `billing`.
    pub billing: Billing,
    /// `remoteStorages`.
    pub remote_storages: Vec<Mount>,
    /// `instanceConfiguration`.
    pub configuration: InstanceConfiguration,
    /// `isSpotInstance`.
    pub is_spot: bool,
    /// `nodePorts` with their node ports.
    pub node_ports: Vec<NodePort>,
    /// Node port of SSH.
    pub ssh_port: u16,
    /// Status.
    pub status: String,
    /// Has been `Running` at least once (the SSH address is shown from then on).
    pub reached_running: bool,
    /// Transition generation: timers of an earlier transition are ignored.
    pub generation: u64,
    /// The status the current start ends in instead of `Running` (injected failure), if any.
    pub fails_as: Option<String>,
    /// Delays for chained transitions.
    pub planned: Planned,
    /// Creation time (epoch ms).
    pub create_ms: u64,
    /// Last change (epoch ms).
    pub update_ms: u64,
}

impl Record for Instance {
    const KIND: &'static str = kinds::INSTANCE;
    fn id(&self) -> &str {
        &self.id
    }
}

// ---- create ------------------------------------------------------------------------------------

/// A validated create body.
struct CreateRequest {
    name: String,
    image_id: String,
    instance_type_id: String,
    region_id: String,
    billing: Billing,
    remote_storages: Vec<Mount>,
    configuration: InstanceConfiguration,
    is_spot: bool,
    node_ports: Vec<u16>,
}

fn read_billing(f: Fields<'_>) -> Result<Billing, ApiError> {
    let map = f.object("billing")?;
    let b = Fields::at(map, "billing");
    let charge_mode = b.string("chargeMode")?;
    let duration = b.required("duration")?;
    if !CHARGE_MODES.contains(&charge_mode) {
        return Err(invalid(
            "billing.chargeMode",
            format!("must be one of {}", CHARGE_MODES.join(", ")),
        ));
    }
    let duration = crate::luchen::body::as_count(duration)
        .filter(|d| *d >= 1)
        .ok_or_else(|| invalid("billing.duration", "must be an integer of at least 1"))?;
    if matches!(charge_mode, "perHour" | "tidePerHour") && duration != 1 {
        return Err(invalid(
            "billing.duration",
            "must be 1 for perHour and tidePerHour",
        ));
    }
    Ok(Billing {
        charge_mode: charge_mode.to_string(),
        duration,
    })
}

fn read_mounts(f: Fields<'_>) -> Result<Vec<Mount>, ApiError> {
    let items = f.array("remoteStorages")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("remoteStorages[{i}]");
        let map = item
            .as_object()
            .ok_or_else(|| invalid(&prefix, "must be an object"))?;
        let m = Fields::at(map, &prefix);
        let mount_path = m.string("mountPath")?;
        let remote_storage_name = m.string("remoteStorageName")?;
        let remote_storage_id = m.string("remoteStorageId")?;
        let kind = m.string("type")?;
        if !mount_path.starts_with('/') {
            return Err(invalid(&m.path("mountPath"), "must be an absolute path"));
        }
        if !STORAGE_TYPES.contains(&kind) {
            return Err(invalid(
                &m.path("type"),
                format!("must be one of {}", STORAGE_TYPES.join(", ")),
            ));
        }
        out.push(Mount {
            mount_path: mount_path.to_string(),
            remote_storage_name: remote_storage_name.to_string(),
            remote_storage_id: remote_storage_id.to_string(),
            kind: kind.to_string(),
        });
    }
    Ok(out)
}

fn read_configuration(f: Fields<'_>) -> Result<InstanceConfiguration, ApiError> {
    let map = f.object("instanceConfiguration")?;
    let c = Fields::at(map, "instanceConfiguration");
    let enable_common_data = c.boolean("enableCommonData")?;
    let enable_docker = c.boolean("enableDocker")?;
    let init_script = c.string("initScript")?;
    let extra_data_disk_size_db = c.opt_count("extraDataDiskSizeDB")?.unwrap_or(0);
    let docker_storage_size = c.opt_count("dockerStorageSize")?.unwrap_or(0);
    Ok(InstanceConfiguration {
        extra_data_disk_size_db,
        enable_common_data,
        enable_docker,
        docker_storage_size,
        init_script: init_script.to_string(),
    })
}

fn read_node_ports(f: Fields<'_>) -> Result<Vec<u16>, ApiError> {
    let items = f.array("nodePorts")?;
    let mut out: Vec<u16> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("nodePorts[{i}]");
        let port = crate::luchen::body::as_count(item)
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| invalid(&path, "must be a port number 1..65535"))? as u16;
        if out.contains(&port) {
            return Err(invalid(&path, format!("port {port} is listed twice")));
        }
        out.push(port);
    }
    Ok(out)
}

/// Reads the create body in the documented field order (first problem wins).
fn read_create(map: &Map<String, Value>) -> Result<CreateRequest, ApiError> {
    let f = Fields::root(map);
    let name = f.string("name")?;
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let image_id = f.string("imageId")?;
    let instance_type_id = f.string("instanceTypeId")?;
    let region_id = f.string("region")?;
    let billing = read_billing(f)?;
    let remote_storages = read_mounts(f)?;
    let configuration = read_configuration(f)?;
    let is_spot = f.opt_boolean("isSpotInstance")?.unwrap_or(false);
    let node_ports = read_node_ports(f)?;
    Ok(CreateRequest {
        name: name.to_string(),
        image_id: image_id.to_string(),
        instance_type_id: instance_type_id.to_string(),
        region_id: region_id.to_string(),
        billing,
        remote_storages,
        configuration,
        is_spot,
        node_ports,
    })
}

/// Checks the request's ids against the catalog.
fn check_catalog(catalog: &LuchenConfig, req: &CreateRequest) -> Result<(), ApiError> {
    catalog.image(&req.image_id).ok_or_else(|| not_found("image"))?;
    catalog
        .instance_type(&req.instance_type_id)
        .ok_or_else(|| not_found("instance type"))?;
    let region = catalog
        .region(&req.region_id)
        .ok_or_else(|| not_found("region"))?;
    if !region.instance_types.contains(&req.instance_type_id) {
        return Err(not_found("instance type"));
    }
    for m in &req.remote_storages {
        catalog
            .remote_storage(&m.remote_storage_id)
            .ok_or_else(|| not_found("remote storage"))?;
    }
    Ok(())
}

/// A node port from the account's counter (30000–32767, the Kubernetes node-port range).
fn next_node_port(store: &mut Store) -> u16 {
    let n = store.next_counter("luchen.node_port");
    30000 + ((n - 1) % 2768) as u16
}

fn create_in(tx: &mut Tx<'_>, req: CreateRequest) -> Result<Value, ApiError> {
    check_catalog(&tx.config.luchen, &req)?;
    let id = format!("notebook-{}", uuid::Uuid::new_v4());
    let seq = tx.store.next_counter("luchen.instance");
    let ssh_port = next_node_port(tx.store);
    let node_ports = req
        .node_ports
        .iter()
        .map(|&port| NodePort {
            port,
            node_port: next_node_port(tx.store),
        })
        .collect();
    let fails_as = if tx.faults.site_exhausted(&req.region_id) {
        Some(status::INITIALIZATION_FAILED.to_string())
    } else if tx.faults.instance_failure_rate > 0.0 && tx.rng.chance(tx.faults.instance_failure_rate) {
        Some(status::STARTING_FAILED.to_string())
    } else {
        None
    };
    let init_ms = tx
        .faults
        .build_delay_for(&req.name)
        .unwrap_or_else(|| tx.delay_ms("luchen_instance_init", INIT_MS));
    let planned = Planned {
        pull_ms: tx.delay_ms("luchen_instance_pull", PULL_MS),
        start_ms: tx.delay_ms("luchen_instance_start", START_MS),
        archive_ms: tx.config.delays.per.get("luchen_instance_archive").copied(),
    };
    let inst = Instance {
        id: id.clone(),
        seq,
        name: req.name,
        image_id: req.image_id,
        instance_type_id: req.instance_type_id,
        region_id: req.region_id,
        billing: req.billing,
        remote_storages: req.remote_storages,
        configuration: req.configuration,
        is_spot: req.is_spot,
        node_ports,
        ssh_port,
        status: status::INITIALIZING.into(),
        reached_running: false,
        generation: 1,
        fails_as,
        planned,
        create_ms: tx.now_ms,
        update_ms: tx.now_ms,
    };
    tx.insert_new(inst)?;
    tx.schedule_in(init_ms, kinds::INSTANCE, &id, &action("init-done", 1));
    Ok(json!({ "instanceId": id }))
}

/// `POST /api/instance/create`.
pub async fn create(State(app): State<AppState>, Caller(p): Caller, body: Bytes) -> Response {
    let result = parse_object(&body)
        .and_then(|map| read_create(&map))
        .and_then(|req| app.tx(&p, |tx| create_in(tx, req)));
    answer(result)
}

// ---- list --------------------------------------------------------------------------------------

/// `pager` of a list request.
fn read_pager(map: &Map<String, Value>) -> Result<(u64, u64), ApiError> {
    let f = Fields::root(map);
    let Some(pager) = f.get("pager") else {
        return Err(message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "字段 \"pager\" 未设置",
        ));
    };
    let pager = pager
        .as_object()
        .ok_or_else(|| invalid("pager", "must be an object"))?;
    let p = Fields::at(pager, "pager");
    let current = p.count("currentPage")?;
    let size = p.count("pageSize")?;
    if current < 1 {
        return Err(invalid("pager.currentPage", "must be at least 1"));
    }
    if size < 1 {
        return Err(invalid("pager.pageSize", "must be at least 1"));
    }
    Ok((current, size.min(MAX_PAGE_SIZE)))
}

/// The list row of an instance.
pub fn row(catalog: &LuchenConfig, i: &Instance) -> Value {
    let region = catalog.region(&i.region_id);
    let itype = catalog.instance_type(&i.instance_type_id);
    let ssh_address = match region {
        Some(r) if i.reached_running => format!("ssh root@{} -p {}", r.ssh_host, i.ssh_port),
        _ => String::new(),
    };
    json!({
        "instanceMetadata": {
            "instanceId": i.id,
            "name": i.name,
            "instanceUsername": "root",
            "createdAt": rfc3339_seconds(i.create_ms),
        },
        "instanceRuntimeInfo": {"status": i.status},
        "instanceSpecInfo": {
            "regionInfo": {
                "regionId": i.region_id,
                "regionName": region.map(|r| r.name.clone()).unwrap_or_default(),
                "sshAddress": ssh_address,
            },
            "nodePorts": i.node_ports,
            "instanceTypeId": i.instance_type_id,
            "gpuType": itype.map(|t| t.gpu_type.clone()).unwrap_or_default(),
            "gpuNum": itype.map_or(0, |t| t.gpu_num),
            "imageId": i.image_id,
            "billing": i.billing,
            "isSpotInstance": i.is_spot,
            "remoteStorages": i.remote_storages,
            "instanceConfiguration": i.configuration,
        },
    })
}

fn list_in(tx: &mut Tx<'_>, current: u64, size: u64) -> Result<Value, ApiError> {
    let now = tx.now_ms;
    let mut all: Vec<Instance> = tx.store.table::<Instance>()?.iter_visible(now).cloned().collect();
    all.sort_by_key(|i| std::cmp::Reverse(i.seq));
    let total = all.len() as u64;
    let skip = ((current - 1).saturating_mul(size)).min(total) as usize;
    let rows: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(size as usize)
        .map(|i| row(&tx.config.luchen, i))
        .collect();
    Ok(json!({
        "instances": rows,
        "pager": {"currentPage": current, "pageSize": size, "totalEntries": total},
    }))
}

/// `POST /api/instance/list`. A read, although a POST.
pub async fn list(State(app): State<AppState>, Caller(p): Caller, body: Bytes) -> Response {
    let result = parse_object(&body)
        .and_then(|map| read_pager(&map))
        .and_then(|(current, size)| app.tx(&p, |tx| list_in(tx, current, size)));
    let mut resp = answer(result);
    resp.extensions_mut().insert(ReadAnswer);
    resp
}

// ---- actions -----------------------------------------------------------------------------------

/// The power actions and terminate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Stop,
    Start,
    Restart,
    Terminate,
}

fn action(name: &str, generation: u64) -> String {
    format!("{name}:{generation}")
}

fn act_in(tx: &mut Tx<'_>, id: &str, what: Action) -> Result<Value, ApiError> {
    let now = tx.now_ms;
    let (stop_ms, start_ms, restart_ms, release_ms) = (
        tx.delay_ms("luchen_instance_stop", STOP_MS),
        tx.delay_ms("luchen_instance_start", START_MS),
        tx.delay_ms("luchen_instance_restart", RESTART_MS),
        tx.delay_ms("luchen_instance_release", RELEASE_MS),
    );
    let table = tx.store.table::<Instance>()?;
    let inst = table
        .get_visible(id, now)
        .filter(|i| i.status != status::RELEASED)
        .ok_or_else(|| message(StatusCode::NOT_FOUND, INSTANCE_NOT_FOUND))?;
    let current = inst.status.clone();
    let (next, timer, delay) = match (what, current.as_str()) {
        (Action::Stop, status::RUNNING) => (status::STOPPING, "stop-done", stop_ms),
        (Action::Start, status::STOPPED | status::STARTING_FAILED | status::ARCHIVED) => {
            (status::STARTING, "start-done", start_ms)
        }
        (Action::Restart, status::RUNNING) => (status::RESTARTING, "restart-done", restart_ms),
        (Action::Terminate, _) => (status::RELEASED, "release-done", release_ms),
        _ => return Err(wrong_status(&current)),
    };
    let generation = {
        let Some(inst) = table.get_mut(id) else {
            return Err(message(StatusCode::NOT_FOUND, INSTANCE_NOT_FOUND));
        };
        inst.status = next.into();
        inst.generation += 1;
        inst.update_ms = now;
        if what == Action::Start {
            inst.fails_as = None;
        }
        inst.generation
    };
    tx.schedule_in(delay, kinds::INSTANCE, id, &action(timer, generation));
    Ok(json!({ "instanceId": id }))
}

fn instance_id(body: &[u8]) -> Result<String, ApiError> {
    let map = parse_object(body)?;
    let f = Fields::root(&map);
    let id = f.string("instanceId")?;
    if id.is_empty() {
        return Err(unset("instanceId"));
    }
    Ok(id.to_string())
}

async fn act(app: AppState, p: crate::core::auth::Principal, body: Bytes, what: Action) -> Response {
    let result = instance_id(&body).and_then(|id| app.tx(&p, |tx| act_in(tx, &id, what)));
    answer(result)
}

/// `POST /api/instance/stop`.
pub async fn stop(State(app): State<AppState>, Caller(p): Caller, body: Bytes) -> Response {
    act(app, p, body, Action::Stop).await
}

/// `POST /api/instance/start` (undocumented; the emulator's shape).
pub async fn start(State(app): State<AppState>, Caller(p): Caller, body: Bytes) -> Response {
    act(app, p, body, Action::Start).await
}

/// `POST /api/instance/restart` (undocumented; the emulator's shape).
pub async fn restart(State(app): State<AppState>, Caller(p): Caller, body: Bytes) -> Response {
    act(app, p, body, Action::Restart).await
}

/// `POST /api/instance/terminate`.
pub async fn terminate(State(app): State<AppState>, Caller(p): Caller, body: Bytes) -> Response {
    act(app, p, body, Action::Terminate).await
}

fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

// ---- timers ------------------------------------------------------------------------------------

/// Finishes a transition of an instance (`<action>:<generation>`; stale generations are ignored).
pub fn on_timer(store: &mut Store, timer: &Timer, now_ms: u64) -> Result<(), StateError> {
    let Some((name, generation)) = timer.action.split_once(':') else {
        return Ok(());
    };
    let generation: u64 = generation.parse().unwrap_or(0);
    let table = store.table::<Instance>()?;
    let Some(inst) = table.get_mut(&timer.id) else {
        return Ok(());
    };
    if inst.generation != generation {
        return Ok(());
    }
    inst.update_ms = now_ms;
    let due = timer.due_ms;
    let planned = inst.planned;
    let mut next: Option<(u64, &str)> = None;
    match (name, inst.status.as_str()) {
        ("init-done", status::INITIALIZING) => {
            if inst.fails_as.as_deref() == Some(status::INITIALIZATION_FAILED) {
                inst.status = status::INITIALIZATION_FAILED.into();
            } else {
                inst.status = status::PULLING_IMAGE.into();
                next = Some((planned.pull_ms, "pull-done"));
            }
        }
        ("pull-done", status::PULLING_IMAGE) => {
            inst.status = status::STARTING.into();
            next = Some((planned.start_ms, "start-done"));
        }
        ("start-done", status::STARTING) => {
            if let Some(failed) = inst.fails_as.take() {
                inst.status = failed;
            } else {
                inst.status = status::RUNNING.into();
                inst.reached_running = true;
            }
        }
        ("restart-done", status::RESTARTING) => inst.status = status::RUNNING.into(),
        ("stop-done", status::STOPPING) => {
            inst.status = status::STOPPED.into();
            if let Some(ms) = planned.archive_ms {
                next = Some((ms, "archive"));
            }
        }
        ("archive", status::STOPPED) => inst.status = status::ARCHIVED.into(),
        ("release-done", status::RELEASED) => {
            table.remove(&timer.id);
            return Ok(());
        }
        _ => return Ok(()),
    }
    if let Some((delay, what)) = next {
        inst.generation += 1;
        let generation = inst.generation;
        store.schedule(due + delay, kinds::INSTANCE, &timer.id, &action(what, generation));
    }
    Ok(())
}
