//! Network ACLs, called "firewalls" in the API (digest §2.11 and the legacy rule API §2.17):
//! `GET/POST /v1/firewalls`, `GET/PUT/DELETE /v1/firewalls/{firewall_id}`,
//! `PUT /v1/firewalls/{firewall_id}/firewall-rules` and the legacy
//! `PUT /v1/firewalls/{firewall_id}/update_firewall_rules`. Synchronous.
//!
//! Every ACL gets an ingress and an egress policy at creation (names `ingress_firewall_policy` /
//! `egress_firewall_policy`); `status` is always `INACTIVE` (the only documented value). Create and
//! list show the policies as `{id}` only, GET shows their rules. Ids that are not UUIDs → 400
//! `IEC.020915`; unknown → 404 `IEC.020903`. Create validates `name` (1..64: letters, digits,
//! Chinese, `-`, `_`) and `description` (0..64) → 400 `IEC.020911`; the `firewall` quota → 400
//! `IEC.020401`. Update requires `name`, and `subnets` (when given) is the complete association set:
//! unknown subnets → 404 `IEC.020003`, a `vpc_id` that is not the subnet's → 400 `IEC.020909`, a
//! subnet associated with another ACL → 500 `IEC.020914`; bad fields → 400 `IEC.020909`. A subnet
//! associated with an ACL cannot be deleted (the subnet family answers 400 `IEC.020008`), and an
//! ACL with subnets cannot be deleted (500 `IEC.020913`).
//!
//! Rule updates take exactly one of `ingress_firewall_policy` / `egress_firewall_policy` whose `id`
//! is that policy of this ACL; each rule has `operate_type` `add` (no id; placed after
//! `insert_after`, before `insert_before`, or appended), `modify` or `delete` (by id). Validation
//! (400 `IEC.020910`): `action` allow|deny|reject, `protocol` icmp|tcp|udp|icmpv6|any (icmp needs
//! IPv4, icmpv6 IPv6), `ip_version` 4|6, addresses CIDRs or IPs of that version (or empty = any),
//! ports `""`, `"80"` or `"80-90"` within 1..65535 and only for tcp/udp, name and description
//! 0..64, at most one rule per call. The legacy path accepts several rules per call and is IPv4
//! only (`ip_version` 6 or `icmpv6` → 400 `IEC.020917`). The answer carries the touched policy
//! with the touched rules (none after a delete) and `{}` for the other policy.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::net::Ipv4Cidr;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{Record, StateError, Store};
use crate::iec::common::{Json, page, valid_description, valid_name};
use crate::iec::errors::Code;
use crate::iec::kinds;
use crate::iec::netutil::check_id;
use crate::iec::subnets::get_subnet;

/// One ACL rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FirewallRule {
    /// Rule id.
    pub id: String,
    /// Name (0..64).
    #[serde(default)]
    pub name: String,
    /// Description (0..64).
    #[serde(default)]
    pub description: String,
    /// Enabled switch.
    pub enabled: bool,
    /// `allow`, `deny` or `reject`.
    pub action: String,
    /// `icmp`, `tcp`, `udp`, `icmpv6` or `any`.
    pub protocol: String,
    /// 4 or 6.
    pub ip_version: u8,
    /// Source CIDR (empty = any).
    #[serde(default)]
    pub source_ip_address: String,
    /// Destination CIDR (empty = any).
    #[serde(default)]
    pub destination_ip_address: String,
    /// Source port or range (empty = any).
    #[serde(default)]
    pub source_port: String,
    /// Destination port or range (empty = any).
    #[serde(default)]
    pub destination_port: String,
}

/// The ingress or egress policy of an ACL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FirewallPolicy {
    /// Policy id.
    pub id: String,
    /// Policy name.
    pub name: String,
    /// Rules in evaluation order.
    #[serde(default)]
    pub rules: Vec<FirewallRule>,
}

/// A stored network ACL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Firewall {
    /// ACL id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Enable switch.
    pub admin_state_up: bool,
    /// Owning account.
    pub domain_id: String,
    /// Ingress policy.
    pub ingress: FirewallPolicy,
    /// Egress policy.
    pub egress: FirewallPolicy,
    /// Associated subnet ids.
    #[serde(default)]
    pub subnets: Vec<String>,
}

impl Record for Firewall {
    const KIND: &'static str = kinds::FIREWALL;
    fn id(&self) -> &str {
        &self.id
    }
}

const NAME_EXTRA: &[char] = &['-', '_'];

fn render_rule(r: &FirewallRule, with_operate_type: bool) -> Value {
    let mut v = json!({
        "id": r.id, "name": r.name, "description": r.description, "enabled": r.enabled,
        "action": r.action, "protocol": r.protocol, "ip_version": r.ip_version,
        "destination_ip_address": r.destination_ip_address, "destination_port": r.destination_port,
        "source_ip_address": r.source_ip_address, "source_port": r.source_port,
    });
    if with_operate_type {
        v["operate_type"] = json!("normal");
    }
    v
}

/// The doc's Firewall object; `full` adds policy names and rules (GET), otherwise policies are
/// `{id}` only (create, list).
fn render(f: &Firewall, full: bool) -> Value {
    let policy = |p: &FirewallPolicy| {
        if full {
            json!({"id": p.id, "name": p.name,
                "firewall_rules": p.rules.iter().map(|r| render_rule(r, true)).collect::<Vec<_>>()})
        } else {
            json!({"id": p.id})
        }
    };
    json!({
        "id": f.id, "domain_id": f.domain_id, "name": f.name, "description": f.description,
        "admin_state_up": f.admin_state_up, "status": "INACTIVE",
        "ingress_firewall_policy": policy(&f.ingress), "egress_firewall_policy": policy(&f.egress),
        "ingress_firewall_rule_count": f.ingress.rules.len(),
        "egress_firewall_rule_count": f.egress.rules.len(),
    })
}

/// Decodes a JSON value into `T`, mapping shape errors to the family's parameter code.
fn parse<T: DeserializeOwned>(v: Value, code: Code) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| code.detail(format!("{}: {e}", code.spec().2)))
}

fn get_firewall(tx: &mut Tx<'_>, id: &str) -> Result<Firewall, ApiError> {
    check_id(id, Code::E020915)?;
    let now = tx.now_ms;
    tx.store
        .table::<Firewall>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E020903.err())
}

#[derive(Deserialize)]
struct CreateBody {
    firewall: CreateFirewall,
}

#[derive(Deserialize)]
struct CreateFirewall {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct UpdateBody {
    firewall: UpdateFirewall,
}

#[derive(Deserialize)]
struct UpdateFirewall {
    name: String,
    #[serde(default)]
    admin_state_up: Option<bool>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    subnets: Option<Vec<SubnetOption>>,
}

#[derive(Deserialize)]
struct SubnetOption {
    id: String,
    #[serde(default)]
    vpc_id: Option<String>,
}

#[derive(Deserialize)]
struct RulesBody {
    firewall: RulesFirewall,
}

#[derive(Deserialize)]
struct RulesFirewall {
    #[serde(default)]
    ingress_firewall_policy: Option<PolicyOption>,
    #[serde(default)]
    egress_firewall_policy: Option<PolicyOption>,
}

#[derive(Deserialize)]
struct PolicyOption {
    id: String,
    #[serde(default)]
    name: Option<String>,
    firewall_rules: Vec<RuleOption>,
    #[serde(default)]
    insert_after: Option<String>,
    #[serde(default)]
    insert_before: Option<String>,
}

#[derive(Deserialize)]
struct RuleOption {
    operate_type: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    ip_version: Option<u8>,
    #[serde(default)]
    source_ip_address: Option<String>,
    #[serde(default)]
    destination_ip_address: Option<String>,
    #[serde(default)]
    source_port: Option<String>,
    #[serde(default)]
    destination_port: Option<String>,
}

/// Which rule API is being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleApi {
    /// `/firewall-rules`: one rule per call, IPv4 and IPv6.
    Current,
    /// `/update_firewall_rules`: several rules per call, IPv4 only.
    Legacy,
}

fn rule_err(why: impl std::fmt::Display) -> ApiError {
    Code::E020910.detail(format!("update firewall rule parameter incorrect: {why}"))
}

fn address_ok(a: &str, version: u8) -> bool {
    if a.is_empty() {
        return true;
    }
    match version {
        4 => a.parse::<Ipv4Addr>().is_ok() || a.parse::<Ipv4Cidr>().is_ok(),
        _ => {
            let (ip, prefix) = a.split_once('/').unwrap_or((a, "128"));
            ip.parse::<Ipv6Addr>().is_ok() && prefix.parse::<u8>().is_ok_and(|p| p <= 128)
        }
    }
}

fn port_ok(p: &str) -> bool {
    if p.is_empty() {
        return true;
    }
    let num = |s: &str| s.parse::<u32>().ok().filter(|n| (1..=65535).contains(n));
    match p.split_once('-') {
        Some((a, b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b),
        None => num(p).is_some(),
    }
}

/// Builds a validated rule from an `add`/`modify` option (`base` = the rule being modified).
fn build_rule(
    o: &RuleOption,
    id: String,
    base: Option<&FirewallRule>,
    api: RuleApi,
) -> Result<FirewallRule, ApiError> {
    let pick = |v: &Option<String>, old: Option<&String>| -> String {
        v.clone().or_else(|| old.cloned()).unwrap_or_default()
    };
    let action = pick(&o.action, base.map(|b| &b.action));
    let protocol = pick(&o.protocol, base.map(|b| &b.protocol));
    let ip_version = o.ip_version.or(base.map(|b| b.ip_version));
    let Some(ip_version) = ip_version else {
        return Err(rule_err("ip_version is required"));
    };
    if api == RuleApi::Legacy && (ip_version == 6 || protocol == "icmpv6") {
        return Err(Code::E020917.err());
    }
    if ip_version != 4 && ip_version != 6 {
        return Err(rule_err("ip_version must be 4 or 6"));
    }
    if !matches!(action.as_str(), "allow" | "deny" | "reject") {
        return Err(rule_err("action must be allow, deny or reject"));
    }
    if !matches!(protocol.as_str(), "icmp" | "tcp" | "udp" | "icmpv6" | "any") {
        return Err(rule_err("protocol must be icmp, tcp, udp, icmpv6 or any"));
    }
    if (protocol == "icmp" && ip_version != 4) || (protocol == "icmpv6" && ip_version != 6) {
        return Err(rule_err("icmp needs ip_version 4 and icmpv6 needs ip_version 6"));
    }
    let rule = FirewallRule {
        id,
        name: pick(&o.name, base.map(|b| &b.name)),
        description: pick(&o.description, base.map(|b| &b.description)),
        enabled: o.enabled.or(base.map(|b| b.enabled)).unwrap_or(true),
        action,
        protocol,
        ip_version,
        source_ip_address: pick(&o.source_ip_address, base.map(|b| &b.source_ip_address)),
        destination_ip_address: pick(&o.destination_ip_address, base.map(|b| &b.destination_ip_address)),
        source_port: pick(&o.source_port, base.map(|b| &b.source_port)),
        destination_port: pick(&o.destination_port, base.map(|b| &b.destination_port)),
    };
    if rule.name.chars().count() > 64 || !valid_description(&rule.description, 64) {
        return Err(rule_err("name and description are at most 64 characters"));
    }
    for (field, a) in [
        ("source_ip_address", &rule.source_ip_address),
        ("destination_ip_address", &rule.destination_ip_address),
    ] {
        if !address_ok(a, ip_version) {
            return Err(rule_err(format!("{field} {a:?} is not an IPv{ip_version} CIDR")));
        }
    }
    for (field, p) in [
        ("source_port", &rule.source_port),
        ("destination_port", &rule.destination_port),
    ] {
        if !port_ok(p) {
            return Err(rule_err(format!(
                "{field} {p:?} must be \"N\" or \"N-M\" within 1-65535"
            )));
        }
        if !p.is_empty() && !matches!(rule.protocol.as_str(), "tcp" | "udp") {
            return Err(rule_err(format!("{field} is only allowed for tcp and udp")));
        }
    }
    Ok(rule)
}

/// Applies one rule operation to `policy`; returns the touched rule (none for delete).
fn apply_rule(
    policy: &mut FirewallPolicy,
    o: &RuleOption,
    after: Option<&str>,
    before: Option<&str>,
    api: RuleApi,
) -> Result<Option<FirewallRule>, ApiError> {
    let position = |policy: &FirewallPolicy, id: &str| policy.rules.iter().position(|r| r.id == id);
    let existing = |policy: &FirewallPolicy| -> Result<usize, ApiError> {
        let id =
            o.id.as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| rule_err("id is required"))?;
        position(policy, id).ok_or_else(|| rule_err(format!("rule {id} is not in policy {}", policy.id)))
    };
    let target = |policy: &FirewallPolicy| -> Result<Option<usize>, ApiError> {
        match (after, before) {
            (Some(_), Some(_)) => Err(rule_err("insert_after and insert_before are exclusive")),
            (Some(a), None) => position(policy, a)
                .map(|i| Some(i + 1))
                .ok_or_else(|| rule_err(format!("insert_after rule {a} is not in the policy"))),
            (None, Some(b)) => position(policy, b)
                .map(Some)
                .ok_or_else(|| rule_err(format!("insert_before rule {b} is not in the policy"))),
            (None, None) => Ok(None),
        }
    };
    match o.operate_type.as_str() {
        "add" => {
            if o.id.as_deref().is_some_and(|s| !s.is_empty()) {
                return Err(rule_err("id must be empty when operate_type is add"));
            }
            let rule = build_rule(o, crate::core::ids::resource_id(), None, api)?;
            let at = target(policy)?.unwrap_or(policy.rules.len());
            policy.rules.insert(at, rule.clone());
            Ok(Some(rule))
        }
        "modify" => {
            let i = existing(policy)?;
            let rule = build_rule(o, policy.rules[i].id.clone(), Some(&policy.rules[i]), api)?;
            policy.rules[i] = rule.clone();
            if after.is_some() || before.is_some() {
                let moved = policy.rules.remove(i);
                let at = target(policy)?.unwrap_or(policy.rules.len());
                policy.rules.insert(at, moved);
            }
            Ok(Some(rule))
        }
        "delete" => {
            let i = existing(policy)?;
            policy.rules.remove(i);
            Ok(None)
        }
        other => Err(rule_err(format!(
            "operate_type {other:?} must be add, modify or delete"
        ))),
    }
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let id = q.get("id");
        let name = q.get("name").map(str::to_lowercase);
        let t = tx.store.table::<Firewall>()?;
        let items = t.iter_visible(now).filter(|f| {
            id.is_none_or(|x| f.id == x) && name.as_deref().is_none_or(|n| f.name.to_lowercase().contains(n))
        });
        let (count, items) = pg.apply(items);
        let firewalls: Vec<Value> = items.into_iter().map(|f| render(f, false)).collect();
        Ok(axum::Json(json!({"firewalls": firewalls, "count": count})).into_response())
    })
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let CreateBody { firewall: c } = parse(body, Code::E020911)?;
    if !valid_name(&c.name, 1, 64, NAME_EXTRA) {
        return Err(Code::E020911.detail(
            "create firewall parameter incorrect: name must be 1-64 letters, digits, Chinese, '-' or '_'",
        ));
    }
    let description = c.description.unwrap_or_default();
    if !valid_description(&description, 64) {
        return Err(Code::E020911.detail(
            "create firewall parameter incorrect: description is at most 64 characters without '<' or '>'",
        ));
    }
    app.tx(&p, |tx| {
        let quota = tx.config.catalog.quota("firewall");
        if tx.store.table::<Firewall>()?.len() as u64 >= quota {
            return Err(Code::E020401.detail(format!(
                "the edge net quota is not enough: firewall quota {quota} reached"
            )));
        }
        let policy = |name: &str| FirewallPolicy {
            id: crate::core::ids::resource_id(),
            name: name.into(),
            rules: vec![],
        };
        let f = Firewall {
            id: crate::core::ids::resource_id(),
            name: c.name,
            description,
            admin_state_up: true,
            domain_id: tx.domain_id.to_string(),
            ingress: policy("ingress_firewall_policy"),
            egress: policy("egress_firewall_policy"),
            subnets: vec![],
        };
        tx.insert_new(f.clone())?;
        Ok(axum::Json(json!({"firewall": render(&f, false)})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let f = get_firewall(tx, &id)?;
        Ok(axum::Json(json!({"firewall": render(&f, true)})).into_response())
    })
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let mut f = get_firewall(tx, &id)?;
        let UpdateBody { firewall: u } = parse(body, Code::E020909)?;
        if !valid_name(&u.name, 1, 64, NAME_EXTRA) {
            return Err(Code::E020909.detail(
                "update firewall parameter incorrect: name must be 1-64 letters, digits, Chinese, '-' or '_'",
            ));
        }
        if let Some(d) = &u.description
            && !valid_description(d, 64)
        {
            return Err(Code::E020909.detail(
                "update firewall parameter incorrect: description is at most 64 characters without '<' or '>'",
            ));
        }
        if let Some(subnets) = &u.subnets {
            let mut ids: Vec<String> = Vec::new();
            for s in subnets {
                let sub = get_subnet(tx, &s.id)?;
                if s.vpc_id.as_deref().is_some_and(|v| !v.is_empty() && v != sub.vpc_id) {
                    return Err(Code::E020909.detail(format!(
                        "update firewall parameter incorrect: subnet {} is not in vpc {}",
                        s.id,
                        s.vpc_id.as_deref().unwrap_or_default()
                    )));
                }
                if tx
                    .store
                    .referrers_by(kinds::SUBNET, &s.id, kinds::FIREWALL)
                    .iter()
                    .any(|other| *other != id)
                {
                    return Err(Code::E020914.err());
                }
                if !ids.contains(&s.id) {
                    ids.push(s.id.clone());
                }
            }
            for old in &f.subnets {
                tx.store.remove_ref(kinds::SUBNET, old, kinds::FIREWALL, &id);
            }
            for new in &ids {
                tx.store.add_ref(kinds::SUBNET, new, kinds::FIREWALL, &id);
            }
            f.subnets = ids;
        }
        f.name = u.name;
        if let Some(a) = u.admin_state_up {
            f.admin_state_up = a;
        }
        if let Some(d) = u.description {
            f.description = d;
        }
        tx.store.table::<Firewall>()?.insert(f.clone());
        Ok(axum::Json(json!({"firewall": {"id": f.id, "status": "INACTIVE"}})).into_response())
    })
}

async fn delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let f = get_firewall(tx, &id)?;
        if !f.subnets.is_empty() {
            return Err(Code::E020913.err());
        }
        tx.store.remove_refs_of(kinds::FIREWALL, &id);
        tx.store.table::<Firewall>()?.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn update_rules(tx: &mut Tx<'_>, id: &str, body: Value, api: RuleApi) -> Result<Response, ApiError> {
    let mut f = get_firewall(tx, id)?;
    let RulesBody { firewall: r } = parse(body, Code::E020910)?;
    let (direction, opt) = match (r.ingress_firewall_policy, r.egress_firewall_policy) {
        (Some(i), None) => ("ingress_firewall_policy", i),
        (None, Some(e)) => ("egress_firewall_policy", e),
        _ => {
            return Err(rule_err(
                "exactly one of ingress_firewall_policy and egress_firewall_policy is required",
            ));
        }
    };
    if api == RuleApi::Current && opt.firewall_rules.len() > 1 {
        return Err(rule_err("firewall_rules takes at most one rule per call"));
    }
    let policy = if direction == "ingress_firewall_policy" {
        &mut f.ingress
    } else {
        &mut f.egress
    };
    if opt.id != policy.id {
        return Err(rule_err(format!(
            "policy {} is not the {direction} of firewall {id}",
            opt.id
        )));
    }
    if let Some(n) = opt.name.as_deref().filter(|n| !n.is_empty()) {
        if n.chars().count() > 64 {
            return Err(rule_err("policy name is at most 64 characters"));
        }
        policy.name = n.to_string();
    }
    let after = opt.insert_after.as_deref().filter(|s| !s.is_empty());
    let before = opt.insert_before.as_deref().filter(|s| !s.is_empty());
    let mut touched = Vec::new();
    let mut work = policy.clone();
    for o in &opt.firewall_rules {
        if let Some(rule) = apply_rule(&mut work, o, after, before, api)? {
            touched.push(rule);
        }
    }
    *policy = work;
    let mut answer = json!({"id": policy.id, "name": policy.name});
    if !touched.is_empty() {
        answer["firewall_rules"] = touched.iter().map(|r| render_rule(r, false)).collect();
    }
    if let Some(a) = after {
        answer["insert_after"] = json!(a);
    }
    if let Some(b) = before {
        answer["insert_before"] = json!(b);
    }
    tx.store.table::<Firewall>()?.insert(f.clone());
    let mut out = json!({"id": f.id, "status": "INACTIVE",
        "ingress_firewall_policy": {}, "egress_firewall_policy": {}});
    out[direction] = answer;
    Ok(axum::Json(json!({"firewall": out})).into_response())
}

async fn rules(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| update_rules(tx, &id, body, RuleApi::Current))
}

async fn rules_legacy(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| update_rules(tx, &id, body, RuleApi::Legacy))
}

/// True when some ACL is associated with the subnet (used by the subnet delete check).
pub fn subnet_has_firewall(store: &Store, subnet_id: &str) -> bool {
    store.is_referenced_by(kinds::SUBNET, subnet_id, kinds::FIREWALL)
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<Firewall>()
}

/// The network ACL family.
pub fn family() -> Family {
    Family {
        name: "firewalls",
        routes: || {
            Router::new()
                .route("/v1/firewalls", get(list).post(create))
                .route(
                    "/v1/firewalls/{firewall_id}",
                    get(show).put(update).delete(delete),
                )
                .route("/v1/firewalls/{firewall_id}/firewall-rules", put(rules))
                .route(
                    "/v1/firewalls/{firewall_id}/update_firewall_rules",
                    put(rules_legacy),
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
    fn address_and_port_rules() {
        assert!(address_ok("", 4));
        assert!(address_ok("0.0.0.0/0", 4));
        assert!(address_ok("10.0.0.1", 4));
        assert!(!address_ok("::/0", 4));
        assert!(address_ok("::/0", 6));
        assert!(address_ok("2407:c080::1", 6));
        assert!(!address_ok("10.0.0.0/8", 6));
        assert!(port_ok(""));
        assert!(port_ok("80"));
        assert!(port_ok("80-90"));
        assert!(!port_ok("90-80"));
        assert!(!port_ok("0"));
        assert!(!port_ok("65536"));
        assert!(!port_ok("x"));
    }
}
