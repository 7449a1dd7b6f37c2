//! veEN's catalog as edgefleet's [`CatalogApi`]: `ListAvailableResourceInfo` (per spec: the clusters
//! offering it, each with its area, city, ISP and free capacity) read into [`Offer`]s, and those as
//! [`Site`]s (id = cluster name; area and city by the catalog's ids, e.g. `east_china`, `hangzhou`;
//! the operator as the carrier word; `SoldOut` when no capacity is left). The fleet mapping places
//! members from the same offers and names their placement with the same ids, so spec entries and
//! members meet.
//!
//! What veEN's catalog has no call for in this client: flavors (`ListInstanceTypes`) and images
//! (`ListImages`) answer `Unsupported`; sites need a flavor (the catalog is per spec). Quotas are the
//! documented account defaults (5 cloud servers, 10 instances per cloud server: seed 000) with the
//! use counted from `ListCloudServers`; an account with raised quotas sees the cloud refuse later
//! than these numbers say.

use async_trait::async_trait;
use serde::Deserialize;

use super::VeenProvider;
use super::client::VeenClient;
use super::placement::operator_of;
use crate::provider::error::ErrorDetail;
use crate::provider::http::HttpResult;
use crate::provider::{
    CatalogApi, Flavor, Image, ImageFilter, ProviderError, ProviderResult, Quota, Site, SiteFilter,
    SiteStatus,
};

/// Cloud servers per account (seed 000).
pub const CLOUD_SERVER_QUOTA: i64 = 5;
/// Instances per cloud server (seed 000).
pub const INSTANCES_PER_CLOUD_SERVER: i64 = 10;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Named {
    id: String,
    name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Region {
    area: Named,
    city: Named,
    cluster: Named,
    isp: Named,
    available_num: u32,
}

/// One cluster offering a spec, as `ListAvailableResourceInfo` gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    /// Cluster name (the site id).
    pub cluster: String,
    /// Area id (e.g. `east_china`).
    pub area: String,
    /// Area display name (e.g. `华东`).
    pub area_name: String,
    /// City id (e.g. `hangzhou`).
    pub city: String,
    /// City display name.
    pub city_name: String,
    /// ISP code (`CMCC`, `CUCC`, `CTCC`).
    pub isp: String,
    /// Instances of the spec it can still take.
    pub available: u32,
}

impl Offer {
    /// Whether `location` names this offer's area or city (by id or display name).
    pub fn in_location(&self, location: &str) -> bool {
        [&self.area, &self.area_name, &self.city, &self.city_name]
            .iter()
            .any(|n| n.as_str() == location)
    }

    /// The offer as a [`Site`].
    pub fn site(&self) -> Site {
        Site {
            id: self.cluster.clone(),
            name: self.cluster.clone(),
            area: Some(self.area.clone()).filter(|s| !s.is_empty()),
            province: None,
            city: Some(self.city.clone()).filter(|s| !s.is_empty()),
            status: if self.available > 0 {
                SiteStatus::Available
            } else {
                SiteStatus::SoldOut
            },
            operators: vec![operator_of(&self.isp)],
            pool_ids: Vec::new(),
            pools: Vec::new(),
        }
    }
}

fn or_name(n: &Named) -> String {
    if n.id.is_empty() {
        n.name.clone()
    } else {
        n.id.clone()
    }
}

impl VeenClient {
    /// `ListAvailableResourceInfo` for `spec`, read into offers.
    pub async fn offers(&self, spec: &str) -> HttpResult<Vec<Offer>> {
        let raw = self.available(spec).await?;
        let regions: Vec<Region> = raw
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect();
        Ok(regions
            .into_iter()
            .map(|r| Offer {
                cluster: or_name(&r.cluster),
                area: or_name(&r.area),
                area_name: r.area.name,
                city: or_name(&r.city),
                city_name: r.city.name,
                isp: or_name(&r.isp),
                available: r.available_num,
            })
            .collect())
    }
}

fn no_call(op: &str, what: &str) -> ProviderError {
    ProviderError::unsupported(
        format!("veen.catalog.{op}"),
        format!("the veEN client has no {what} call; the cloud checks the value at create"),
    )
}

#[async_trait]
impl CatalogApi for VeenProvider {
    async fn sites(&self, filter: &SiteFilter) -> ProviderResult<Vec<Site>> {
        let Some(spec) = filter.flavor.as_deref() else {
            return Err(ProviderError::Invalid {
                detail: ErrorDetail::local(
                    "veen.catalog.sites",
                    "veEN lists available clusters per spec: give a flavor",
                ),
            });
        };
        Ok(self
            .client()
            .offers(spec)
            .await?
            .iter()
            .filter(|o| filter.id.as_deref().is_none_or(|id| id == o.cluster))
            .map(Offer::site)
            .collect())
    }

    async fn flavors(&self, _site_ids: &[String]) -> ProviderResult<Vec<Flavor>> {
        Err(no_call("flavors", "ListInstanceTypes"))
    }

    async fn images(&self, _filter: &ImageFilter) -> ProviderResult<Vec<Image>> {
        Err(no_call("images", "ListImages"))
    }

    async fn quotas(&self) -> ProviderResult<Vec<Quota>> {
        let servers = self.client().list_cloud_servers(&[]).await?;
        let fullest = servers.iter().map(|c| c.instance_count).max().unwrap_or(0);
        Ok(vec![
            Quota {
                resource: "cloud_server".into(),
                limit: CLOUD_SERVER_QUOTA,
                used: i64::try_from(servers.len()).unwrap_or(i64::MAX),
            },
            Quota {
                resource: "instances_per_cloud_server".into(),
                limit: INSTANCES_PER_CLOUD_SERVER,
                used: i64::from(fullest),
            },
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_veen_offer_is_a_site_named_by_its_cluster_and_sold_out_without_capacity() {
        let mut o = Offer {
            cluster: "cn-hangzhou-cmcc-01".into(),
            area: "east_china".into(),
            area_name: "华东".into(),
            city: "hangzhou".into(),
            city_name: "杭州".into(),
            isp: "CMCC".into(),
            available: 3,
        };
        let s = o.site();
        assert_eq!(s.id, "cn-hangzhou-cmcc-01");
        assert_eq!(
            (s.area.as_deref(), s.city.as_deref()),
            (Some("east_china"), Some("hangzhou"))
        );
        assert_eq!(s.operators, ["chinamobile"]);
        assert_eq!(s.status, SiteStatus::Available);
        assert!(o.in_location("杭州") && o.in_location("east_china") && !o.in_location("beijing"));
        o.available = 0;
        assert_eq!(o.site().status, SiteStatus::SoldOut);
    }
}
