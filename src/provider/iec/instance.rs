//! IEC's rules for single instances (and the disks of fleet templates) that the shared CRD schema leaves
//! open: the name rules of create and update, disk ranges, a site and a VPC for every create; the catalog check before a create (site, line,
//! operator, flavor at the site, a subnet of the VPC at the site); how IEC shows a name created with its
//! site prefix (`IEC-<site code>-<name>`), and the lookup of a create's identity by name and site.

use super::super::{
    CatalogApi, CreateIdentity, InstanceExt, InstanceField, InstanceFieldError, InstanceFilter, InstanceSpec,
    InstanceState, InstanceTemplate, ObservedInstance, ProviderResult, Site, SiteFilter, SiteStatus,
    VolumeSpec, VpcApi,
};
use super::IecProvider;

/// Longest instance name on create.
pub const MAX_CREATE_NAME_LEN: usize = 48;
/// Longest instance name on update.
pub const MAX_UPDATE_NAME_LEN: usize = 64;
/// System disk range in GB.
pub const ROOT_VOLUME_GB: (u32, u32) = (40, 100);
/// Data disk range in GB.
pub const DATA_VOLUME_GB: (u32, u32) = (1, 500);
/// Most data disks per instance.
pub const MAX_DATA_VOLUMES: usize = 2;

/// Whether the spec asks IEC to prefix the name with the site code.
pub fn with_prefix(spec: &InstanceSpec) -> bool {
    matches!(&spec.ext, InstanceExt::Iec(e) if e.with_prefix)
}

/// A CJK unified ideograph (the `\p{Han}` of IEC's name rule, basic block and extension A).
fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// IEC's name rule: on create 1–48 characters of letters, digits, Chinese, `-` and `_`; on update up to
/// 64 and `.` too. `None` when `name` passes.
pub fn name_problem(name: &str, creating: bool) -> Option<String> {
    let (max, dot) = if creating {
        (MAX_CREATE_NAME_LEN, false)
    } else {
        (MAX_UPDATE_NAME_LEN, true)
    };
    let len = name.chars().count();
    if len == 0 || len > max {
        return Some(format!(
            "{name:?} has {len} characters; IEC takes 1–{max} {}",
            if creating {
                "when it creates an instance"
            } else {
                "when it renames one"
            }
        ));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (dot && c == '.') || is_han(c);
    if let Some(bad) = name.chars().find(|c| !ok(*c)) {
        return Some(format!(
            "{name:?} contains {bad:?}; IEC takes letters, digits, Chinese characters, '-' and '_'{}",
            if dot {
                " and '.'"
            } else {
                " (and '.' only when renaming)"
            }
        ));
    }
    None
}

/// IEC's rules for `spec` (see [`crate::provider::InstanceApi::validate`]).
pub fn validate(spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
    let mut found = Vec::new();
    if let Some(problem) = name_problem(&spec.name, creating) {
        found.push(InstanceFieldError::invalid(InstanceField::Name, problem));
    }
    if !creating {
        return found;
    }
    if spec.site.is_empty() {
        found.push(InstanceFieldError::invalid(
            InstanceField::Site,
            "IEC creates single instances at a site: name one (GET /v1/sites lists them)",
        ));
    }
    if spec.vpc_id.is_empty() {
        found.push(InstanceFieldError::invalid(
            InstanceField::Network,
            "IEC instances join a VPC: name one (a Vpc reference or a VPC id)",
        ));
    }
    found.extend(volume_problems(&spec.root_volume, &spec.data_volumes));
    found
}

/// IEC's disk rules: system disk size, number and sizes of data disks (instances and fleet templates).
pub fn volume_problems(root: &VolumeSpec, data: &[VolumeSpec]) -> Vec<InstanceFieldError> {
    let mut found = Vec::new();
    let (min, max) = ROOT_VOLUME_GB;
    let size = root.size_gb;
    if !(min..=max).contains(&size) {
        found.push(InstanceFieldError::invalid(
            InstanceField::RootVolumeSize,
            format!("{size} GB; IEC system disks are {min}–{max} GB"),
        ));
    }
    if data.len() > MAX_DATA_VOLUMES {
        found.push(InstanceFieldError::invalid(
            InstanceField::DataVolumes,
            format!(
                "{} data disks; IEC attaches at most {MAX_DATA_VOLUMES}",
                data.len()
            ),
        ));
    }
    let (min, max) = DATA_VOLUME_GB;
    for (i, v) in data.iter().enumerate() {
        if !(min..=max).contains(&v.size_gb) {
            found.push(InstanceFieldError::invalid(
                InstanceField::DataVolumes,
                format!(
                    "[{i}].size is {} GB; IEC data disks are {min}–{max} GB",
                    v.size_gb
                ),
            ));
        }
    }
    found
}

/// IEC's rules for a fleet's member template that the shared schema leaves open: a VPC (edge clouds
/// always join one) and the disks.
pub fn template_problems(template: &InstanceTemplate) -> Vec<InstanceFieldError> {
    let mut problems = Vec::new();
    if template.vpc_id.is_empty() {
        problems.push(InstanceFieldError::invalid(
            InstanceField::Network,
            "IEC edge clouds need a VPC (mode SYSTEM): set vpcRef or vpcId",
        ));
    }
    problems.extend(volume_problems(&template.root_volume, &template.data_volumes));
    problems
}

/// Whether `observed` is `name` as IEC shows it: equal, or `IEC-<site code>-<name>` when the instance was
/// created with the site prefix.
pub fn name_matches(observed: &str, name: &str, prefixed: bool) -> bool {
    observed == name
        || (prefixed
            && observed.starts_with("IEC-")
            && observed.len() > name.len() + 5
            && observed.ends_with(&format!("-{name}"))
            && !observed["IEC-".len()..observed.len() - name.len() - 1].contains('-'))
}

/// The line to create the instance's public IP in: the pool when given, otherwise the site's first line
/// of the operator when given (so the operator is honoured), otherwise IEC's default (`None`).
pub fn line_for(site: &Site, pool_id: Option<&str>, operator: Option<&str>) -> Option<String> {
    match (pool_id, operator) {
        (Some(p), _) => Some(p.to_owned()),
        (None, Some(op)) => site
            .pools
            .iter()
            .find(|p| p.operator.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op)))
            .map(|p| p.id.clone()),
        (None, None) => None,
    }
}

/// Site, line and operator of a create against the site's catalog entry; `None` when it is offered.
pub fn site_problem(site: Option<&Site>, spec: &InstanceSpec) -> Option<InstanceFieldError> {
    let id = &spec.site;
    let Some(site) = site else {
        return Some(InstanceFieldError::not_in_catalog(
            InstanceField::Site,
            format!("IEC has no site {id:?}"),
        ));
    };
    if matches!(site.status, SiteStatus::Offline | SiteStatus::SoldOut) {
        return Some(InstanceFieldError::not_in_catalog(
            InstanceField::Site,
            format!(
                "site {id} ({}) is {:?} and takes no new instances",
                site.name, site.status
            ),
        ));
    }
    if let Some(pool) = &spec.pool_id
        && !site.pool_ids.contains(pool)
    {
        return Some(InstanceFieldError::not_in_catalog(
            InstanceField::Pool,
            format!(
                "site {id} has no line {pool:?} (it offers {})",
                site.pool_ids.join(", ")
            ),
        ));
    }
    if let Some(op) = &spec.operator
        && !site.operators.is_empty()
        && !site.operators.iter().any(|o| o.eq_ignore_ascii_case(op))
    {
        return Some(InstanceFieldError::not_in_catalog(
            InstanceField::Operator,
            format!(
                "site {id} has no operator {op:?} (it offers {})",
                site.operators.join(", ")
            ),
        ));
    }
    None
}

impl IecProvider {
    /// [`crate::provider::InstanceApi::prepare_create`] for IEC: site, line, operator and flavor against
    /// the catalog; the line chosen by operator; the VPC's subnet at the site when the spec lists none
    /// (IEC creates single instances only in existing subnets).
    pub(super) async fn prepare_instance(
        &self,
        spec: &mut InstanceSpec,
    ) -> ProviderResult<Vec<InstanceFieldError>> {
        let sites = CatalogApi::sites(
            self,
            &SiteFilter {
                id: Some(spec.site.clone()),
                ..SiteFilter::default()
            },
        )
        .await?;
        let site = sites.into_iter().find(|s| s.id == spec.site);
        if let Some(problem) = site_problem(site.as_ref(), spec) {
            return Ok(vec![problem]);
        }
        let flavors = CatalogApi::flavors(self, std::slice::from_ref(&spec.site)).await?;
        if !flavors.iter().any(|f| f.id == spec.flavor) {
            return Ok(vec![InstanceFieldError::not_in_catalog(
                InstanceField::Flavor,
                format!("flavor {:?} is not offered at site {}", spec.flavor, spec.site),
            )]);
        }
        if let Some(site) = &site {
            spec.pool_id = line_for(site, spec.pool_id.as_deref(), spec.operator.as_deref());
        }
        if spec.subnet_ids.is_empty() {
            let subnets = VpcApi::list_subnets(self, &spec.vpc_id).await?;
            match subnets
                .into_iter()
                .find(|s| s.site_id.as_deref() == Some(spec.site.as_str()))
            {
                Some(s) => spec.subnet_ids = vec![s.id],
                None => {
                    return Ok(vec![InstanceFieldError::invalid(
                        InstanceField::Subnets,
                        format!(
                            "VPC {} has no subnet at site {}; IEC creates single instances only in existing subnets (give a CUSTOMER Vpc a subnet at the site, or list subnet ids)",
                            spec.vpc_id, spec.site
                        ),
                    )]);
                }
            }
        }
        Ok(Vec::new())
    }

    /// [`crate::provider::InstanceApi::find_by_identity`] for IEC: live instances at the spec's site named
    /// exactly, or with the site prefix when the spec asks for it (IEC names are not unique, so the
    /// controller refuses a create whose name is taken and this finds only what it created).
    pub(super) async fn find_instances(
        &self,
        identity: &CreateIdentity,
        spec: &InstanceSpec,
    ) -> ProviderResult<Vec<ObservedInstance>> {
        let prefixed = with_prefix(spec);
        let site = (!spec.site.is_empty()).then(|| spec.site.clone());
        let filter = InstanceFilter {
            name: (!prefixed).then(|| identity.name.clone()),
            site_id: site.clone(),
            ..InstanceFilter::default()
        };
        let found = super::super::InstanceApi::list(self, &filter).await?;
        Ok(found
            .into_iter()
            // IEC keeps deleted instances listed for a while.
            .filter(|i| i.state != InstanceState::Deleted && !i.raw_status.eq_ignore_ascii_case("DELETED"))
            .filter(|i| name_matches(&i.name, &identity.name, prefixed))
            // When IEC does not echo the site, the name filter alone decides.
            .filter(|i| {
                i.placement
                    .site_id
                    .as_deref()
                    .is_none_or(|s| site.as_deref().is_none_or(|want| s == want))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{IecInstanceExt, PowerState, SitePool, VolumeSpec};

    fn spec() -> InstanceSpec {
        InstanceSpec {
            name: "web".into(),
            description: String::new(),
            flavor: "f".into(),
            image: "i".into(),
            site: "s".into(),
            area: None,
            pool_id: None,
            operator: None,
            vpc_id: "v".into(),
            subnet_ids: vec![],
            security_group_ids: vec![],
            root_volume: VolumeSpec {
                size_gb: 40,
                volume_type: "SATA".into(),
            },
            data_volumes: vec![],
            key_name: None,
            admin_password: None,
            user_data: None,
            bandwidth: None,
            power: PowerState::Running,
            fleet_id: None,
            ext: InstanceExt::Iec(IecInstanceExt { with_prefix: true }),
        }
    }

    #[test]
    fn names_match_exactly_or_with_the_site_prefix_only_when_asked() {
        let cases = [
            ("exact", "web", false, true),
            ("prefix not asked for", "IEC-ZS01-web", false, false),
            ("site prefix", "IEC-ZS01-web", true, true),
            ("another name ending in -web", "IEC-ZS01-my-web", true, false),
            ("numbered fleet member", "IEC-ZS01-web-0001", true, false),
        ];
        for (reason, observed, prefixed, want) in cases {
            assert_eq!(name_matches(observed, "web", prefixed), want, "{reason}");
        }
        assert!(with_prefix(&spec()));
        assert!(!with_prefix(&InstanceSpec {
            ext: InstanceExt::None,
            ..spec()
        }));
    }

    #[test]
    fn the_iec_limits_are_checked_naming_the_part_of_the_spec() {
        let fields = |s: &InstanceSpec, creating: bool| -> Vec<InstanceField> {
            validate(s, creating).into_iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(&spec(), true), vec![], "a valid spec");
        let mut s = spec();
        s.name = "web.1".into();
        assert_eq!(fields(&s, true), vec![InstanceField::Name], "no '.' on create");
        assert_eq!(fields(&s, false), vec![], "'.' is fine when renaming");
        s.name = "n".repeat(49);
        assert_eq!(
            fields(&s, true),
            vec![InstanceField::Name],
            "48 at most on create"
        );
        assert_eq!(fields(&s, false), vec![]);
        s.name = "边缘-1_a".into();
        assert_eq!(fields(&s, true), vec![], "Chinese characters are letters");
        let mut s = spec();
        s.root_volume.size_gb = 200;
        let errors = validate(&s, true);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, InstanceField::RootVolumeSize);
        assert!(errors[0].message.contains("40–100 GB"), "{}", errors[0].message);
        assert_eq!(fields(&s, false), vec![], "disks are checked only for a create");
        let disk = |size_gb| VolumeSpec {
            size_gb,
            volume_type: "SATA".into(),
        };
        s = spec();
        s.data_volumes = vec![disk(10), disk(501), disk(10)];
        assert_eq!(
            fields(&s, true),
            vec![InstanceField::DataVolumes, InstanceField::DataVolumes]
        );
        s = spec();
        s.site = String::new();
        s.vpc_id = String::new();
        assert_eq!(
            fields(&s, true),
            vec![InstanceField::Site, InstanceField::Network]
        );
    }

    #[test]
    fn the_operator_picks_the_line_when_no_pool_is_given() {
        let site = Site {
            id: "s".into(),
            name: "s".into(),
            area: None,
            province: None,
            city: None,
            status: SiteStatus::Available,
            operators: vec!["chinatelecom".into(), "chinaunicom".into()],
            pool_ids: vec!["l0".into(), "l1".into()],
            pools: vec![
                SitePool {
                    id: "l0".into(),
                    operator: Some("chinatelecom".into()),
                },
                SitePool {
                    id: "l1".into(),
                    operator: Some("chinaunicom".into()),
                },
            ],
        };
        assert_eq!(line_for(&site, None, Some("ChinaUnicom")).as_deref(), Some("l1"));
        assert_eq!(
            line_for(&site, Some("l0"), Some("chinaunicom")).as_deref(),
            Some("l0"),
            "poolId wins"
        );
        assert_eq!(line_for(&site, None, None), None, "the cloud's default line");
        assert_eq!(line_for(&site, None, Some("chinamobile")), None);
        let mut s = spec();
        s.operator = Some("chinamobile".into());
        assert_eq!(
            site_problem(Some(&site), &s).map(|e| e.field),
            Some(InstanceField::Operator)
        );
        s.operator = None;
        s.pool_id = Some("l9".into());
        assert_eq!(
            site_problem(Some(&site), &s).map(|e| e.field),
            Some(InstanceField::Pool)
        );
        assert_eq!(
            site_problem(None, &spec()).map(|e| e.field),
            Some(InstanceField::Site)
        );
    }
}
