//! What the Huawei clouds (IEC, ModelArts DevServer, Workspace) share: APIG AK/SK signing ([`signer`]),
//! IAM password login ([`iam`]), the request authentication the pipeline calls ([`auth`]), the error
//! body ([`errors`]) and the billing service's orders ([`bss`]). Nothing here knows one service's API
//! or error codes.

pub mod auth;
pub mod bss;
pub mod errors;
pub mod iam;
pub mod signer;
