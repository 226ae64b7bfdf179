//! The OpenAPI document, generated from the handlers' annotations. The answers that come
//! from the extractors rather than from a handler (bad input, no session, no CSRF header,
//! body too large, unknown id) are added to every operation they can reach, in one place.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Natter", description = "Self-hosted real-time chat. Authenticate with \
        `Authorization: Bearer <token>` or the session cookie (then send `X-CSRF-Token` on \
        state-changing requests). The WebSocket protocol is described in docs/protocol.md."),
    paths(
        super::auth::register, super::auth::login, super::auth::logout, super::auth::me,
        super::auth::change_password, super::auth::sessions, super::auth::revoke_session,
        super::auth::blocks, super::auth::block, super::auth::unblock,
        super::profile::update, super::profile::upload, super::profile::remove,
        super::rooms::my_rooms, super::rooms::public_rooms, super::rooms::create, super::rooms::join,
        super::rooms::room_seal,
        super::rooms::room, super::rooms::update, super::rooms::remove, super::rooms::leave,
        super::rooms::members, super::rooms::receipts, super::rooms::set_notify, super::rooms::set_role, super::rooms::ban, super::rooms::bans, super::rooms::unban,
        super::rooms::open_direct,
        super::moderation::kick, super::moderation::mute, super::moderation::unmute,
        super::moderation::mutes, super::moderation::report, super::moderation::room_reports,
        super::moderation::resolve,
        super::admin::server, super::admin::dashboard, super::admin::users, super::admin::user,
        super::admin::update_user, super::admin::delete_user, super::admin::sign_out, super::admin::rooms,
        super::admin::delete_room, super::admin::read_room, super::admin::room_audit,
        super::admin::room_members, super::admin::reports, super::admin::settings,
        super::admin::update_settings, super::admin::invite, super::admin::invites,
        super::admin::revoke_invite, super::admin::audit, super::admin::reset_link,
        super::security::totp_state, super::security::totp_setup, super::security::totp_enable,
        super::security::totp_disable, super::security::recovery_codes, super::security::reset,
        super::security::forgot, super::invites::create, super::invites::list,
        super::invites::revoke,
        super::messages::history, super::messages::send, super::messages::mark_read,
        super::changes::edit, super::changes::remove, super::changes::edits, super::changes::react,
        super::changes::unreact, super::changes::pins, super::changes::pin, super::changes::unpin,
        super::search::search,
        super::uploads::upload, super::uploads::file, super::uploads::thumbnail,
        super::uploads::discard, super::uploads::storage,
        super::users::search, super::users::user,
        crate::ws::upgrade,
    ),
    modifiers(&BearerAuth, &CommonErrors),
    tags((name = "accounts"), (name = "rooms"), (name = "messages"), (name = "uploads"), (name = "users"), (name = "admin"), (name = "realtime"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::new("natter_session"),
            )),
        );
        openapi.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("cookie", Vec::<String>::new()),
        ]);
    }
}

/// Adds the extractors' answers to each operation that can get them, unless the operation
/// already describes that status itself.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (false, &mut item.get),
                (true, &mut item.post),
                (true, &mut item.put),
                (true, &mut item.patch),
                (true, &mut item.delete),
            ];
            for (changes_state, operation) in operations {
                if let Some(operation) = operation {
                    add_common_errors(operation, changes_state);
                }
            }
        }
    }
}

fn add_common_errors(operation: &mut Operation, changes_state: bool) {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_body = operation.request_body.is_some();
    // `security(())` on an operation means no session is needed; the rest inherit bearer/cookie.
    let signed_in = operation.security.is_none();
    let in_path = parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Path);
    let mut errors = Vec::new();
    if has_body || !parameters.is_empty() {
        errors.push(("400", "`invalid_input`: a malformed body, path or query"));
    }
    if signed_in {
        errors.push((
            "401",
            "`unauthorized`: not signed in, or the session has ended",
        ));
    }
    if signed_in && changes_state {
        errors.push((
            "403",
            "`forbidden`: a cookie session without `X-CSRF-Token`",
        ));
    }
    if in_path {
        errors.push((
            "404",
            "`not_found`: nothing with that id (that you may see)",
        ));
    }
    if has_body {
        errors.push((
            "413",
            "`payload_too_large`: the body is over 64 KiB, or a field is too long",
        ));
        errors.push((
            "408",
            "`request_timeout`: the body stopped arriving for `http_body_timeout_secs`",
        ));
    }
    // The writes that go through the group commit, and so can be refused when it is full.
    const COMMITTED: [&str; 8] = [
        "send",
        "edit_message",
        "delete_message",
        "add_reaction",
        "remove_reaction",
        "pin_message",
        "unpin_message",
        "resolve_report",
    ];
    if COMMITTED.contains(&operation.operation_id.as_deref().unwrap_or_default()) {
        errors.push((
            "503",
            "`busy`: past capacity; nothing was stored. Retry after `Retry-After` seconds",
        ));
    }
    for (status, description) in errors {
        let mut error = ResponseBuilder::new().description(description).content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        );
        if status == "503" {
            let seconds = utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::Integer)
                .minimum(Some(1));
            let header = utoipa::openapi::header::HeaderBuilder::new()
                .schema(seconds)
                .description(Some("Seconds to wait before trying again"));
            error = error.header("Retry-After", header.build());
        }
        let error = error.build();
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(error.into());
    }
}

/// The JSON Schema of the WebSocket frames (`docs/ws.schema.json`); its references to the
/// HTTP API's objects point at `openapi.json` beside it.
pub async fn ws_schema() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/schema+json")],
        WS_SCHEMA,
    )
}

/// The OpenAPI document, as served at `/api/openapi.json`.
pub fn document_text() -> &'static str {
    static DOC: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("openapi serialises")
    });
    DOC.as_str()
}

/// The JSON Schema of the WebSocket frames, as served at `/api/ws.schema.json`.
pub const WS_SCHEMA: &str = include_str!("../../docs/ws.schema.json");

pub async fn document() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document_text(),
    )
}
