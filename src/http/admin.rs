//! Server administration over HTTP, under `/admin/` (server admins only; `403` to anyone
//! else): the dashboard, accounts, every room, reports, settings, server invites and the audit
//! log (read, filtered, exported as CSV or JSON). Also `GET /server`, what anyone may know of
//! the server (its name, welcome text, who may register).

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, Auth, ClientIp, ErrorBody, optional_json};
use crate::app::AppState;
use crate::chat::admin::AccountPatch;
use crate::domain::{
    AccountSummary, AuditFilter, AuditRecord, Invite, Room, RoomId, ServerSettings, Session,
    Totals, UserId,
};
use crate::protocol::ServerInfo;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/server", get(server))
        .route("/admin/dashboard", get(dashboard))
        .route("/admin/users", get(users))
        .route(
            "/admin/users/{id}",
            get(user).patch(update_user).delete(delete_user),
        )
        .route("/admin/users/{id}/sign-out", post(sign_out))
        .route("/admin/users/{id}/reset-link", post(reset_link))
        .route("/admin/rooms", get(rooms))
        .route("/admin/rooms/{id}", delete(delete_room))
        .route("/admin/rooms/{id}/messages", get(read_room))
        .route("/admin/rooms/{id}/members", get(room_members))
        .route("/rooms/{id}/audit", get(room_audit))
        .route("/admin/reports", get(reports))
        .route("/admin/settings", get(settings).patch(update_settings))
        .route("/admin/invites", get(invites).post(invite))
        .route("/admin/invites/{id}", delete(revoke_invite))
        .route("/admin/audit", get(audit))
}

/// When this process started (the dashboard's message rate is over its life and its samples).
static STARTED: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

/// Makes sure the start time is taken when the router is built, not at the first dashboard.
pub fn mark_start() {
    std::sync::LazyLock::force(&STARTED);
}

#[utoipa::path(get, path = "/api/v1/server", tag = "admin", operation_id = "server_info",
    security(()),
    responses((status = 200, body = ServerInfo)))]
async fn server(State(app): State<AppState>) -> Result<axum::Json<ServerInfo>, ApiError> {
    let settings = app.chat.settings();
    let admins = app
        .chat
        .store
        .admin_ids()
        .await
        .map_err(crate::chat::Error::from)?;
    Ok(axum::Json(ServerInfo {
        name: settings.settings.server_name.clone(),
        welcome_text: settings.settings.welcome_text.clone(),
        registration: settings.settings.registration,
        needs_setup: admins.is_empty(),
        version: env!("CARGO_PKG_VERSION"),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Dashboard {
    totals: Totals,
    /// Bytes the uploaded files take (each distinct file once).
    stored_bytes: i64,
    /// Open WebSocket connections on the node that answered.
    connections: usize,
    /// Messages the answering node committed since it started, and for how long it has run:
    /// two readings a few seconds apart give the message rate.
    messages_stored: u64,
    uptime_secs: f64,
}

#[utoipa::path(get, path = "/api/v1/admin/dashboard", tag = "admin", operation_id = "admin_dashboard",
    responses((status = 200, body = Dashboard),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn dashboard(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<Dashboard>, ApiError> {
    let totals = app.chat.totals(&auth.user).await?;
    let storage = app
        .chat
        .store
        .storage_totals(1)
        .await
        .map_err(crate::chat::Error::from)?;
    Ok(axum::Json(Dashboard {
        totals,
        stored_bytes: storage.stored_bytes,
        connections: app.hub.connection_count(),
        messages_stored: crate::metrics::STORED.load(std::sync::atomic::Ordering::Relaxed),
        uptime_secs: STARTED.elapsed().as_secs_f64(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Search {
    /// Part of a username or display name (of a room's name, for rooms); empty: all.
    #[serde(default)]
    q: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    users: Vec<AccountSummary>,
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", operation_id = "admin_users",
    params(Search),
    responses((status = 200, description = "Up to 200 accounts, deactivated ones included", body = AccountList),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn users(
    State(app): State<AppState>,
    auth: Auth,
    ApiQuery(search): ApiQuery<Search>,
) -> Result<axum::Json<AccountList>, ApiError> {
    let users = app.chat.admin_accounts(&auth.user, &search.q).await?;
    Ok(axum::Json(AccountList { users }))
}

#[derive(Serialize, ToSchema)]
pub struct AccountDetail {
    user: AccountSummary,
    sessions: Vec<Session>,
}

#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", operation_id = "admin_user",
    params(("id" = UserId, Path, description = "The user's id")),
    responses((status = 200, body = AccountDetail),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn user(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<UserId>,
) -> Result<axum::Json<AccountDetail>, ApiError> {
    let (user, sessions) = app.chat.admin_account(&auth.user, &id).await?;
    Ok(axum::Json(AccountDetail { user, sessions }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// `true` deactivates (signing the user out everywhere at once), `false` reactivates.
    deactivated: Option<bool>,
    is_admin: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountResponse {
    user: AccountSummary,
}

#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", operation_id = "admin_update_user",
    params(("id" = UserId, Path, description = "The user's id")),
    request_body = AccountChange,
    responses((status = 200, body = AccountResponse),
              (status = 403, description = "Not a server admin", body = ErrorBody),
              (status = 409, description = "It would leave the server without an active admin", body = ErrorBody)))]
async fn update_user(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(req): ApiJson<AccountChange>,
) -> Result<axum::Json<AccountResponse>, ApiError> {
    let patch = AccountPatch {
        deactivated: req.deactivated,
        is_admin: req.is_admin,
    };
    let user = app
        .chat
        .admin_update_account(&auth.user, ip, &id, patch)
        .await?;
    Ok(axum::Json(AccountResponse { user }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteUserQuery {
    /// `delete`: their messages are deleted too; `keep`: they stay, from "Deleted user".
    messages: String,
}

#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin", operation_id = "admin_delete_user",
    params(("id" = UserId, Path, description = "The user's id"), DeleteUserQuery),
    responses((status = 204, description = "Deleted: signed out everywhere, out of every room (owned rooms pass to their highest-ranking member, or are deleted when empty); the account stays only as the \"Deleted user\" its kept messages name"),
              (status = 403, description = "Not a server admin, or your own account", body = ErrorBody),
              (status = 409, description = "The last active admin", body = ErrorBody)))]
async fn delete_user(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<UserId>,
    ApiQuery(q): ApiQuery<DeleteUserQuery>,
) -> Result<StatusCode, ApiError> {
    let with_content = match q.messages.as_str() {
        "delete" => true,
        "keep" => false,
        _ => return Err(crate::chat::invalid("messages", "must be delete or keep").into()),
    };
    app.chat
        .admin_delete_user(&auth.user, ip, &id, with_content)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/sign-out", tag = "admin", operation_id = "admin_sign_out_user",
    params(("id" = UserId, Path, description = "The user's id")),
    responses((status = 204, description = "Every session ended; the user's sockets close on every node"),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn sign_out(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    app.chat.admin_sign_out(&auth.user, ip, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ResetLinkResponse {
    /// The link that sets a new password, once (relative unless `public_url` is set).
    url: String,
    expires_at: DateTime<Utc>,
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/reset-link", tag = "admin", operation_id = "admin_reset_link",
    params(("id" = UserId, Path, description = "The user's id")),
    responses((status = 201, description = "A one-time link, good for 24 hours, to hand to the user", body = ResetLinkResponse),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn reset_link(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<UserId>,
) -> Result<(StatusCode, axum::Json<ResetLinkResponse>), ApiError> {
    let link = app.chat.admin_reset_link(&auth.user, ip, &id).await?;
    let origin = app
        .config
        .public_url
        .as_ref()
        .map_or_else(String::new, ToString::to_string);
    Ok((
        StatusCode::CREATED,
        axum::Json(ResetLinkResponse {
            url: format!("{origin}{}", link.path),
            expires_at: link.expires_at,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct AdminRoom {
    #[serde(flatten)]
    room: Room,
    member_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AdminRoomList {
    rooms: Vec<AdminRoom>,
}

#[utoipa::path(get, path = "/api/v1/admin/rooms", tag = "admin", operation_id = "admin_rooms",
    params(Search),
    responses((status = 200, description = "Up to 200 rooms, newest first, private and direct ones included", body = AdminRoomList),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn rooms(
    State(app): State<AppState>,
    auth: Auth,
    ApiQuery(search): ApiQuery<Search>,
) -> Result<axum::Json<AdminRoomList>, ApiError> {
    let rooms = app.chat.admin_rooms(&auth.user, &search.q).await?;
    let rooms = rooms
        .into_iter()
        .map(|(room, member_count)| AdminRoom { room, member_count })
        .collect();
    Ok(axum::Json(AdminRoomList { rooms }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Before {
    /// Only entries (or messages) older than this id (or `seq`); default: the newest.
    before: Option<i64>,
    /// For messages: 1-200, default 50.
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/admin/rooms/{id}/messages", tag = "admin", operation_id = "admin_read_room",
    params(("id" = RoomId, Path, description = "The room's id"), Before),
    responses((status = 200, description = "A page of the room's messages, oldest first; the read is written to the audit log first (which the room's owner sees). A cookie session must send `X-CSRF-Token` here too", body = super::messages::MessagePage),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn read_room(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<RoomId>,
    ApiQuery(q): ApiQuery<Before>,
) -> Result<axum::Json<super::messages::MessagePage>, ApiError> {
    auth.require_csrf(&headers)?;
    let page = app
        .chat
        .admin_read_room(&auth.user, ip, &id, q.before, q.limit.unwrap_or(50))
        .await?;
    Ok(axum::Json(super::messages::MessagePage {
        messages: page.messages,
        history_start: page.history_start,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct AdminMember {
    user: crate::domain::User,
    role: crate::domain::Role,
}

#[derive(Serialize, ToSchema)]
pub struct AdminMemberList {
    members: Vec<AdminMember>,
}

#[utoipa::path(get, path = "/api/v1/admin/rooms/{id}/members", tag = "admin", operation_id = "admin_room_members",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "Any room's members and their roles, private and direct rooms too", body = AdminMemberList),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn room_members(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<axum::Json<AdminMemberList>, ApiError> {
    let members = app.chat.admin_room_members(&auth.user, &id).await?;
    let members = members
        .into_iter()
        .map(|(user, m)| AdminMember { user, role: m.role })
        .collect();
    Ok(axum::Json(AdminMemberList { members }))
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/audit", tag = "rooms", operation_id = "room_audit_log",
    params(("id" = RoomId, Path, description = "The room's id"), Before),
    responses((status = 200, description = "The room's last 100 audit entries (before `before`), newest first: moderation, settings, admins reading it", body = AuditList),
              (status = 403, description = "Not the room's owner or an admin of it", body = ErrorBody)))]
async fn room_audit(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
    ApiQuery(q): ApiQuery<Before>,
) -> Result<axum::Json<AuditList>, ApiError> {
    let entries = app
        .chat
        .room_audit_log(&auth.user.id, &id, q.before)
        .await?;
    Ok(axum::Json(AuditList { entries }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Written to the audit log; at most 256 characters.
    #[serde(default)]
    reason: String,
}

#[utoipa::path(delete, path = "/api/v1/admin/rooms/{id}", tag = "admin", operation_id = "admin_delete_room",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body(content = Option<ReasonBody>, description = "Optional: a reason"),
    responses((status = 204, description = "Deleted with its messages; its members get `room_deleted`"),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn delete_room(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<RoomId>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let req: ReasonBody = optional_json(&body, "reason")?;
    app.chat
        .admin_delete_room(&auth.user, ip, &id, &req.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/admin/reports", tag = "admin", operation_id = "admin_reports",
    params(super::moderation::ReportQuery),
    responses((status = 200, description = "Up to 200 reports of every room, newest first", body = super::moderation::ReportList),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn reports(
    State(app): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<super::moderation::ReportQuery>,
) -> Result<axum::Json<super::moderation::ReportList>, ApiError> {
    let reports = app.chat.reports(&auth.user, None, q.all).await?;
    Ok(axum::Json(super::moderation::ReportList { reports }))
}

/// The settings themselves, at the top level (`{registration, server_name, …}`).
#[derive(Serialize, ToSchema)]
pub struct SettingsResponse {
    #[serde(flatten)]
    settings: ServerSettings,
}

#[utoipa::path(get, path = "/api/v1/admin/settings", tag = "admin", operation_id = "admin_settings",
    responses((status = 200, body = SettingsResponse),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn settings(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<SettingsResponse>, ApiError> {
    app.chat.require_admin(&auth.user)?;
    Ok(axum::Json(SettingsResponse {
        settings: app.chat.settings().settings.clone(),
    }))
}

#[utoipa::path(patch, path = "/api/v1/admin/settings", tag = "admin", operation_id = "admin_update_settings",
    request_body(content = Object, description = "Any of the settings' fields; each is checked before any is kept"),
    responses((status = 200, description = "The settings now in force, on every node", body = SettingsResponse),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn update_settings(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiJson(patch): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<axum::Json<SettingsResponse>, ApiError> {
    let now = app.chat.update_settings(&auth.user, ip, &patch).await?;
    Ok(axum::Json(SettingsResponse {
        settings: now.settings.clone(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Good for this many seconds (60 to a year); absent: until revoked.
    expires_in_secs: Option<i64>,
    /// Good for this many registrations (1 to 10,000); absent: any number.
    max_uses: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct NewInvite {
    #[serde(flatten)]
    invite: Invite,
    /// The code, shown this once (only its hash is kept).
    code: String,
    /// The sign-up page with the code filled in (relative unless `public_url` is set).
    url: String,
}

#[derive(Serialize, ToSchema)]
pub struct NewInviteResponse {
    invite: NewInvite,
}

#[utoipa::path(post, path = "/api/v1/admin/invites", tag = "admin", operation_id = "admin_create_invite",
    request_body(content = Option<InviteRequest>, description = "Optional: an expiry and a number of uses"),
    responses((status = 201, body = NewInviteResponse),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn invite(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<NewInviteResponse>), ApiError> {
    let req: InviteRequest = optional_json(&body, "body")?;
    let made = app
        .chat
        .admin_invite(&auth.user, ip, req.expires_in_secs, req.max_uses)
        .await?;
    let origin = app
        .config
        .public_url
        .as_ref()
        .map_or_else(String::new, ToString::to_string);
    let url = format!("{origin}/?invite={}", made.code);
    let invite = NewInvite {
        invite: made.invite,
        code: made.code,
        url,
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(NewInviteResponse { invite }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct InviteList {
    invites: Vec<Invite>,
}

#[utoipa::path(get, path = "/api/v1/admin/invites", tag = "admin", operation_id = "admin_invites",
    responses((status = 200, description = "The server's invites, newest first (without their codes)", body = InviteList),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn invites(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<InviteList>, ApiError> {
    let invites = app.chat.admin_invites(&auth.user).await?;
    Ok(axum::Json(InviteList { invites }))
}

#[utoipa::path(delete, path = "/api/v1/admin/invites/{id}", tag = "admin", operation_id = "admin_revoke_invite",
    params(("id" = String, Path, description = "The invite's id")),
    responses((status = 204, description = "Revoked: its code no longer registers anyone"),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn revoke_invite(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.chat.admin_revoke_invite(&auth.user, ip, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor's entries (a user id).
    actor: Option<UserId>,
    /// Only this action (`member_banned`, `user_deactivated`, `settings_changed`, …).
    action: Option<String>,
    /// Only entries about this room.
    room_id: Option<RoomId>,
    /// Only entries with this target (a user id, a `seq`, a setting's name).
    target: Option<String>,
    /// Only entries at or after this time.
    since: Option<DateTime<Utc>>,
    /// Only entries at or before this time.
    until: Option<DateTime<Utc>>,
    /// Entries older than this entry id (paging back).
    before: Option<i64>,
    /// At most this many (default 100; up to 10,000 for an export).
    limit: Option<i64>,
    /// `csv` or `json`: the entries as a file to download.
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    entries: Vec<AuditRecord>,
}

#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", operation_id = "admin_audit_log",
    params(AuditQuery),
    responses((status = 200, description = "Entries, newest first; with `format`, a file to download (`text/csv` or `application/json`)", body = AuditList),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn audit(
    State(app): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let export = match q.format.as_deref() {
        None => None,
        Some(f @ ("csv" | "json")) => Some(f.to_owned()),
        Some(_) => {
            return Err(crate::chat::invalid("format", "must be csv or json").into());
        }
    };
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action.filter(|a| !a.is_empty()),
        room: q.room_id,
        target: q.target.filter(|t| !t.is_empty()),
        since: q.since,
        until: q.until,
        before: q.before,
        limit: q
            .limit
            .unwrap_or(if export.is_some() { 10_000 } else { 100 }),
    };
    let entries = app.chat.audit_log(&auth.user, filter).await?;
    let stamp = Utc::now().format("%Y%m%d-%H%M%S");
    let attachment = |ext: &str| format!("attachment; filename=\"natter-audit-{stamp}.{ext}\"");
    Ok(match export.as_deref() {
        Some("csv") => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, attachment("csv")),
            ],
            audit_csv(&entries),
        )
            .into_response(),
        Some(_) => (
            [(header::CONTENT_DISPOSITION, attachment("json"))],
            axum::Json(AuditList { entries }),
        )
            .into_response(),
        None => axum::Json(AuditList { entries }).into_response(),
    })
}

/// The entries as CSV (RFC 4180): every field quoted. A field a spreadsheet would run as a
/// formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`.
fn audit_csv(entries: &[AuditRecord]) -> String {
    fn field(out: &mut String, value: &str) {
        out.push('"');
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    }
    let mut out = String::from(
        "id,ts,actor,actor_username,action,room_id,target,target_username,reason,address\r\n",
    );
    for e in entries {
        let row = [
            e.id.to_string(),
            e.ts.to_rfc3339(),
            e.actor.to_string(),
            e.actor_username.clone().unwrap_or_default(),
            e.action.clone(),
            e.room_id
                .as_ref()
                .map_or_else(String::new, ToString::to_string),
            e.target.clone(),
            e.target_username.clone().unwrap_or_default(),
            e.reason.clone(),
            e.address.clone(),
        ];
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, value);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_every_field_and_defuses_formulas() {
        let entry = AuditRecord {
            id: 7,
            ts: DateTime::from_timestamp(0, 0).unwrap(),
            actor: "u1".into(),
            actor_username: None,
            action: "member_banned".into(),
            room_id: Some("r1".into()),
            target: "=HYPERLINK(\"x\")".into(),
            target_username: None,
            reason: "spam, \"again\"\nand again".into(),
            address: "203.0.113.9".into(),
        };
        let csv = audit_csv(&[entry]);
        let line = csv.lines().nth(1).unwrap();
        assert!(line.starts_with("\"7\",\"1970-01-01T00:00:00+00:00\",\"u1\",\"\",\"member_banned\",\"r1\",\"'=HYPERLINK(\"\"x\"\")\",\"\",\"spam, \"\"again\"\""));
        assert!(csv.contains("and again\",\"203.0.113.9\"\r\n"));
    }
}
