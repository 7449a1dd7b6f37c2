//! Catalog-backed and image APIs: flavors (§2.3), sites (§2.6) and edge images (§2.15):
//! `GET /v1/cloudservers/flavors`, `GET /v1/sites`, `GET /v1/images`, `GET/DELETE /v1/images/{id}`,
//! `POST /v1/images/register`, `POST /v1/images/create`, `GET /v1/cloudimages/{region_id}`,
//! `POST /v1/{domain_id}/jobs/{job_id}/action`.
//!
//! Flavors: `offset` is a page number (0 and 1 = first page), limit 0..1000; filters `area`, `city`,
//! `province`, `operator` (case-insensitive, comma-separated) select flavors offered at a matching
//! site; `site_ids`, `id`, `name`. Sites: item offset, limit default 1000. Images: public images
//! come from the catalog, private ones are records (`saving` → `active` after `image_build`,
//! 2000 ms); `limit` 1..500 (default 500), item `offset`, `total` instead of `count`,
//! `sort_key`/`sort_dir`. Central images: `marker` pagination, no count.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::clock::rfc3339_seconds;
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::ids;
use crate::core::paging::{OffsetKind, PageRule, QueryParams};
use crate::core::state::{Record, StateError, Store, Timer};
use crate::iec::catalog::{Catalog, Flavor, Image, Site};
use crate::iec::common::{Json, bad_field, page};
use crate::iec::errors::Code;
use crate::iec::instances::get_instance;
use crate::iec::kinds;

fn any_ci(list: &[String], v: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(v))
}

fn render_flavor(f: &Flavor) -> Value {
    json!({
        "id": f.id, "name": f.name, "vcpus": f.vcpus.to_string(), "ram": f.ram, "disk": "0",
        "os_flavor_access_is_public": true,
        "os_extra_specs": {"cond:operation:status": "normal", "ecs:generation": f.generation,
            "ecs:performancetype": "normal", "ecs:virtualization_env_types": "FusionCompute",
            "resource_type": f.resource_type},
    })
}

async fn flavors(State(app): State<AppState>, Caller(_p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(
        &q,
        PageRule {
            default_limit: 1000,
            max_limit: 1000,
            offset: OffsetKind::Pages,
        },
    )?;
    let cat = &app.config().catalog;
    let (areas, cities, provs, ops, site_ids) = (
        q.get_list("area"),
        q.get_list("city"),
        q.get_list("province"),
        q.get_list("operator"),
        q.get_list("site_ids"),
    );
    let sites: Vec<&Site> = cat
        .sites
        .iter()
        .filter(|s| {
            any_ci(&areas, &s.area)
                && any_ci(&cities, &s.city)
                && any_ci(&provs, &s.province)
                && (ops.is_empty() || s.pools.iter().any(|p| any_ci(&ops, &p.operator.name)))
                && (site_ids.is_empty() || site_ids.contains(&s.id))
        })
        .collect();
    let (id, name) = (q.get("id"), q.get("name"));
    let it = cat.flavors.iter().filter(|f| {
        id.is_none_or(|x| f.id == x)
            && name.is_none_or(|x| f.name == x)
            && sites.iter().any(|s| cat.site_has_flavor(s, &f.id))
    });
    let (count, items) = pg.apply(it);
    let flavors: Vec<Value> = items.into_iter().map(render_flavor).collect();
    Ok(axum::Json(json!({"count": count, "flavors": flavors})).into_response())
}

/// The doc's Site object.
pub fn render_site(s: &Site) -> Value {
    let pools: Vec<Value> = s
        .pools
        .iter()
        .map(|p| {
            json!({"id": p.id, "site_id": s.id, "pool_id": p.pool_id, "ip_version": p.ip_version,
            "operator": p.operator, "display_name": p.display_name,
            "allow_share_bandwidth_types": p.allow_share_bandwidth_types})
        })
        .collect();
    json!({"id": s.id, "name": s.name, "city": s.city, "i18n_city": s.i18n_city, "province": s.province,
        "i18n_province": s.i18n_province, "area": s.area, "i18n_area": s.i18n_area, "country": s.country,
        "i18n_country": s.i18n_country, "status": s.status, "pools": pools, "city_short_name": s.city_short_name})
}

async fn sites(State(app): State<AppState>, Caller(_p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    let cat = &app.config().catalog;
    let (areas, cities, provs, vtypes) = (
        q.get_list("area"),
        q.get_list("city"),
        q.get_list("province"),
        q.get_list("volume_type"),
    );
    let (id, flavor) = (q.get("id"), q.get("flavor"));
    let it = cat.sites.iter().filter(|s| {
        id.is_none_or(|x| s.id == x)
            && any_ci(&areas, &s.area)
            && any_ci(&cities, &s.city)
            && any_ci(&provs, &s.province)
            && flavor.is_none_or(|f| f.split(',').any(|f| cat.site_has_flavor(s, f.trim())))
            && vtypes.iter().all(|v| s.volume_types.iter().any(|t| t == v))
    });
    let (count, items) = pg.apply(it);
    let sites: Vec<Value> = items.into_iter().map(render_site).collect();
    Ok(axum::Json(json!({"count": count, "sites": sites})).into_response())
}

// ---- images ------------------------------------------------------------------------------------

/// A private edge image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivateImage {
    /// Image id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `saving`, `active`, `killed`.
    pub status: String,
    /// Created (epoch ms).
    pub created_ms: u64,
    /// Updated (epoch ms).
    pub updated_ms: u64,
    /// The job that builds it.
    pub relation_job_id: String,
    /// `instance:<id>` or `ims:<image id>:`.
    pub data_source: String,
    /// Source region for registered images.
    #[serde(default)]
    pub region_id: String,
    /// Source central image id.
    #[serde(default)]
    pub source_image_id: String,
    /// `Linux` etc.
    pub os_type: String,
    /// Minimum disk.
    pub min_disk: u32,
}

impl Record for PrivateImage {
    const KIND: &'static str = kinds::IMAGE;
    fn id(&self) -> &str {
        &self.id
    }
}

fn render_public(i: &Image, t0: u64) -> Value {
    json!({"id": i.id, "name": i.name, "status": "active", "disk_format": "zvhd2", "min_disk": i.min_disk,
        "min_ram": i.min_ram, "owner": "", "protected": true, "visibility": "public",
        "created_at": rfc3339_seconds(t0), "updated_at": rfc3339_seconds(t0), "self": format!("/v1/images/{}", i.id),
        "deleted": false, "virtual_env_type": "FusionCompute", "deleted_at": "", "relation_job_id": "",
        "__imagetype": "gold", "__platform": i.platform, "__os_type": i.os_type, "__os_version": i.os_version,
        "__isregistered": true, "__support_kvm": "true", "hw_firmware_type": "bios", "data_source": ""})
}

fn render_private(i: &PrivateImage, owner: &str) -> Value {
    json!({"id": i.id, "name": i.name, "status": i.status, "disk_format": "zvhd2", "min_disk": i.min_disk,
        "min_ram": 0, "owner": owner, "protected": false, "visibility": "private",
        "created_at": rfc3339_seconds(i.created_ms), "updated_at": rfc3339_seconds(i.updated_ms),
        "self": format!("/v1/images/{}", i.id), "deleted": false, "virtual_env_type": "FusionCompute",
        "deleted_at": "", "relation_job_id": i.relation_job_id, "__imagetype": "private", "__platform": "",
        "__os_type": i.os_type, "__os_version": "", "__isregistered": true, "__support_kvm": "true",
        "data_source": i.data_source})
}

fn all_images(tx: &mut Tx<'_>, cat: &Catalog) -> Result<Vec<Value>, ApiError> {
    let now = tx.now_ms;
    let mut out: Vec<Value> = cat
        .images
        .iter()
        .map(|i| render_public(i, 1_600_000_000_000))
        .collect();
    let owner = tx.domain_id.to_string();
    out.extend(
        tx.store
            .table::<PrivateImage>()?
            .iter_visible(now)
            .map(|i| render_private(i, &owner)),
    );
    Ok(out)
}

async fn list_images(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    if q.get_i64("limit", crate::iec::common::bad_query)?
        .is_some_and(|l| !(1..=500).contains(&l))
    {
        return Err(Code::E000006.err());
    }
    let pg = page(
        &q,
        PageRule {
            default_limit: 500,
            max_limit: 500,
            offset: OffsetKind::Items,
        },
    )?;
    let sort_key = q.get("sort_key").unwrap_or("created_at");
    if !matches!(sort_key, "name" | "status" | "disk_format" | "created_at") {
        return Err(Code::E000006.err());
    }
    let desc = match q.get("sort_dir").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        _ => return Err(Code::E000006.err()),
    };
    let cat = app.config().catalog.clone();
    app.tx(&p, |tx| {
        let mut imgs = all_images(tx, &cat)?;
        let filters = [
            ("__imagetype", "__imagetype"),
            ("__os_type", "__os_type"),
            ("id", "id"),
            ("name", "name"),
            ("status", "status"),
            ("visibility", "visibility"),
            ("virtual_env_type", "virtual_env_type"),
        ];
        imgs.retain(|i| {
            filters.iter().all(|(qk, field)| {
                q.get(qk)
                    .is_none_or(|v| i.get(*field).and_then(Value::as_str) == Some(v))
            }) && q
                .get("protected")
                .is_none_or(|v| i["protected"].as_bool().map(|b| b.to_string()).as_deref() == Some(v))
        });
        imgs.sort_by(|a, b| {
            let (x, y) = (
                a[sort_key].as_str().unwrap_or(""),
                b[sort_key].as_str().unwrap_or(""),
            );
            if desc { y.cmp(x) } else { x.cmp(y) }
        });
        let (total, items) = pg.apply(imgs.into_iter());
        Ok(axum::Json(json!({"images": items, "total": total})).into_response())
    })
}

async fn show_image(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cat = app.config().catalog.clone();
    app.tx(&p, |tx| {
        let img = all_images(tx, &cat)?.into_iter().find(|i| i["id"] == id.as_str()).ok_or_else(|| Code::E030201.err())?;
        let mut img = img;
        let src = tx.store.table::<PrivateImage>()?.get(&id).cloned();
        img["origin_region_info"] = json!({"region_id": src.as_ref().map(|s| s.region_id.clone()).unwrap_or_default(),
            "image_id": src.as_ref().map(|s| s.source_image_id.clone()).unwrap_or_default()});
        img["edge_region_info"] = json!([{"region_id": "region.edgecloud", "image_id": id}]);
        Ok(axum::Json(img).into_response())
    })
}

async fn delete_image(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if id.is_empty() || id.len() > 36 {
        return Err(Code::E000030.msg(&["image_id"]));
    }
    let public = app.config().catalog.image(&id).is_some();
    app.tx(&p, |tx| {
        if public {
            return Err(bad_field("image_id", "public images can not be deleted"));
        }
        if tx.store.table::<PrivateImage>()?.remove(&id).is_none() {
            return Err(Code::E030201.err());
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

#[derive(Deserialize)]
struct RegisterBody {
    #[serde(default)]
    image_id: Option<String>,
    #[serde(default)]
    region_id: Option<String>,
}

#[derive(Deserialize)]
struct CreateImageBody {
    name: String,
    instance_id: String,
}

fn new_image(
    tx: &mut Tx<'_>,
    name: String,
    data_source: String,
    region: String,
    src: String,
    os: String,
) -> Result<Value, ApiError> {
    if tx.store.table::<PrivateImage>()?.len() as u64 >= tx.config.catalog.quota("image") {
        return Err(Code::E010910.msg(&["image quota exceeded"]));
    }
    let job = ids::job_id();
    let img = PrivateImage {
        id: ids::resource_id(),
        name,
        status: "saving".into(),
        created_ms: tx.now_ms,
        updated_ms: tx.now_ms,
        relation_job_id: job.clone(),
        data_source,
        region_id: region,
        source_image_id: src,
        os_type: os,
        min_disk: 40,
    };
    let delay = tx.delay_ms("image_build", 2000);
    tx.schedule_in(delay, kinds::IMAGE, &img.id, "active");
    let out = json!({"job_id": job, "image_id": img.id});
    tx.insert_new(img)?;
    Ok(out)
}

async fn register_image(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<RegisterBody>,
) -> Result<Response, ApiError> {
    let image_id = b
        .image_id
        .filter(|s| !s.is_empty() && s.len() <= 36)
        .ok_or_else(|| bad_field("image_id", "required, 1-36 characters"))?;
    let region = b
        .region_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_field("region_id", "required"))?;
    app.tx(&p, |tx| {
        let v = new_image(
            tx,
            format!("registered-{image_id}"),
            format!("ims:{image_id}:"),
            region,
            image_id.clone(),
            "Linux".into(),
        )?;
        Ok(axum::Json(v).into_response())
    })
}

async fn create_image(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<CreateImageBody>,
) -> Result<Response, ApiError> {
    let n = b.name.chars().count();
    if n == 0 || n > 128 || b.name.trim() != b.name {
        return Err(bad_field(
            "name",
            "1-128 characters without leading or trailing spaces",
        ));
    }
    app.tx(&p, |tx| {
        let inst = get_instance(tx, &b.instance_id)?;
        let os = tx
            .config
            .catalog
            .image(&inst.image_id)
            .map_or_else(|| "Linux".into(), |i| i.os_type.clone());
        let v = new_image(
            tx,
            b.name.clone(),
            format!("instance:{}", inst.id),
            String::new(),
            inst.image_id.to_string(),
            os,
        )?;
        Ok(axum::Json(v).into_response())
    })
}

async fn central_images(
    State(app): State<AppState>,
    Caller(_p): Caller,
    Path(region): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let limit = q.get_i64("limit", crate::iec::common::bad_query)?.unwrap_or(500);
    if !(0..=500).contains(&limit) {
        return Err(Code::E000006.err());
    }
    let limit = if limit == 0 { 500 } else { limit as usize };
    let cat = &app.config().catalog;
    let marker = q.get("marker");
    let start = match marker {
        Some(m) => cat
            .images
            .iter()
            .position(|i| i.id == m)
            .map(|p| p + 1)
            .ok_or_else(|| Code::E000006.err())?,
        None => 0,
    };
    let images: Vec<Value> = cat
        .images
        .iter()
        .skip(start)
        .filter(|i| q.get("name").is_none_or(|n| n == i.name) && q.get("id").is_none_or(|n| n == i.id))
        .take(limit)
        .map(|i| {
            json!({"id": i.id, "name": i.name, "status": "active", "visibility": "public", "__imagetype": "gold",
                "__isregistered": "true", "__os_type": i.os_type, "__platform": i.platform, "__os_version": i.os_version,
                "__os_bit": "64", "min_disk": i.min_disk, "min_ram": i.min_ram, "disk_format": "zvhd2",
                "container_format": "bare", "protected": true, "virtual_env_type": "FusionCompute",
                "created_at": "2020-09-13T12:26:40Z", "updated_at": "2020-09-13T12:26:40Z", "owner": "",
                "self": format!("/v2/images/{}", i.id), "tags": [], "size": 0, "virtual_size": 0,
                "enterprise_project_id": "0", "__data_origin": format!("region:{region}")})
        })
        .collect();
    Ok(axum::Json(json!({"images": images})).into_response())
}

#[derive(Deserialize)]
struct JobAction {
    action: String,
}

async fn job_action(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((domain_id, job_id)): Path<(String, String)>,
    Json(b): Json<JobAction>,
) -> Result<Response, ApiError> {
    if b.action != "retry" {
        return Err(bad_field("action", "must be retry"));
    }
    if domain_id != p.domain_id {
        return Err(Code::E000005.err());
    }
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let img = tx
            .store
            .table::<PrivateImage>()?
            .iter()
            .find(|i| i.relation_job_id == job_id)
            .cloned();
        let Some(img) = img else {
            return Err(Code::E000022.err());
        };
        if img.status == "killed" {
            if let Some(i) = tx.store.table::<PrivateImage>()?.get_mut(&img.id) {
                i.status = "saving".into();
                i.updated_ms = now;
            }
            let delay = tx.delay_ms("image_build", 2000);
            tx.schedule_in(delay, kinds::IMAGE, &img.id, "active");
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn on_timer(store: &mut Store, t: &Timer, now: u64) -> Result<(), StateError> {
    if let Some(i) = store.table::<PrivateImage>()?.get_mut(&t.id)
        && i.status == "saving"
    {
        i.status = "active".into();
        i.updated_ms = now;
    }
    Ok(())
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<PrivateImage>()
}

/// Flavors, sites and images.
pub fn family() -> Family {
    Family {
        name: "catalog-and-images",
        routes: || {
            Router::new()
                .route("/v1/cloudservers/flavors", get(flavors))
                .route("/v1/sites", get(sites))
                .route("/v1/images", get(list_images))
                .route("/v1/images/register", post(register_image))
                .route("/v1/images/create", post(create_image))
                .route("/v1/images/{image_id}", get(show_image).delete(delete_image))
                .route("/v1/cloudimages/{region_id}", get(central_images))
                .route("/v1/{domain_id}/jobs/{job_id}/action", post(job_action))
        },
        register,
        timers: &[(kinds::IMAGE, on_timer)],
    }
}
