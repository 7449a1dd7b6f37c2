//! Small helpers shared by the network families added for ports, bandwidths, EIPs, network ACLs,
//! route tables and volumes: id-format checks with the family's "ID is illegal" code, the time
//! formats the doc's examples use, and the site description string.

use chrono::{DateTime, Utc};

use crate::core::error::ApiError;
use crate::iec::catalog::Site;
use crate::iec::common::is_uuid;
use crate::iec::errors::Code;

/// `Ok` when `id` is a dashed UUID, else `code` (e.g. 400 `IEC.020609` "port ID is illegal").
pub fn check_id(id: &str, code: Code) -> Result<(), ApiError> {
    if is_uuid(id) { Ok(()) } else { Err(code.err()) }
}

fn at(ms: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or_default()
}

/// `2021-03-16 01:52:38` (the EIP create/get examples).
pub fn time_plain(ms: u64) -> String {
    at(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `2021-01-19T02:21:17.213934Z` (the bandwidth examples).
pub fn time_micros(ms: u64) -> String {
    at(ms).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `country/area/province/city` of a site, as subnets report it in `site_info`.
pub fn site_info(site: &Site) -> String {
    format!("{}/{}/{}/{}", site.country, site.area, site.province, site.city)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(time_plain(1_615_859_558_000), "2021-03-16 01:52:38");
        assert_eq!(time_micros(1_611_022_877_213), "2021-01-19T02:21:17.213000Z");
        assert!(check_id("4a6d9663-475f-11eb-aa7c-fa16406a65c4", Code::E020609).is_ok());
        assert_eq!(check_id("nope", Code::E020609).unwrap_err().code, "IEC.020609");
    }
}
