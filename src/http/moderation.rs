//! Moderating a room over HTTP, beside bans (`rooms.rs`): kick a member, mute one for a while
//! or until unmuted, list and lift mutes; report a message, and see and close a room's
//! reports. Who may is the room's permission table; every action is written to the audit log
//! with the caller's address.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, Auth, ClientIp, ErrorBody};
use crate::app::AppState;
use crate::domain::{Report, Resolution, RoomId, UserId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rooms/{id}/members/{user_id}", delete(kick))
        .route("/rooms/{id}/mutes", post(mute).get(mutes))
        .route("/rooms/{id}/mutes/{user_id}", delete(unmute))
        .route("/rooms/{id}/messages/{seq}/report", post(report))
        .route("/rooms/{id}/reports", get(room_reports))
        .route("/reports/{id}/resolve", post(resolve))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Why (1 to 500 characters), for the moderators.
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/rooms/{id}/messages/{seq}/report", tag = "rooms", operation_id = "report_message",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("seq" = i64, Path, description = "The message's seq")),
    request_body = ReportRequest,
    responses((status = 204, description = "Reported: the room's moderators and the server's admins get `report_filed`"),
              (status = 403, description = "Not a member, or your own message", body = ErrorBody),
              (status = 404, description = "No such message that you may read", body = ErrorBody),
              (status = 409, description = "You reported it already", body = ErrorBody),
              (status = 429, description = "Too many reports from you for now", body = ErrorBody)))]
async fn report(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath((id, seq)): ApiPath<(RoomId, i64)>,
    ApiJson(req): ApiJson<ReportRequest>,
) -> Result<StatusCode, ApiError> {
    app.chat
        .report_message(&auth.user.id, &id, seq, &req.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `true`: closed reports too (else open ones only).
    #[serde(default)]
    pub(super) all: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ReportList {
    pub(super) reports: Vec<Report>,
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/reports", tag = "rooms", operation_id = "room_reports",
    params(("id" = RoomId, Path, description = "The room's id"), ReportQuery),
    responses((status = 200, description = "Up to 200 of the room's reports, newest first", body = ReportList),
              (status = 403, description = "Neither a moderator of the room (who may delete others' messages) nor a server admin", body = ErrorBody)))]
async fn room_reports(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<axum::Json<ReportList>, ApiError> {
    let reports = app.chat.reports(&auth.user, Some(&id), q.all).await?;
    Ok(axum::Json(ReportList { reports }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `dismissed`, `message_deleted`, `banned` (the sender, from the room) or `deactivated`
    /// (the sender's account; server admins only).
    resolution: Resolution,
}

#[derive(Serialize, ToSchema)]
pub struct ReportResponse {
    report: Report,
}

#[utoipa::path(post, path = "/api/v1/reports/{id}/resolve", tag = "rooms", operation_id = "resolve_report",
    params(("id" = String, Path, description = "The report's id")),
    request_body = ResolveRequest,
    responses((status = 200, description = "Carried out and closed, with every other open report of the message", body = ReportResponse),
              (status = 403, description = "Neither a moderator of the room nor a server admin, or not allowed the action", body = ErrorBody),
              (status = 409, description = "Closed already, or the message is gone (only `dismissed` is left)", body = ErrorBody)))]
async fn resolve(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<axum::Json<ReportResponse>, ApiError> {
    let report = app
        .chat
        .resolve_report(&auth.user, ip, &id, req.resolution)
        .await?;
    Ok(axum::Json(ReportResponse { report }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KickRequest {
    /// Shown in the audit log; at most 256 characters.
    #[serde(default)]
    reason: String,
}

#[utoipa::path(delete, path = "/api/v1/rooms/{id}/members/{user_id}", tag = "rooms", operation_id = "kick_member",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("user_id" = UserId, Path, description = "The member to remove")),
    request_body(content = Option<KickRequest>, description = "Optional: a reason"),
    responses((status = 204, description = "Removed (not banned: they may join again); the room gets `member_left` with `\"kicked\": true`"),
              (status = 403, description = "Not allowed by the room's table, or the member ranks as high", body = ErrorBody),
              (status = 404, description = "No such room or member", body = ErrorBody)))]
async fn kick(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath((id, user_id)): ApiPath<(RoomId, UserId)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let req: KickRequest = super::optional_json(&body, "reason")?;
    app.chat
        .kick(&auth.user.id, ip, &id, &user_id, &req.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    user_id: UserId,
    /// When the mute ends (within a year); absent or null: until unmuted.
    #[serde(default)]
    until: Option<DateTime<Utc>>,
}

#[utoipa::path(post, path = "/api/v1/rooms/{id}/mutes", tag = "rooms", operation_id = "mute_member",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = MuteRequest,
    responses((status = 204, description = "Muted: their sends, edits and reactions get `forbidden` until then"),
              (status = 400, description = "`until` in the past or more than a year ahead", body = ErrorBody),
              (status = 403, description = "Not allowed by the room's table, or the member ranks as high", body = ErrorBody),
              (status = 404, description = "No such room or member", body = ErrorBody)))]
async fn mute(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<MuteRequest>,
) -> Result<StatusCode, ApiError> {
    app.chat
        .mute(&auth.user.id, ip, &id, &req.user_id, req.until)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/rooms/{id}/mutes/{user_id}", tag = "rooms", operation_id = "unmute_member",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("user_id" = UserId, Path, description = "The muted member")),
    responses((status = 204, description = "Unmuted"),
              (status = 404, description = "No such room, member or mute", body = ErrorBody)))]
async fn unmute(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath((id, user_id)): ApiPath<(RoomId, UserId)>,
) -> Result<StatusCode, ApiError> {
    app.chat.unmute(&auth.user.id, ip, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Mute {
    user_id: UserId,
    /// `null`: until unmuted.
    until: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct MuteList {
    mutes: Vec<Mute>,
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/mutes", tag = "rooms", operation_id = "list_mutes",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "The mutes in force", body = MuteList),
              (status = 403, description = "Not allowed to mute here", body = ErrorBody)))]
async fn mutes(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<axum::Json<MuteList>, ApiError> {
    let mutes = app.chat.mutes(&auth.user.id, &id).await?;
    Ok(axum::Json(MuteList {
        mutes: mutes
            .into_iter()
            .map(|(user_id, until)| Mute { user_id, until })
            .collect(),
    }))
}
