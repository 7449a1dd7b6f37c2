//! The Luchen section of the emulator config (`Config.luchen`): the users who can log in, the token
//! lifetime, and the catalog create checks ids against (regions, GPU instance types, images, remote
//! storages). Every field has a default, so `luchen: {}` is valid; the default ids are listed in
//! `docs/emulator.md` § Luchen for tests and samples. The real catalog is only readable through an
//! undocumented console feed, so its shape here is the emulator's.

use serde::{Deserialize, Serialize};

use crate::config::{DEFAULT_PASSWORD, DEFAULT_USER};

/// The built-in user's id (the JWT `sub`, and the account every call of that user acts on).
pub const DEFAULT_USER_ID: &str = "5f4e3d2c-1b0a-4938-8716-051a2b3c4d5e";
/// The default region (华东一区), offering every default instance type.
pub const REGION_EAST: &str = "fce31a0c-5c1e-4d6a-9e55-41caa1bdd251";
/// The second default region (华北一区), offering the H100 types only.
pub const REGION_NORTH: &str = "2b7d0e4a-8c3f-4f1e-b6a2-7d9e3c5a1b02";
/// H100 × 1.
pub const TYPE_H100_1: &str = "dc25f5be-0001-4a6b-9c3d-5030e3358c41";
/// H100 × 8.
pub const TYPE_H100_8: &str = "dc25f5be-0008-4a6b-9c3d-5030e3358c41";
/// RTX 4090 × 1 (east only).
pub const TYPE_4090_1: &str = "c531be90-0001-4d2e-8f7a-59d3d911e29e";
/// PyTorch image.
pub const IMAGE_PYTORCH: &str = "7a81788c-0001-4f3e-a1b2-2409e3c8150c";
/// Ubuntu image.
pub const IMAGE_UBUNTU: &str = "7a81788c-0002-4f3e-a1b2-2409e3c8150c";
/// The default remote storage (`example-volume`, highspeedstorage).
pub const STORAGE_EXAMPLE: &str = "f6a6345e-0001-4c2d-9e8f-e52e330cfaec";

/// One day, the documented token lifetime.
pub const TOKEN_TTL_SECS: u64 = 86_400;

/// `Config.luchen`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LuchenConfig {
    /// Lifetime of a login token in seconds (`accessExpire`); the `token_ttl_ms` fault overrides it.
    pub token_ttl_secs: u64,
    /// Who can log in.
    pub users: Vec<LuchenUser>,
    /// Regions (the create body's `region` is one of their ids).
    pub regions: Vec<Region>,
    /// GPU instance types.
    pub instance_types: Vec<InstanceType>,
    /// Images.
    pub images: Vec<Image>,
    /// Remote storages an instance may mount.
    pub remote_storages: Vec<RemoteStorage>,
}

/// A user who can log in; each user is an account of its own (its instances are its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LuchenUser {
    /// The user's uuid (the JWT `sub`).
    pub id: String,
    /// Login name.
    pub username: String,
    /// Password (never logged; redacted from `GET /_emulator/config`).
    pub password: String,
}

/// A region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Region id (a uuid, as the create body's `region`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Host of the SSH addresses of the region's instances.
    pub ssh_host: String,
    /// Ids of the instance types offered here.
    pub instance_types: Vec<String>,
}

/// A GPU instance type: GPU model and count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceType {
    /// Instance type id (the create body's `instanceTypeId`).
    pub id: String,
    /// GPU model, e.g. `H100`.
    pub gpu_type: String,
    /// GPUs per instance.
    pub gpu_num: u32,
    /// vCPUs.
    pub cpu: u32,
    /// Memory in GB.
    pub memory_gb: u32,
}

/// An image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image id (the create body's `imageId`).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A remote storage volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteStorage {
    /// Storage id (`remoteStorages[].remoteStorageId`).
    pub id: String,
    /// Storage name (`remoteStorages[].remoteStorageName`).
    pub name: String,
    /// Storage type: `highspeedstorage` or `filesystem`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Default for LuchenConfig {
    fn default() -> Self {
        let all = vec![TYPE_H100_1.into(), TYPE_H100_8.into(), TYPE_4090_1.into()];
        Self {
            token_ttl_secs: TOKEN_TTL_SECS,
            users: vec![LuchenUser {
                id: DEFAULT_USER_ID.into(),
                username: DEFAULT_USER.into(),
                password: DEFAULT_PASSWORD.into(),
            }],
            regions: vec![
                Region {
                    id: REGION_EAST.into(),
                    name: "华东一区".into(),
                    ssh_host: "east1.luchen.emulator".into(),
                    instance_types: all,
                },
                Region {
                    id: REGION_NORTH.into(),
                    name: "华北一区".into(),
                    ssh_host: "north1.luchen.emulator".into(),
                    instance_types: vec![TYPE_H100_1.into(), TYPE_H100_8.into()],
                },
            ],
            instance_types: vec![
                gpu(TYPE_H100_1, "H100", 1, 16, 200),
                gpu(TYPE_H100_8, "H100", 8, 128, 1600),
                gpu(TYPE_4090_1, "RTX4090", 1, 12, 90),
            ],
            images: vec![
                Image {
                    id: IMAGE_PYTORCH.into(),
                    name: "PyTorch 2.4 CUDA 12.4".into(),
                },
                Image {
                    id: IMAGE_UBUNTU.into(),
                    name: "Ubuntu 22.04".into(),
                },
            ],
            remote_storages: vec![RemoteStorage {
                id: STORAGE_EXAMPLE.into(),
                name: "example-volume".into(),
                kind: "highspeedstorage".into(),
            }],
        }
    }
}

fn gpu(id: &str, gpu_type: &str, gpu_num: u32, cpu: u32, memory_gb: u32) -> InstanceType {
    InstanceType {
        id: id.into(),
        gpu_type: gpu_type.into(),
        gpu_num,
        cpu,
        memory_gb,
    }
}

impl LuchenConfig {
    /// The user named `username`.
    pub fn user(&self, username: &str) -> Option<&LuchenUser> {
        self.users.iter().find(|u| u.username == username)
    }

    /// The user with id `id`.
    pub fn user_by_id(&self, id: &str) -> Option<&LuchenUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The region `id`.
    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.id == id)
    }

    /// The instance type `id`.
    pub fn instance_type(&self, id: &str) -> Option<&InstanceType> {
        self.instance_types.iter().find(|t| t.id == id)
    }

    /// The image `id`.
    pub fn image(&self, id: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.id == id)
    }

    /// The remote storage `id`.
    pub fn remote_storage(&self, id: &str) -> Option<&RemoteStorage> {
        self.remote_storages.iter().find(|s| s.id == id)
    }

    /// A copy with passwords replaced by `******`.
    pub fn redacted(&self) -> Self {
        let mut c = self.clone();
        for u in &mut c.users {
            u.password = "******".into();
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luchen_default_catalog_is_consistent() {
        let c = LuchenConfig::default();
        for r in &c.regions {
            for t in &r.instance_types {
                assert!(c.instance_type(t).is_some(), "{t} offered by {} exists", r.name);
            }
        }
        assert!(c.user(DEFAULT_USER).is_some());
        assert_eq!(
            c.user_by_id(DEFAULT_USER_ID).map(|u| u.username.as_str()),
            Some(DEFAULT_USER)
        );
        let empty: LuchenConfig = serde_yaml_ng::from_str("{}").unwrap();
        assert_eq!(empty, c);
        assert!(
            !serde_json::to_string(&c.redacted())
                .unwrap()
                .contains(DEFAULT_PASSWORD)
        );
    }
}
