//! The objects the bench applies and how it knows they are Ready.
//!
//! Objects are built as JSON (the same shape a user applies) and handled as `DynamicObject`s, so the bench
//! measures exactly what `kubectl apply` would produce. Shared dependencies are created first; then N
//! EdgeInstances (and M EdgeClouds) as fast as the bench's writers can. What the shared objects and the
//! instances are depends on the [`Cloud`]:
//! - IEC: credentials Secret, ProviderConfig, one CUSTOMER VPC with a /16 subnet, one security group, the
//!   admin password Secret (and a SYSTEM VPC for fleets); instances are created at a site in that VPC.
//! - veEN: credentials Secret, ProviderConfig, the admin password Secret and one EdgeCloud of 1 replica
//!   (`bench-pool`: its cloud server, the fleet itself being one member); veEN instances live in a cloud
//!   server, so every standalone instance joins that one (`spec.fleetRef`) and inherits its spec, image
//!   and disk.
//! - Luchen: a credentials Secret (the emulator's built-in user and password) and the ProviderConfig
//!   (Password login); instances are GPU instances (H100 × 1) in the catalog's east region, one node
//!   port each. Luchen has no fleet object and edgefleet has no Luchen EdgeCloud, so runs take no fleets.
//! - ModelArts: a credentials Secret and the ProviderConfig (AK/SK; ModelArts, BSS and IAM endpoints all on the
//!   emulator's modelarts listener, the project looked up by region); instances are pay-per-use DevServers
//!   (seed 002's flavor, image, VPC, subnet and security group) logging in with the catalog's key pair.
//!   No EdgeCloud on ModelArts: runs take no fleets.
//! - Workspace: a credentials Secret and the ProviderConfig (AK/SK; Workspace and IAM on the emulator's
//!   workspace listener, the project looked up by region); EdgeClouds are application server groups in
//!   the catalog's VPC and subnet (servers created by jobs). A Workspace EdgeInstance exists only as a
//!   fleet member, so runs take no standalone instances (`--instances 0`).

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use edgefleet::api::edge_cloud::EdgeCloud;
use edgefleet::api::provider_config::ProviderConfig;
use edgefleet::api::security_group::SecurityGroup;
use edgefleet::api::vpc::Vpc;
use edgefleet_emulator::modelarts::catalog as ma;
use edgefleet_emulator::workspace::catalog as ws;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::ApiResource;
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde_json::{Value, json};

/// Label on every object the bench creates (selects the standalone instances it waits for).
pub const ROLE_LABEL: &str = "bench.edgefleet.io/role";
/// The cloud a run manages (`--cloud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Huawei IEC.
    Iec,
    /// Volcengine veEN.
    Veen,
    /// Luchen GPU instances.
    Luchen,
    /// Huawei ModelArts DevServers.
    #[value(name = "modelarts")]
    ModelArts,
    /// Huawei Workspace application server groups.
    Workspace,
}

impl Cloud {
    /// As on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iec => "iec",
            Self::Veen => "veen",
            Self::Luchen => "luchen",
            Self::ModelArts => "modelarts",
            Self::Workspace => "workspace",
        }
    }

    /// Name of the ProviderConfig the bench creates for this cloud.
    pub fn provider_config(self) -> &'static str {
        match self {
            Self::Iec => "bench-iec",
            Self::Veen => "bench-veen",
            Self::Luchen => "bench-luchen",
            Self::ModelArts => "bench-modelarts",
            Self::Workspace => "bench-workspace",
        }
    }

    /// Whether edgefleet has EdgeClouds on this cloud (`--fleets` needs them).
    pub fn has_fleets(self) -> bool {
        !matches!(self, Self::Luchen | Self::ModelArts)
    }

    /// Whether edgefleet has standalone EdgeInstances on this cloud (Workspace: fleet members only).
    pub fn has_instances(self) -> bool {
        !matches!(self, Self::Workspace)
    }
}

/// Name of the IEC ProviderConfig the bench creates.
pub const PROVIDER_CONFIG: &str = "bench-iec";
/// The EdgeCloud (of one member) whose cloud server the veEN standalone instances join.
pub const VEEN_POOL: &str = "bench-pool";
/// The built-in veEN catalog's Hangzhou China Mobile cluster city, spec and image (docs/emulator.md).
const VEEN_CITY: &str = "hangzhou";
const VEEN_SPEC: &str = "veEN.C1.large";
const VEEN_IMAGE: &str = "image-ubuntu2004";
/// The built-in emulator catalog's Zhongshan site, flavor and image (docs/emulator.md).
const SITE_ID: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const FLAVOR: &str = "c6.large.2";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";
/// The built-in Luchen catalog's east region, H100 × 1 type and PyTorch image (docs/emulator.md).
const LUCHEN_REGION: &str = edgefleet_emulator::luchen::catalog::REGION_EAST;
const LUCHEN_TYPE: &str = edgefleet_emulator::luchen::catalog::TYPE_H100_1;
const LUCHEN_IMAGE: &str = edgefleet_emulator::luchen::catalog::IMAGE_PYTORCH;

/// API resource of a kind, for dynamic access.
pub fn resource<K: Resource<DynamicType = ()>>() -> ApiResource {
    ApiResource::erase::<K>(&())
}

/// Creates `namespace` if it does not exist.
pub async fn ensure_namespace(client: &Client, namespace: &str) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating namespace {namespace}")),
    }
}

/// Creates one object given as JSON (`namespace` `None` for cluster-scoped kinds).
pub async fn create_dynamic(
    client: &Client,
    ar: &ApiResource,
    namespace: Option<&str>,
    body: Value,
) -> Result<()> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    let object: DynamicObject = serde_json::from_value(body).context("building an object")?;
    let name = object.metadata.name.clone().unwrap_or_default();
    api.create(&PostParams::default(), &object)
        .await
        .with_context(|| format!("creating {} {name}", ar.kind))?;
    Ok(())
}

/// The shared objects of `cloud` (see the module docs), its ProviderConfig pointed at `endpoint` (that
/// cloud's emulator listener).
pub async fn create_shared(
    client: &Client,
    namespace: &str,
    cloud: Cloud,
    endpoint: &str,
    qps: u32,
    fleets: bool,
) -> Result<()> {
    match cloud {
        Cloud::Iec => create_shared_iec(client, namespace, endpoint, qps, fleets).await,
        Cloud::Veen => create_shared_veen(client, namespace, endpoint, qps).await,
        Cloud::Luchen => create_shared_luchen(client, namespace, endpoint, qps).await,
        Cloud::ModelArts => create_shared_modelarts(client, namespace, endpoint, qps).await,
        Cloud::Workspace => create_shared_workspace(client, namespace, endpoint, qps).await,
    }
}

/// The shared objects the bench waits for before it starts the clock: (kind, name) in `namespace`.
pub fn shared_objects(cloud: Cloud, fleets: bool) -> Vec<(ApiResource, &'static str)> {
    match cloud {
        Cloud::Iec => {
            let mut shared = vec![(resource::<Vpc>(), "bench-vpc")];
            if fleets {
                shared.push((resource::<Vpc>(), "bench-fleet-vpc"));
            }
            shared.push((resource::<SecurityGroup>(), "bench-sg"));
            shared
        }
        Cloud::Veen => vec![(resource::<EdgeCloud>(), VEEN_POOL)],
        Cloud::Luchen | Cloud::ModelArts | Cloud::Workspace => Vec::new(),
    }
}

async fn create_secrets(client: &Client, namespace: &str, credentials: &str) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for (name, data) in [
        (
            credentials,
            json!({"accessKey": edgefleet_emulator::config::DEFAULT_AK, "secretKey": edgefleet_emulator::config::DEFAULT_SK}),
        ),
        ("bench-login", json!({"password": "Edge-Fleet-2026!"})),
    ] {
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "stringData": data,
        }))?;
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .with_context(|| format!("creating Secret {name}"))?;
    }
    Ok(())
}

/// Creates the bench's ProviderConfig `name`: `spec` (provider, region, endpoints, ...) with the
/// credentials (type, Secret in `namespace`) and the bench's rate limit (`qps`, burst twice that).
async fn create_provider_config(
    client: &Client,
    namespace: &str,
    name: &str,
    mut spec: Value,
    (credentials, secret): (&str, &str),
    qps: u32,
) -> Result<()> {
    spec["credentials"] = json!({"type": credentials, "secretRef": {"name": secret, "namespace": namespace}});
    spec["rateLimit"] = json!({"qps": qps, "burst": qps.saturating_mul(2).min(10_000)});
    create_dynamic(
        client,
        &resource::<ProviderConfig>(),
        None,
        json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "ProviderConfig",
            "metadata": {"name": name},
            "spec": spec,
        }),
    )
    .await
}

async fn create_shared_veen(client: &Client, namespace: &str, endpoint: &str, qps: u32) -> Result<()> {
    create_secrets(client, namespace, "bench-veen-credentials").await?;
    let spec = json!({"provider": "Veen", "region": "cn-north-1", "endpoints": {"veen": endpoint}});
    let credentials = ("AkSk", "bench-veen-credentials");
    create_provider_config(
        client,
        namespace,
        Cloud::Veen.provider_config(),
        spec,
        credentials,
        qps,
    )
    .await?;
    // One member: a fleet of none has no cloud object (nothing to join) on any cloud.
    let mut pool = fleet(Cloud::Veen, namespace, 0, 1);
    pool["metadata"]["name"] = json!(VEEN_POOL);
    pool["metadata"]["labels"][ROLE_LABEL] = json!("shared");
    pool["spec"]["template"]["name"] = json!("bench-pool");
    create_dynamic(client, &resource::<EdgeCloud>(), Some(namespace), pool).await
}

async fn create_shared_luchen(client: &Client, namespace: &str, endpoint: &str, qps: u32) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "bench-luchen-credentials", "namespace": namespace},
        "stringData": {
            "username": edgefleet_emulator::config::DEFAULT_USER,
            "password": edgefleet_emulator::config::DEFAULT_PASSWORD,
        },
    }))?;
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .context("creating Secret bench-luchen-credentials")?;
    let spec = json!({"provider": "Luchen", "endpoints": {"luchen": endpoint}});
    let credentials = ("Password", "bench-luchen-credentials");
    create_provider_config(
        client,
        namespace,
        Cloud::Luchen.provider_config(),
        spec,
        credentials,
        qps,
    )
    .await
}

async fn create_shared_modelarts(client: &Client, namespace: &str, endpoint: &str, qps: u32) -> Result<()> {
    create_secrets(client, namespace, "bench-modelarts-credentials").await?;
    let spec = json!({
        "provider": "ModelArts",
        "region": edgefleet_emulator::core::auth::DEFAULT_PROJECT_NAME,
        "endpoints": {"modelArts": endpoint, "bss": endpoint, "iam": endpoint},
    });
    let credentials = ("AkSk", "bench-modelarts-credentials");
    create_provider_config(
        client,
        namespace,
        Cloud::ModelArts.provider_config(),
        spec,
        credentials,
        qps,
    )
    .await
}

async fn create_shared_workspace(client: &Client, namespace: &str, endpoint: &str, qps: u32) -> Result<()> {
    create_secrets(client, namespace, "bench-workspace-credentials").await?;
    let spec = json!({
        "provider": "Workspace",
        "region": edgefleet_emulator::core::auth::DEFAULT_PROJECT_NAME,
        "endpoints": {"workspace": endpoint, "iam": endpoint},
    });
    let credentials = ("AkSk", "bench-workspace-credentials");
    create_provider_config(
        client,
        namespace,
        Cloud::Workspace.provider_config(),
        spec,
        credentials,
        qps,
    )
    .await
}

async fn create_shared_iec(
    client: &Client,
    namespace: &str,
    emulator_url: &str,
    qps: u32,
    fleets: bool,
) -> Result<()> {
    create_secrets(client, namespace, "bench-iec-credentials").await?;
    let spec = json!({
        "provider": "Iec",
        "region": "cn-north-4",
        "domainId": edgefleet_emulator::config::DEFAULT_DOMAIN_ID,
        "endpoints": {"iec": emulator_url, "iam": emulator_url},
    });
    let credentials = ("AkSk", "bench-iec-credentials");
    create_provider_config(client, namespace, PROVIDER_CONFIG, spec, credentials, qps).await?;
    create_dynamic(
        client,
        &resource::<Vpc>(),
        Some(namespace),
        json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "Vpc",
            "metadata": {"name": "bench-vpc", "namespace": namespace, "labels": {ROLE_LABEL: "shared"}},
            "spec": {
                "providerConfigRef": {"name": PROVIDER_CONFIG},
                "cidr": "10.0.0.0/8",
                "iec": {"mode": "CUSTOMER"},
                "subnets": [{"name": "bench", "cidr": "10.1.0.0/16", "gatewayIp": "10.1.0.1", "siteId": SITE_ID}],
            }
        }),
    )
    .await?;
    if fleets {
        create_dynamic(
            client,
            &resource::<Vpc>(),
            Some(namespace),
            json!({
                "apiVersion": "edgefleet.io/v1alpha1", "kind": "Vpc",
                "metadata": {"name": "bench-fleet-vpc", "namespace": namespace, "labels": {ROLE_LABEL: "shared"}},
                "spec": {
                    "providerConfigRef": {"name": PROVIDER_CONFIG},
                    "cidr": "172.16.0.0/12",
                    "iec": {"mode": "SYSTEM"},
                }
            }),
        )
        .await?;
    }
    create_dynamic(
        client,
        &resource::<SecurityGroup>(),
        Some(namespace),
        json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "SecurityGroup",
            "metadata": {"name": "bench-sg", "namespace": namespace, "labels": {ROLE_LABEL: "shared"}},
            "spec": {
                "providerConfigRef": {"name": PROVIDER_CONFIG},
                "description": "edgefleet bench",
                "rules": [{"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "remoteIpPrefix": "10.0.0.0/8"}],
            }
        }),
    )
    .await
}

/// One standalone EdgeInstance of `cloud`, as a user would write it.
pub fn instance(cloud: Cloud, namespace: &str, index: usize) -> Value {
    match cloud {
        // A Workspace EdgeInstance exists only as a fleet member (runs check `Cloud::has_instances`);
        // the IEC shape stands in.
        Cloud::Iec | Cloud::Workspace => iec_instance(namespace, index),
        Cloud::Veen => json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
            "metadata": {"name": format!("bench-{index:05}"), "namespace": namespace, "labels": {ROLE_LABEL: "instance"}},
            "spec": {
                "providerConfigRef": {"name": Cloud::Veen.provider_config()},
                "fleetRef": {"name": VEEN_POOL},
                "flavor": VEEN_SPEC,
                "image": VEEN_IMAGE,
                "placement": {"city": VEEN_CITY, "operator": "chinamobile"},
                "rootVolume": {"type": "CloudBlockSSD", "size": 40},
                "powerState": "Running",
            }
        }),
        Cloud::ModelArts => json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
            "metadata": {"name": format!("bench-{index:05}"), "namespace": namespace, "labels": {ROLE_LABEL: "instance"}},
            "spec": {
                "providerConfigRef": {"name": Cloud::ModelArts.provider_config()},
                "flavor": ma::DEFAULT_FLAVOR,
                "image": ma::DEFAULT_IMAGE,
                "rootVolume": {"type": "SSD", "size": 100},
                "network": {
                    "vpcId": ma::DEFAULT_VPC,
                    "subnets": [{"id": ma::DEFAULT_SUBNET}],
                    "securityGroupIds": [ma::DEFAULT_SECURITY_GROUP],
                },
                "keyName": ma::DEFAULT_KEY_PAIR,
                "modelArts": {"serverType": "ECS", "arch": "X86"},
                "powerState": "Running",
            }
        }),
        Cloud::Luchen => json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
            "metadata": {"name": format!("bench-{index:05}"), "namespace": namespace, "labels": {ROLE_LABEL: "instance"}},
            "spec": {
                "providerConfigRef": {"name": Cloud::Luchen.provider_config()},
                "flavor": LUCHEN_TYPE,
                "image": LUCHEN_IMAGE,
                "placement": {"siteId": LUCHEN_REGION},
                "luchen": {"billing": {"chargeMode": "perHour", "duration": 1}, "nodePorts": [8888]},
                "powerState": "Running",
            }
        }),
    }
}

/// One IEC EdgeInstance at the Zhongshan site in the shared VPC (also the baseline's object shape).
pub fn iec_instance(namespace: &str, index: usize) -> Value {
    json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
        "metadata": {"name": format!("bench-{index:05}"), "namespace": namespace, "labels": {ROLE_LABEL: "instance"}},
        "spec": {
            "providerConfigRef": {"name": PROVIDER_CONFIG},
            "flavor": FLAVOR,
            "image": IMAGE,
            "placement": {"siteId": SITE_ID, "operator": "chinaunicom"},
            "rootVolume": {"type": "SAS", "size": 40},
            "network": {
                "vpcRef": {"name": "bench-vpc"},
                "subnets": [{"name": "bench"}],
                "securityGroupRefs": [{"name": "bench-sg"}],
            },
            "adminPasswordSecretRef": {"name": "bench-login", "key": "password"},
            "powerState": "Running",
        }
    })
}

/// One EdgeCloud of `cloud` with `replicas` members.
pub fn fleet(cloud: Cloud, namespace: &str, index: usize, replicas: u32) -> Value {
    match cloud {
        // No Luchen EdgeCloud exists (runs check `Cloud::has_fleets`); the IEC shape stands in.
        Cloud::Iec | Cloud::Luchen | Cloud::ModelArts => iec_fleet(namespace, index, replicas),
        Cloud::Workspace => workspace_fleet(namespace, index, replicas),
        Cloud::Veen => json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud",
            "metadata": {"name": format!("bench-fleet-{index:03}"), "namespace": namespace, "labels": {ROLE_LABEL: "fleet"}},
            "spec": {
                "providerConfigRef": {"name": Cloud::Veen.provider_config()},
                "replicas": replicas,
                "coverage": {"level": "City", "policy": "Centralize"},
                "placement": [{"city": VEEN_CITY, "operator": "chinamobile", "weight": 1}],
                "template": {
                    "name": format!("bf{index:03}"),
                    "flavor": VEEN_SPEC,
                    "image": VEEN_IMAGE,
                    "rootVolume": {"type": "CloudBlockSSD", "size": 40},
                    "adminPasswordSecretRef": {"name": "bench-login", "key": "password"},
                },
            }
        }),
    }
}

/// A server group of `replicas` app servers in the built-in Workspace catalog's first zone, VPC and
/// subnet, with its first product and image (docs/emulator.md § Workspace).
fn workspace_fleet(namespace: &str, index: usize, replicas: u32) -> Value {
    let catalog = ws::WorkspaceCatalog::default();
    let product = catalog
        .products
        .first()
        .map(|p| p.product_id.clone())
        .unwrap_or_default();
    let image = catalog.images.first().map(|i| i.id.clone()).unwrap_or_default();
    let vpc = catalog.vpcs.first();
    let subnet = vpc
        .and_then(|v| v.subnets.first())
        .map(|s| s.id.clone())
        .unwrap_or_default();
    let zone = catalog.availability_zones.first().cloned().unwrap_or_default();
    json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud",
        "metadata": {"name": format!("bench-fleet-{index:03}"), "namespace": namespace, "labels": {ROLE_LABEL: "fleet"}},
        "spec": {
            "providerConfigRef": {"name": Cloud::Workspace.provider_config()},
            "replicas": replicas,
            "coverage": {"level": "Site", "policy": "Centralize"},
            "placement": [{"siteId": zone, "weight": 1}],
            "template": {
                "flavor": product,
                "image": image,
                "rootVolume": {"type": "SAS", "size": 80},
                "network": {"vpcId": vpc.map(|v| v.id.clone()).unwrap_or_default()},
            },
            "workspace": {
                "subnetId": subnet,
                "imageType": "Private",
                "osType": "Windows",
                "appType": "SessionDesktopApp",
            },
        }
    })
}

fn iec_fleet(namespace: &str, index: usize, replicas: u32) -> Value {
    json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud",
        "metadata": {"name": format!("bench-fleet-{index:03}"), "namespace": namespace, "labels": {ROLE_LABEL: "fleet"}},
        "spec": {
            "providerConfigRef": {"name": PROVIDER_CONFIG},
            "replicas": replicas,
            "coverage": {"level": "City", "policy": "Centralize"},
            "placement": [{"city": "zhongshan", "weight": 1}],
            "template": {
                "name": format!("bf{index:03}"),
                "flavor": FLAVOR,
                "image": IMAGE,
                "rootVolume": {"type": "SAS", "size": 40},
                "network": {"vpcRef": {"name": "bench-fleet-vpc"}, "nicCount": 1, "securityGroupRefs": [{"name": "bench-sg"}]},
            },
        }
    })
}

/// Creates `bodies` with `concurrency` requests in flight.
pub async fn create_all(
    client: &Client,
    ar: &ApiResource,
    namespace: &str,
    bodies: Vec<Value>,
    concurrency: usize,
) -> Result<()> {
    stream::iter(bodies)
        .map(|body| create_dynamic(client, ar, Some(namespace), body))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await
}

/// Waits until the ProviderConfig of `cloud` counts every object of `namespace` (the operator's watched
/// namespace) that names it (`status.usedBy.total` equal to the operator's own count,
/// [`edgefleet::controller::provider_config::users_of`]; the baseline's objects in other namespaces name
/// the IEC ProviderConfig too and are not the operator's). The ProviderConfig recounts its EdgeInstance
/// and EdgeCloud users on its poll, not on each of their changes, so after a burst of creates the count
/// is the last thing to settle; the steady state starts after it.
pub async fn wait_users_counted(
    client: &Client,
    cloud: Cloud,
    namespace: &str,
    timeout: Duration,
) -> Result<()> {
    let name = cloud.provider_config();
    let api: Api<ProviderConfig> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let users = edgefleet::controller::provider_config::users_of(client, Some(namespace), name)
            .await
            .with_context(|| format!("counting the users of ProviderConfig {name}"))?;
        let counted = api
            .get(name)
            .await
            .with_context(|| format!("reading ProviderConfig {name}"))?
            .status
            .and_then(|s| s.used_by)
            .map(|u| u.total);
        if counted == Some(users.usage.total) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "ProviderConfig {name} counts {counted:?} users after {timeout:?}, {} objects name it",
                users.usage.total
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether an object's `Ready` condition is True for its current generation.
pub fn is_ready(object: &DynamicObject) -> bool {
    let generation = object.metadata.generation;
    let status = &object.data["status"];
    let observed = status["observedGeneration"].as_i64();
    let ready = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    ready && (generation.is_none() || observed == generation)
}

/// Waits until every object of `ar` in `namespace` matching `selector` is Ready and there are `expected`
/// of them; returns early with an error naming the not-Ready objects after `timeout`.
pub async fn wait_all_ready(
    client: &Client,
    ar: &ApiResource,
    namespace: &str,
    selector: &str,
    expected: usize,
    timeout: Duration,
) -> Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, ar);
    let config = watcher::Config::default().labels(selector);
    let mut events = watcher::watcher(api, config).boxed();
    let mut ready = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if seen.len() >= expected && ready.len() >= expected {
            return Ok(());
        }
        let event = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(event)) => event,
            Ok(None) => bail!("the {} watch ended", ar.kind),
            Err(_) => {
                let missing: Vec<_> = seen.difference(&ready).take(5).cloned().collect();
                bail!(
                    "{} of {expected} {} Ready after {timeout:?} ({} seen); not Ready, e.g.: {missing:?}",
                    ready.len(),
                    ar.kind,
                    seen.len()
                )
            }
        };
        match event {
            Ok(watcher::Event::Apply(object)) | Ok(watcher::Event::InitApply(object)) => {
                let name = object.metadata.name.clone().unwrap_or_default();
                seen.insert(name.clone());
                if is_ready(&object) {
                    ready.insert(name);
                } else {
                    ready.remove(&name);
                }
            }
            Ok(watcher::Event::Delete(object)) => {
                let name = object.metadata.name.clone().unwrap_or_default();
                seen.remove(&name);
                ready.remove(&name);
            }
            Ok(watcher::Event::Init) | Ok(watcher::Event::InitDone) => {}
            // The watcher retries by itself; a transient watch error is not a bench failure.
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Waits until one named object is Ready.
pub async fn wait_ready(
    client: &Client,
    ar: &ApiResource,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, ar);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let object = api
            .get_opt(name)
            .await
            .with_context(|| format!("reading {} {name}", ar.kind))?;
        if object.as_ref().is_some_and(is_ready) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let status = object.map(|o| o.data["status"].clone()).unwrap_or(Value::Null);
            bail!(
                "{} {namespace}/{name} not Ready after {timeout:?}; status: {status}",
                ar.kind
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
