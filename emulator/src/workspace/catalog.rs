//! The Workspace catalog (config key `workspace`): the products (application-server flavors), images,
//! VPCs with their subnets, availability zones and disk types the emulator accepts, the disk-size
//! bounds, the server quota, and job-failure rules active from start-up. The catalog reads
//! `GET /v1/{project_id}/product` and `GET /v1/{project_id}/volume-type` answer from it, and
//! `GET /v1/{project_id}/check/quota` from the quota; creation validates against it.

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::AppState;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::QueryParams;
use crate::workspace::errors;
use crate::workspace::jobs::FailureRule;
use crate::workspace::servers::{AppServer, product_info};

/// The Workspace catalog and quotas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceCatalog {
    /// Products (`product_id` → flavor, CPU, memory, sessions).
    pub products: Vec<Product>,
    /// Images a server group may use.
    pub images: Vec<Image>,
    /// VPCs (with subnets) a group or server may use.
    pub vpcs: Vec<Vpc>,
    /// Availability zones.
    pub availability_zones: Vec<String>,
    /// Accepted disk types (a subset of `ESSD`, `SSD`, `GPSSD`, `SAS`, `SATA`).
    pub volume_types: Vec<String>,
    /// System-disk size bounds.
    pub system_disk: DiskBounds,
    /// Quotas.
    pub quota: Quota,
    /// Job-failure rules active from start-up (same shape as `PUT /_emulator/workspace/job-failures`).
    pub job_failures: Vec<FailureRule>,
}

/// An application-server product (package).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Product id, e.g. `workspace.appstream.general.xlarge.2`.
    pub product_id: String,
    /// The ECS flavor id, e.g. `s6.xlarge.2`.
    pub flavor_id: String,
    /// vCPUs.
    pub cpu: u32,
    /// Memory in MB.
    pub memory_mb: u32,
    /// Sessions a server of this product supports.
    pub sessions: u32,
    /// Whether the flavor has a GPU.
    #[serde(default)]
    pub is_gpu: bool,
    /// Description.
    #[serde(default)]
    pub descriptions: String,
}

/// An image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image id.
    pub id: String,
    /// Image name.
    pub name: String,
    /// `gold`, `public`, `private`, `shared` or `other`.
    pub image_type: String,
    /// Smallest system disk in GB.
    pub min_disk_gb: u32,
    /// The marketplace product id; when set, `image_product_id` is required and must equal it.
    #[serde(default)]
    pub product_id: Option<String>,
    /// OS version text shown on servers.
    #[serde(default = "default_os_version")]
    pub os_version: String,
}

fn default_os_version() -> String {
    "Windows Server 2019 Datacenter 64bit".into()
}

/// A VPC with subnets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// VPC id.
    pub id: String,
    /// VPC name.
    pub name: String,
    /// Subnets.
    pub subnets: Vec<Subnet>,
}

/// A subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// Subnet (network) id.
    pub id: String,
    /// Subnet name.
    pub name: String,
    /// IPv4 CIDR, e.g. `192.168.0.0/24`; server addresses are allocated from it.
    pub cidr: String,
}

/// Disk-size bounds in GB (the image's minimum raises the lower one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskBounds {
    /// Smallest system disk.
    pub min_gb: u32,
    /// Largest system disk.
    pub max_gb: u32,
}

/// Quotas of a project.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Application servers (all groups, any state).
    pub instances: u32,
}

impl Default for WorkspaceCatalog {
    fn default() -> Self {
        let product = |id: &str, flavor: &str, cpu: u32, memory_mb: u32, sessions: u32| Product {
            product_id: id.into(),
            flavor_id: flavor.into(),
            cpu,
            memory_mb,
            sessions,
            is_gpu: false,
            descriptions: format!("{cpu}vCPUs | {}GiB", memory_mb / 1024),
        };
        Self {
            products: vec![
                product("workspace.appstream.general.xlarge.2", "s6.xlarge.2", 4, 8192, 4),
                product(
                    "workspace.appstream.general.2xlarge.2",
                    "s6.2xlarge.2",
                    8,
                    16384,
                    8,
                ),
                product("workspace.appstream.general.large.2", "s6.large.2", 2, 4096, 2),
            ],
            images: vec![
                Image {
                    id: "0fd6c925-6349-49d6-8788-48263b129854".into(),
                    name: "Windows-Server-2019-APP".into(),
                    image_type: "private".into(),
                    min_disk_gb: 40,
                    product_id: None,
                    os_version: default_os_version(),
                },
                Image {
                    id: "5d1c1d6e-0d2e-4a8a-9c70-0a4bc8a1c2f1".into(),
                    name: "Windows-Server-2022-Gold".into(),
                    image_type: "gold".into(),
                    min_disk_gb: 60,
                    product_id: None,
                    os_version: "Windows Server 2022 Datacenter 64bit".into(),
                },
                Image {
                    id: "b3f0a3f6-1b51-4d7e-9f3c-6a3b0c1d2e4f".into(),
                    name: "Windows-Server-2019-Market".into(),
                    image_type: "other".into(),
                    min_disk_gb: 40,
                    product_id: Some("00301-2019002-0--0".into()),
                    os_version: default_os_version(),
                },
            ],
            vpcs: vec![Vpc {
                id: "59785ba5-e5d5-4836-b9de-19f22ac15175".into(),
                name: "vpc-workspace".into(),
                subnets: vec![
                    Subnet {
                        id: "a5842cb4-5718-4b0a-8b27-3a3e9c74f977".into(),
                        name: "subnet-workspace".into(),
                        cidr: "192.168.0.0/24".into(),
                    },
                    Subnet {
                        id: "7c3e9f00-5b7a-4b8e-a1d2-3c4d5e6f7a8b".into(),
                        name: "subnet-workspace-2".into(),
                        cidr: "192.168.1.0/24".into(),
                    },
                ],
            }],
            availability_zones: vec!["cn-north-4a".into(), "cn-north-4b".into(), "cn-north-4c".into()],
            volume_types: ["ESSD", "SSD", "GPSSD", "SAS", "SATA"]
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
            system_disk: DiskBounds {
                min_gb: 40,
                max_gb: 1024,
            },
            quota: Quota { instances: 20 },
            job_failures: Vec::new(),
        }
    }
}

impl WorkspaceCatalog {
    /// The product with this id.
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.product_id == id)
    }

    /// The image with this id.
    pub fn image(&self, id: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.id == id)
    }

    /// The VPC with this id.
    pub fn vpc(&self, id: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.id == id)
    }

    /// The subnet with this id, in any VPC.
    pub fn subnet(&self, id: &str) -> Option<(&Vpc, &Subnet)> {
        self.vpcs
            .iter()
            .find_map(|v| v.subnets.iter().find(|s| s.id == id).map(|s| (v, s)))
    }
}

// ---- routes -----------------------------------------------------------------------------------

/// `GET /v1/{project_id}/product` (`ListProduct`), filtered by `product_id`, `flavor_id`,
/// `availability_zone` and `os_type` (the others are accepted).
async fn list_products(State(app): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let cat = &app.config().workspace;
    if let Some(az) = q.get("availability_zone")
        && !cat.availability_zones.iter().any(|z| z == az)
    {
        return Err(errors::invalid(
            "availability_zone",
            format!("availability zone {az} does not exist"),
        ));
    }
    let os = q.get("os_type").unwrap_or("Windows");
    let products: Vec<Value> = cat
        .products
        .iter()
        .filter(|p| q.get("product_id").is_none_or(|id| id == p.product_id))
        .filter(|p| q.get("flavor_id").is_none_or(|f| f == p.flavor_id))
        .filter(|_| os == "Windows")
        .map(|p| {
            let mut v = product_info(cat, &p.product_id, "SAS", cat.system_disk.min_gb);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("series_type".into(), json!("general"));
                obj.insert(
                    "cond_operation_az".into(),
                    json!(
                        cat.availability_zones
                            .iter()
                            .map(|z| format!("{z}(normal)"))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                );
            }
            v
        })
        .collect();
    Ok(axum::Json(json!({
        "availability_zone": q.get("availability_zone").unwrap_or_default(),
        "os_type": os,
        "products": products,
    }))
    .into_response())
}

/// The display names of a disk type.
fn disk_names(t: &str) -> (&'static str, &'static str) {
    match t {
        "ESSD" => ("极速型SSD", "Extreme SSD"),
        "SSD" => ("超高IO", "Ultra-high I/O"),
        "GPSSD" => ("通用型SSD", "General Purpose SSD"),
        "SAS" => ("高IO", "High I/O"),
        _ => ("普通IO", "Common I/O"),
    }
}

/// `GET /v1/{project_id}/volume-type` (`ListVolumeType`).
async fn list_volume_types(State(app): State<AppState>) -> Response {
    let cat = &app.config().workspace;
    let azs = cat.availability_zones.join(",");
    let types: Vec<Value> = cat
        .volume_types
        .iter()
        .map(|t| {
            let (zh, en) = disk_names(t);
            json!({
                "resource_spec_code": format!("workspace.volume.{}", t.to_ascii_lowercase()),
                "volume_type": t,
                "volume_product_type": "workspace",
                "resource_type": "hws.resource.type.volume",
                "cloud_service_type": "hws.service.type.ebs",
                "name": [{"zh_CN": zh, "en_US": en}],
                "volume_type_extra_specs": {"availability_zone": azs, "sold_out_availability_zone": ""},
            })
        })
        .collect();
    axum::Json(json!({"volume_types": types})).into_response()
}

/// `GET /v1/{project_id}/check/quota` (`CheckQuota`): `product_id`, `subscription_num`, `disk_size`
/// and `disk_num` are required.
async fn check_quota(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let bad = |k: &str| errors::invalid(k, "must be an integer");
    let product = q
        .get("product_id")
        .ok_or_else(|| errors::invalid("product_id", "is required"))?
        .to_string();
    let need = q
        .get_i64("subscription_num", bad)?
        .ok_or_else(|| errors::invalid("subscription_num", "is required"))?;
    for k in ["disk_size", "disk_num"] {
        q.get_i64(k, bad)?
            .ok_or_else(|| errors::invalid(k, "is required"))?;
    }
    if need < 1 {
        return Err(errors::invalid("subscription_num", "must be at least 1"));
    }
    if app.config().workspace.product(&product).is_none() {
        return Err(errors::invalid(
            "product_id",
            format!("product {product} does not exist"),
        ));
    }
    let limit = i64::from(app.config().workspace.quota.instances);
    let used = app.tx(&p, |tx| {
        let servers = tx.store.table::<AppServer>()?.len();
        let pending = crate::workspace::jobs::pending_creates_in(tx.store, None)?;
        Ok(i64::try_from(servers + pending).unwrap_or(i64::MAX))
    })?;
    let remainder = (limit - used).max(0);
    Ok(axum::Json(json!({
        "is_enough": remainder >= need,
        "quota_remainder": [{"type": "INSTANCES", "remainder": remainder, "need": need}],
    }))
    .into_response())
}

/// The catalog routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/{project_id}/product", get(list_products))
        .route("/v1/{project_id}/volume-type", get(list_volume_types))
        .route("/v1/{project_id}/check/quota", get(check_quota))
}
