//! What the Huawei clouds (IEC, ModelArts DevServer, Workspace) share: APIG AK/SK signing ([`signer`]),
//! IAM password login ([`iam`]), the request authentication the pipeline calls ([`auth`]) and the error
//! body ([`errors`]). Nothing here knows one service's API or error codes.

pub mod auth;
pub mod errors;
pub mod iam;
pub mod signer;
