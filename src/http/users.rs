//! Users over HTTP: search and look up.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiPath, ApiQuery, Auth};
use crate::app::AppState;
use chrono::{DateTime, Utc};

use crate::domain::{PresenceStatus, User, UserId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(search))
        .route("/users/{id}", get(user))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearch {
    /// Text the username or display name contains (case-insensitive).
    #[serde(default)]
    q: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    users: Vec<User>,
}

#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    user: User,
    presence: PresenceStatus,
    /// When an offline user was last connected (absent if never, or hidden).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserSearch),
    responses((status = 200, body = UserList)))]
async fn search(
    State(app): State<AppState>,
    _auth: Auth,
    ApiQuery(q): ApiQuery<UserSearch>,
) -> Result<axum::Json<UserList>, ApiError> {
    Ok(axum::Json(UserList {
        users: app.chat.search_users(&q.q).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = UserId, Path, description = "The user's id")),
    responses((status = 200, body = UserResponse)))]
async fn user(
    State(app): State<AppState>,
    _auth: Auth,
    ApiPath(id): ApiPath<UserId>,
) -> Result<axum::Json<UserResponse>, ApiError> {
    let user = match app.chat.store.user(&id).await {
        Err(crate::store::StoreError::NotFound) => return Err(ApiError::not_found("no such user")),
        other => other.map_err(crate::chat::Error::from)?,
    };
    let (presence, last_seen) = app.chat.presence_of(&user.id).await?;
    Ok(axum::Json(UserResponse {
        user,
        presence,
        last_seen,
    }))
}
