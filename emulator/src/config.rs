//! Emulator configuration: listen addresses (IEC, veEN, Luchen, Workspace, ModelArts), credentials, the IEC catalog (sites, flavors,
//! images, volume types, quotas), the veEN catalog (specs, images, edge clusters, quotas), the Luchen
//! section (users, token lifetime, GPU catalog), transition
//! delays, faults, clock mode and limits. Loaded from a YAML (or JSON) file with `--config`; every field has a built-in default, so an empty file is valid.
//!
//! Built-in credentials (document them to users; they only unlock the emulator):
//! account `edgefleet` (domain id [`DEFAULT_DOMAIN_ID`]) with IAM user `edgefleet` / password
//! [`DEFAULT_PASSWORD`] and access key [`DEFAULT_AK`] / [`DEFAULT_SK`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::auth::{AccessKey, Account, User};
use crate::core::clock::ClockMode;
use crate::core::error::Error;
use crate::core::faults::Faults;
use crate::iec::catalog::Catalog;
use crate::luchen::catalog::LuchenConfig;
use crate::modelarts::catalog::ModelArtsCatalog;
use crate::veen::catalog::VeenCatalog;
use crate::workspace::catalog::WorkspaceCatalog;

/// Default account (domain) id.
pub const DEFAULT_DOMAIN_ID: &str = "0e1d7c9f8a6b4c3d2e1f0a9b8c7d6e5f";
/// Default account (domain) name.
pub const DEFAULT_DOMAIN_NAME: &str = "edgefleet";
/// Default IAM user name.
pub const DEFAULT_USER: &str = "edgefleet";
/// Default IAM user password.
pub const DEFAULT_PASSWORD: &str = "Emulator@2026";
/// Default access key id.
pub const DEFAULT_AK: &str = "EMULATORAK0000000001";
/// Default secret key.
pub const DEFAULT_SK: &str = "EMULATORSK00000000000000000000000000000001";

/// The full configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the IEC (and IAM) HTTP endpoint; port 0 picks a free port.
    pub iec_addr: SocketAddr,
    /// Accounts with their IAM users and access keys.
    pub accounts: Vec<Account>,
    /// The IEC catalog and quotas.
    pub catalog: Catalog,
    /// Address of the Volcengine veEN endpoint (its own listener over the same state); port 0 picks
    /// a free port.
    pub veen_addr: SocketAddr,
    /// The veEN catalog (specs, images, edge clusters with capacity) and quotas.
    pub veen: VeenCatalog,
    /// Address of the Luchen endpoint (its own listener over the same state); port 0 picks a free port.
    pub luchen_addr: SocketAddr,
    /// Luchen users, token lifetime and catalog (regions, GPU instance types, images, storages).
    pub luchen: LuchenConfig,
    /// Address of the Huawei Workspace (application streaming) endpoint; port 0 picks a free port.
    pub workspace_addr: SocketAddr,
    /// The Workspace catalog (products, images, VPCs, zones, disk types), quota and job-failure rules.
    pub workspace: WorkspaceCatalog,
    /// Address of the Huawei ModelArts DevServer endpoint (with the BSS order endpoints and IAM; its own
    /// listener over the same state); port 0 picks a free port.
    pub modelarts_addr: SocketAddr,
    /// The ModelArts catalog (zones, flavors, images, VPCs, key pairs) and quota.
    pub modelarts: ModelArtsCatalog,
    /// Delays of asynchronous transitions.
    pub delays: Delays,
    /// Faults active from start-up.
    pub faults: Faults,
    /// Clock mode (`real` or `frozen`).
    pub clock: ClockMode,
    /// Largest accepted request body in bytes (larger → 413 `APIGW.0201`). Default 12 MiB, the
    /// AK/SK signing limit of the real service.
    pub body_limit_bytes: usize,
    /// Snapshot file: loaded at start-up if it exists, written on graceful shutdown.
    pub state_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            iec_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            accounts: vec![default_account()],
            catalog: Catalog::default(),
            veen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            veen: VeenCatalog::default(),
            luchen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            luchen: LuchenConfig::default(),
            workspace_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            workspace: WorkspaceCatalog::default(),
            modelarts_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            modelarts: ModelArtsCatalog::default(),
            delays: Delays::default(),
            faults: Faults::default(),
            clock: ClockMode::Real,
            body_limit_bytes: 12 * 1024 * 1024,
            state_file: None,
        }
    }
}

/// The built-in account.
pub fn default_account() -> Account {
    Account {
        domain_id: DEFAULT_DOMAIN_ID.into(),
        domain_name: DEFAULT_DOMAIN_NAME.into(),
        users: vec![User {
            id: "5f4e3d2c1b0a49382716051a2b3c4d5e".into(),
            name: DEFAULT_USER.into(),
            password: DEFAULT_PASSWORD.into(),
        }],
        access_keys: vec![AccessKey {
            access_key: DEFAULT_AK.into(),
            secret_key: DEFAULT_SK.into(),
        }],
        projects: vec![],
    }
}

impl Config {
    /// Loads a YAML/JSON config file (missing fields take their defaults).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: Config = serde_yaml_ng::from_str(&text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.faults.validate().map_err(|message| Error::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    /// A copy safe to show: passwords and secret keys replaced by `******`.
    pub fn redacted(&self) -> Self {
        let mut c = self.clone();
        for a in &mut c.accounts {
            for u in &mut a.users {
                u.password = "******".into();
            }
            for k in &mut a.access_keys {
                k.secret_key = "******".into();
            }
        }
        c.luchen = c.luchen.redacted();
        c
    }
}

/// Delays of asynchronous transitions in milliseconds. `all_ms` overrides every delay (use 0 for
/// benchmarks); otherwise each key falls back to its family's default. Keys are documented by the
/// families, e.g. `instance_build`, `instance_delete`, `instance_power`, `edgecloud_deploy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Delays {
    /// If set, every delay is this value.
    pub all_ms: Option<u64>,
    /// Per-transition delays.
    #[serde(flatten)]
    pub per: BTreeMap<String, u64>,
}

impl Delays {
    /// All delays zero.
    pub fn zero() -> Self {
        Self {
            all_ms: Some(0),
            per: BTreeMap::new(),
        }
    }

    /// The delay for `key`, or `default_ms` when not configured.
    pub fn ms(&self, key: &str, default_ms: u64) -> u64 {
        self.all_ms
            .or_else(|| self.per.get(key).copied())
            .unwrap_or(default_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_yaml_is_the_default_and_unknown_keys_fail() {
        let c: Config = serde_yaml_ng::from_str("{}").unwrap();
        assert_eq!(c, Config::default());
        assert!(serde_yaml_ng::from_str::<Config>("bogus: 1").is_err());
        let d: Config = serde_yaml_ng::from_str("delays: {instance_build: 5}").unwrap();
        assert_eq!(d.delays.ms("instance_build", 1), 5);
        assert_eq!(d.delays.ms("other", 1), 1);
        assert_eq!(Delays::zero().ms("instance_build", 9), 0);
    }

    #[test]
    fn redaction_hides_secrets() {
        let r = Config::default().redacted();
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains(DEFAULT_SK));
        assert!(!text.contains(DEFAULT_PASSWORD));
    }
}
