//! Changes to messages over HTTP: edit, delete, react, pin, and reading the pinned list and a
//! message's earlier texts. Each change is a timeline event the room hears live.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::messages::MessageResponse;
use super::{ApiError, ApiJson, ApiPath, Auth, ClientIp, ErrorBody};
use crate::app::AppState;
use crate::domain::{Message, RoomId, Seq};
use crate::store::EditRecord;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/rooms/{id}/messages/{seq}",
            axum::routing::patch(edit).delete(remove),
        )
        .route("/rooms/{id}/messages/{seq}/edits", get(edits))
        .route(
            "/rooms/{id}/messages/{seq}/reactions/{emoji}",
            put(react).delete(unreact),
        )
        .route("/rooms/{id}/pins", get(pins))
        .route("/rooms/{id}/pins/{seq}", put(pin).delete(unpin))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    body: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// Why (for moderators deleting another's message; kept in the audit log). At most 500
    /// characters.
    reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EditList {
    /// The texts before each edit, oldest first (the current text is the message's).
    edits: Vec<EditRecord>,
}

#[derive(Serialize, ToSchema)]
pub struct PinList {
    /// The most recently pinned first (at most 100).
    messages: Vec<Message>,
}

#[utoipa::path(patch, path = "/api/v1/rooms/{id}/messages/{seq}", tag = "messages", operation_id = "edit_message",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("seq" = i64, Path, description = "The message's seq")),
    request_body = EditRequest,
    responses((status = 200, description = "The message in its new state", body = MessageResponse),
              (status = 403, description = "Not the sender, or past the edit window", body = ErrorBody),
              (status = 404, description = "No such message (or it was deleted)", body = ErrorBody),
              (status = 429, description = "Sending too fast", body = ErrorBody,
               headers(("Retry-After" = u64, description = "Seconds until trying again may succeed")))))]
async fn edit(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath((id, seq)): ApiPath<(RoomId, Seq)>,
    ApiJson(req): ApiJson<EditRequest>,
) -> Result<axum::Json<MessageResponse>, ApiError> {
    let message = app.chat.edit(&auth.user.id, &id, seq, req.body).await?;
    Ok(axum::Json(MessageResponse { message }))
}

#[utoipa::path(delete, path = "/api/v1/rooms/{id}/messages/{seq}", tag = "messages", operation_id = "delete_message",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("seq" = i64, Path, description = "The message's seq")),
    request_body(content = Option<DeleteRequest>, description = "Optional: a reason"),
    responses((status = 204, description = "Deleted: a tombstone keeps the seq and sender; text, edits, reactions and pin are erased"),
              (status = 403, description = "Neither the sender nor a moderator above them", body = ErrorBody),
              (status = 404, description = "No such message (or it was deleted)", body = ErrorBody)))]
async fn remove(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath((id, seq)): ApiPath<(RoomId, Seq)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let req: DeleteRequest = super::optional_json(&body, "reason")?;
    app.chat
        .delete_message(&auth.user.id, ip, &id, seq, req.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/messages/{seq}/edits", tag = "messages", operation_id = "message_edits",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("seq" = i64, Path, description = "The message's seq")),
    responses((status = 200, description = "Earlier texts (moderators and up)", body = EditList),
              (status = 403, description = "Not a moderator", body = ErrorBody)))]
async fn edits(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath((id, seq)): ApiPath<(RoomId, Seq)>,
) -> Result<axum::Json<EditList>, ApiError> {
    let edits = app.chat.edits(&auth.user.id, &id, seq).await?;
    Ok(axum::Json(EditList { edits }))
}

#[utoipa::path(put, path = "/api/v1/rooms/{id}/messages/{seq}/reactions/{emoji}", tag = "messages", operation_id = "add_reaction",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("seq" = i64, Path, description = "The message's seq"),
           ("emoji" = String, Path, description = "One emoji, percent-encoded")),
    responses((status = 204, description = "Reacted (again: nothing changes)"),
              (status = 400, description = "Not a single emoji", body = ErrorBody),
              (status = 404, description = "No such message (or it was deleted)", body = ErrorBody),
              (status = 409, description = "The message has 20 different reactions already", body = ErrorBody)))]
async fn react(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath((id, seq, emoji)): ApiPath<(RoomId, Seq, String)>,
) -> Result<StatusCode, ApiError> {
    app.chat
        .react(&auth.user.id, &id, seq, &emoji, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/rooms/{id}/messages/{seq}/reactions/{emoji}", tag = "messages", operation_id = "remove_reaction",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("seq" = i64, Path, description = "The message's seq"),
           ("emoji" = String, Path, description = "One emoji, percent-encoded")),
    responses((status = 204, description = "Your reaction is gone (or was not there)"),
              (status = 404, description = "No such message (or it was deleted)", body = ErrorBody)))]
async fn unreact(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath((id, seq, emoji)): ApiPath<(RoomId, Seq, String)>,
) -> Result<StatusCode, ApiError> {
    app.chat
        .react(&auth.user.id, &id, seq, &emoji, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/pins", tag = "messages", operation_id = "pinned_messages",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "Pinned messages", body = PinList),
              (status = 403, description = "Not a member, or banned", body = ErrorBody)))]
async fn pins(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<axum::Json<PinList>, ApiError> {
    let messages = app.chat.pins(&auth.user.id, &id).await?;
    Ok(axum::Json(PinList { messages }))
}

#[utoipa::path(put, path = "/api/v1/rooms/{id}/pins/{seq}", tag = "messages", operation_id = "pin_message",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("seq" = i64, Path, description = "The message's seq")),
    responses((status = 204, description = "Pinned (again: nothing changes)"),
              (status = 403, description = "Not a moderator", body = ErrorBody),
              (status = 404, description = "No such message (or it was deleted)", body = ErrorBody)))]
async fn pin(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath((id, seq)): ApiPath<(RoomId, Seq)>,
) -> Result<StatusCode, ApiError> {
    app.chat.pin(&auth.user.id, ip, &id, seq, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/rooms/{id}/pins/{seq}", tag = "messages", operation_id = "unpin_message",
    params(("id" = RoomId, Path, description = "The room's id"),
           ("seq" = i64, Path, description = "The message's seq")),
    responses((status = 204, description = "Unpinned (or was not pinned)"),
              (status = 403, description = "Not a moderator", body = ErrorBody),
              (status = 404, description = "No such message (or it was deleted)", body = ErrorBody)))]
async fn unpin(
    State(app): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    ApiPath((id, seq)): ApiPath<(RoomId, Seq)>,
) -> Result<StatusCode, ApiError> {
    app.chat.pin(&auth.user.id, ip, &id, seq, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
