//! Request extractors: who is calling ([`Auth`], with the CSRF rule for cookie sessions),
//! from where ([`ClientIp`]), and JSON/path/query extractors whose rejections are JSON errors.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::CookieJar;

use super::ApiError;
use crate::app::AppState;
use crate::chat::csrf_token as accounts_csrf;
use crate::domain::{Session, User};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "natter_session";
/// The readable cookie holding the CSRF token for scripts of the same origin.
pub const CSRF_COOKIE: &str = "natter_csrf";
/// The header cookie-authenticated state changes must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// JSON body whose rejection is an [`ApiError`].
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Path parameters whose rejection is an [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters whose rejection is an [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    Bearer,
    Cookie,
}

/// The signed-in caller.
#[derive(Debug, Clone)]
pub struct Auth {
    pub user: User,
    pub session: Session,
    pub via: AuthVia,
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let (token, via) = match bearer(parts) {
            Some(token) => (token.to_owned(), AuthVia::Bearer),
            None => {
                let jar = CookieJar::from_headers(&parts.headers);
                let Some(cookie) = jar.get(SESSION_COOKIE) else {
                    return Err(ApiError::unauthorized("not signed in"));
                };
                (cookie.value().to_owned(), AuthVia::Cookie)
            }
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via == AuthVia::Cookie && !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(accounts_csrf(&token).as_str()) {
                return Err(ApiError::forbidden("missing or wrong X-CSRF-Token header"));
            }
        }
        let (session, user) = app.chat.authenticate(&token).await?;
        Ok(Self { user, session, via })
    }
}

impl Auth {
    /// For a GET that writes something (an admin's read of a room goes to the audit log): a
    /// cookie session must send the CSRF header as a state-changing request would, so a link
    /// on another site cannot make an admin's browser do it.
    pub fn require_csrf(&self, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
        if self.via == AuthVia::Bearer {
            return Ok(());
        }
        let jar = CookieJar::from_headers(headers);
        let token = jar.get(SESSION_COOKIE).map(|c| accounts_csrf(c.value()));
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if token.is_none() || sent != token.as_deref() {
            return Err(ApiError::forbidden("missing or wrong X-CSRF-Token header"));
        }
        Ok(())
    }
}

impl OptionalFromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        match <Self as FromRequestParts<AppState>>::from_request_parts(parts, app).await {
            Ok(auth) => Ok(Some(auth)),
            Err(_) => Ok(None),
        }
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
/// untrusted address in `X-Forwarded-For` (so rate limits see the real client).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        Ok(Self(client_ip(
            peer(parts),
            &parts.headers,
            &app.config.trusted_proxies,
        )))
    }
}

/// The TCP peer of a request.
pub fn peer(parts: &Parts) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    peer.unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    // IPv4 peers of a `[::]` listener arrive as `::ffff:a.b.c.d`.
    let peer = peer.to_canonical();
    if !trusted.iter().any(|t| t.to_canonical() == peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let hops: Vec<IpAddr> = forwarded
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical()))
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.iter().any(|t| t.to_canonical() == *ip))
        .unwrap_or(peer)
}

/// Whether the client reached us over HTTPS: our own TLS, or a trusted proxy's
/// `X-Forwarded-Proto: https`. Session cookies are `Secure` then.
pub struct Https(pub bool);

impl FromRequestParts<AppState> for Https {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let peer = peer(parts);
        let proxied = app
            .config
            .trusted_proxies
            .iter()
            .any(|t| t.to_canonical() == peer);
        let forwarded = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok());
        Ok(Self(
            app.tls.is_some() || (proxied && forwarded == Some("https")),
        ))
    }
}

/// The `User-Agent` header, or an empty string.
pub struct UserAgent(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let ua = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        Ok(Self(ua.unwrap_or_default().to_owned()))
    }
}

/// Whether the request's `Origin` is the server's own or a configured one (browsers send it
/// on WebSocket upgrades and on POSTs; a request without one is not from a page).
pub fn origin_allowed(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
        return false;
    };
    if app.config.allowed_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(host) = headers.get("host").and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest == host)
}

/// Refuses requests made by a page of another origin. For the calls that create a session
/// (a forged login would sign the victim into the attacker's account); API clients send no
/// `Origin` and pass.
pub fn check_origin(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key("origin") && !origin_allowed(app, headers) {
        return Err(ApiError::forbidden(
            "requests from this Origin are not allowed",
        ));
    }
    Ok(())
}

/// An optional JSON body: none (or blanks) is the default; malformed JSON is `invalid_input`
/// naming `field`.
pub fn optional_json<T: Default + serde::de::DeserializeOwned>(
    body: &[u8],
    field: &'static str,
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| crate::chat::invalid(field, &format!("invalid JSON: {e}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.3".parse().unwrap());
        let trusted = [proxy, "10.0.0.3".parse().unwrap()];
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            client_ip(stranger, &headers, &trusted),
            stranger,
            "spoofed header ignored"
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }
}
