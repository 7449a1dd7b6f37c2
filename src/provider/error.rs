//! `ProviderError`: what went wrong at the cloud boundary, phrased as what the caller can do about it.
//! Every message names the operation and, when the cloud sent them, the HTTP status, the cloud error code
//! and the request id. Credentials never appear in an error.

use std::fmt;
use std::time::Duration;

/// What the cloud said (or did not say) about a failed call. Attached to every [`ProviderError`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The client operation, e.g. `iec.vpc.create`.
    pub operation: String,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The cloud's error code (e.g. `IEC.020105`, `APIG.0308`).
    pub code: Option<String>,
    /// The cloud's message, or a description of a transport failure.
    pub message: String,
    /// Request id from `X-Request-Id` / `X-Openstack-Request-Id`, when present.
    pub request_id: Option<String>,
}

impl ErrorDetail {
    /// A detail for a failure without a cloud response (transport, decoding, configuration).
    pub fn local(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            message: message.into(),
            ..Self::default()
        }
    }
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(status) = self.status {
            write!(f, ": HTTP {status}")?;
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// A failed provider call, classified by what the caller should do next.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The object does not exist (on delete: done).
    #[error("not found: {detail}")]
    NotFound {
        /// What the cloud said.
        detail: ErrorDetail,
    },
    /// The request conflicts with existing state (name taken, wrong state for the operation).
    #[error("conflict: {detail}")]
    Conflict {
        /// What the cloud said.
        detail: ErrorDetail,
    },
    /// The object is still used by others (subnets in a VPC, instances in an edge cloud).
    #[error("in use: {detail}")]
    InUse {
        /// What the cloud said.
        detail: ErrorDetail,
    },
    /// The cloud rate-limited us; retry after the given delay (through the shared limiter).
    #[error("throttled{}: {detail}", retry_after.map(|d| format!(" (retry after {}ms)", d.as_millis())).unwrap_or_default())]
    Throttled {
        /// Delay requested by the cloud (Retry-After), if any.
        retry_after: Option<Duration>,
        /// What the cloud said.
        detail: ErrorDetail,
    },
    /// A quota is exhausted; a human must raise it or free resources.
    #[error("quota exceeded: {detail}")]
    QuotaExceeded {
        /// What the cloud said.
        detail: ErrorDetail,
    },
    /// The cloud has no capacity for the request where it was asked to place it (no available location,
    /// sold-out flavor). Nothing is wrong with the spec: the same call may succeed once capacity returns,
    /// so callers retry on a slow recheck instead of waiting for an edit.
    #[error("capacity exhausted: {detail}")]
    CapacityExhausted {
        /// What the cloud said.
        detail: ErrorDetail,
    },
    /// The cloud rejected the request as invalid (bad spec, unknown flavor/site/image); retrying won't help.
    #[error("invalid request: {detail}")]
    Invalid {
        /// What the cloud said (the code is in `detail.code`).
        detail: ErrorDetail,
    },
    /// Credentials are missing, wrong, expired beyond refresh, or lack permission.
    #[error("unauthorized: {detail}")]
    Unauthorized {
        /// What the cloud said.
        detail: ErrorDetail,
    },
    /// A temporary failure (timeout, connection reset, 5xx); retry with backoff.
    #[error("transient failure: {detail}")]
    Transient {
        /// What happened.
        detail: ErrorDetail,
    },
    /// The cloud answered something the client cannot interpret (unexpected body or status).
    #[error("unexpected response: {detail}")]
    Protocol {
        /// What happened.
        detail: ErrorDetail,
    },
    /// The provider does not offer this operation or resource kind.
    #[error("unsupported: {detail}")]
    Unsupported {
        /// Which operation.
        detail: ErrorDetail,
    },
    /// The provider settings are unusable (missing endpoint, wrong credential type for this cloud).
    #[error("invalid provider settings: {detail}")]
    Configuration {
        /// What is wrong.
        detail: ErrorDetail,
    },
}

impl ProviderError {
    /// PascalCase label for metrics and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "NotFound",
            Self::Conflict { .. } => "Conflict",
            Self::InUse { .. } => "InUse",
            Self::Throttled { .. } => "Throttled",
            Self::QuotaExceeded { .. } => "QuotaExceeded",
            Self::CapacityExhausted { .. } => "CapacityExhausted",
            Self::Invalid { .. } => "Invalid",
            Self::Unauthorized { .. } => "Unauthorized",
            Self::Transient { .. } => "Transient",
            Self::Protocol { .. } => "Protocol",
            Self::Unsupported { .. } => "Unsupported",
            Self::Configuration { .. } => "Configuration",
        }
    }

    /// True when the same call may succeed later without a human (throttling, transient failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Transient { .. })
    }

    /// True when only a human can unblock this (the controller sets `Stalled`).
    pub fn needs_human(&self) -> bool {
        matches!(
            self,
            Self::QuotaExceeded { .. }
                | Self::Invalid { .. }
                | Self::Unauthorized { .. }
                | Self::Unsupported { .. }
                | Self::Configuration { .. }
        )
    }

    /// True when the cloud refused for lack of capacity or an exhausted quota: the request itself may be
    /// fine elsewhere or later (fleets fall back to other locations).
    pub fn is_capacity(&self) -> bool {
        matches!(self, Self::QuotaExceeded { .. } | Self::CapacityExhausted { .. })
    }

    /// True when a failed create certainly made nothing in the cloud: the cloud rejected it outright (or it
    /// was never sent), so a create intent recorded for it can be dropped and a fixed spec creates at once.
    /// False where the call may have taken effect (lost answers, timeouts, 5xx, throttling after the fact)
    /// or where the answer is ambiguous (a conflict may be our own earlier create).
    pub fn created_nothing(&self) -> bool {
        match self {
            Self::Invalid { .. }
            | Self::NotFound { .. }
            | Self::QuotaExceeded { .. }
            | Self::CapacityExhausted { .. }
            | Self::Unauthorized { .. }
            | Self::Unsupported { .. }
            | Self::Configuration { .. } => true,
            Self::Conflict { .. }
            | Self::InUse { .. }
            | Self::Throttled { .. }
            | Self::Transient { .. }
            | Self::Protocol { .. } => false,
        }
    }

    /// True for [`ProviderError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// The attached detail.
    pub fn detail(&self) -> &ErrorDetail {
        match self {
            Self::NotFound { detail }
            | Self::Conflict { detail }
            | Self::InUse { detail }
            | Self::Throttled { detail, .. }
            | Self::QuotaExceeded { detail }
            | Self::CapacityExhausted { detail }
            | Self::Invalid { detail }
            | Self::Unauthorized { detail }
            | Self::Transient { detail }
            | Self::Protocol { detail }
            | Self::Unsupported { detail }
            | Self::Configuration { detail } => detail,
        }
    }

    /// The cloud error code, if the cloud sent one.
    pub fn code(&self) -> Option<&str> {
        self.detail().code.as_deref()
    }

    /// The cloud request id, if the cloud sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.detail().request_id.as_deref()
    }

    /// The delay the cloud asked for, when throttled.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Shorthand for an unsupported operation.
    pub fn unsupported(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unsupported {
            detail: ErrorDetail::local(operation, message),
        }
    }

    /// Shorthand for unusable settings.
    pub fn configuration(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Configuration {
            detail: ErrorDetail::local(operation, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_carries_code_status_and_request_id() {
        let e = ProviderError::Conflict {
            detail: ErrorDetail {
                operation: "iec.vpc.create".into(),
                status: Some(409),
                code: Some("IEC.020105".into()),
                message: "vpc name is exist".into(),
                request_id: Some("req-1".into()),
            },
        };
        assert_eq!(
            e.to_string(),
            "conflict: iec.vpc.create: HTTP 409 IEC.020105: vpc name is exist (request id req-1)"
        );
        assert_eq!(e.category(), "Conflict");
        assert!(!e.is_retryable());
    }

    #[test]
    fn categories_and_retryability() {
        let d = ErrorDetail::local("op", "m");
        let cases = [
            (
                ProviderError::NotFound { detail: d.clone() },
                "NotFound",
                false,
                false,
            ),
            (
                ProviderError::Throttled {
                    retry_after: None,
                    detail: d.clone(),
                },
                "Throttled",
                true,
                false,
            ),
            (
                ProviderError::Transient { detail: d.clone() },
                "Transient",
                true,
                false,
            ),
            (
                ProviderError::QuotaExceeded { detail: d.clone() },
                "QuotaExceeded",
                false,
                true,
            ),
            (
                ProviderError::Invalid { detail: d.clone() },
                "Invalid",
                false,
                true,
            ),
            (
                ProviderError::Unauthorized { detail: d.clone() },
                "Unauthorized",
                false,
                true,
            ),
            (ProviderError::InUse { detail: d.clone() }, "InUse", false, false),
            (
                ProviderError::CapacityExhausted { detail: d.clone() },
                "CapacityExhausted",
                false,
                false,
            ),
        ];
        for (e, cat, retry, human) in cases {
            assert_eq!(e.category(), cat);
            assert_eq!(e.is_retryable(), retry, "{cat}");
            assert_eq!(e.needs_human(), human, "{cat}");
        }
    }
}
