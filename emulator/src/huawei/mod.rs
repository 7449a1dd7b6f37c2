//! What the Huawei clouds (IEC, and later ModelArts and Workspace) share at the emulator's ingress:
//! APIG `SDK-HMAC-SHA256` request signing and verification ([`apig`]) and IAM — tokens, domain and
//! project discovery ([`iam`]). A Huawei cloud's `Profile` authenticates with
//! [`apig::authenticate`] and serves [`iam::routes`] among its open routes; `crate::core` names no
//! cloud.

pub mod apig;
pub mod iam;
