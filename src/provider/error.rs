//! `ProviderError`: what went wrong at the cloud boundary, phrased as what the caller can do about it.
//! Every message names the operation and, when the cloud sent them, the HTTP status, the cloud error code
//! and the request id. Credentials never appear in an error.
//!
//! Also [`CodeClass`], the one way a cloud's error code becomes a [`ProviderError`]: each client keeps a
//! table of its codes ([`CodeTable`]) and [`classify`] reads it, falling back to the HTTP status.

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

/// What a cloud error code means for the caller: the [`ProviderError`] variant it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// [`ProviderError::NotFound`].
    NotFound,
    /// [`ProviderError::Conflict`]: wrong state for the operation, or a name taken.
    Conflict,
    /// [`ProviderError::InUse`]: still used by (or holding) other objects.
    InUse,
    /// [`ProviderError::Throttled`].
    Throttled,
    /// [`ProviderError::QuotaExceeded`].
    Quota,
    /// [`ProviderError::CapacityExhausted`]: no capacity where asked (comes back without a human).
    Capacity,
    /// [`ProviderError::Invalid`].
    Invalid,
    /// [`ProviderError::Unauthorized`]: credentials missing, wrong, expired or without permission.
    Unauthorized,
    /// [`ProviderError::Transient`]: retry later.
    Transient,
    /// [`ProviderError::Unsupported`].
    Unsupported,
}

/// A cloud's error codes with their class; codes not listed are classified by HTTP status.
pub type CodeTable = [(&'static str, CodeClass)];

impl CodeClass {
    /// The class of an answer whose code no table knows, by its HTTP status.
    pub fn for_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Unauthorized,
            404 => Self::NotFound,
            409 => Self::Conflict,
            429 => Self::Throttled,
            408 | 500..=599 => Self::Transient,
            _ => Self::Invalid,
        }
    }

    /// The [`ProviderError`] of this class, with what the cloud said (`retry_after` only for throttling).
    pub fn error(self, detail: ErrorDetail, retry_after: Option<Duration>) -> ProviderError {
        match self {
            Self::NotFound => ProviderError::NotFound { detail },
            Self::Conflict => ProviderError::Conflict { detail },
            Self::InUse => ProviderError::InUse { detail },
            Self::Throttled => ProviderError::Throttled { retry_after, detail },
            Self::Quota => ProviderError::QuotaExceeded { detail },
            Self::Capacity => ProviderError::CapacityExhausted { detail },
            Self::Invalid => ProviderError::Invalid { detail },
            Self::Unauthorized => ProviderError::Unauthorized { detail },
            Self::Transient => ProviderError::Transient { detail },
            Self::Unsupported => ProviderError::Unsupported { detail },
        }
    }
}

/// The class of a failed answer: the first table that lists the code (compared ignoring ASCII case),
/// else the HTTP status (a 429 is always throttling).
pub fn classify(tables: &[&CodeTable], status: u16, code: Option<&str>) -> CodeClass {
    code.and_then(|code| {
        tables
            .iter()
            .flat_map(|table| table.iter())
            .find(|(c, _)| c.eq_ignore_ascii_case(code))
            .map(|(_, class)| *class)
    })
    .unwrap_or_else(|| CodeClass::for_status(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_table_wins_over_the_status_and_unknown_codes_go_by_status() {
        const CLOUD: &CodeTable = &[("X.404", CodeClass::Conflict), ("x.quota", CodeClass::Quota)];
        const GATEWAY: &CodeTable = &[("X.404", CodeClass::NotFound), ("GW.1", CodeClass::Throttled)];
        let both: &[&CodeTable] = &[CLOUD, GATEWAY];
        assert_eq!(
            classify(both, 404, Some("X.404")),
            CodeClass::Conflict,
            "first table wins"
        );
        assert_eq!(
            classify(both, 400, Some("X.QUOTA")),
            CodeClass::Quota,
            "case is ignored"
        );
        assert_eq!(classify(both, 400, Some("GW.1")), CodeClass::Throttled);
        assert_eq!(classify(both, 429, None), CodeClass::Throttled);
        assert_eq!(classify(both, 429, Some("other")), CodeClass::Throttled);
        assert_eq!(classify(both, 403, Some("other")), CodeClass::Unauthorized);
        assert_eq!(classify(both, 404, None), CodeClass::NotFound);
        assert_eq!(classify(both, 409, None), CodeClass::Conflict);
        assert_eq!(classify(both, 408, None), CodeClass::Transient);
        assert_eq!(classify(both, 503, None), CodeClass::Transient);
        assert_eq!(classify(both, 400, None), CodeClass::Invalid);
        let detail = ErrorDetail::local("op", "m");
        let throttled = CodeClass::Throttled.error(detail.clone(), Some(Duration::from_secs(3)));
        assert!(
            matches!(throttled, ProviderError::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(3))
        );
        assert_eq!(
            CodeClass::Unsupported.error(detail, None).category(),
            "Unsupported"
        );
    }

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
