//! `GET /search`: full-text search over what the caller may read.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiQuery, Auth, ErrorBody};
use crate::app::AppState;
use crate::domain::{Message, RoomId};

pub fn router() -> Router<AppState> {
    Router::new().route("/search", get(search))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The words to find (each finds the words it begins; all must be found). At most 256
    /// characters; up to 8 words count.
    q: String,
    /// Only this room.
    room_id: Option<RoomId>,
    /// The `next` of the previous page.
    before: Option<String>,
    /// 1-50, default 20.
    #[param(minimum = 1, maximum = 50)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    message: Message,
    room_id: RoomId,
    /// `[start, end)` code-point ranges of the words found in `message.body`.
    highlights: Vec<[usize; 2]>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchPage {
    /// Newest first.
    results: Vec<SearchResult>,
    /// Pass as `before` for the next page; `null` when there is none.
    next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "messages", operation_id = "search_messages", params(SearchParams),
    responses((status = 200, body = SearchPage),
              (status = 400, description = "No word to look for, or a bad limit or cursor", body = ErrorBody),
              (status = 403, description = "`room_id` names a public room you may not read (banned, or history for members only)", body = ErrorBody),
              (status = 404, description = "`room_id` names no room, or a private one you are not in", body = ErrorBody)))]
async fn search(
    State(app): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<axum::Json<SearchPage>, ApiError> {
    let (hits, next) = app
        .chat
        .search(&auth.user.id, &p.q, p.room_id, p.before.as_deref(), p.limit)
        .await?;
    let results = hits
        .into_iter()
        .map(|h| SearchResult {
            room_id: h.message.room_id.clone(),
            highlights: h.highlights.into_iter().map(|(s, e)| [s, e]).collect(),
            message: h.message,
        })
        .collect();
    Ok(axum::Json(SearchPage { results, next }))
}
