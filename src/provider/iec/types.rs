//! IEC wire types (requests and responses), written from the API digest. Parsing is lenient wherever the
//! reference is inconsistent: numbers as strings, `""`/`null` for "unset", booleans as strings, a single
//! object where an array is documented, wrapped vs unwrapped bodies, unknown fields ignored.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------------------
// Lenient field parsers
// ---------------------------------------------------------------------------------------------------------

/// `null` → default, otherwise the value.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Any scalar as a string: strings as is, numbers/bools formatted, `null` → `""`.
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    })
}

/// A port: integer, numeric string, `""` or `null` (the last two = unset).
pub fn lenient_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(0) => Ok(None),
            Some(v) => u16::try_from(v)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("port {v} out of range"))),
            None => Err(de::Error::custom(format!("port {n} is not an integer"))),
        },
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<u16>()
            .map(|v| (v != 0).then_some(v))
            .map_err(de::Error::custom),
        other => Err(de::Error::custom(format!("unexpected port value {other}"))),
    }
}

/// An unsigned integer: number, numeric string, `""`/`null` → None.
pub fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A boolean: bool, `"true"`/`"false"` (any case), `null`/other → None.
pub fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

/// One object or an array of them (edge cloud `stacks`).
pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(de::Error::custom))
            .collect(),
        v @ Value::Object(_) => Ok(vec![serde_json::from_value(v).map_err(de::Error::custom)?]),
        other => Err(de::Error::custom(format!(
            "expected object or array, got {other}"
        ))),
    }
}

/// A response that may or may not be wrapped in `{"<key>": ...}`: parsed from either shape.
pub fn unwrap_key<T: serde::de::DeserializeOwned>(body: Value, key: &str) -> Result<T, serde_json::Error> {
    match body {
        Value::Object(mut map) if map.len() == 1 && map.contains_key(key) => {
            serde_json::from_value(map.remove(key).unwrap_or(Value::Null))
        }
        other => serde_json::from_value(other),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Common
// ---------------------------------------------------------------------------------------------------------

/// `{job_id}` (tolerates the doc's `" job_id"` typo).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobResponse {
    /// Job id.
    #[serde(default, alias = " job_id", deserialize_with = "lenient_string")]
    pub job_id: String,
}

/// `{jobs:[{job_id}]}` of batch actions.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobsResponse {
    /// Jobs.
    #[serde(default, deserialize_with = "null_default")]
    pub jobs: Vec<JobResponse>,
}

/// `{id}` reference.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdRef {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
}

// ---------------------------------------------------------------------------------------------------------
// Deployment plans and edge clouds
// ---------------------------------------------------------------------------------------------------------

/// Demand of a coverage site.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Demand {
    /// Operator.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_none"
    )]
    pub operator: Option<String>,
    /// Resource-group count 1..10.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub demand_count: u32,
    /// EIP line.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_none"
    )]
    pub pool_id: Option<String>,
}

/// `""`/`null` → None.
pub fn empty_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = lenient_string(d)?;
    Ok((!s.is_empty()).then_some(s))
}

/// Lenient u32 (missing/invalid → 0).
pub fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(lenient_u64(d)?.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
}

/// A coverage site.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CoverageSite {
    /// Site name/id per level.
    #[serde(default, deserialize_with = "lenient_string")]
    pub site: String,
    /// Demands.
    #[serde(default, deserialize_with = "null_default")]
    pub demands: Vec<Demand>,
}

/// Coverage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Coverage {
    /// `centralize` | `discrete`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub coverage_policy: String,
    /// `area` | `prov` | `city` | `site`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub coverage_level: String,
    /// Sites.
    #[serde(default, deserialize_with = "null_default")]
    pub coverage_sites: Vec<CoverageSite>,
}

/// Disk.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Volume {
    /// GB.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub size: u32,
    /// Type.
    #[serde(default, deserialize_with = "lenient_string")]
    pub volume_type: String,
}

/// Net config of a deployment resource.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetConfig {
    /// VPC.
    #[serde(default, deserialize_with = "lenient_string")]
    pub vpc_id: String,
    /// NICs 1..8.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub nic_num: u32,
}

/// Bandwidth config.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BandwidthConfig {
    /// `WHOLE`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub sharetype: String,
    /// Mbit/s.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_u64"
    )]
    pub size: Option<u64>,
}

/// A resource (instance template) of a stack. Request-side secrets are plain strings here; the client
/// builds this only when sending and never logs it.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resource {
    /// Base name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Prefix with an IEC site code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool"
    )]
    pub with_prefix: Option<bool>,
    /// Image.
    #[serde(default, deserialize_with = "lenient_string")]
    pub image_ref: String,
    /// Flavor.
    #[serde(default, deserialize_with = "lenient_string")]
    pub flavor_ref: String,
    /// Admin password (echoed masked).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_none"
    )]
    pub admin_pass: Option<String>,
    /// Keypair.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_none"
    )]
    pub key_name: Option<String>,
    /// Network.
    #[serde(default, deserialize_with = "null_default")]
    pub net_config: NetConfig,
    /// Bandwidth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<BandwidthConfig>,
    /// System disk.
    #[serde(default, deserialize_with = "null_default")]
    pub root_volume: Volume,
    /// Data disks.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub data_volumes: Vec<Volume>,
    /// Instances per resource group.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub count: u32,
    /// Security groups.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub security_groups: Vec<IdRef>,
    /// User data.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_none"
    )]
    pub user_data: Option<String>,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name)
            .field("image_ref", &self.image_ref)
            .field("flavor_ref", &self.flavor_ref)
            .field("count", &self.count)
            .field("admin_pass", &self.admin_pass.as_ref().map(|_| "***"))
            .field("user_data", &self.user_data.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// A stack (resource group).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stack {
    /// Stack id (responses only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_none"
    )]
    pub id: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Resources.
    #[serde(default, deserialize_with = "null_default")]
    pub resources: Vec<Resource>,
}

/// `edgecloud` of a plan create request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EdgeCloudOption {
    /// Name (new edge cloud).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Id (expansion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Coverage.
    pub coverage: Coverage,
    /// Stack (singular key in requests).
    pub stack: Stack,
}

/// `POST /v1/deployments` body.
#[derive(Debug, Clone, Serialize)]
pub struct CreateDeploymentRequest {
    /// The plan.
    pub edgecloud: EdgeCloudOption,
}

/// A location of a plan.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Location {
    /// Site id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub site_id: String,
    /// Area.
    #[serde(default, deserialize_with = "empty_none")]
    pub area: Option<String>,
    /// Province.
    #[serde(default, deserialize_with = "empty_none")]
    pub province: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "empty_none")]
    pub city: Option<String>,
    /// Operator.
    #[serde(default, deserialize_with = "empty_none")]
    pub operator: Option<String>,
    /// Line.
    #[serde(default, deserialize_with = "empty_none")]
    pub pool_id: Option<String>,
    /// Stacks at this site.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub stack_count: u32,
}

/// `POST /v1/deployments` response (unwrapped).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateDeploymentResponse {
    /// Plan id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Locations.
    #[serde(default, deserialize_with = "null_default")]
    pub locations: Vec<Location>,
}

/// The `edgecloud` inside a listed plan.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeploymentEdgeCloud {
    /// Edge cloud id (expansion plans, or after execution).
    #[serde(default, deserialize_with = "empty_none")]
    pub id: Option<String>,
    /// Edge cloud name.
    #[serde(default, deserialize_with = "empty_none")]
    pub name: Option<String>,
}

/// A listed plan.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Deployment {
    /// Plan id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Edge cloud part.
    #[serde(default, deserialize_with = "null_default")]
    pub edgecloud: DeploymentEdgeCloud,
    /// Status when the server includes it (the doc's object has none).
    #[serde(default, deserialize_with = "empty_none")]
    pub status: Option<String>,
}

/// `GET /v1/deployments` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeploymentList {
    /// Total.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub deployments: Vec<Deployment>,
}

/// Deploy/expand response (unwrapped).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeployResponse {
    /// Edge cloud id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Plan id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub deployment_id: String,
    /// Status.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    /// Job.
    #[serde(default, deserialize_with = "empty_none")]
    pub job_id: Option<String>,
}

/// Failure of an edge cloud.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FailReason {
    /// Code.
    #[serde(default, deserialize_with = "lenient_string")]
    pub fail_code: String,
    /// Message.
    #[serde(default, deserialize_with = "lenient_string")]
    pub fail_message: String,
}

/// An edge cloud (list item or GET, unwrapped).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EdgeCloud {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Description.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
    /// Coverage.
    #[serde(default, deserialize_with = "null_default")]
    pub coverage: Coverage,
    /// Status.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    /// Successful VMs.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub success_num: u32,
    /// Failed VMs.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub failed_num: u32,
    /// Stacks: array or single object.
    #[serde(default, deserialize_with = "one_or_many")]
    pub stacks: Vec<Stack>,
    /// Failure.
    #[serde(default)]
    pub fail_reason: Option<FailReason>,
}

/// `GET /v1/edgeclouds` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EdgeCloudList {
    /// Total.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub edgeclouds: Vec<EdgeCloud>,
}

// ---------------------------------------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------------------------------------

/// An address of an instance.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InstanceAddress {
    /// Address.
    #[serde(default, deserialize_with = "lenient_string")]
    pub addr: String,
    /// `fixed` | `floating`.
    #[serde(default, rename = "OS-EXT-IPS:type", deserialize_with = "lenient_string")]
    pub kind: String,
    /// Port id.
    #[serde(default, rename = "OS-EXT-IPS:port_id", deserialize_with = "lenient_string")]
    pub port_id: String,
    /// MAC.
    #[serde(
        default,
        rename = "OS-EXT-IPS-MAC:mac_addr",
        deserialize_with = "lenient_string"
    )]
    pub mac: String,
}

/// Flavor summary inside an instance.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InstanceFlavor {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
}

/// Security group summary inside an instance (often name only).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InstanceSecurityGroup {
    /// Id, if given.
    #[serde(default, deserialize_with = "empty_none")]
    pub id: Option<String>,
    /// Name (or id).
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
}

/// Geolocation of an instance.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GeoLocation {
    /// Id.
    #[serde(default, deserialize_with = "empty_none")]
    pub id: Option<String>,
    /// Area.
    #[serde(default, deserialize_with = "empty_none")]
    pub area: Option<String>,
    /// Province.
    #[serde(default, deserialize_with = "empty_none")]
    pub province: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "empty_none")]
    pub city: Option<String>,
}

/// An instance (list item, GET `server`, or unwrapped PUT response). Tolerates nulls everywhere.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Instance {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Status.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    /// Description.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
    /// Addresses keyed by VPC id.
    #[serde(default, deserialize_with = "null_default")]
    pub addresses: BTreeMap<String, Vec<InstanceAddress>>,
    /// Created time.
    #[serde(default, deserialize_with = "empty_none")]
    pub created: Option<String>,
    /// Tags `key=value`.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Flavor.
    #[serde(default, deserialize_with = "null_default")]
    pub flavor: InstanceFlavor,
    /// Metadata (values may be non-strings).
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: BTreeMap<String, Value>,
    /// Security groups.
    #[serde(default, deserialize_with = "null_default")]
    pub security_groups: Vec<InstanceSecurityGroup>,
    /// Nova vm_state.
    #[serde(default, rename = "OS-EXT-STS:vm_state", deserialize_with = "lenient_string")]
    pub vm_state: String,
    /// Nova task_state.
    #[serde(
        default,
        rename = "OS-EXT-STS:task_state",
        deserialize_with = "lenient_string"
    )]
    pub task_state: String,
    /// Availability zone.
    #[serde(
        default,
        rename = "OS-EXT-AZ:availability_zone",
        deserialize_with = "empty_none"
    )]
    pub availability_zone: Option<String>,
    /// Geolocation.
    #[serde(default)]
    pub geolocation: Option<GeoLocation>,
    /// Edge cloud id.
    #[serde(default, deserialize_with = "empty_none")]
    pub edgecloud_id: Option<String>,
    /// Edge cloud name.
    #[serde(default, deserialize_with = "empty_none")]
    pub edgecloud_name: Option<String>,
    /// Keypair.
    #[serde(default, deserialize_with = "empty_none")]
    pub key_name: Option<String>,
    /// Site id when the server includes one (not in the doc's table; emulators may add it).
    #[serde(default, deserialize_with = "empty_none")]
    pub site_id: Option<String>,
    /// Image id when the server includes one.
    #[serde(default, deserialize_with = "empty_none")]
    pub image_id: Option<String>,
}

/// `GET /v1/cloudservers` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InstanceList {
    /// Total.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub servers: Vec<Instance>,
    /// Sites that failed to answer (partial result).
    #[serde(default, deserialize_with = "null_default")]
    pub err_sites: Vec<String>,
}

/// Subnet of a direct create.
#[derive(Debug, Clone, Serialize)]
pub struct SubnetConfig {
    /// Subnet id.
    pub id: String,
}

/// Net config of a direct create.
#[derive(Debug, Clone, Serialize)]
pub struct NetConfigInstance {
    /// VPC.
    pub vpc_id: String,
    /// Subnets.
    pub subnets: Vec<SubnetConfig>,
}

/// Demand of a direct create.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DemandInstance {
    /// Line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
}

/// Coverage site of a direct create.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageSiteInstance {
    /// Site id.
    pub site: String,
    /// Exactly one demand.
    pub demands: Vec<DemandInstance>,
}

/// Coverage of a direct create (site/centralize only).
#[derive(Debug, Clone, Serialize)]
pub struct CoverageInstance {
    /// `centralize`.
    pub coverage_policy: String,
    /// `site`.
    pub coverage_level: String,
    /// Sites.
    pub coverage_sites: Vec<CoverageSiteInstance>,
}

/// `server` of `POST /v1/cloudservers`. Holds secrets: custom Debug.
#[derive(Clone, Serialize)]
pub struct CreateInstanceOption {
    /// Name.
    pub name: String,
    /// Prefix.
    pub with_prefix: bool,
    /// Image.
    pub image_ref: String,
    /// Flavor.
    pub flavor_ref: String,
    /// Password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_pass: Option<String>,
    /// Keypair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Network.
    pub net_config: NetConfigInstance,
    /// Bandwidth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<BandwidthConfig>,
    /// System disk.
    pub root_volume: Volume,
    /// Data disks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_volumes: Vec<Volume>,
    /// Count 1..50.
    pub count: u32,
    /// Security groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<IdRef>,
    /// User data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Coverage.
    pub coverage: CoverageInstance,
}

impl std::fmt::Debug for CreateInstanceOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateInstanceOption")
            .field("name", &self.name)
            .field("image_ref", &self.image_ref)
            .field("flavor_ref", &self.flavor_ref)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/cloudservers` 202 response.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateInstanceResponse {
    /// Job.
    #[serde(default, deserialize_with = "empty_none")]
    pub job_id: Option<String>,
    /// New instance ids.
    #[serde(default, deserialize_with = "null_default")]
    pub server_ids: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Flavors, sites, images, quotas
// ---------------------------------------------------------------------------------------------------------

/// A flavor.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IecFlavor {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// vCPUs (string in the doc, sometimes junk).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub vcpus: Option<u64>,
    /// RAM MB.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub ram: Option<u64>,
    /// Extra specs.
    #[serde(default, deserialize_with = "null_default")]
    pub os_extra_specs: BTreeMap<String, Value>,
}

/// `GET /v1/cloudservers/flavors` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FlavorList {
    /// Total.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub flavors: Vec<IecFlavor>,
}

/// An operator of a line.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Operator {
    /// Name (`chinamobile`, ...).
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
}

/// A line of a site.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IpPool {
    /// Line id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub pool_id: String,
    /// Operator.
    #[serde(default)]
    pub operator: Option<Operator>,
}

/// A site.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IecSite {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Area.
    #[serde(default, deserialize_with = "empty_none")]
    pub area: Option<String>,
    /// Province.
    #[serde(default, deserialize_with = "empty_none")]
    pub province: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "empty_none")]
    pub city: Option<String>,
    /// Status.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    /// Lines.
    #[serde(default, deserialize_with = "null_default")]
    pub pools: Vec<IpPool>,
}

/// `GET /v1/sites` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SiteList {
    /// Total.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub sites: Vec<IecSite>,
}

/// An edge image.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IecImage {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Status.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    /// Min disk GB.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub min_disk: Option<u64>,
    /// OS type.
    #[serde(default, rename = "__os_type", deserialize_with = "empty_none")]
    pub os_type: Option<String>,
}

/// `GET /v1/images` page (`total`, not `count`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageList {
    /// Total.
    #[serde(default, alias = "count", deserialize_with = "lenient_u64")]
    pub total: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub images: Vec<IecImage>,
}

/// One quota.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuotaResource {
    /// Type.
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: String,
    /// Total quota.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub quota: i64,
    /// Used.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub used: i64,
}

/// Lenient signed integer (missing/invalid → 0).
pub fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

/// `quotas.resources`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuotaResources {
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub resources: Vec<QuotaResource>,
}

/// `GET /v1/edgeclouds/quotas`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuotaResponse {
    /// Quotas.
    #[serde(default, deserialize_with = "null_default")]
    pub quotas: QuotaResources,
}

/// A keypair (list item, bare array).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Keypair {
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Fingerprint.
    #[serde(default, deserialize_with = "lenient_string")]
    pub fingerprint: String,
}

/// Keypair list: a bare array, or (tolerated) `{"keypairs": [...]}` with optional `{"keypair": {...}}` items.
pub fn parse_keypairs(body: Value) -> Result<Vec<Keypair>, serde_json::Error> {
    let items = match body {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("keypairs") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    items.into_iter().map(|v| unwrap_key(v, "keypair")).collect()
}

// ---------------------------------------------------------------------------------------------------------
// VPC, subnets
// ---------------------------------------------------------------------------------------------------------

/// A VPC.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Vpc {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// CIDR.
    #[serde(default, deserialize_with = "lenient_string")]
    pub cidr: String,
    /// `SYSTEM` | `CUSTOMER`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub mode: String,
    /// Subnet count.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub subnet_num: u32,
}

/// `GET /v1/vpcs` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VpcList {
    /// Total.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub vpcs: Vec<Vpc>,
}

/// Create/update VPC body content.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VpcOption {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// CIDR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Mode (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// A subnet.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Subnet {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// CIDR.
    #[serde(default, deserialize_with = "lenient_string")]
    pub cidr: String,
    /// Gateway.
    #[serde(default, deserialize_with = "empty_none")]
    pub gateway_ip: Option<String>,
    /// DHCP.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub dhcp_enable: Option<bool>,
    /// DNS.
    #[serde(default, deserialize_with = "empty_none")]
    pub primary_dns: Option<String>,
    /// DNS.
    #[serde(default, deserialize_with = "empty_none")]
    pub secondary_dns: Option<String>,
    /// Status.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    /// VPC.
    #[serde(default, deserialize_with = "lenient_string")]
    pub vpc_id: String,
    /// Site.
    #[serde(default, deserialize_with = "empty_none")]
    pub site_id: Option<String>,
}

/// `GET /v1/subnets` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubnetList {
    /// Total.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub subnets: Vec<Subnet>,
}

/// Create subnet body content.
#[derive(Debug, Clone, Serialize)]
pub struct CreateSubnetOption {
    /// Name.
    pub name: String,
    /// CIDR.
    pub cidr: String,
    /// Gateway.
    pub gateway_ip: String,
    /// DHCP.
    pub dhcp_enable: bool,
    /// DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_dns: Option<String>,
    /// DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_dns: Option<String>,
    /// VPC.
    pub vpc_id: String,
    /// Site.
    pub site_id: String,
}

/// Update subnet body content.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateSubnetOption {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// DHCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp_enable: Option<bool>,
    /// DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_dns: Option<String>,
    /// DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_dns: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------------------------

/// A rule (response shape: ports as int/string/""/null, remote fields null or "").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecurityGroupRule {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Description.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
    /// Group.
    #[serde(default, deserialize_with = "empty_none")]
    pub security_group_id: Option<String>,
    /// Direction.
    #[serde(default, deserialize_with = "lenient_string")]
    pub direction: String,
    /// Family (`""` = IPv4).
    #[serde(default, deserialize_with = "lenient_string")]
    pub ethertype: String,
    /// Protocol (`""` = all; may be upper-case).
    #[serde(default, deserialize_with = "lenient_string")]
    pub protocol: String,
    /// Min port.
    #[serde(default, deserialize_with = "lenient_port")]
    pub port_range_min: Option<u16>,
    /// Max port.
    #[serde(default, deserialize_with = "lenient_port")]
    pub port_range_max: Option<u16>,
    /// Peer group.
    #[serde(default, deserialize_with = "empty_none")]
    pub remote_group_id: Option<String>,
    /// Peer CIDR.
    #[serde(default, deserialize_with = "empty_none")]
    pub remote_ip_prefix: Option<String>,
    /// `allow` | `deny` (absent = allow).
    #[serde(default, deserialize_with = "empty_none")]
    pub action: Option<String>,
    /// Priority (absent = 1).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub priority: Option<u64>,
}

/// A security group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecurityGroup {
    /// Id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Description.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
    /// Embedded rules.
    #[serde(default, deserialize_with = "null_default")]
    pub security_group_rules: Vec<SecurityGroupRule>,
}

/// `GET /v1/security-groups` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecurityGroupList {
    /// Total.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub security_groups: Vec<SecurityGroup>,
}

/// `GET /v1/security-group-rules` page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecurityGroupRuleList {
    /// Total (the doc's example omits it).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items.
    #[serde(default, deserialize_with = "null_default")]
    pub security_group_rules: Vec<SecurityGroupRule>,
}

/// Create rule body content.
#[derive(Debug, Clone, Serialize)]
pub struct CreateRuleOption {
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Group.
    pub security_group_id: String,
    /// Direction.
    pub direction: String,
    /// Family.
    pub ethertype: String,
    /// Protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Min port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range_min: Option<u16>,
    /// Max port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range_max: Option<u16>,
    /// Peer group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_group_id: Option<String>,
    /// Peer CIDR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix: Option<String>,
    /// Action.
    pub action: String,
    /// Priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rule_ports_parse_every_documented_shape() {
        let cases = [
            (json!(300), Some(300), "integer"),
            (json!("300"), Some(300), "numeric string"),
            (json!(""), None, "empty string = all"),
            (json!(null), None, "null = all"),
        ];
        for (v, want, reason) in cases {
            let rule: SecurityGroupRule =
                serde_json::from_value(json!({"id":"r","direction":"ingress","port_range_min": v})).unwrap();
            assert_eq!(rule.port_range_min, want, "{reason}");
        }
        assert!(serde_json::from_value::<SecurityGroupRule>(json!({"port_range_min": 70000})).is_err());
        let doc_example: SecurityGroupRule = serde_json::from_value(json!({
            "id":"d5002101","description":"","security_group_id":"44ee","direction":"ingress","ethertype":"",
            "protocol":"","port_range_min":"","port_range_max":"","remote_ip_prefix":"","remote_group_id":"44ee"}))
        .unwrap();
        assert_eq!(doc_example.remote_ip_prefix, None);
        assert_eq!(doc_example.remote_group_id.as_deref(), Some("44ee"));
    }

    #[test]
    fn edge_cloud_stacks_accept_object_or_array() {
        let obj: EdgeCloud =
            serde_json::from_value(json!({"id":"e","stacks":{"name":"s","resources":[]},"success_num":"1"}))
                .unwrap();
        assert_eq!(obj.stacks.len(), 1);
        assert_eq!(obj.success_num, 1, "string counter tolerated");
        let arr: EdgeCloud =
            serde_json::from_value(json!({"id":"e","stacks":[{"id":"x","name":"a"},{"name":"b"}]})).unwrap();
        assert_eq!(arr.stacks.len(), 2);
        let none: EdgeCloud = serde_json::from_value(json!({"id":"e","stacks":null})).unwrap();
        assert!(none.stacks.is_empty());
    }

    #[test]
    fn instance_update_response_is_unwrapped_and_sparse() {
        let unwrapped = json!({"id":"i","name":"n","tags":null,"security_groups":null,"flavor":{"id":"f"},
            "addresses":{"v":[{"addr":"10.0.0.1","OS-EXT-IPS:type":"","OS-EXT-IPS:port_id":"","OS-EXT-IPS-MAC:mac_addr":""}]},
            "OS-EXT-STS:power_state":null,"metadata":{"resource_id":"x"}});
        let a: Instance = unwrap_key(unwrapped.clone(), "server").unwrap();
        let b: Instance = unwrap_key(json!({"server": unwrapped}), "server").unwrap();
        assert_eq!(a.id, "i");
        assert_eq!(b.id, "i");
        assert!(a.tags.is_empty() && a.security_groups.is_empty());
    }

    #[test]
    fn flavor_numbers_as_strings_and_junk() {
        let f: FlavorList = serde_json::from_value(json!({"count":1,"flavors":[
            {"id":"c3.large","vcpus":"c3.large","ram":2048,"disk":"100","os_flavor_access_is_public":"true"},
            {"id":"c6","vcpus":"2","ram":"4096"}]}))
        .unwrap();
        assert_eq!(f.flavors[0].vcpus, None, "junk vcpus ignored");
        assert_eq!(f.flavors[0].ram, Some(2048));
        assert_eq!(f.flavors[1].vcpus, Some(2));
        assert_eq!(f.flavors[1].ram, Some(4096));
    }

    #[test]
    fn keypairs_bare_array_or_wrapped() {
        let bare = parse_keypairs(json!([{"name":"k1","fingerprint":"f"}])).unwrap();
        assert_eq!(bare[0].name, "k1");
        let wrapped = parse_keypairs(json!({"keypairs":[{"keypair":{"name":"k2"}}]})).unwrap();
        assert_eq!(wrapped[0].name, "k2");
    }

    #[test]
    fn change_os_job_typo_and_images_total() {
        let j: JobResponse = serde_json::from_value(json!({" job_id": "abc"})).unwrap();
        assert_eq!(j.job_id, "abc");
        let l: ImageList = serde_json::from_value(json!({"total": 3, "images": []})).unwrap();
        assert_eq!(l.total, Some(3));
        let b: Subnet =
            serde_json::from_value(json!({"id":"s","dhcp_enable":"true","primary_dns":null})).unwrap();
        assert_eq!(b.dhcp_enable, Some(true));
    }
}
