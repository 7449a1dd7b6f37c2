//! Volcengine veEN (service `veenedge`, Version `2021-04-30`): request signing ([`signer`], the
//! pipeline's [`Authenticate`](crate::provider::http::Authenticate) for veEN) and the error body read
//! into `ProviderError`s ([`errors`]). The typed client and the provider traits on top of them are not
//! written yet (issue 16).

pub mod errors;
pub mod signer;
