//! Messages over HTTP: history pages (newest, before, after or around a `seq`), sending (for
//! bots and scripts), and read markers. Changes to messages are in `changes`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, Auth, ErrorBody};
use crate::app::AppState;
use crate::chat::PageAt;
use crate::domain::{Message, RoomId, Sender, Seq};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rooms/{id}/messages", get(history).post(send))
        .route("/rooms/{id}/read", post(mark_read))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Only messages with a smaller `seq` (default: the newest page).
    #[param(value_type = Option<i64>, minimum = 1)]
    before: Option<Seq>,
    /// Only messages with a greater `seq`: the oldest of them.
    #[param(value_type = Option<i64>, minimum = 0)]
    after: Option<Seq>,
    /// The page centred on this message (it included).
    #[param(value_type = Option<i64>, minimum = 1)]
    around: Option<Seq>,
    /// 1-200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

impl PageQuery {
    /// Where the page is taken from: at most one of `before`, `after` and `around`.
    fn at(&self) -> Result<PageAt, ApiError> {
        Ok(match (self.before, self.after, self.around) {
            (None, None, None) => PageAt::Newest,
            (Some(s), None, None) => PageAt::Before(s),
            (None, Some(s), None) => PageAt::After(s),
            (None, None, Some(s)) => PageAt::Around(s),
            _ => {
                return Err(crate::chat::invalid(
                    "before",
                    "give at most one of before, after and around",
                )
                .into());
            }
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    /// Oldest first.
    pub(super) messages: Vec<Message>,
    /// This page reaches the oldest message the caller may read: stop paging.
    pub(super) history_start: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The sender's own id for the message; a retry with the same one returns the original.
    client_id: String,
    body: String,
    /// The `seq` of the message this one answers.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    reply_to: Option<Seq>,
    /// Ids of your uploads to send with it (at most 10; `body` may then be empty).
    #[serde(default)]
    attachments: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: Message,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadMarker {
    seq: Seq,
}

#[utoipa::path(get, path = "/api/v1/rooms/{id}/messages", tag = "messages",
    params(("id" = RoomId, Path, description = "The room's id"), PageQuery),
    responses((status = 200, body = MessagePage),
              (status = 403, description = "Not a member, or banned (public rooms with shared history \
                  may be read by anyone)", body = ErrorBody)))]
async fn history(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<axum::Json<MessagePage>, ApiError> {
    let page = app
        .chat
        .history(&auth.user.id, &id, q.at()?, q.limit)
        .await?;
    Ok(axum::Json(MessagePage {
        messages: page.messages,
        history_start: page.history_start,
    }))
}

#[utoipa::path(post, path = "/api/v1/rooms/{id}/messages", tag = "messages",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = SendRequest,
    responses((status = 201, description = "Stored (or, for a repeated client_id, the original)", body = MessageResponse),
              (status = 403, description = "Not a member, or banned", body = ErrorBody),
              (status = 429, description = "Sending too fast", body = ErrorBody,
               headers(("Retry-After" = u64, description = "Seconds until trying again may succeed")))))]
async fn send(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<SendRequest>,
) -> Result<(StatusCode, axum::Json<MessageResponse>), ApiError> {
    let message = app
        .chat
        .send(
            Sender::from(&auth.user),
            id,
            req.client_id,
            req.body,
            req.reply_to,
            req.attachments,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(MessageResponse { message })))
}

#[utoipa::path(post, path = "/api/v1/rooms/{id}/read", tag = "messages",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = ReadMarker,
    responses((status = 200, description = "The marker now in force (it never moves back)", body = ReadMarker),
              (status = 403, description = "Not a member, or banned", body = ErrorBody)))]
async fn mark_read(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<ReadMarker>,
) -> Result<axum::Json<ReadMarker>, ApiError> {
    let seq = app.chat.mark_read(&auth.user.id, &id, req.seq).await?;
    Ok(axum::Json(ReadMarker { seq }))
}
