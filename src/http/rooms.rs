//! Rooms over HTTP: list, search, create, join, leave, settings, members, roles, bans,
//! delete, and direct rooms.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, Auth, ClientIp, ErrorBody};
use crate::app::AppState;
use crate::chat::{NewRoomRequest, RoomPatch};
use chrono::{DateTime, Utc};

use crate::domain::{NotifyLevel, PresenceStatus, Role, Room, RoomId, Seq, User, UserId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rooms", get(my_rooms).post(create))
        .route("/rooms/public", get(public_rooms))
        .route("/rooms/join", post(join))
        .route("/rooms/seal", get(room_seal))
        .route("/rooms/{id}", get(room).patch(update).delete(remove))
        .route("/rooms/{id}/leave", post(leave))
        .route("/rooms/{id}/members", get(members))
        .route("/rooms/{id}/receipts", get(receipts))
        .route("/rooms/{id}/notify", put(set_notify))
        .route("/rooms/{id}/members/{user_id}/role", put(set_role))
        .route("/rooms/{id}/bans", post(ban).get(bans))
        .route("/rooms/{id}/bans/{user_id}", delete(unban))
        .route("/dms", post(open_direct))
}

#[derive(Serialize, ToSchema)]
pub struct RoomList {
    rooms: Vec<Room>,
}

#[derive(Serialize, ToSchema)]
pub struct RoomResponse {
    room: Room,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Search {
    /// Text the name contains (case-insensitive); empty lists all.
    #[serde(default)]
    q: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The room's name (with `key` for a private room); or leave it out and give `invite`.
    name: Option<String>,
    key: Option<String>,
    /// For a sealed room: the join proof derived from its passphrase (`GET /rooms/seal`
    /// gives what to derive it with). The passphrase itself never goes to the server.
    proof: Option<String>,
    /// An invite link's code: joins the room it leads to, private or not, without a key.
    invite: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    user: User,
    role: Role,
    /// Connected and visible (`presence` is `online` or `away`).
    online: bool,
    presence: PresenceStatus,
    /// When an offline member was last connected (absent if never, or hidden).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct Receipt {
    user_id: UserId,
    /// The member has read every message up to this `seq`.
    read_seq: Seq,
}

#[derive(Serialize, ToSchema)]
pub struct ReceiptList {
    receipts: Vec<Receipt>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyRequest {
    /// `all`, `mentions` or `muted`; `null` returns to the default (`all` for direct rooms,
    /// `mentions` otherwise).
    level: Option<NotifyLevel>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    members: Vec<Member>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    user_id: UserId,
    reason: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `admin` or `member`.
    role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectRequest {
    /// The other person of a direct room.
    user_id: Option<UserId>,
    /// Or 2 to 8 other people: a group conversation (kind `group`), new each time.
    user_ids: Option<Vec<UserId>>,
}

#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms",
    responses((status = 200, description = "The caller's rooms with `unread`, `read_seq`, `role`", body = RoomList)))]
async fn my_rooms(State(app): State<AppState>, auth: Auth) -> Result<Json<RoomList>, ApiError> {
    Ok(Json(RoomList {
        rooms: app.chat.my_rooms(&auth.user.id).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/rooms/public", tag = "rooms", params(Search),
    responses((status = 200, body = RoomList)))]
async fn public_rooms(
    State(app): State<AppState>,
    _auth: Auth,
    ApiQuery(search): ApiQuery<Search>,
) -> Result<Json<RoomList>, ApiError> {
    Ok(Json(RoomList {
        rooms: app.chat.public_rooms(&search.q).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/rooms", tag = "rooms", request_body = NewRoomRequest,
    responses((status = 201, body = RoomResponse), (status = 400, body = ErrorBody),
              (status = 403, description = "The caller owns `max_rooms_per_user` rooms already", body = ErrorBody),
              (status = 409, description = "Name taken, or one that looks like it", body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<NewRoomRequest>,
) -> Result<(StatusCode, Json<RoomResponse>), ApiError> {
    let room = app.chat.create_room(&auth.user, req).await?;
    Ok((StatusCode::CREATED, Json(RoomResponse { room })))
}

#[utoipa::path(post, path = "/api/v1/rooms/join", tag = "rooms", request_body = JoinRequest,
    responses((status = 200, body = RoomResponse),
              (status = 400, description = "Neither `name` nor `invite`, or an invite unknown, used up, expired or revoked (`fields.invite`)", body = ErrorBody),
              (status = 403, description = "Key missing or wrong, or banned", body = ErrorBody),
              (status = 404, description = "No room of that name (that you may see)", body = ErrorBody),
              (status = 429, description = "Too many wrong keys", body = ErrorBody,
               headers(("Retry-After" = u64, description = "Seconds until trying again may succeed")))))]
async fn join(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<JoinRequest>,
) -> Result<Json<RoomResponse>, ApiError> {
    let room = match (&req.invite, &req.name) {
        (Some(code), _) => app.chat.join_by_invite(&auth.user, code).await?,
        (None, Some(name)) => {
            app.chat
                .join(
                    &auth.user,
                    name,
                    req.key.as_deref(),
                    req.proof.as_deref(),
                    ip,
                )
                .await?
        }
        (None, None) => {
            return Err(crate::chat::invalid("name", "give the room's name or an invite").into());
        }
    };
    Ok(Json(RoomResponse { room }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SealQuery {
    /// The sealed room's name.
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SealResponse {
    /// Null when the room is not sealed.
    seal: Option<crate::domain::Seal>,
}

#[utoipa::path(get, path = "/api/v1/rooms/seal", tag = "rooms", params(SealQuery),
    responses((status = 200, description = "For a sealed room, how to derive the join proof from the passphrase (without `check`); null for other rooms", body = SealResponse),
              (status = 404, description = "No room of that name", body = ErrorBody)))]
/// Whether a room is sealed, and what a browser needs to derive its join proof from the
/// passphrase: asked before joining by name, so a passphrase is never sent as a key.
async fn room_seal(
    State(app): State<AppState>,
    _auth: Auth,
    ApiQuery(q): ApiQuery<SealQuery>,
) -> Result<Json<SealResponse>, ApiError> {
    let seal = app.chat.room_seal(&q.name).await?;
    Ok(Json(SealResponse { seal }))
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, body = RoomResponse),
              (status = 403, description = "Not a member, or banned", body = ErrorBody)))]
async fn room(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<Json<RoomResponse>, ApiError> {
    let (room, m) = app.chat.member_of(&id, &auth.user.id).await?;
    let unread = app
        .chat
        .store
        .unread(&id, &auth.user.id)
        .await
        .map_err(crate::chat::Error::from)?;
    Ok(Json(RoomResponse {
        room: room.for_member(&m, unread),
    }))
}

#[utoipa::path(patch, path = "/api/v1/rooms/{id}", tag = "rooms", operation_id = "update_room",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = RoomPatch,
    responses((status = 200, body = RoomResponse),
              (status = 403, description = "Not the owner or an admin", body = ErrorBody)))]
async fn update(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(patch): ApiJson<RoomPatch>,
) -> Result<Json<RoomResponse>, ApiError> {
    let room = app.chat.update_room(&auth.user.id, ip, &id, patch).await?;
    Ok(Json(RoomResponse { room }))
}

#[utoipa::path(delete, path = "/api/v1/rooms/{id}", tag = "rooms", operation_id = "delete_room",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 204, description = "Deleted with its messages; members told"),
              (status = 403, description = "Not the owner", body = ErrorBody)))]
async fn remove(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<StatusCode, ApiError> {
    app.chat.delete_room(&auth.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/rooms/{id}/leave", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 204, description = "Left"),
              (status = 403, description = "Not a member, or banned", body = ErrorBody),
              (status = 409, description = "Owner or direct room", body = ErrorBody)))]
async fn leave(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<StatusCode, ApiError> {
    app.chat.leave(&auth.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/members", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, body = MemberList),
              (status = 403, description = "Banned", body = ErrorBody)))]
async fn members(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<Json<MemberList>, ApiError> {
    let mut members = Vec::new();
    for (user, m) in app.chat.members(&auth.user.id, &id).await? {
        let (presence, last_seen) = app.chat.presence_of(&user.id).await?;
        let online = presence != PresenceStatus::Offline;
        members.push(Member {
            user,
            role: m.role,
            online,
            presence,
            last_seen,
        });
    }
    Ok(Json(MemberList { members }))
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/receipts", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "How far each member who shares receipts has read", body = ReceiptList),
              (status = 403, description = "Not a member, or banned", body = ErrorBody)))]
async fn receipts(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<Json<ReceiptList>, ApiError> {
    let receipts = app.chat.receipts(&auth.user.id, &id).await?;
    let receipts = receipts
        .into_iter()
        .map(|(user_id, read_seq)| Receipt { user_id, read_seq })
        .collect();
    Ok(Json(ReceiptList { receipts }))
}

#[utoipa::path(put, path = "/api/v1/rooms/{id}/notify", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = NotifyRequest,
    responses((status = 200, description = "The room with your new `notify` level", body = RoomResponse),
              (status = 403, description = "Not a member, or banned", body = ErrorBody)))]
async fn set_notify(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<NotifyRequest>,
) -> Result<Json<RoomResponse>, ApiError> {
    let room = app.chat.set_notify(&auth.user.id, &id, req.level).await?;
    Ok(Json(RoomResponse { room }))
}

#[utoipa::path(put, path = "/api/v1/rooms/{id}/members/{user_id}/role", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("user_id" = UserId, Path, description = "The member's id")),
    request_body = RoleRequest,
    responses((status = 204, description = "Role set"),
              (status = 403, description = "Not the owner, or not allowed for that member", body = ErrorBody)))]
async fn set_role(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath((id, user_id)): ApiPath<(RoomId, UserId)>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<StatusCode, ApiError> {
    app.chat
        .set_role(&auth.user.id, ip, &id, &user_id, req.role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/rooms/{id}/bans", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = BanRequest,
    responses((status = 204, description = "Banned: removed and disconnected from the room"),
              (status = 403, description = "You may not ban this user", body = ErrorBody)))]
async fn ban(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<BanRequest>,
) -> Result<StatusCode, ApiError> {
    let reason = req.reason.unwrap_or_default();
    app.chat
        .ban(&auth.user.id, ip, &id, &req.user_id, &reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Ban {
    user: User,
    reason: String,
    created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct BanList {
    bans: Vec<Ban>,
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/bans", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "Banned users, newest first (owner and admins)", body = BanList),
              (status = 403, description = "Not the owner or an admin", body = ErrorBody)))]
async fn bans(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<Json<BanList>, ApiError> {
    let bans = app.chat.bans(&auth.user.id, &id).await?;
    let bans = bans
        .into_iter()
        .map(|(user, reason, created_at)| Ban {
            user,
            reason,
            created_at,
        })
        .collect();
    Ok(Json(BanList { bans }))
}

#[utoipa::path(delete, path = "/api/v1/rooms/{id}/bans/{user_id}", tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("user_id" = UserId, Path, description = "The banned user's id")),
    responses((status = 204, description = "Unbanned"),
              (status = 403, description = "Not the owner or an admin", body = ErrorBody)))]
async fn unban(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath((id, user_id)): ApiPath<(RoomId, UserId)>,
) -> Result<StatusCode, ApiError> {
    app.chat.unban(&auth.user.id, ip, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/dms", tag = "rooms", request_body = DirectRequest,
    responses((status = 200, description = "The direct room of the two users, created once; or a new group conversation", body = RoomResponse),
              (status = 400, description = "Neither `user_id` nor `user_ids`, both, or a group not of 3 to 9 people", body = ErrorBody),
              (status = 403, description = "The other person (or one of them) blocks you", body = ErrorBody),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 429, description = "Too many group conversations started for now", body = ErrorBody)))]
async fn open_direct(
    State(app): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<DirectRequest>,
) -> Result<Json<RoomResponse>, ApiError> {
    let room = match (&req.user_id, &req.user_ids) {
        (Some(other), None) => app.chat.open_direct(&auth.user, other).await?,
        (None, Some(others)) => app.chat.open_group(&auth.user, others).await?,
        _ => {
            let why = "give user_id (a direct room) or user_ids (a group)";
            return Err(crate::chat::invalid("user_id", why).into());
        }
    };
    Ok(Json(RoomResponse { room }))
}
