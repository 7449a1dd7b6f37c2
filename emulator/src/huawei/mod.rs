//! What the Huawei clouds (IEC, and later ModelArts and Workspace) share at the emulator's ingress:
//! APIG `SDK-HMAC-SHA256` request signing and verification ([`apig`]), IAM — tokens, domain and
//! project discovery ([`iam`]) — and the Huawei error body with the gateway's answers ([`errors`]).
//! A Huawei cloud's `Profile` authenticates with [`apig::authenticate`], renders errors with
//! [`errors::render`] and serves [`iam::routes`] among its open routes; `crate::core` names no cloud.

pub mod apig;
pub mod errors;
pub mod iam;
