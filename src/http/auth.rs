//! Accounts over HTTP: register, log in and out, who am I, change password.
//! Signing in answers with a bearer token (for API clients) and sets the session cookie and
//! the readable CSRF cookie (for the browser).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{CSRF_COOKIE, SESSION_COOKIE};
use super::{ApiError, ApiJson, ApiPath, Auth, ClientIp, Https, UserAgent, check_origin};
use crate::app::AppState;
use crate::chat::{Credentials, NewAccount, SignedIn, csrf_token};
use crate::domain::{Session, SessionId, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
        .route("/me/sessions", get(sessions))
        .route("/me/sessions/{id}", axum::routing::delete(revoke_session))
        .route("/me/blocks", get(blocks))
        .route(
            "/me/blocks/{user_id}",
            axum::routing::put(block).delete(unblock),
        )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    username: String,
    password: String,
    display_name: Option<String>,
    /// A server invite's code: needed while registration is `invite`.
    invite: Option<String>,
    /// The one-time setup token from the server's log: the account becomes the first admin.
    setup: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
    /// The code from the authenticator app, or a recovery code, for an account with
    /// two-factor sign-in (without it such an account gets `401 totp_required`).
    totp: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// A new session: the token is shown only here.
#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    user: User,
    /// Bearer token for `Authorization: Bearer <token>`.
    token: String,
    /// For cookie sessions: send as `X-CSRF-Token` on state-changing requests.
    csrf_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user: User,
    /// Your presence choice: `auto`, `away` or `invisible`.
    pub presence: crate::domain::PresenceMode,
    /// Whether others see how far you have read.
    pub send_receipts: bool,
    /// The web client's language (`en`, `es`, `de`, `fr`, `ar`), or empty to follow the
    /// browser's.
    pub locale: String,
    /// Each new sign-in signs out every other session.
    pub one_device: bool,
    /// Where password reset links are sent (empty: none).
    pub email: String,
    /// Signing in takes a code from an authenticator app too.
    pub totp_enabled: bool,
    /// Present for cookie sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

fn signed_in(jar: CookieJar, s: SignedIn, status: StatusCode, https: bool) -> impl IntoResponse {
    let csrf = csrf_token(&s.token);
    let session = Cookie::build((SESSION_COOKIE, s.token.clone()))
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Lax)
        .path("/");
    let csrf_cookie = Cookie::build((CSRF_COOKIE, csrf.clone()))
        .secure(https)
        .same_site(SameSite::Strict)
        .path("/");
    let body = AuthResponse {
        user: s.user,
        token: s.token,
        csrf_token: csrf,
    };
    (status, jar.add(session).add(csrf_cookie), axum::Json(body))
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = RegisterRequest,
    security(()),
    responses((status = 201, body = AuthResponse),
              (status = 403, description = "Sent by a page of another origin", body = super::ErrorBody),
              (status = 409, description = "Username taken", body = super::ErrorBody),
              (status = 429, description = "This address registered `register_per_address_per_hour` accounts within the hour", body = super::ErrorBody,
               headers(("Retry-After" = u64, description = "Seconds until trying again may succeed")))))]
async fn register(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    headers: HeaderMap,
    Https(https): Https,
    jar: CookieJar,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    check_origin(&app, &headers)?;
    let s = app
        .chat
        .register(
            NewAccount {
                username: &req.username,
                password: &req.password,
                display_name: req.display_name.as_deref(),
                invite: req.invite.as_deref(),
                setup: req.setup.as_deref(),
            },
            ip,
            &ua,
        )
        .await?;
    Ok(signed_in(jar, s, StatusCode::CREATED, https))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    security(()),
    responses((status = 200, body = AuthResponse),
              (status = 401, description = "Wrong username or password", body = super::ErrorBody),
              (status = 403, description = "Sent by a page of another origin", body = super::ErrorBody),
              (status = 429, description = "Too many failed attempts", body = super::ErrorBody,
               headers(("Retry-After" = u64, description = "Seconds until trying again may succeed")))))]
async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    headers: HeaderMap,
    Https(https): Https,
    jar: CookieJar,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    check_origin(&app, &headers)?;
    let creds = Credentials {
        username: &req.username,
        password: &req.password,
        totp: req.totp.as_deref(),
    };
    let s = app.chat.login(creds, ip, &ua).await?;
    Ok(signed_in(jar, s, StatusCode::OK, https))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    responses((status = 204, description = "Signed out; this session's sockets are closed")))]
async fn logout(
    State(app): State<AppState>,
    auth: Auth,
    jar: CookieJar,
) -> Result<impl IntoResponse, ApiError> {
    app.chat.logout(&auth.session).await?;
    let jar = jar
        .remove(Cookie::build(SESSION_COOKIE).path("/"))
        .remove(Cookie::build(CSRF_COOKIE).path("/"));
    Ok((StatusCode::NO_CONTENT, jar))
}

#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = MeResponse)))]
async fn me(auth: Auth, jar: CookieJar) -> axum::Json<MeResponse> {
    let csrf_token = match auth.via {
        super::AuthVia::Cookie => jar.get(SESSION_COOKIE).map(|c| csrf_token(c.value())),
        super::AuthVia::Bearer => None,
    };
    axum::Json(MeResponse::of(auth.user, csrf_token))
}

impl MeResponse {
    /// The user as they see themself (their own settings included).
    pub fn of(user: User, csrf_token: Option<String>) -> Self {
        Self {
            presence: user.presence_mode,
            send_receipts: user.send_receipts,
            locale: user.locale.clone(),
            one_device: user.one_device,
            email: user.email.clone(),
            totp_enabled: user.totp_enabled,
            user,
            csrf_token,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/me/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 204, description = "Changed; every other session is signed out"),
              (status = 403, description = "Current password wrong", body = super::ErrorBody),
              (status = 429, description = "Too many wrong current passwords", body = super::ErrorBody,
               headers(("Retry-After" = u64, description = "Seconds until trying again may succeed")))))]
async fn change_password(
    State(app): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    app.chat
        .change_password(&auth.session, &req.current_password, &req.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One signed-in device or browser.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    #[serde(flatten)]
    session: Session,
    /// The session making this request.
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    sessions: Vec<SessionView>,
}

#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "accounts",
    responses((status = 200, description = "Signed-in devices, most recently seen first", body = SessionList)))]
async fn sessions(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<SessionList>, ApiError> {
    let sessions = app.chat.sessions(&auth.user.id).await?;
    let sessions = sessions
        .into_iter()
        .map(|session| SessionView {
            current: session.id == auth.session.id,
            session,
        })
        .collect();
    Ok(axum::Json(SessionList { sessions }))
}

#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "accounts",
    params(("id" = SessionId, Path, description = "One of your sessions, from `GET /me/sessions`")),
    responses((status = 204, description = "Signed out; its sockets are closed")))]
async fn revoke_session(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<SessionId>,
) -> Result<StatusCode, ApiError> {
    app.chat.revoke_session(&auth.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct BlockList {
    /// The people you block, most recent first.
    users: Vec<User>,
}

#[utoipa::path(get, path = "/api/v1/me/blocks", tag = "accounts", operation_id = "blocked_users",
    responses((status = 200, body = BlockList)))]
async fn blocks(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<BlockList>, ApiError> {
    let users = app.chat.blocked(&auth.user.id).await?;
    Ok(axum::Json(BlockList { users }))
}

#[utoipa::path(put, path = "/api/v1/me/blocks/{user_id}", tag = "accounts", operation_id = "block_user",
    params(("user_id" = crate::domain::UserId, Path, description = "Whom to block")),
    responses((status = 204, description = "Blocked: they cannot open or write in a direct room with you; the web client collapses their messages (they are not told)")))]
async fn block(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<crate::domain::UserId>,
) -> Result<StatusCode, ApiError> {
    app.chat.set_block(&auth.user.id, &user_id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/me/blocks/{user_id}", tag = "accounts", operation_id = "unblock_user",
    params(("user_id" = crate::domain::UserId, Path, description = "Whom to unblock")),
    responses((status = 204, description = "Unblocked (also when they were not blocked)")))]
async fn unblock(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<crate::domain::UserId>,
) -> Result<StatusCode, ApiError> {
    app.chat.set_block(&auth.user.id, &user_id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
