//! Security groups and their rules (digest §2.10): `GET/POST /v1/security-groups`,
//! `GET/DELETE /v1/security-groups/{security_group_id}`, `GET/POST /v1/security-group-rules`,
//! `GET/DELETE /v1/security-group-rules/{security_group_rule_id}`. There is no update API.
//!
//! A new group gets two default rules, allow-all egress for IPv4 and IPv6 (what Huawei clouds do
//! and what the operator's IEC capabilities declare). The name `default` is reserved (400
//! `IEC.020310`). Deleting a group used by an instance or a virtual-IP port, or named as `remote_group_id` by another
//! group's rule, is refused with 400 `IEC.020202`; the group's own rules go with it. Rule creation
//! validates per §2.10.6: port range 1..65535 with min ≤ max (409 `IEC.020305`), remote prefix XOR
//! remote group (400 `IEC.020308`), remote prefix version equal to the ethertype (400
//! `IEC.020307`), at most [`MAX_RULES_PER_GROUP`] rules per group (400 `IEC.020306`); other bad
//! fields give 400 `IEC.000007`. The doc has no duplicate-rule code, so an identical rule in the
//! same group is refused with 400 `IEC.020300` ("create the security group rule failed").
//! Lists use an item offset, limit 0..1000 (default 1000); the rule list filters by
//! `security_group_id`.

use std::net::IpAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{Record, Store};
use crate::iec::common::{Json, bad_field, page, valid_description};
use crate::iec::errors::Code;
use crate::iec::kinds;

/// The most rules one group may hold (the doc's `IEC.020306` leaves the number open; 50 is the
/// Huawei cloud default).
pub const MAX_RULES_PER_GROUP: usize = 50;

/// The reserved name of the tenant's default group.
const DEFAULT_GROUP_NAME: &str = "default";

/// A stored security group (rules are separate records).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecurityGroup {
    /// Group id.
    pub id: String,
    /// Name (1..64 characters, not unique).
    pub name: String,
    /// Description (0..64 characters; absent in seeded rows = empty).
    #[serde(default)]
    pub description: String,
}

impl Record for SecurityGroup {
    const KIND: &'static str = kinds::SECURITY_GROUP;
    fn id(&self) -> &str {
        &self.id
    }
}

/// A stored security group rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecurityGroupRule {
    /// Rule id.
    pub id: String,
    /// Description.
    pub description: String,
    /// Owning group.
    pub security_group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// Lower-cased protocol name or number; empty = all protocols.
    pub protocol: String,
    /// Lowest port, `None` = all ports.
    pub port_range_min: Option<u16>,
    /// Highest port, `None` = all ports.
    pub port_range_max: Option<u16>,
    /// Peer group.
    pub remote_group_id: Option<String>,
    /// Peer IP or CIDR.
    pub remote_ip_prefix: Option<String>,
    /// `allow` or `deny`.
    pub action: String,
    /// 1..100, 1 = highest.
    pub priority: u8,
}

impl Record for SecurityGroupRule {
    const KIND: &'static str = kinds::SECURITY_GROUP_RULE;
    fn id(&self) -> &str {
        &self.id
    }
}

impl SecurityGroupRule {
    /// True when `other` filters the same traffic with the same verdict (ids and descriptions aside).
    fn same_as(&self, other: &SecurityGroupRule) -> bool {
        self.security_group_id == other.security_group_id
            && self.direction == other.direction
            && self.ethertype == other.ethertype
            && self.protocol == other.protocol
            && self.port_range_min == other.port_range_min
            && self.port_range_max == other.port_range_max
            && self.remote_group_id == other.remote_group_id
            && self.remote_ip_prefix == other.remote_ip_prefix
            && self.action == other.action
            && self.priority == other.priority
    }
}

/// A port bound as the API answers it: the response tables type `port_range_min`/`port_range_max`
/// as String (doc §4.10), `""` meaning all ports (the create-rule example).
fn port_text(port: Option<u16>) -> String {
    port.map(|p| p.to_string()).unwrap_or_default()
}

/// The API form of a rule.
pub fn render_rule(r: &SecurityGroupRule) -> Value {
    json!({
        "id": r.id,
        "description": r.description,
        "security_group_id": r.security_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": port_text(r.port_range_min),
        "port_range_max": port_text(r.port_range_max),
        "remote_group_id": r.remote_group_id,
        "remote_ip_prefix": r.remote_ip_prefix,
        "action": r.action,
        "priority": r.priority,
    })
}

/// The API form of a group with its rules.
fn render_group(g: &SecurityGroup, rules: &[SecurityGroupRule]) -> Value {
    let rules: Vec<Value> = rules
        .iter()
        .filter(|r| r.security_group_id == g.id)
        .map(render_rule)
        .collect();
    json!({"id": g.id, "name": g.name, "description": g.description, "security_group_rules": rules})
}

fn all_rules(tx: &mut Tx<'_>) -> Result<Vec<SecurityGroupRule>, ApiError> {
    let now = tx.now_ms;
    Ok(tx
        .store
        .table::<SecurityGroupRule>()?
        .iter_visible(now)
        .cloned()
        .collect())
}

/// The group with this id, visible to the caller, or 404 `IEC.020204`.
pub fn get_group(tx: &mut Tx<'_>, id: &str) -> Result<SecurityGroup, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<SecurityGroup>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E020204.err())
}

#[derive(Deserialize)]
struct CreateGroupBody {
    security_group: CreateGroup,
}

#[derive(Deserialize)]
struct CreateGroup {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct CreateRuleBody {
    security_group_rule: CreateRule,
}

#[derive(Deserialize)]
struct CreateRule {
    security_group_id: String,
    direction: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    ethertype: Option<String>,
    #[serde(default)]
    protocol: Option<Value>,
    #[serde(default)]
    port_range_min: Option<Value>,
    #[serde(default)]
    port_range_max: Option<Value>,
    #[serde(default)]
    remote_group_id: Option<String>,
    #[serde(default)]
    remote_ip_prefix: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    priority: Option<Value>,
}

/// A port field: integer, numeric string, `""` or null (`None` = all ports). Anything outside
/// 1..65535 → 409 `IEC.020305`.
fn parse_port(v: Option<&Value>) -> Result<Option<u16>, ApiError> {
    let n = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        Some(_) => None,
    };
    n.and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n >= 1)
        .map(Some)
        .ok_or_else(|| Code::E020305.err())
}

/// Lower-cased protocol: a name or a number 0..255; empty = all.
fn parse_protocol(v: Option<&Value>) -> Result<String, ApiError> {
    let text = match v {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(bad_field("security_group_rule.protocol", "must be a string")),
    };
    let ok = text.is_empty()
        || ["icmp", "tcp", "udp", "icmpv6"].contains(&text.as_str())
        || text.parse::<u8>().is_ok();
    if ok {
        Ok(text)
    } else {
        Err(bad_field(
            "security_group_rule.protocol",
            "icmp, tcp, udp, icmpv6 or an IP protocol number 0..255",
        ))
    }
}

/// Parses an IP address or CIDR; returns whether it is IPv6.
fn prefix_is_v6(prefix: &str) -> Option<bool> {
    let (addr, len) = match prefix.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (prefix, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv6() { 128 } else { 32 };
    if len.is_some_and(|l| l > max) {
        return None;
    }
    Some(ip.is_ipv6())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Validates a create-rule request (everything that needs no state).
fn validate_rule(c: CreateRule) -> Result<SecurityGroupRule, ApiError> {
    if c.direction != "ingress" && c.direction != "egress" {
        return Err(bad_field("security_group_rule.direction", "ingress or egress"));
    }
    let ethertype = match c.ethertype.as_deref().map(str::trim) {
        None | Some("") => "IPv4".to_string(),
        Some(e @ ("IPv4" | "IPv6")) => e.to_string(),
        Some(_) => return Err(bad_field("security_group_rule.ethertype", "IPv4 or IPv6")),
    };
    let protocol = parse_protocol(c.protocol.as_ref())?;
    if protocol == "icmp" && ethertype != "IPv4" {
        return Err(bad_field(
            "security_group_rule.protocol",
            "icmp requires ethertype IPv4",
        ));
    }
    if protocol == "icmpv6" && ethertype != "IPv6" {
        return Err(bad_field(
            "security_group_rule.protocol",
            "icmpv6 requires ethertype IPv6",
        ));
    }
    let port_range_min = parse_port(c.port_range_min.as_ref())?;
    let port_range_max = parse_port(c.port_range_max.as_ref())?;
    if let (Some(lo), Some(hi)) = (port_range_min, port_range_max)
        && lo > hi
    {
        return Err(Code::E020305.err());
    }
    let remote_group_id = non_empty(c.remote_group_id);
    let remote_ip_prefix = non_empty(c.remote_ip_prefix);
    if remote_group_id.is_some() && remote_ip_prefix.is_some() {
        return Err(Code::E020308.err());
    }
    if let Some(p) = remote_ip_prefix.as_deref() {
        let v6 = prefix_is_v6(p)
            .ok_or_else(|| bad_field("security_group_rule.remote_ip_prefix", "an IP address or CIDR"))?;
        if v6 != (ethertype == "IPv6") {
            return Err(Code::E020307.err());
        }
    }
    let action = match c.action.as_deref().map(str::trim) {
        None | Some("") => "allow".to_string(),
        Some(a @ ("allow" | "deny")) => a.to_string(),
        Some(_) => return Err(bad_field("security_group_rule.action", "allow or deny")),
    };
    let priority = match c.priority.as_ref() {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|p| u8::try_from(p).ok())
            .filter(|p| (1..=100).contains(p))
            .ok_or_else(|| bad_field("security_group_rule.priority", "an integer 1..100"))?,
    };
    let description = c.description.unwrap_or_default();
    if !valid_description(&description, 64) {
        return Err(bad_field(
            "security_group_rule.description",
            "0-64 characters without '<' or '>'",
        ));
    }
    Ok(SecurityGroupRule {
        id: crate::core::ids::resource_id(),
        description,
        security_group_id: c.security_group_id,
        direction: c.direction,
        ethertype,
        protocol,
        port_range_min,
        port_range_max,
        remote_group_id,
        remote_ip_prefix,
        action,
        priority,
    })
}

fn default_rule(group_id: &str, ethertype: &str) -> SecurityGroupRule {
    SecurityGroupRule {
        id: crate::core::ids::resource_id(),
        description: String::new(),
        security_group_id: group_id.to_string(),
        direction: "egress".into(),
        ethertype: ethertype.into(),
        protocol: String::new(),
        port_range_min: None,
        port_range_max: None,
        remote_group_id: None,
        remote_ip_prefix: None,
        action: "allow".into(),
        priority: 1,
    }
}

async fn list_groups(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let (count, groups): (usize, Vec<SecurityGroup>) = {
            let t = tx.store.table::<SecurityGroup>()?;
            let (count, items) = pg.apply(t.iter_visible(now));
            (count, items.into_iter().cloned().collect())
        };
        let rules = all_rules(tx)?;
        let out: Vec<Value> = groups.iter().map(|g| render_group(g, &rules)).collect();
        Ok(axum::Json(json!({"count": count, "security_groups": out})).into_response())
    })
}

async fn create_group(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateGroupBody>,
) -> Result<Response, ApiError> {
    let CreateGroup { name, description } = body.security_group;
    let description = description.unwrap_or_default();
    let len = name.chars().count();
    if !(1..=64).contains(&len) || name.chars().any(char::is_control) {
        return Err(bad_field("security_group.name", "1-64 characters"));
    }
    if name.eq_ignore_ascii_case(DEFAULT_GROUP_NAME) {
        return Err(Code::E020310.err());
    }
    if !valid_description(&description, 64) {
        return Err(bad_field(
            "security_group.description",
            "0-64 characters without '<' or '>'",
        ));
    }
    app.tx(&p, |tx| {
        let quota = tx.config.catalog.quota("securityGroup");
        if tx.store.table::<SecurityGroup>()?.len() as u64 >= quota {
            return Err(Code::E020401.err());
        }
        let group = SecurityGroup {
            id: crate::core::ids::resource_id(),
            name,
            description,
        };
        let rules = vec![default_rule(&group.id, "IPv4"), default_rule(&group.id, "IPv6")];
        tx.insert_new(group.clone())?;
        for r in &rules {
            tx.insert_new(r.clone())?;
        }
        Ok(axum::Json(json!({"security_group": render_group(&group, &rules)})).into_response())
    })
}

async fn show_group(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let group = get_group(tx, &id)?;
        let rules = all_rules(tx)?;
        Ok(axum::Json(json!({"security_group": render_group(&group, &rules)})).into_response())
    })
}

async fn delete_group(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        get_group(tx, &id)?;
        if tx
            .store
            .is_referenced_by(kinds::SECURITY_GROUP, &id, kinds::INSTANCE)
        {
            return Err(Code::E020202.detail("delete the security group failed: it is in use by an instance"));
        }
        if tx.store.is_referenced_by(kinds::SECURITY_GROUP, &id, kinds::PORT) {
            return Err(Code::E020202.detail("delete the security group failed: it is in use by a port"));
        }
        let rules = tx.store.table::<SecurityGroupRule>()?;
        if rules
            .iter()
            .any(|r| r.security_group_id != id && r.remote_group_id.as_deref() == Some(id.as_str()))
        {
            return Err(Code::E020202
                .detail("delete the security group failed: a rule of another security group references it"));
        }
        let own: Vec<String> = rules
            .iter()
            .filter(|r| r.security_group_id == id)
            .map(|r| r.id.clone())
            .collect();
        for rid in own {
            rules.remove(&rid);
        }
        tx.store.table::<SecurityGroup>()?.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn list_rules(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let group = q.get("security_group_id");
        let t = tx.store.table::<SecurityGroupRule>()?;
        let items = t
            .iter_visible(now)
            .filter(|r| group.is_none_or(|g| r.security_group_id == g));
        let (count, items) = pg.apply(items);
        let out: Vec<Value> = items.into_iter().map(render_rule).collect();
        Ok(axum::Json(json!({"count": count, "security_group_rules": out})).into_response())
    })
}

async fn create_rule(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateRuleBody>,
) -> Result<Response, ApiError> {
    let rule = validate_rule(body.security_group_rule)?;
    app.tx(&p, |tx| {
        get_group(tx, &rule.security_group_id)?;
        if let Some(remote) = rule.remote_group_id.as_deref() {
            get_group(tx, remote)?;
        }
        let rules = tx.store.table::<SecurityGroupRule>()?;
        let mut in_group = 0usize;
        for r in rules.iter() {
            if r.security_group_id == rule.security_group_id {
                in_group += 1;
                if r.same_as(&rule) {
                    return Err(Code::E020300.detail(format!(
                        "create the security group rule failed: an identical rule ({}) already exists",
                        r.id
                    )));
                }
            }
        }
        if in_group >= MAX_RULES_PER_GROUP {
            return Err(Code::E020306.msg(&[&MAX_RULES_PER_GROUP.to_string()]));
        }
        tx.insert_new(rule.clone())?;
        Ok(axum::Json(json!({"security_group_rule": render_rule(&rule)})).into_response())
    })
}

async fn show_rule(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let rule = tx
            .store
            .table::<SecurityGroupRule>()?
            .get_visible(&id, now)
            .cloned()
            .ok_or_else(|| Code::E020304.err())?;
        Ok(axum::Json(json!({"security_group_rule": render_rule(&rule)})).into_response())
    })
}

async fn delete_rule(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let t = tx.store.table::<SecurityGroupRule>()?;
        if t.get_visible(&id, now).is_none() {
            return Err(Code::E020304.err());
        }
        t.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn register(store: &mut Store) -> Result<(), crate::core::state::StateError> {
    store.register::<SecurityGroup>()?;
    store.register::<SecurityGroupRule>()
}

/// The security group family.
pub fn family() -> Family {
    Family {
        name: "security_groups",
        routes: || {
            Router::new()
                .route("/v1/security-groups", get(list_groups).post(create_group))
                .route(
                    "/v1/security-groups/{security_group_id}",
                    get(show_group).delete(delete_group),
                )
                .route("/v1/security-group-rules", get(list_rules).post(create_rule))
                .route(
                    "/v1/security-group-rules/{security_group_rule_id}",
                    get(show_rule).delete(delete_rule),
                )
        },
        register,
        timers: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_prefixes() {
        assert_eq!(parse_port(Some(&json!(22))).ok(), Some(Some(22)));
        assert_eq!(parse_port(Some(&json!("80"))).ok(), Some(Some(80)));
        assert_eq!(parse_port(Some(&json!(""))).ok(), Some(None));
        assert!(parse_port(Some(&json!(0))).is_err());
        assert!(parse_port(Some(&json!(70000))).is_err());
        assert_eq!(prefix_is_v6("10.0.0.0/8"), Some(false));
        assert_eq!(prefix_is_v6("::/0"), Some(true));
        assert_eq!(prefix_is_v6("10.0.0.1"), Some(false));
        assert_eq!(prefix_is_v6("10.0.0.0/33"), None);
        assert_eq!(prefix_is_v6("nope"), None);
    }
}
