//! Invite links into rooms over HTTP: make, list and revoke a room's links (`POST /rooms/join`
//! with `invite` uses one, in `rooms.rs`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiPath, Auth, ClientIp, ErrorBody, optional_json};
use crate::app::AppState;
use crate::domain::{Invite, RoomId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rooms/{id}/invites", post(create).get(list))
        .route("/rooms/{id}/invites/{invite_id}", delete(revoke))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomInviteRequest {
    /// Good for this many seconds (60 to a year); absent: until revoked.
    expires_in_secs: Option<i64>,
    /// Good for this many joins (1 to 10,000); absent: any number.
    max_uses: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct RoomInvite {
    #[serde(flatten)]
    invite: Invite,
    /// The code, shown this once: `POST /rooms/join` takes it as `invite`.
    code: String,
    /// The web client's link that joins with it (relative unless `public_url` is set).
    url: String,
}

#[derive(Serialize, ToSchema)]
pub struct RoomInviteResponse {
    invite: RoomInvite,
}

#[utoipa::path(post, path = "/api/v1/rooms/{id}/invites", tag = "rooms", operation_id = "create_room_invite",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body(content = Option<RoomInviteRequest>, description = "Optional: an expiry and a number of uses"),
    responses((status = 201, body = RoomInviteResponse),
              (status = 403, description = "Your role may not invite here (the room's `invite` entry), or a direct room", body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<RoomInviteResponse>), ApiError> {
    let req: RoomInviteRequest = optional_json(&body, "body")?;
    let made = app
        .chat
        .create_room_invite(&auth.user.id, &id, req.expires_in_secs, req.max_uses)
        .await?;
    let origin = app
        .config
        .public_url
        .as_ref()
        .map_or_else(String::new, ToString::to_string);
    let invite = RoomInvite {
        url: format!("{origin}/?join={}", made.code),
        invite: made.invite,
        code: made.code,
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(RoomInviteResponse { invite }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct RoomInviteList {
    invites: Vec<Invite>,
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/invites", tag = "rooms", operation_id = "room_invites",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "The room's links, newest first, without their codes", body = RoomInviteList),
              (status = 403, description = "Your role may not invite here", body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<axum::Json<RoomInviteList>, ApiError> {
    let invites = app.chat.room_invites(&auth.user.id, &id).await?;
    Ok(axum::Json(RoomInviteList { invites }))
}

#[utoipa::path(delete, path = "/api/v1/rooms/{id}/invites/{invite_id}", tag = "rooms", operation_id = "revoke_room_invite",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("invite_id" = String, Path, description = "The invite's id")),
    responses((status = 204, description = "Revoked: the link no longer joins anyone"),
              (status = 403, description = "Your role may not invite here", body = ErrorBody)))]
async fn revoke(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath((id, invite_id)): ApiPath<(RoomId, String)>,
) -> Result<StatusCode, ApiError> {
    app.chat
        .revoke_room_invite(&auth.user.id, ip, &id, &invite_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
