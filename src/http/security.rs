//! Sign-in security over HTTP: turning two-factor sign-in on and off, recovery codes, and
//! password reset links (using one; asking for one by email). An admin makes reset links in
//! `admin.rs`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiJson, Auth, ClientIp, ErrorBody, check_origin};
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/totp", get(totp_state))
        .route("/me/totp/setup", post(totp_setup))
        .route("/me/totp/enable", post(totp_enable))
        .route("/me/totp/disable", post(totp_disable))
        .route("/me/totp/recovery-codes", post(recovery_codes))
        .route("/auth/reset", post(reset))
        .route("/auth/forgot", post(forgot))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirm {
    /// Your current password.
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TotpState {
    enabled: bool,
    /// Recovery codes not used yet (null while two-factor is off).
    recovery_codes_left: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/me/totp", tag = "accounts", operation_id = "totp_state",
    responses((status = 200, body = TotpState)))]
async fn totp_state(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<TotpState>, ApiError> {
    let left = app.chat.recovery_codes_left(&auth.user.id).await?;
    Ok(axum::Json(TotpState {
        enabled: left.is_some(),
        recovery_codes_left: left,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TotpSetupResponse {
    /// Base32, for typing into an authenticator app.
    secret: String,
    /// The `otpauth://totp/…` link apps read.
    otpauth_url: String,
    /// The link as a QR code: a PNG, base64.
    qr_png_base64: String,
}

#[utoipa::path(post, path = "/api/v1/me/totp/setup", tag = "accounts", operation_id = "totp_setup",
    request_body = PasswordConfirm,
    responses((status = 200, description = "A fresh secret; confirm it with `POST /me/totp/enable`", body = TotpSetupResponse),
              (status = 403, description = "Wrong password", body = ErrorBody),
              (status = 409, description = "Two-factor sign-in is on already", body = ErrorBody)))]
async fn totp_setup(
    State(app): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<PasswordConfirm>,
) -> Result<axum::Json<TotpSetupResponse>, ApiError> {
    let setup = app
        .chat
        .totp_setup(&auth.session, &auth.user, &req.password)
        .await?;
    Ok(axum::Json(TotpSetupResponse {
        secret: setup.secret,
        otpauth_url: setup.otpauth_url,
        qr_png_base64: setup.qr_png_base64,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// The six digits the app shows now.
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten one-time codes for signing in without the app; shown this once.
    recovery_codes: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/me/totp/enable", tag = "accounts", operation_id = "totp_enable",
    request_body = TotpCode,
    responses((status = 200, description = "On: signing in now takes a code too", body = RecoveryCodes),
              (status = 400, description = "The code does not match", body = ErrorBody),
              (status = 409, description = "On already, or no setup started", body = ErrorBody)))]
async fn totp_enable(
    State(app): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<TotpCode>,
) -> Result<axum::Json<RecoveryCodes>, ApiError> {
    let recovery_codes = app.chat.totp_enable(&auth.user, &req.code).await?;
    Ok(axum::Json(RecoveryCodes { recovery_codes }))
}

#[utoipa::path(post, path = "/api/v1/me/totp/disable", tag = "accounts", operation_id = "totp_disable",
    request_body = PasswordConfirm,
    responses((status = 204, description = "Off: the secret and recovery codes are gone"),
              (status = 403, description = "Wrong password", body = ErrorBody)))]
async fn totp_disable(
    State(app): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<PasswordConfirm>,
) -> Result<StatusCode, ApiError> {
    app.chat
        .totp_disable(&auth.session, &auth.user, &req.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/me/totp/recovery-codes", tag = "accounts", operation_id = "new_recovery_codes",
    request_body = PasswordConfirm,
    responses((status = 200, description = "New codes; the old ones no longer work", body = RecoveryCodes),
              (status = 403, description = "Wrong password", body = ErrorBody),
              (status = 409, description = "Two-factor sign-in is off", body = ErrorBody)))]
async fn recovery_codes(
    State(app): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<PasswordConfirm>,
) -> Result<axum::Json<RecoveryCodes>, ApiError> {
    let recovery_codes = app
        .chat
        .new_recovery_codes(&auth.session, &auth.user, &req.password)
        .await?;
    Ok(axum::Json(RecoveryCodes { recovery_codes }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The token of the reset link (`/?reset=TOKEN`).
    token: String,
    /// The new password.
    password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/reset", tag = "accounts", operation_id = "reset_password",
    security(()),
    request_body = ResetRequest,
    responses((status = 204, description = "The password is changed and the account signed out everywhere; sign in with it"),
              (status = 400, description = "The link was used, has expired or is wrong (`fields.token`), or the password is refused", body = ErrorBody),
              (status = 429, description = "Too many attempts from this address", body = ErrorBody)))]
async fn reset(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    check_origin(&app, &headers)?;
    app.chat
        .reset_with_link(&req.token, &req.password, ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    username: String,
}

#[utoipa::path(post, path = "/api/v1/auth/forgot", tag = "accounts", operation_id = "forgot_password",
    security(()),
    request_body = ForgotRequest,
    responses((status = 202, description = "If the account has an email address, a reset link is on its way (the answer is the same either way)"),
              (status = 403, description = "`not_configured`: this server sends no email", body = ErrorBody),
              (status = 429, description = "Too many asked from this address", body = ErrorBody)))]
async fn forgot(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ForgotRequest>,
) -> Result<StatusCode, ApiError> {
    check_origin(&app, &headers)?;
    app.chat.forgot_password(&req.username, ip).await?;
    Ok(StatusCode::ACCEPTED)
}
