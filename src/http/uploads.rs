//! Files over HTTP: `POST /uploads` streams a file in, `GET /uploads/{id}` (and its
//! `/thumbnail`) serves it with `Range`, `ETag` and headers that keep it inert (its sniffed
//! type, `nosniff`, a sandboxing CSP, and `attachment` for anything not shown inline),
//! `DELETE /uploads/{id}` drops one never sent, and `GET /admin/storage` shows what uploads
//! take.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiPath, ApiQuery, Auth, ErrorBody};
use crate::app::AppState;
use crate::chat::uploads::media;
use crate::domain::Upload;

pub fn router() -> Router<AppState> {
    Router::new()
        // The body is streamed and limited by the upload itself, not by the API's small limit.
        .route("/uploads", post(upload).layer(DefaultBodyLimit::disable()))
        .route("/uploads/{id}", get(file).delete(discard))
        .route("/uploads/{id}/thumbnail", get(thumbnail))
        .route("/admin/storage", get(storage))
}

/// What a file response may do if a browser is made to open it: nothing. No script, no
/// plugin, no form, an opaque origin.
const FILE_CSP: &str = "default-src 'none'; img-src 'self'; media-src 'self'; \
    style-src 'unsafe-inline'; sandbox";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file's name, for display only (it is cleaned; the type comes from the bytes).
    #[serde(default)]
    filename: String,
    /// The bytes are a file encrypted in the browser for a sealed room: kept as they are,
    /// typed `application/x-natter-sealed`, named `sealed` (the real name and type travel
    /// inside the sealed message).
    #[serde(default)]
    sealed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct UploadResponse {
    upload: Upload,
}

#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", operation_id = "upload_file",
    params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "The file's bytes, as they are (not a form)"),
    responses((status = 201, description = "Stored; send its id in a message's `attachments`", body = UploadResponse),
              (status = 400, description = "Empty, or cut off", body = ErrorBody),
              (status = 413, description = "Over the server's file limit (`payload_too_large`), over a quota (`quota_exceeded`), or an image with too many pixels", body = ErrorBody),
              (status = 415, description = "An image that cannot be read", body = ErrorBody)))]
async fn upload(
    State(app): State<AppState>,
    auth: Auth,
    ApiQuery(params): ApiQuery<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<UploadResponse>), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let upload = app
        .chat
        .upload(
            &auth.user.id,
            &params.filename,
            params.sealed,
            declared,
            body.into_data_stream().map_err(super::error::body_io_error),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(UploadResponse { upload })))
}

#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "uploads", operation_id = "get_file",
    params(("id" = String, Path, description = "The upload's id")),
    responses((status = 200, description = "The file, as its type read from its bytes", content_type = "*/*"),
              (status = 206, description = "The range asked for (`Range: bytes=…`)", content_type = "*/*"),
              (status = 304, description = "Unchanged (`If-None-Match`)"),
              (status = 404, description = "No such upload, or not one you may read", body = ErrorBody),
              (status = 416, description = "A range outside the file")))]
async fn file(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let stored = app.chat.readable_upload(&auth.user.id, &id).await?;
    let u = &stored.upload;
    serve(
        &app,
        &headers,
        &stored.blob,
        u.size as u64,
        &u.content_type,
        Some(&u.filename),
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/uploads/{id}/thumbnail", tag = "uploads", operation_id = "get_thumbnail",
    params(("id" = String, Path, description = "The upload's id")),
    responses((status = 200, description = "A JPEG or PNG at most 640 pixels on a side", content_type = "image/*"),
              (status = 404, description = "No such upload or thumbnail, or not one you may read", body = ErrorBody)))]
async fn thumbnail(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let stored = app.chat.readable_upload(&auth.user.id, &id).await?;
    let (Some(thumb), Some(size)) = (&stored.thumb, stored.thumb_size) else {
        return Err(ApiError::not_found("this upload has no thumbnail"));
    };
    // Thumbnails are drawn here: a JPEG, or a PNG where there is transparency.
    let mut head = app.chat.blob(thumb, size as u64, Some(0..8)).await?;
    let mut first = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut head).await {
        first.extend_from_slice(&chunk.map_err(|e| crate::chat::Error::Internal(e.into()))?);
    }
    let kind = if first.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    };
    serve(&app, &headers, thumb, size as u64, kind, None).await
}

/// Serves a blob: the whole of it or one range, with its validators and safety headers.
async fn serve(
    app: &AppState,
    headers: &HeaderMap,
    hash: &str,
    size: u64,
    content_type: &str,
    filename: Option<&str>,
) -> Result<Response, ApiError> {
    // Blobs are named by their bytes' hash: a strong validator that never lies.
    let etag = format!("\"{hash}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, value(&etag));
        return Ok(response);
    }
    // A `Range` applies unless `If-Range` names another version.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == etag);
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(text) if if_range_ok => {
            match http_range_header::parse_range_header(text).and_then(|r| r.validate(size)) {
                // One range is served; a client asking for several gets the whole file.
                Ok(ranges) if ranges.len() == 1 => Some(ranges[0].clone()),
                Ok(_) => None,
                Err(_) => {
                    let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                    response
                        .headers_mut()
                        .insert(header::CONTENT_RANGE, value(&format!("bytes */{size}")));
                    return Ok(response);
                }
            }
        }
        _ => None,
    };
    let (status, body, length) = match &range {
        Some(r) => {
            let stream = app
                .chat
                .blob(hash, size, Some(*r.start()..*r.end() + 1))
                .await?;
            (StatusCode::PARTIAL_CONTENT, stream, r.end() - r.start() + 1)
        }
        None => (StatusCode::OK, app.chat.blob(hash, size, None).await?, size),
    };
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, value(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, value(&etag));
    // Access can be lost (a ban, a deletion): caches ask again each time (a 304 is cheap).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FILE_CSP),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if let Some(r) = &range {
        h.insert(
            header::CONTENT_RANGE,
            value(&format!("bytes {}-{}/{size}", r.start(), r.end())),
        );
    }
    let disposition = if media::inline(content_type) {
        "inline"
    } else {
        "attachment"
    };
    let disposition = match filename {
        Some(name) => format!("{disposition}; filename*=UTF-8''{}", percent_encode(name)),
        None => disposition.to_owned(),
    };
    h.insert(header::CONTENT_DISPOSITION, value(&disposition));
    Ok(response)
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// RFC 5987 `attr-char`s stay, every other byte is `%XX`.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "uploads", operation_id = "discard_upload",
    params(("id" = String, Path, description = "The upload's id")),
    responses((status = 204, description = "Deleted (only an upload of yours not yet sent)"),
              (status = 404, description = "No such unsent upload of yours", body = ErrorBody)))]
async fn discard(
    State(app): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.chat.discard_upload(&auth.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct StorageTotal {
    /// A user's or room's id.
    id: String,
    bytes: i64,
    files: i64,
}

#[derive(Serialize, ToSchema)]
pub struct StorageResponse {
    /// The users whose uploads take the most (up to 100), largest first.
    users: Vec<StorageTotal>,
    /// The rooms whose messages hold the most, largest first.
    rooms: Vec<StorageTotal>,
    /// Bytes actually stored (an upload of bytes already stored takes no more).
    stored_bytes: i64,
    blobs: i64,
}

#[utoipa::path(get, path = "/api/v1/admin/storage", tag = "uploads", operation_id = "storage_totals",
    responses((status = 200, body = StorageResponse),
              (status = 403, description = "Not a server admin", body = ErrorBody)))]
async fn storage(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<StorageResponse>, ApiError> {
    if !auth.user.is_admin {
        return Err(ApiError::forbidden("server admins only"));
    }
    let totals = app
        .chat
        .store
        .storage_totals(100)
        .await
        .map_err(crate::chat::Error::from)?;
    let list = |rows: Vec<(String, i64, i64)>| {
        rows.into_iter()
            .map(|(id, bytes, files)| StorageTotal { id, bytes, files })
            .collect()
    };
    Ok(axum::Json(StorageResponse {
        users: list(totals.users),
        rooms: list(totals.rooms),
        stored_bytes: totals.stored_bytes,
        blobs: totals.blobs,
    }))
}
