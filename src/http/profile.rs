//! Profiles over HTTP: change your profile and settings, upload or remove your avatar, and
//! the avatar images themselves (content-addressed, cached for a year).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, put};

use super::auth::MeResponse;
use super::{ApiError, ApiJson, ApiPath, Auth, ErrorBody};
use crate::app::AppState;
use crate::chat::{ProfilePatch, avatar};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", patch(update))
        .route("/me/avatar", put(upload).delete(remove))
}

/// The image routes, outside `/api/v1` (they are plain URLs for `<img>`).
pub fn images() -> Router<AppState> {
    Router::new()
        .route("/avatars/default/{file}", get(generated))
        .route("/avatars/{hash}/{file}", get(uploaded))
}

fn me(user: crate::domain::User) -> axum::Json<MeResponse> {
    axum::Json(MeResponse::of(user, None))
}

#[utoipa::path(patch, path = "/api/v1/me", tag = "accounts", operation_id = "update_profile",
    request_body = ProfilePatch,
    responses((status = 200, description = "The profile now; rooms you are in get `user_updated`", body = MeResponse)))]
async fn update(
    State(app): State<AppState>,
    auth: Auth,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<axum::Json<MeResponse>, ApiError> {
    Ok(me(app.chat.update_profile(&auth.user, patch).await?))
}

#[utoipa::path(put, path = "/api/v1/me/avatar", tag = "accounts",
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "A PNG, JPEG, WebP or GIF image of at most 5 MiB (the type is read from the bytes)"),
    responses((status = 200, body = MeResponse),
              (status = 413, description = "Over 5 MiB, or over 48 MiB once decoded", body = ErrorBody),
              (status = 415, description = "Not a PNG, JPEG, WebP or GIF image", body = ErrorBody),
              (status = 429, description = "Too many uploads being processed at once", body = ErrorBody,
               headers(("Retry-After" = u64, description = "Seconds until trying again may succeed")))))]
async fn upload(
    State(app): State<AppState>,
    auth: Auth,
    body: Body,
) -> Result<axum::Json<MeResponse>, ApiError> {
    // The place in line first, then the body: a flood of uploads is refused before it is read.
    let upload = app.chat.start_avatar_upload(&auth.user.id)?;
    let read = axum::body::to_bytes(body, avatar::MAX_BYTES);
    let bytes = match tokio::time::timeout(UPLOAD_DEADLINE, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_too_large(&e) => {
            return Err(crate::chat::Error::TooLarge("an avatar may be at most 5 MiB").into());
        }
        Ok(Err(e)) if super::error::body_timed_out(&e) => {
            return Err(crate::chat::Error::TimedOut("the image stopped arriving").into());
        }
        Ok(Err(_)) => return Err(ApiError::invalid("the image could not be read")),
        Err(_) => return Err(ApiError::invalid("the image did not arrive within 60 s")),
    };
    Ok(me(app
        .chat
        .upload_avatar(&auth.user.id, upload, bytes)
        .await?))
}

/// How long an avatar's body may take to arrive (5 MiB at about 1 Mbit/s).
const UPLOAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether reading a body failed on its size limit.
fn is_too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

#[utoipa::path(delete, path = "/api/v1/me/avatar", tag = "accounts", operation_id = "remove_avatar",
    responses((status = 200, description = "Back to the generated avatar", body = MeResponse)))]
async fn remove(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<MeResponse>, ApiError> {
    Ok(me(app.chat.remove_avatar(&auth.user.id).await?))
}

/// `/avatars/{hash}/{256|64}.png`: never changes, so caches keep it for a year.
async fn uploaded(
    State(app): State<AppState>,
    ApiPath((hash, file)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    // The hash names the image in hex; anything else names nothing (and must not reach the
    // database: PostgreSQL cannot even compare a string with NUL).
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found("no such avatar"));
    }
    let size = file
        .strip_suffix(".png")
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|s| avatar::SIZES.contains(s))
        .ok_or_else(|| ApiError::not_found("no such avatar size"))?;
    let bytes = match app.chat.store.avatar(&hash, size).await {
        Ok(bytes) => bytes,
        Err(crate::store::StoreError::NotFound) => {
            return Err(ApiError::not_found("no such avatar"));
        }
        Err(e) => return Err(crate::chat::Error::from(e).into()),
    };
    let headers = [
        (header::CONTENT_TYPE, "image/png"),
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
    ];
    Ok((headers, bytes).into_response())
}

/// `/avatars/default/{username}.svg`: initials on a colour, for users without an avatar.
async fn generated(ApiPath(file): ApiPath<String>) -> Result<Response, ApiError> {
    let name = file
        .strip_suffix(".svg")
        .ok_or_else(|| ApiError::not_found("no such avatar"))?;
    let headers = [
        (header::CONTENT_TYPE, "image/svg+xml"),
        (header::CACHE_CONTROL, "public, max-age=86400"),
    ];
    Ok((headers, avatar::generated_svg(name)).into_response())
}
