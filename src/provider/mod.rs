//! The cloud boundary the controllers use: provider settings, cloud-neutral domain types, capabilities,
//! the async traits every cloud client implements, the per-account registry, errors, metrics and the
//! shared rate limiter. Controllers see only this module's types; each cloud lives in its own folder.
//!
//! This module does not depend on `crate::api` (the CRD types): controllers map CRD → [`ProviderSettings`]
//! and domain specs, and observed domain state → status.
//!
//! How the other clouds fit the same traits (IEC has every trait; veEN the credential probe, the
//! [`InstanceApi`] (created into an existing cloud server), [`VpcApi`] and [`SecurityGroupApi`]; its
//! other traits are not written yet):
//!
//! | trait | IEC | veEN | ModelArts DevServer | Luchen | Workspace |
//! |---|---|---|---|---|---|
//! | auth ([`Credentials`]) | AkSk / Password (IAM token) / Token | AkSk (HMAC-SHA256, scoped) | AkSk / Password | Password → `AccessToken` cookie JWT (one single-flight login per account, renewed when rejected), or Token as is | AkSk / Password |
//! | [`VpcApi`] | vpcs + subnets (per site, CUSTOMER mode), unique names | CreateCustomVPCInstance in one cluster (`spec.veen.clusterName`) with its subnets; found again by the owner tag | unsupported (uses an existing VPC) | unsupported | unsupported |
//! | [`SecurityGroupApi`] | account-wide groups + immutable rules (delete + create) | groups in a VPC (`security_group_needs_vpc`) + rules changed in place (`rule_update`) | unsupported | unsupported | unsupported |
//! | [`InstanceApi`] | direct site-level create, batch power, change-OS, NICs | CreateInstance into a cloud server (`InstanceRules::fleet = Required`) with `client_token` and owner tag, then SetInstanceName; Start/Stop/Reboot/Offline | one server per create, prepaid → `Operation::order_id` | create, list (the only read: get and observe answer from it), stop/start/restart, terminate | app servers (job ids in `Operation::job_ids`) |
//! | [`FleetApi`] | deployment plan (cloud object) → deploy / expand | cloud server: plan kept local, deploy = CreateCloudServer with the client token | unsupported | unsupported | server group: plan kept local, deploy = create group, expand = create servers (job), members deleted by batch-delete jobs |
//! | [`OperationApi`] | unsupported | unsupported | BSS orders | unsupported | v2 jobs (`workspace::jobs`) |
//! | crash recovery ([`Capabilities`]) | unique fleet/VPC names | client tokens + tags | names / order ids | names | group names + tags |
//!
//! Building a provider from settings (what the ProviderConfig controller does):
//! ```no_run
//! # async fn f(registry: &edgefleet::provider::ProviderRegistry) -> Result<(), edgefleet::provider::ProviderError> {
//! use edgefleet::provider::*;
//! let mut settings = ProviderSettings::new(
//!     ProviderKind::Iec,
//!     "my-account", // the ProviderConfig name
//!     Credentials::AkSk { access_key: "AK".into(), secret_key: "SK".into(), security_token: None },
//! );
//! settings.endpoints.api = Some("https://iecs.myhuaweicloud.com".into());
//! let provider = registry.get_or_build(&settings)?; // same settings → same client; changed → rebuilt
//! provider.probe().await?;
//! let vpcs = provider.vpcs()?.list_all().await?;
//! # Ok(()) }
//! ```

pub mod batch;
pub mod cache;
pub mod domain;
pub mod each;
pub mod error;
pub mod http;
pub mod huawei;
pub mod iec;
pub mod luchen;
pub mod metrics;
pub mod modelarts;
pub mod plan;
pub mod ratelimit;
pub mod settings;
pub mod veen;
pub mod workspace;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;

pub use domain::*;
pub use error::{CodeClass, CodeTable, ErrorDetail, ProviderError};
pub use metrics::ProviderMetrics;
pub use ratelimit::RateLimiter;
pub use settings::{
    Credentials, Endpoints, ProviderKind, ProviderSettings, RateBudget, RetryPolicy, SecretString,
};

/// Result of a provider call.
pub type ProviderResult<T> = Result<T, ProviderError>;

// ---------------------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------------------

/// How a change of one field can be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldChange {
    /// Changed by an API call on the running object.
    InPlace,
    /// Changed by an API call, but only while the instance is stopped (IEC change-OS).
    InPlaceWhileStopped,
    /// Only by creating a new object and deleting the old one.
    Replace,
}

/// Per-field change policy of instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFieldPolicy {
    /// Name.
    pub name: FieldChange,
    /// Description.
    pub description: FieldChange,
    /// Image.
    pub image: FieldChange,
    /// Flavor.
    pub flavor: FieldChange,
    /// Site / placement.
    pub site: FieldChange,
    /// VPC and subnets.
    pub network: FieldChange,
    /// Security groups.
    pub security_groups: FieldChange,
    /// Disks.
    pub volumes: FieldChange,
    /// Key pair.
    pub key_name: FieldChange,
    /// Fields the cloud never shows back (password, user data, bandwidth): compared by hash.
    pub unobservable: FieldChange,
}

/// What the cloud allows for single instances beyond field changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceRules {
    /// An instance can be deleted while it is still being created (IEC: no, it is deleted once built).
    pub delete_while_creating: bool,
    /// Replacing the OS can set a new password (IEC change-OS: no, only a key pair or user data).
    pub reimage_sets_password: bool,
    /// Whether a single instance is created into a fleet (veEN: into a cloud server) or on its own.
    pub fleet: FleetMembership,
}

/// Whether a single instance joins a fleet when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetMembership {
    /// Instances are created on their own; naming a fleet is a spec error (IEC).
    Forbidden,
    /// Instances exist only inside a fleet; a create must name one (veEN: CreateInstance needs a
    /// cloud server).
    Required,
}

/// Which resource kinds a provider manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedKinds {
    /// VPCs.
    pub vpc: bool,
    /// Subnets managed through the VPC.
    pub subnets: bool,
    /// Security groups and rules.
    pub security_groups: bool,
    /// Single instances.
    pub instances: bool,
    /// Fleets (edge clouds / cloud servers / server groups).
    pub fleets: bool,
}

/// Why a cloud has no client for a resource API, in its own words: the message of the `Unsupported`
/// error the default accessors of [`Provider`] return (objects naming the cloud show it in their
/// conditions). `None` for an API the cloud has, or where a generic sentence does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lacks {
    /// Why there is no [`VpcApi`].
    pub vpcs: Option<&'static str>,
    /// Why there is no [`SecurityGroupApi`].
    pub security_groups: Option<&'static str>,
    /// Why there is no [`InstanceApi`].
    pub instances: Option<&'static str>,
    /// Why there is no [`FleetApi`].
    pub fleets: Option<&'static str>,
    /// Why there is no [`CatalogApi`].
    pub catalog: Option<&'static str>,
}

/// Which names the cloud keeps unique (so a deterministic name finds the object after a crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueNames {
    /// VPC names are unique per account.
    pub vpc: bool,
    /// Security group names are unique.
    pub security_group: bool,
    /// Instance names are unique.
    pub instance: bool,
    /// Fleet names are unique.
    pub fleet: bool,
}

/// Fleet behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCapabilities {
    /// Fleets can grow after creation.
    pub expand: bool,
    /// Levels whose fleets cannot grow (IEC: site-level edge clouds).
    pub no_expand_levels: Vec<CoverageLevel>,
    /// Expansion is only accepted while the fleet is `Ready`.
    pub expand_only_when_ready: bool,
}

/// What a provider can do; controllers branch on this, never on the provider kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Which cloud.
    pub kind: ProviderKind,
    /// Resource kinds.
    pub supports: SupportedKinds,
    /// Why the resource APIs the cloud does not have are missing (see [`Provider`]'s accessors).
    pub lacks: Lacks,
    /// VPC name changes in place.
    pub vpc_rename: bool,
    /// VPC cidr changes in place.
    pub vpc_cidr_update: bool,
    /// Subnets can be created in `Customer` mode VPCs only (IEC: never in SYSTEM VPCs).
    pub subnets_only_in_customer_vpcs: bool,
    /// Security groups can be renamed/re-described in place.
    pub security_group_update: bool,
    /// Rules can be modified in place (IEC: no — delete + create; veEN: `ModifySecurityGroupRule`).
    pub rule_update: bool,
    /// Security groups belong to a VPC, named at create (veEN); otherwise to the account (IEC), and a
    /// VPC given for one is an error.
    pub security_group_needs_vpc: bool,
    /// Rules the cloud adds to every new security group (kept in authoritative mode when asked to).
    pub default_rules: Vec<RuleSpec>,
    /// Instance field policy.
    pub instance_fields: InstanceFieldPolicy,
    /// Instance rules.
    pub instance: InstanceRules,
    /// Create calls take an idempotency token.
    pub idempotency_tokens: bool,
    /// Objects carry user tags (for ownership lookup).
    pub tags: bool,
    /// Names the cloud keeps unique.
    pub unique_names: UniqueNames,
    /// Fleet behaviour.
    pub fleet: FleetCapabilities,
    /// Longest security group description (edgefleet's ownership marker rides in it).
    pub max_security_group_description_len: usize,
}

impl Capabilities {
    /// Whether a fleet at `level` may grow after creation (IEC: not site-level edge clouds).
    pub fn fleet_can_expand(&self, level: CoverageLevel) -> bool {
        self.supports.fleets && self.fleet.expand && !self.fleet.no_expand_levels.contains(&level)
    }

    /// What is wrong with naming (`names_fleet`) or not naming a fleet for a single instance: a fleet
    /// where the cloud forbids one is always wrong; a missing one only for a create (`creating`; an
    /// adopted instance is already in its fleet). `None` when it fits [`InstanceRules::fleet`].
    pub fn fleet_problem(&self, names_fleet: bool, creating: bool) -> Option<InstanceFieldError> {
        let cloud = self.kind;
        match (self.instance.fleet, names_fleet) {
            (FleetMembership::Forbidden, true) => Some(InstanceFieldError::invalid(
                InstanceField::Fleet,
                format!(
                    "this cloud ({cloud}) creates single instances on their own, not in a fleet: remove it"
                ),
            )),
            (FleetMembership::Required, false) if creating => Some(InstanceFieldError::invalid(
                InstanceField::Fleet,
                format!(
                    "this cloud ({cloud}) creates instances only inside a fleet: name one (an EdgeCloud reference or a fleet id)"
                ),
            )),
            _ => None,
        }
    }
}

/// The tag key naming the owning object's uid, set on creates where the cloud has tags.
pub const OWNER_TAG: &str = "edgefleet-owner";

/// Longest idempotency token any cloud accepts (veEN `client_token`: ASCII, at most 64).
pub const MAX_CLIENT_TOKEN_LEN: usize = 64;

impl CreateIdentity {
    /// The identity of one create: always `name`; where `caps` say the cloud has them, the idempotency
    /// token made from `token` (the create intent's token, persisted before the call, so a create
    /// retried after a crash replays instead of duplicating) and the tag [`OWNER_TAG`] = `owner_uid`
    /// (so a lost create is found by owner, not only by name).
    pub fn for_create(name: &str, token: &str, owner_uid: &str, caps: &Capabilities) -> Self {
        Self {
            name: name.to_owned(),
            client_token: caps.idempotency_tokens.then(|| client_token(token)),
            tags: if caps.tags && !owner_uid.is_empty() {
                [(OWNER_TAG.to_owned(), owner_uid.to_owned())].into()
            } else {
                std::collections::BTreeMap::new()
            },
        }
    }
}

/// `token` as an idempotency token every cloud accepts: itself when it is at most
/// [`MAX_CLIENT_TOKEN_LEN`] ASCII letters, digits, `-` or `_`; otherwise `ef-` and 32 hex digits of its
/// SHA-256 (stable, so the same intent always gives the same token).
pub fn client_token(token: &str) -> String {
    let plain = !token.is_empty()
        && token.len() <= MAX_CLIENT_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        token.to_owned()
    } else {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(token.as_bytes());
        format!("ef-{}", hex::encode(&digest[..16]))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Traits
// ---------------------------------------------------------------------------------------------------------

/// VPCs and their subnets.
#[async_trait]
pub trait VpcApi: Send + Sync {
    /// What of `spec` this cloud cannot honour (checked before any call; none by default).
    fn validate(&self, _spec: &VpcSpec) -> Vec<FieldError> {
        Vec::new()
    }
    /// All VPCs with this exact name (more than one → the caller stalls with the ids).
    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedVpc>>;
    /// The VPCs a create with `identity` made (crash recovery): by its tags where it carries any
    /// (clouds with tags, [`Capabilities::tags`]), otherwise by its name.
    async fn find_by_identity(&self, identity: &CreateIdentity) -> ProviderResult<Vec<ObservedVpc>> {
        self.find_by_name(&identity.name).await
    }
    /// One VPC with its subnets.
    async fn get(&self, id: &str) -> ProviderResult<ObservedVpc>;
    /// Every VPC of the account with its subnets (batched observation: a few paginated calls in total).
    async fn list_all(&self) -> ProviderResult<Vec<ObservedVpc>>;
    /// Creates the VPC carrying `identity` (its tags where the cloud has them). Subnets are created
    /// separately, except where the create takes them (veEN): then `spec.subnets` come with it.
    async fn create(&self, spec: &VpcSpec, identity: &CreateIdentity) -> ProviderResult<ObservedVpc>;
    /// Changes name/cidr in place.
    async fn update(&self, id: &str, update: &VpcUpdate) -> ProviderResult<ObservedVpc>;
    /// Deletes the VPC (its subnets must be gone).
    async fn delete(&self, id: &str) -> ProviderResult<()>;
    /// Subnets of a VPC.
    async fn list_subnets(&self, vpc_id: &str) -> ProviderResult<Vec<ObservedSubnet>>;
    /// Creates a subnet.
    async fn create_subnet(&self, vpc_id: &str, spec: &SubnetSpec) -> ProviderResult<ObservedSubnet>;
    /// Changes subnet `id` of VPC `vpc_id` in place.
    async fn update_subnet(&self, vpc_id: &str, id: &str, update: &SubnetUpdate) -> ProviderResult<()>;
    /// Deletes subnet `id` of VPC `vpc_id`.
    async fn delete_subnet(&self, vpc_id: &str, id: &str) -> ProviderResult<()>;
}

/// Security groups and their rules.
#[async_trait]
pub trait SecurityGroupApi: Send + Sync {
    /// What of `spec` (its rules, in spec order) this cloud cannot honour, checked before any call;
    /// none by default. Fields are named as in the SecurityGroup object (`spec.rules[i].…`).
    fn validate(&self, _spec: &SecurityGroupSpec) -> Vec<FieldError> {
        Vec::new()
    }
    /// Every security group with its rules (batched observation).
    async fn list_all(&self) -> ProviderResult<Vec<ObservedSecurityGroup>>;
    /// All groups with this exact name.
    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedSecurityGroup>>;
    /// One group with its rules.
    async fn get(&self, id: &str) -> ProviderResult<ObservedSecurityGroup>;
    /// Creates a group (the cloud may add default rules).
    async fn create(&self, create: &SecurityGroupCreate) -> ProviderResult<ObservedSecurityGroup>;
    /// Deletes a group.
    async fn delete(&self, id: &str) -> ProviderResult<()>;
    /// Rules of a group.
    async fn list_rules(&self, group_id: &str) -> ProviderResult<Vec<ObservedRule>>;
    /// Creates a rule.
    async fn create_rule(&self, group_id: &str, rule: &RuleSpec) -> ProviderResult<ObservedRule>;
    /// Changes rule `rule_id` of group `group_id` into `rule`, keeping its id (clouds with
    /// [`Capabilities::rule_update`]; `Unsupported` by default).
    async fn update_rule(
        &self,
        group_id: &str,
        rule_id: &str,
        rule: &RuleSpec,
    ) -> ProviderResult<ObservedRule> {
        let _ = (group_id, rule, rule_id);
        Err(ProviderError::unsupported(
            "security_group.update_rule",
            "this cloud cannot change a rule in place; delete it and create the new one",
        ))
    }
    /// Deletes rule `rule_id` of group `group_id`.
    async fn delete_rule(&self, group_id: &str, rule_id: &str) -> ProviderResult<()>;
}

/// Single instances (and fleet members).
#[async_trait]
pub trait InstanceApi: Send + Sync {
    /// Creates `count` instances from `spec` named per `identity`; returns their ids at once when the cloud does.
    async fn create(
        &self,
        spec: &InstanceSpec,
        count: u32,
        identity: &CreateIdentity,
    ) -> ProviderResult<Operation>;
    /// The cloud's rules for `spec` that the shared schema leaves open (name, disks, placement, network):
    /// `creating` checks everything a create needs, otherwise only what a change in place sends (the
    /// name). Pure; empty when the spec is acceptable.
    fn validate(&self, spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
        let _ = (spec, creating);
        Vec::new()
    }
    /// Checks a create against the catalog and completes what the cloud derives from it (IEC: the line of
    /// the requested operator, the VPC's subnet at the site); the findings name what is not offered.
    async fn prepare_create(&self, spec: &mut InstanceSpec) -> ProviderResult<Vec<InstanceFieldError>> {
        let _ = spec;
        Ok(Vec::new())
    }
    /// Live instances that carry `identity` for `spec` (crash recovery and name conflicts). By default:
    /// named exactly `identity.name`, at the spec's site when it names one, not deleted.
    async fn find_by_identity(
        &self,
        identity: &CreateIdentity,
        spec: &InstanceSpec,
    ) -> ProviderResult<Vec<ObservedInstance>> {
        let filter = InstanceFilter {
            name: Some(identity.name.clone()),
            site_id: (!spec.site.is_empty()).then(|| spec.site.clone()),
            ..InstanceFilter::default()
        };
        Ok(self
            .list(&filter)
            .await?
            .into_iter()
            .filter(|i| i.is_live_named(&identity.name))
            .collect())
    }
    /// [`Self::find_by_identity`], answerable from a list of the account's instances that started at
    /// most `max_age` ago. A cloud whose list cannot filter by identity (ModelArts: no name filter)
    /// answers the lookups of a burst of creates from one shared list ([`batch::Snapshots::find`])
    /// instead of paging the whole account per create; that list answers only for what this process
    /// has not changed since it started, so a create whose answer was lost is looked up anew. A zero
    /// `max_age` lists now. By default [`Self::find_by_identity`] (a filtered call, as fresh as any).
    /// Answered from [`Self::listed`] where its list [answers names](batch::ListedInstances::answers_names)
    /// ([`batch::Snapshots::find_live_named`]).
    async fn find_by_identity_within(
        &self,
        identity: &CreateIdentity,
        spec: &InstanceSpec,
        max_age: Duration,
    ) -> ProviderResult<Vec<ObservedInstance>> {
        match self.listed().filter(|l| l.answers_names()) {
            Some(listed) => {
                listed
                    .snapshots()
                    .find_live_named(
                        &identity.name,
                        max_age,
                        || listed.list_all(),
                        || self.find_by_identity(identity, spec),
                    )
                    .await
            }
            None => self.find_by_identity(identity, spec).await,
        }
    }
    /// The account's instances as one list observes them, where the cloud batches its drift polls:
    /// [`Self::observe`] (and, where the list answers names, [`Self::find_by_identity_within`]) is
    /// then answered from it. `None` (the default): every poll is a [`Self::get`].
    fn listed(&self) -> Option<&dyn batch::ListedInstances> {
        None
    }
    /// Whether a create of `spec` goes through an order that must be paid before the instance exists
    /// (ModelArts PRE_PAID): the create answers with [`Operation::order_id`] and no instance id, and a
    /// lost answer cannot be found by name until the order is paid, so such a create is never sent
    /// twice for one intent. By default: no.
    fn pays_before_create(&self, spec: &InstanceSpec) -> bool {
        let _ = spec;
        false
    }
    /// Why the cloud refused to delete instance `id` and keeps refusing until a date passes or a person
    /// acts (a prepaid subscription that has not expired), in words naming the date; asked after a
    /// refused delete. `None` (the default) when nothing like that holds.
    async fn deletion_blocker(&self, id: &str) -> ProviderResult<Option<String>> {
        let _ = id;
        Ok(None)
    }
    /// Whether `observed` is how the cloud shows the name `spec.name` (by default: the same).
    fn shows_name(&self, observed: &str, spec: &InstanceSpec) -> bool {
        observed == spec.name
    }
    /// The observed instance's security groups a request can name again (new NICs join them): by
    /// default all of [`ObservedInstance::security_groups`]; a cloud that shows some groups by name
    /// only (IEC: the account's default group) keeps the ids.
    fn security_group_ids(&self, observed: &ObservedInstance) -> Vec<String> {
        observed.security_groups.clone()
    }
    /// One instance.
    async fn get(&self, id: &str) -> ProviderResult<ObservedInstance>;
    /// All instances matching the filter, all pages (batched observation).
    async fn list(&self, filter: &InstanceFilter) -> ProviderResult<Vec<ObservedInstance>>;
    /// One instance for a drift poll: from a list of the account's instances no older than `max_age`
    /// where the provider batches ([`batch::Snapshots`]: one list answers every object's poll), else
    /// read directly. A zero `max_age` always reads directly. By default from [`Self::listed`]
    /// ([`batch::Snapshots::observe_instance`]) where the cloud has one, else [`Self::get`].
    async fn observe(&self, id: &str, max_age: Duration) -> ProviderResult<ObservedInstance> {
        match self.listed() {
            Some(listed) => {
                listed
                    .snapshots()
                    .observe_instance(
                        id,
                        max_age,
                        || listed.list_all(),
                        || self.get(id),
                        |source| listed.count_observation(source),
                    )
                    .await
            }
            None => self.get(id).await,
        }
    }
    /// Changes name/description.
    async fn update(&self, id: &str, update: &InstanceUpdate) -> ProviderResult<()>;
    /// Deletes a batch (disks and EIPs go with them on IEC).
    async fn delete(&self, ids: &[String]) -> ProviderResult<Operation>;
    /// Start/stop/reboot a batch.
    async fn power(&self, ids: &[String], action: PowerAction) -> ProviderResult<Operation>;
    /// Replaces the OS (instance must be stopped on IEC). `Unsupported` by default: a cloud whose
    /// [`InstanceFieldPolicy::image`] is `Replace` is never asked.
    async fn change_os(&self, id: &str, request: &ChangeOs) -> ProviderResult<Operation> {
        let _ = (id, request);
        Err(ProviderError::unsupported(
            "instance.change_os",
            "this cloud cannot change an instance's image; recreate the object for another image",
        ))
    }
    /// Sets the security groups of every NIC of the instance (IEC: a port update per NIC).
    /// `Unsupported` by default (a cloud whose [`InstanceFieldPolicy::security_groups`] is `Replace`).
    async fn set_security_groups(&self, id: &str, group_ids: &[String]) -> ProviderResult<()> {
        let _ = (id, group_ids);
        Err(ProviderError::unsupported(
            "instance.set_security_groups",
            "this cloud cannot change an instance's security groups in place",
        ))
    }
    /// Adds NICs. `Unsupported` by default (a cloud whose [`InstanceFieldPolicy::network`] is `Replace`).
    async fn add_nics(&self, id: &str, request: &AddNics) -> ProviderResult<Operation> {
        let _ = (id, request);
        Err(ProviderError::unsupported(
            "instance.add_nics",
            "this cloud cannot add NICs to an instance",
        ))
    }
    /// Removes NICs by id. `Unsupported` by default (a cloud whose [`InstanceFieldPolicy::network`]
    /// is `Replace`).
    async fn remove_nics(&self, id: &str, nic_ids: &[String]) -> ProviderResult<Operation> {
        let _ = (id, nic_ids);
        Err(ProviderError::unsupported(
            "instance.remove_nics",
            "this cloud cannot remove NICs from an instance",
        ))
    }
}

/// Fleets: placement plans, creation, expansion, membership and deletion.
#[async_trait]
pub trait FleetApi: Send + Sync {
    /// The cloud's rules for the member template that the shared schema leaves open (IEC: disk sizes and
    /// counts). Pure, checked before any plan; empty when the template is acceptable.
    fn validate_template(&self, template: &InstanceTemplate) -> Vec<InstanceFieldError> {
        let _ = template;
        Vec::new()
    }
    /// The cloud's rules for a whole fleet request that the shared schema leaves open (coverage level,
    /// number of locations, the provider section), named by their path in the EdgeCloud object
    /// (`spec.coverage.level`, `spec.placement`, `spec.<cloud>.<field>`). Pure, checked before any
    /// plan; empty (the default) when the request is acceptable.
    fn validate_fleet(&self, request: &FleetPlanRequest) -> Vec<FieldError> {
        let _ = request;
        Vec::new()
    }
    /// Whether an expansion's members come from a cloud job that lists them only once it has started
    /// (Workspace create-servers jobs; [`FleetOperation::job_id`]): an expansion interrupted before
    /// its job id was recorded then waits the recovery grace for them to be listed instead of placing
    /// the shortfall again. Default: no (members are listed when the call returns).
    fn expansion_lists_members_late(&self) -> bool {
        false
    }
    /// Records a placement plan (IEC: a deployment plan object; other clouds may keep it local).
    async fn create_plan(&self, request: &FleetPlanRequest) -> ProviderResult<FleetPlan>;
    /// Executes a plan that creates a new fleet. `request` is the one the plan was made from.
    async fn deploy(&self, plan_id: &str, request: &FleetPlanRequest) -> ProviderResult<FleetOperation>;
    /// Executes a plan that adds members to an existing fleet.
    async fn expand(&self, plan_id: &str, request: &FleetPlanRequest) -> ProviderResult<FleetOperation>;
    /// Plans not yet executed, for crash recovery (match by fleet name or id).
    async fn find_open_plans(&self) -> ProviderResult<Vec<OpenPlan>>;
    /// Deletes a plan (no-op where plans are local).
    async fn delete_plan(&self, plan_id: &str) -> ProviderResult<()>;
    /// One fleet.
    async fn get(&self, id: &str) -> ProviderResult<ObservedFleet>;
    /// Fleets with this exact name.
    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedFleet>>;
    /// Fleets carrying `identity`, for the crash recovery of a create and for name conflicts. By
    /// default: named exactly `identity.name` (clouds that keep fleet names unique); clouds with tags
    /// and non-unique names (veEN) look up the owner tag instead.
    async fn find_by_identity(&self, identity: &CreateIdentity) -> ProviderResult<Vec<ObservedFleet>> {
        self.find_by_name(&identity.name).await
    }
    /// Every fleet of the account (batched observation).
    async fn list_all(&self) -> ProviderResult<Vec<ObservedFleet>>;
    /// Members of a fleet, all pages.
    async fn list_members(&self, fleet_id: &str) -> ProviderResult<Vec<ObservedInstance>>;
    /// Deletes members `ids` of fleet `fleet_id` in one batch (scale-in, remediation, teardown), in
    /// whatever state the cloud lets them go (veEN: running ones too).
    async fn delete_members(&self, fleet_id: &str, ids: &[String]) -> ProviderResult<Operation>;
    /// Deletes a fleet (members first where the cloud requires it).
    async fn delete(&self, id: &str) -> ProviderResult<Operation>;
}

/// The cloud's catalog, for validating specs before creating anything.
#[async_trait]
pub trait CatalogApi: Send + Sync {
    /// Sites.
    async fn sites(&self, filter: &SiteFilter) -> ProviderResult<Vec<Site>>;
    /// Flavors, optionally limited to sites.
    async fn flavors(&self, site_ids: &[String]) -> ProviderResult<Vec<Flavor>>;
    /// Images.
    async fn images(&self, filter: &ImageFilter) -> ProviderResult<Vec<Image>>;
    /// Quotas.
    async fn quotas(&self) -> ProviderResult<Vec<Quota>>;
}

/// A cloud's handle on work it finishes later, as returned in an [`Operation`] (persist it before
/// anything else, so a restarted controller can ask again).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OperationHandle {
    /// An asynchronous job (Workspace v2 jobs; one of [`Operation::job_ids`]).
    Job(String),
    /// A billing order (Huawei BSS, prepaid ModelArts servers; [`Operation::order_id`]).
    Order(String),
    /// A deployment plan being executed (IEC edge clouds; the id of a [`FleetPlan`]).
    Plan(String),
}

impl Operation {
    /// The handles in this operation to poll: its jobs, then its order.
    pub fn handles(&self) -> Vec<OperationHandle> {
        self.job_ids
            .iter()
            .cloned()
            .map(OperationHandle::Job)
            .chain(self.order_id.clone().map(OperationHandle::Order))
            .collect()
    }
}

/// Where the work behind an [`OperationHandle`] stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationState {
    /// Still running; `progress` in percent where the cloud reports one.
    Running {
        /// 0–100, if known.
        progress: Option<u8>,
        /// Where the cloud says it stands, in its words (a BSS order: `pending payment`), if it says.
        state: Option<String>,
    },
    /// Done; the ids of the objects it made (may be empty for a delete or a power action).
    Succeeded {
        /// Cloud ids of the created objects.
        resource_ids: Vec<String>,
    },
    /// Ended without success; `code` and `message` are the cloud's (safe to show in status).
    Failed {
        /// The cloud's error code.
        code: String,
        /// The cloud's message.
        message: String,
    },
}

/// Polls the handles of asynchronous operations, for clouds whose creates and deletes finish in a job
/// or an order rather than in the object's own state (Workspace jobs, Huawei BSS orders). Clouds
/// without such handles (IEC: observe the resources instead) return `Unsupported` from
/// [`Provider::operations`].
#[async_trait]
pub trait OperationApi: Send + Sync {
    /// The state of the work behind `handle`. A handle of a kind this cloud does not issue is
    /// `Unsupported`; one the cloud no longer knows is `NotFound`.
    async fn poll(&self, handle: &OperationHandle) -> ProviderResult<OperationState>;
}

/// One cloud account: capabilities, a credential probe, and the resource APIs it supports.
#[async_trait]
pub trait Provider: Send + Sync + fmt::Debug {
    /// Which cloud.
    fn kind(&self) -> ProviderKind;
    /// What the cloud can do.
    fn capabilities(&self) -> &Capabilities;
    /// A cheap authenticated call proving the credentials and endpoint work.
    async fn probe(&self) -> ProviderResult<()>;
    /// VPCs, or `Unsupported` (the default, with [`Lacks::vpcs`]).
    fn vpcs(&self) -> ProviderResult<&dyn VpcApi> {
        Err(lacking(self.kind(), "vpcs", self.capabilities().lacks.vpcs))
    }
    /// Security groups, or `Unsupported` (the default, with [`Lacks::security_groups`]).
    fn security_groups(&self) -> ProviderResult<&dyn SecurityGroupApi> {
        let why = self.capabilities().lacks.security_groups;
        Err(lacking(self.kind(), "security_groups", why))
    }
    /// Instances, or `Unsupported` (the default, with [`Lacks::instances`]).
    fn instances(&self) -> ProviderResult<&dyn InstanceApi> {
        Err(lacking(
            self.kind(),
            "instances",
            self.capabilities().lacks.instances,
        ))
    }
    /// Fleets, or `Unsupported` (the default, with [`Lacks::fleets`]).
    fn fleets(&self) -> ProviderResult<&dyn FleetApi> {
        Err(lacking(self.kind(), "fleets", self.capabilities().lacks.fleets))
    }
    /// Catalog, or `Unsupported` (the default, with [`Lacks::catalog`]).
    fn catalog(&self) -> ProviderResult<&dyn CatalogApi> {
        Err(lacking(self.kind(), "catalog", self.capabilities().lacks.catalog))
    }
    /// Operation polling, or `Unsupported` (the default: a cloud without job or order handles).
    fn operations(&self) -> ProviderResult<&dyn OperationApi> {
        Err(ProviderError::Unsupported {
            detail: ErrorDetail::local(
                "operations",
                format!(
                    "{:?} has no job or order API to poll; observe the resources",
                    self.kind()
                ),
            ),
        })
    }
}

/// The `Unsupported` error of a resource API `api` that cloud `kind` lacks, operation `<kind>.<api>`:
/// `why` in the cloud's words, or a generic sentence.
fn lacking(kind: ProviderKind, api: &str, why: Option<&str>) -> ProviderError {
    let message = why.map_or_else(|| format!("{kind} has no {api} API"), str::to_owned);
    ProviderError::unsupported(format!("{kind}.{api}"), message)
}

// ---------------------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------------------

struct Entry {
    fingerprint: String,
    provider: Arc<dyn Provider>,
}

/// Provider clients keyed by ProviderConfig name. A changed config or secret (different
/// [`ProviderSettings::fingerprint`]) rebuilds the client on the next `get_or_build`; the account's rate
/// limiter survives the rebuild so the budget stays shared.
pub struct ProviderRegistry {
    entries: RwLock<HashMap<String, Entry>>,
    limiters: RwLock<HashMap<String, Arc<RateLimiter>>>,
    metrics: ProviderMetrics,
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .entries
            .read()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("ProviderRegistry")
            .field("accounts", &names)
            .finish()
    }
}

impl ProviderRegistry {
    /// An empty registry recording into `metrics`.
    pub fn new(metrics: ProviderMetrics) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            limiters: RwLock::new(HashMap::new()),
            metrics,
        }
    }

    /// The shared metrics.
    pub fn metrics(&self) -> &ProviderMetrics {
        &self.metrics
    }

    /// The account's shared limiter, created on first use and re-budgeted when settings change.
    pub fn limiter(&self, account: &str, budget: RateBudget) -> Arc<RateLimiter> {
        if let Ok(map) = self.limiters.read()
            && let Some(l) = map.get(account)
        {
            if l.budget() != budget {
                l.set_budget(budget);
            }
            return l.clone();
        }
        let mut map = crate::locks::write(&self.limiters);
        map.entry(account.to_owned())
            .or_insert_with(|| Arc::new(RateLimiter::new(budget)))
            .clone()
    }

    /// The client for these settings: cached while the settings fingerprint is unchanged, rebuilt otherwise.
    pub fn get_or_build(&self, settings: &ProviderSettings) -> ProviderResult<Arc<dyn Provider>> {
        let fingerprint = settings.fingerprint();
        if let Ok(map) = self.entries.read()
            && let Some(e) = map.get(&settings.account)
            && e.fingerprint == fingerprint
        {
            return Ok(e.provider.clone());
        }
        let provider = self.build(settings)?;
        let mut map = crate::locks::write(&self.entries);
        map.insert(
            settings.account.clone(),
            Entry {
                fingerprint,
                provider: provider.clone(),
            },
        );
        Ok(provider)
    }

    /// The cached client of an account, if any.
    pub fn get(&self, account: &str) -> Option<Arc<dyn Provider>> {
        self.entries.read().ok()?.get(account).map(|e| e.provider.clone())
    }

    /// Forgets an account (ProviderConfig deleted).
    pub fn remove(&self, account: &str) {
        if let Ok(mut map) = self.entries.write() {
            map.remove(account);
        }
        if let Ok(mut map) = self.limiters.write() {
            map.remove(account);
        }
        self.metrics.forget_limiter(account);
    }

    fn build(&self, settings: &ProviderSettings) -> ProviderResult<Arc<dyn Provider>> {
        let limiter = self.limiter(&settings.account, settings.rate);
        self.metrics
            .track_limiter(settings.kind.as_str(), &settings.account, &limiter);
        match settings.kind {
            ProviderKind::Iec => Ok(Arc::new(iec::IecProvider::new(
                settings,
                limiter,
                self.metrics.clone(),
            )?)),
            ProviderKind::Veen => Ok(Arc::new(veen::VeenProvider::new(
                settings,
                limiter,
                self.metrics.clone(),
            )?)),
            ProviderKind::ModelArts => Ok(Arc::new(modelarts::ModelArtsProvider::new(
                settings,
                limiter,
                self.metrics.clone(),
            )?)),
            ProviderKind::Luchen => Ok(Arc::new(luchen::LuchenProvider::new(
                settings,
                limiter,
                self.metrics.clone(),
            )?)),
            ProviderKind::Workspace => Ok(Arc::new(workspace::WorkspaceProvider::new(
                settings,
                limiter,
                self.metrics.clone(),
            )?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(sk: &str) -> ProviderSettings {
        let mut s = ProviderSettings::new(
            ProviderKind::Iec,
            "acct",
            Credentials::AkSk {
                access_key: "AK".into(),
                secret_key: sk.into(),
                security_token: None,
            },
        );
        s.endpoints.api = Some("http://127.0.0.1:9".into());
        s
    }

    #[test]
    fn registry_caches_until_settings_change() {
        let reg = ProviderRegistry::new(ProviderMetrics::new());
        let a = reg.get_or_build(&settings("one")).unwrap();
        let b = reg.get_or_build(&settings("one")).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "unchanged settings reuse the client");
        let c = reg.get_or_build(&settings("two")).unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "a rotated secret rebuilds the client");
        let l1 = reg.limiter("acct", RateBudget::default());
        let l2 = reg.limiter("acct", RateBudget::default());
        assert!(Arc::ptr_eq(&l1, &l2), "the limiter is shared per account");
        reg.remove("acct");
        assert!(reg.get("acct").is_none());
    }

    #[test]
    fn iec_site_level_fleets_cannot_expand() {
        let caps = iec::capabilities();
        assert!(!caps.fleet_can_expand(CoverageLevel::Site));
        assert!(caps.fleet_can_expand(CoverageLevel::City));
    }

    fn caps(tokens: bool, tags: bool) -> Capabilities {
        Capabilities {
            idempotency_tokens: tokens,
            tags,
            ..iec::capabilities()
        }
    }

    #[test]
    fn a_create_identity_carries_token_and_owner_tag_only_where_the_cloud_has_them() {
        let none = CreateIdentity::for_create("ef-web-1a2b", "ef-web-1a2b", "uid-1", &caps(false, false));
        assert_eq!(
            none,
            CreateIdentity {
                name: "ef-web-1a2b".into(),
                ..CreateIdentity::default()
            },
            "IEC has neither: name only"
        );
        let both = CreateIdentity::for_create("ef-web-1a2b", "ef-web-1a2b", "uid-1", &caps(true, true));
        assert_eq!(both.client_token.as_deref(), Some("ef-web-1a2b"));
        assert_eq!(both.tags.get(OWNER_TAG).map(String::as_str), Some("uid-1"));
        let token_only = CreateIdentity::for_create("n", "t", "uid-1", &caps(true, false));
        assert!(token_only.tags.is_empty());
        assert_eq!(token_only.client_token.as_deref(), Some("t"));
        let no_uid = CreateIdentity::for_create("n", "t", "", &caps(false, true));
        assert!(no_uid.tags.is_empty(), "no owner, no tag");
    }

    #[test]
    fn the_iec_capabilities_set_neither_token_nor_tags() {
        let caps = iec::capabilities();
        let id = CreateIdentity::for_create("n", "t", "uid", &caps);
        assert_eq!((id.client_token, id.tags.len()), (None, 0));
    }

    #[test]
    fn a_client_token_is_the_intent_token_or_a_stable_hash_within_64_ascii() {
        assert_eq!(client_token("ef-web_01"), "ef-web_01");
        let long = "x".repeat(65);
        let hashed = client_token(&long);
        assert_eq!(hashed, client_token(&long), "stable");
        assert_eq!(hashed.len(), 35);
        assert!(hashed.starts_with("ef-") && hashed.is_ascii());
        assert_ne!(client_token("ns/name"), "ns/name", "not a token character");
        assert_ne!(client_token(""), "", "never empty");
        assert_ne!(client_token("a/b"), client_token("a/c"));
    }

    #[test]
    fn an_operation_lists_its_jobs_then_its_order_as_handles() {
        let op = Operation {
            job_ids: vec!["j1".into(), "j2".into()],
            resource_ids: vec!["i1".into()],
            order_id: Some("o1".into()),
        };
        assert_eq!(
            op.handles(),
            vec![
                OperationHandle::Job("j1".into()),
                OperationHandle::Job("j2".into()),
                OperationHandle::Order("o1".into()),
            ]
        );
        assert!(
            Operation::default().handles().is_empty(),
            "IEC operations have none"
        );
    }

    #[test]
    fn iec_has_no_operation_api() {
        let reg = ProviderRegistry::new(ProviderMetrics::new());
        let iec = reg.get_or_build(&settings("x")).unwrap();
        let err = iec.operations().err().map(|e| e.category());
        assert_eq!(err, Some("Unsupported"));
    }

    #[test]
    fn a_missing_resource_api_is_unsupported_in_the_clouds_own_words() {
        let reg = ProviderRegistry::new(ProviderMetrics::new());
        let mut s = settings("x");
        s.kind = ProviderKind::Luchen;
        s.credentials = Credentials::Token {
            token: SecretString::new("t"),
        };
        let luchen = reg.get_or_build(&s).unwrap();
        let detail = |e: Option<ProviderError>| {
            e.map(|e| {
                (
                    e.category(),
                    e.detail().operation.clone(),
                    e.detail().message.clone(),
                )
            })
        };
        assert_eq!(
            detail(luchen.vpcs().err()),
            Some((
                "Unsupported",
                "luchen.vpcs".to_owned(),
                "Luchen instances have no VPC".to_owned()
            ))
        );
        assert_eq!(
            detail(luchen.fleets().err()).map(|d| d.1),
            Some("luchen.fleets".to_owned())
        );
        assert!(luchen.instances().is_ok(), "what a cloud has, it states");
        let generic = lacking(ProviderKind::Veen, "catalog", None);
        assert_eq!(
            detail(Some(generic)),
            Some((
                "Unsupported",
                "veen.catalog".to_owned(),
                "veen has no catalog API".to_owned()
            ))
        );
    }

    #[test]
    fn every_kind_has_a_client_and_a_wrong_credential_type_says_so() {
        let reg = ProviderRegistry::new(ProviderMetrics::new());
        let mut s = settings("x");
        s.kind = ProviderKind::Luchen;
        let err = reg.get_or_build(&s).err().map(|e| e.category());
        assert_eq!(err, Some("Configuration"), "Luchen has a client, but no AK/SK");
        s.kind = ProviderKind::Veen;
        let veen = reg.get_or_build(&s).unwrap();
        assert_eq!(veen.kind(), ProviderKind::Veen);
    }
}
