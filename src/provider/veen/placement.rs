//! Where veEN places instances, in edgefleet's words: the ISP of an area entry (`CMCC`, `CUCC`,
//! `CTCC`) ↔ the neutral operator names IEC and the CRDs use (`chinamobile`, `chinaunicom`,
//! `chinatelecom`), and the `instance_area_nums` entry of one placement (a cluster by the site id, or
//! an area / city with an ISP). Shared by single instances (`instance.rs`) and cloud servers (fleets).

use std::fmt;

use super::types::AreaNum;

/// Why a placement cannot be sent to veEN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementError {
    /// The operator is none of [`OPERATORS`].
    UnknownOperator(String),
    /// An area or city without an ISP (veEN needs one there).
    AreaWithoutIsp,
    /// Neither a cluster nor an area or city.
    Nowhere,
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownOperator(operator) => write!(
                f,
                "veEN has no operator {operator:?}; it serves {}",
                OPERATORS
                    .iter()
                    .map(|(w, i)| format!("{w} ({i})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::AreaWithoutIsp => f.write_str(
                "veEN places by area or city only together with an operator (chinamobile, chinaunicom or chinatelecom)",
            ),
            Self::Nowhere => f.write_str("veEN needs a cluster (site id) or an area or city with an operator"),
        }
    }
}

/// The neutral operator names and the veEN ISP each maps to.
pub const OPERATORS: &[(&str, &str)] = &[
    ("chinamobile", "CMCC"),
    ("chinaunicom", "CUCC"),
    ("chinatelecom", "CTCC"),
];

/// The veEN ISP of a neutral operator name (case-insensitive; the veEN code itself is accepted too).
pub fn isp_of(operator: &str) -> Result<&'static str, PlacementError> {
    OPERATORS
        .iter()
        .find(|(word, isp)| word.eq_ignore_ascii_case(operator) || isp.eq_ignore_ascii_case(operator))
        .map(|(_, isp)| *isp)
        .ok_or_else(|| PlacementError::UnknownOperator(operator.to_owned()))
}

/// The neutral operator name of a veEN ISP, or the ISP as given when it is not one of the three.
pub fn operator_of(isp: &str) -> String {
    OPERATORS
        .iter()
        .find(|(_, i)| i.eq_ignore_ascii_case(isp))
        .map_or_else(|| isp.to_owned(), |(w, _)| (*w).to_owned())
}

/// One placement as an `instance_area_nums` entry of `num` instances: the cluster when `cluster` (the
/// site id) is given (with its ISP when one is asked for), else the area or city with the ISP veEN
/// requires there.
pub fn area_entry(
    cluster: Option<&str>,
    area: Option<&str>,
    operator: Option<&str>,
    num: u32,
) -> Result<AreaNum, PlacementError> {
    let isp = operator.map(isp_of).transpose()?.map(str::to_owned);
    let (cluster_name, area_name) = match (cluster.filter(|c| !c.is_empty()), area.filter(|a| !a.is_empty()))
    {
        (Some(c), _) => (Some(c.to_owned()), None),
        (None, Some(a)) if isp.is_some() => (None, Some(a.to_owned())),
        (None, Some(_)) => return Err(PlacementError::AreaWithoutIsp),
        (None, None) => return Err(PlacementError::Nowhere),
    };
    Ok(AreaNum {
        area_name,
        cluster_name,
        isp,
        num,
        vpc_identity: None,
        subnet_identity: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veen_operators_map_both_ways_and_unknown_ones_list_the_accepted_words() {
        assert_eq!(isp_of("ChinaMobile"), Ok("CMCC"));
        assert_eq!(isp_of("chinaunicom"), Ok("CUCC"));
        assert_eq!(isp_of("CTCC"), Ok("CTCC"), "the veEN code is accepted too");
        let e = isp_of("bgp").unwrap_err();
        assert_eq!(e, PlacementError::UnknownOperator("bgp".into()));
        assert!(e.to_string().contains("chinatelecom (CTCC)"), "{e}");
        assert_eq!(operator_of("CUCC"), "chinaunicom");
        assert_eq!(operator_of("XX"), "XX");
    }

    #[test]
    fn veen_area_entries_prefer_the_cluster_and_need_an_isp_for_an_area() {
        let c = area_entry(Some("cn-a"), Some("华东"), None, 1).unwrap();
        assert_eq!(
            (c.cluster_name.as_deref(), c.area_name, c.isp),
            (Some("cn-a"), None, None)
        );
        let a = area_entry(None, Some("hangzhou"), Some("chinamobile"), 2).unwrap();
        assert_eq!(
            (a.area_name.as_deref(), a.isp.as_deref(), a.num),
            (Some("hangzhou"), Some("CMCC"), 2)
        );
        assert_eq!(
            area_entry(None, Some("hangzhou"), None, 1),
            Err(PlacementError::AreaWithoutIsp)
        );
        assert_eq!(area_entry(None, None, None, 1), Err(PlacementError::Nowhere));
        assert_eq!(
            area_entry(Some("cn-a"), None, Some("bgp"), 1),
            Err(PlacementError::UnknownOperator("bgp".into()))
        );
    }
}
