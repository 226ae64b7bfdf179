//! The API's error type: every failure becomes a status and a JSON body
//! `{"error": {"code", "message", "fields"?}}` with a stable code. Internal causes are
//! logged, never shown.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::chat::Error;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: `invalid_input`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `rate_limited`, `payload_too_large`, `quota_exceeded`,
    /// `unsupported_media_type`, `request_timeout`, `busy`, `internal`.
    pub code: &'static str,
    /// For people; may change.
    pub message: String,
    /// Per-field reasons for `invalid_input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<&'static str, String>>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorDetail,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorDetail {
                code,
                message: message.into(),
                fields: None,
            },
            retry_after: None,
        }
    }
    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn not_found(message: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Invalid(v) if v.too_long => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Invalid(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) | Error::Deactivated => StatusCode::FORBIDDEN,
            Error::SecondFactor(_) => StatusCode::UNAUTHORIZED,
            Error::NotConfigured(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            Error::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut err = Self::new(status, e.code(), e.to_string());
        match e {
            Error::Invalid(v) => err.body.fields = Some(BTreeMap::from([(v.field, v.message)])),
            Error::RateLimited(wait) => err.retry_after = Some(wait.as_secs().max(1)),
            Error::Busy(wait) => err.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64),
            _ => {}
        }
        err
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body too large",
                )
            }
            JsonRejection::BytesRejection(_) if body_timed_out(&r) => {
                Error::TimedOut("the request's body stopped arriving").into()
            }
            JsonRejection::MissingJsonContentType(_) => {
                Self::invalid("expected Content-Type: application/json")
            }
            other => Self::invalid(other.body_text()),
        }
    }
}

/// Whether reading a request's body failed because it stalled past `http_body_timeout_secs`
/// (`listen` wraps every body in that deadline).
pub fn body_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// A request body's read error as an I/O error for the layers below HTTP: `TimedOut` when the
/// body stalled past its deadline, else `Other`.
pub fn body_io_error(e: axum::Error) -> std::io::Error {
    let kind = match body_timed_out(&e) {
        true => std::io::ErrorKind::TimedOut,
        false => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, e)
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::invalid(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::invalid(r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, axum::Json(ErrorBody { error: self.body })).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
