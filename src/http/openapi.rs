//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Natter", description = "Self-hosted real-time chat. Authenticate with \
        `Authorization: Bearer <token>` or the session cookie (then send `X-CSRF-Token` on \
        state-changing requests). The WebSocket protocol is described in docs/protocol.md."),
    paths(
        super::auth::register, super::auth::login, super::auth::logout, super::auth::me,
        super::auth::change_password, super::auth::sessions, super::auth::revoke_session,
        super::profile::update, super::profile::upload, super::profile::remove,
        super::rooms::my_rooms, super::rooms::public_rooms, super::rooms::create, super::rooms::join,
        super::rooms::room, super::rooms::update, super::rooms::remove, super::rooms::leave,
        super::rooms::members, super::rooms::receipts, super::rooms::set_notify, super::rooms::set_role, super::rooms::ban, super::rooms::bans, super::rooms::unban,
        super::rooms::open_direct,
        super::messages::history, super::messages::send, super::messages::mark_read,
        super::users::search, super::users::user,
        crate::ws::upgrade,
    ),
    modifiers(&BearerAuth),
    tags((name = "accounts"), (name = "rooms"), (name = "messages"), (name = "users"), (name = "realtime"))
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

pub async fn document() -> impl axum::response::IntoResponse {
    static DOC: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("openapi serialises")
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOC.as_str(),
    )
}
