//! Volcengine veEN (service `veenedge`, Version `2021-04-30`): request signing ([`signer`], the
//! pipeline's [`Authenticate`](crate::provider::http::Authenticate) for veEN), the error body read into
//! `ProviderError`s ([`errors`]), and the typed calls ([`client`], [`types`]) for cloud servers and
//! instances. The provider traits (`VpcApi`, `SecurityGroupApi`, `InstanceApi`) on top of the client
//! and the `ProviderRegistry` arm are not written yet (issue 16): `ProviderKind::Veen` still builds
//! `Unsupported`.

pub mod client;
pub mod errors;
pub mod signer;
pub mod types;
