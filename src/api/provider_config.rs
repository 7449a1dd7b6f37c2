//! ProviderConfig (cluster-scoped): one cloud account — which cloud, its endpoints, region and project,
//! the credentials Secret, the shared API rate budget and the poll intervals.

use std::time::Duration;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DURATION_PATTERN, SecretRef};
use super::condition::Condition;

/// Secret key of an access key id (Huawei AK/SK and Volcengine AK/SK).
pub const SECRET_KEY_ACCESS_KEY: &str = "accessKey";
/// Secret key of a secret access key (Huawei AK/SK and Volcengine AK/SK).
pub const SECRET_KEY_SECRET_KEY: &str = "secretKey";
/// Optional Secret key of a temporary security token (STS) accompanying an AK/SK pair.
pub const SECRET_KEY_SECURITY_TOKEN: &str = "securityToken";
/// Secret key of a user name (Huawei IAM password auth, Luchen login).
pub const SECRET_KEY_USERNAME: &str = "username";
/// Secret key of a password (Huawei IAM password auth, Luchen login).
pub const SECRET_KEY_PASSWORD: &str = "password";
/// Secret key of a ready-made token (Huawei IAM token, Luchen access token / API key).
pub const SECRET_KEY_TOKEN: &str = "token";

/// Default `spec.rateLimit.qps`.
pub const DEFAULT_QPS: u32 = 10;
/// Default `spec.rateLimit.burst`.
pub const DEFAULT_BURST: u32 = 20;
/// Default `spec.pollInterval`.
pub const DEFAULT_POLL_INTERVAL: &str = "5m";
/// Default `spec.pendingPollInterval`.
pub const DEFAULT_PENDING_POLL_INTERVAL: &str = "10s";

/// Which cloud the account belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProviderType {
    /// Huawei Cloud IEC (Intelligent EdgeCloud).
    Iec,
    /// Volcengine veEN (edge compute).
    Veen,
    /// Huawei ModelArts DevServer.
    ModelArts,
    /// Luchen Cloud GPU instances.
    Luchen,
    /// Huawei Workspace application server groups.
    Workspace,
}

/// How the operator authenticates; decides which Secret keys are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CredentialsType {
    /// Access key pair. Secret keys: `accessKey`, `secretKey` (optional `securityToken`). Huawei (IEC,
    /// ModelArts, Workspace) APIG signing or Volcengine signing.
    AkSk,
    /// User name and password. Secret keys: `username`, `password`. Huawei IAM password login (needs
    /// spec.domainName) or Luchen login.
    Password,
    /// A ready-made token. Secret key: `token`. Huawei IAM token (sent as X-Auth-Token; expires after
    /// 24 h, so prefer AkSk or Password) or a Luchen access token.
    Token,
}

/// Where the credentials live.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The Secret holding the credentials. Keys by type — AkSk: `accessKey`, `secretKey`, optional
    /// `securityToken`; Password: `username`, `password`; Token: `token`. Values are never logged nor
    /// copied into status or events.
    pub secret_ref: SecretRef,
    /// Credential type: AkSk, Password or Token.
    #[serde(rename = "type")]
    pub type_: CredentialsType,
}

/// Endpoint overrides (base URLs, scheme included, no trailing path). Unset endpoints use the cloud's
/// public endpoint for spec.region. Point them at the emulator (e.g. `http://127.0.0.1:18080`) to run
/// without a cloud account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderEndpoints {
    /// Huawei IEC API base URL (paths start with /v1/).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(URL_PATTERN))]
    pub iec: Option<String>,
    /// Huawei IAM base URL (token login and project lookup), e.g. https://iam.cn-north-4.myhuaweicloud.com.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(URL_PATTERN))]
    pub iam: Option<String>,
    /// Volcengine veEN base URL (default https://veenedge.volcengineapi.com).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(URL_PATTERN))]
    pub veen: Option<String>,
    /// Huawei ModelArts base URL (default https://modelarts.{region}.myhuaweicloud.com).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(URL_PATTERN))]
    pub model_arts: Option<String>,
    /// Huawei billing (BSS) base URL, for prepaid orders and their unsubscription (default
    /// https://bss.myhuaweicloud.com).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(URL_PATTERN))]
    pub bss: Option<String>,
    /// Luchen Cloud API base URL (default https://cloud.luchentech.com/api).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(URL_PATTERN))]
    pub luchen: Option<String>,
    /// Huawei Workspace (appstream) base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(URL_PATTERN))]
    pub workspace: Option<String>,
}

/// RE2 pattern of an endpoint URL.
pub const URL_PATTERN: &str = r"^https?://[^\s/?#]+(/[^\s?#]*)?$";

/// The account's API budget, shared by every controller (token bucket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.burst >= self.qps").message("spec.rateLimit.burst must be >= spec.rateLimit.qps"))]
pub struct RateLimit {
    /// Sustained requests per second to this account's APIs (1–1000).
    #[serde(default = "default_qps")]
    #[schemars(range(min = 1, max = 1000))]
    pub qps: u32,
    /// Requests that may be sent at once after a quiet period (1–10000, >= qps).
    #[serde(default = "default_burst")]
    #[schemars(range(min = 1, max = 10000))]
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            qps: DEFAULT_QPS,
            burst: DEFAULT_BURST,
        }
    }
}

fn default_qps() -> u32 {
    DEFAULT_QPS
}
fn default_burst() -> u32 {
    DEFAULT_BURST
}
fn default_rate_limit() -> RateLimit {
    RateLimit::default()
}
fn default_poll_interval() -> String {
    DEFAULT_POLL_INTERVAL.to_owned()
}
fn default_pending_poll_interval() -> String {
    DEFAULT_PENDING_POLL_INTERVAL.to_owned()
}

/// One cloud account. Cluster-scoped; cloud-backed objects name it in spec.providerConfigRef.
// The kube attribute repeats `type_ = "string"` per printer column, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "edgefleet.io",
    version = "v1alpha1",
    kind = "ProviderConfig",
    status = "ProviderConfigStatus",
    shortname = "efpc",
    category = "edgefleet",
    derive = "PartialEq",
    doc = "ProviderConfig is one cloud account: provider type, endpoints, region/project, credentials from a Secret, API rate budget and poll intervals.",
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Credentials",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="CredentialsValid")].status"#
    ),
    printcolumn(name = "Users", type_ = "integer", json_path = ".status.usedBy.total"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.provider != 'Veen' || self.credentials.type == 'AkSk'").message("spec.credentials.type must be AkSk for provider Veen").field_path(".credentials.type"))]
#[x_kube(validation = Rule::new("self.provider != 'Luchen' || self.credentials.type != 'AkSk'").message("spec.credentials.type must be Password or Token for provider Luchen").field_path(".credentials.type"))]
#[x_kube(validation = Rule::new("!(self.provider in ['Iec', 'ModelArts', 'Workspace']) || self.credentials.type != 'Password' || has(self.domainName)").message("spec.domainName is required for Huawei IAM password credentials").field_path(".domainName"))]
#[x_kube(validation = Rule::new("!(self.provider in ['ModelArts', 'Workspace']) || has(self.region)").message("spec.region is required for providers ModelArts and Workspace").field_path(".region"))]
#[x_kube(validation = Rule::new("duration(self.pendingPollInterval) <= duration(self.pollInterval)").message("spec.pendingPollInterval must not be longer than spec.pollInterval").field_path(".pendingPollInterval"))]
pub struct ProviderConfigSpec {
    /// The cloud: Iec, Veen, ModelArts, Luchen or Workspace. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.provider is immutable"))]
    pub provider: ProviderType,
    /// Cloud region, e.g. `cn-north-4` (Huawei) or `cn-north-1` (Volcengine). IEC is a global service
    /// and ignores it except for the default IAM endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(r"^[a-z0-9][-a-z0-9]*$"))]
    pub region: Option<String>,
    /// Huawei project id (sent as X-Project-Id; ModelArts and Workspace paths carry it). Looked up from
    /// IAM by region when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub project_id: Option<String>,
    /// Huawei account (domain) id; IEC needs it for a few account-scoped paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub domain_id: Option<String>,
    /// Huawei account (domain) name; required for IAM password login (tokens are domain-scoped for IEC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub domain_name: Option<String>,
    /// Endpoint overrides per API; unset ones use the cloud's public endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<ProviderEndpoints>,
    /// Where the credentials come from.
    pub credentials: Credentials,
    /// API budget for this account, shared by all controllers (default 10 qps, burst 20).
    #[serde(default = "default_rate_limit")]
    pub rate_limit: RateLimit,
    /// How often Ready objects of this account are re-read from the cloud to detect drift
    /// (Go duration, 10s–24h, default 5m; jitter is added).
    #[serde(default = "default_poll_interval")]
    #[schemars(length(max = 32), pattern(DURATION_PATTERN))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('10s') && duration(self) <= duration('24h')").message("spec.pollInterval must be between 10s and 24h"))]
    pub poll_interval: String,
    /// How often objects with a cloud operation in progress are re-read (Go duration, 1s–10m, default 10s).
    #[serde(default = "default_pending_poll_interval")]
    #[schemars(length(max = 32), pattern(DURATION_PATTERN))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1s') && duration(self) <= duration('10m')").message("spec.pendingPollInterval must be between 1s and 10m"))]
    pub pending_poll_interval: String,
}

/// Error parsing a duration field of a spec (the CRD's CEL rules make this unreachable for objects
/// the apiserver accepted).
#[derive(Debug, thiserror::Error)]
#[error("failed to parse {field} duration {value:?}")]
pub struct InvalidDuration {
    /// The field path, e.g. `spec.pollInterval`.
    pub field: &'static str,
    /// The offending value.
    pub value: String,
    /// Why it did not parse.
    #[source]
    pub source: kube::core::duration::ParseError,
}

/// Parses a Go-style duration (`30s`, `5m`, `1h30m`) of the named field.
pub fn parse_duration(field: &'static str, value: &str) -> Result<Duration, InvalidDuration> {
    value
        .parse::<kube::core::Duration>()
        .map(Duration::from)
        .map_err(|source| InvalidDuration {
            field,
            value: value.to_owned(),
            source,
        })
}

impl ProviderConfigSpec {
    /// spec.pollInterval as a duration.
    pub fn poll_interval(&self) -> Result<Duration, InvalidDuration> {
        parse_duration("spec.pollInterval", &self.poll_interval)
    }

    /// spec.pendingPollInterval as a duration.
    pub fn pending_poll_interval(&self) -> Result<Duration, InvalidDuration> {
        parse_duration("spec.pendingPollInterval", &self.pending_poll_interval)
    }

    /// The Secret keys the credential type needs (without optional ones).
    pub fn required_secret_keys(&self) -> &'static [&'static str] {
        match self.credentials.type_ {
            CredentialsType::AkSk => &[SECRET_KEY_ACCESS_KEY, SECRET_KEY_SECRET_KEY],
            CredentialsType::Password => &[SECRET_KEY_USERNAME, SECRET_KEY_PASSWORD],
            CredentialsType::Token => &[SECRET_KEY_TOKEN],
        }
    }
}

/// How many edgefleet objects use this account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigUsage {
    /// All objects naming this ProviderConfig.
    pub total: i32,
    /// Vpc objects.
    pub vpcs: i32,
    /// SecurityGroup objects.
    pub security_groups: i32,
    /// EdgeInstance objects.
    pub edge_instances: i32,
    /// EdgeCloud objects.
    pub edge_clouds: i32,
}

/// Observed state of a ProviderConfig.
///
/// Reads as `{observedGeneration: -1}` (the schema default) until the operator writes it, so a new
/// object is in progress for GitOps tools from its first read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::api::common::unobserved_status_default)]
pub struct ProviderConfigStatus {
    /// The metadata.generation last acted on; -1 until the operator has written status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Synced and CredentialsValid (reasons in docs/conditions.md).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The project id in use (spec.projectId or the one looked up from IAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Objects that use this account; while any exist the ProviderConfig keeps its finalizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<ProviderConfigUsage>,
}
