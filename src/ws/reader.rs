//! The reader: parses each frame from the client and carries it out. Sends are validated,
//! checked and queued for group commit in arrival order; their acks go out in the same order
//! as the commits complete. Replies and `sync` requests go to the writer. Generic over the
//! `Stream` it reads.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message as WsMessage;
use futures_util::stream::FuturesOrdered;
use futures_util::{Stream, StreamExt};
use tokio::sync::{mpsc, watch};

use super::conn::{Control, error_event};
use crate::app::AppState;
use crate::chat::Error;
use crate::domain::{Message, RoomId};
use crate::hub::Conn;
use crate::protocol::{CLIENT_TYPES, ClientFrame, ServerEvent, close};

pub(super) struct Reader {
    pub app: AppState,
    pub conn: Arc<Conn>,
    pub control: mpsc::Sender<Control>,
}

impl Reader {
    pub async fn run<R>(self, mut stream: R, mut closing: watch::Receiver<Option<u16>>)
    where
        R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
    {
        let idle = Duration::from_secs(self.app.config.idle_timeout_secs);
        // Acks in the order the sends arrived; each resolves once its group commit is done.
        let mut pending = FuturesOrdered::new();
        loop {
            tokio::select! {
                next = tokio::time::timeout(idle, stream.next()) => match next {
                    Err(_) => { self.conn.close(close::IDLE); break; }
                    Ok(None) | Ok(Some(Ok(WsMessage::Close(_)))) => break,
                    Ok(Some(Err(e))) => {
                        if let Some(code) = read_error_code(&e) {
                            tracing::debug!(error = %e, code, "closing on a bad frame");
                            self.conn.close(code);
                        }
                        break;
                    }
                    Ok(Some(Ok(WsMessage::Text(text)))) => {
                        // Boxed (here and below): the store calls behind them would otherwise
                        // make every idle connection's task as big as their largest state.
                        if let Some(ack) = Box::pin(self.handle(text.as_str())).await {
                            pending.push_back(ack);
                        }
                        // After the frame, so a presence choice it carried applies first.
                        if let Err(e) = Box::pin(self.app.chat.user_active(&self.conn.user_id)).await {
                            tracing::warn!(error = %e, "announcing presence");
                        }
                    }
                    Ok(Some(Ok(WsMessage::Binary(_)))) => {
                        let e = crate::chat::invalid("frame", "binary frames are not supported; send JSON text");
                        self.reply(error_event(&e, None, None)).await;
                    }
                    Ok(Some(Ok(_))) => {} // ping and pong: tungstenite answers pings itself
                },
                Some((client_id, room_id, result)) = pending.next(), if !pending.is_empty() => {
                    let text = match result {
                        Ok(message) => {
                            self.app.chat.message_sent(&room_id, &self.conn.user_id);
                            ServerEvent::Ack { client_id: &client_id, message: &message }.to_text()
                        }
                        Err(e) => error_event(&e, Some(&client_id), Some(&room_id)),
                    };
                    self.reply(text).await;
                }
                _ = closing.changed() => break,
            }
        }
        // Shutting down: sends already queued for commit still get their acks (the writer
        // keeps writing replies until this reader is done). Not for revoked sessions.
        if *closing.borrow() == Some(close::GOING_AWAY) {
            let drain = async {
                while let Some((client_id, room_id, result)) = pending.next().await {
                    let text = match result {
                        Ok(message) => ServerEvent::Ack {
                            client_id: &client_id,
                            message: &message,
                        }
                        .to_text(),
                        Err(e) => error_event(&e, Some(&client_id), Some(&room_id)),
                    };
                    self.reply(text).await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(3), drain).await;
        }
    }

    /// Why this socket does not receive the room: the same answer HTTP gives
    /// (`not_found` for rooms private to others, `forbidden` when banned or not a member).
    async fn not_member(&self, room_id: &RoomId) -> Error {
        match self.app.chat.member_of(room_id, &self.conn.user_id).await {
            Err(e) => e,
            Ok(_) => Error::Forbidden("not a member of this room"),
        }
    }

    async fn reply(&self, text: String) {
        let _ = self.control.send(Control::Reply(text)).await;
    }

    /// Handles one text frame; a send returns the future of its ack.
    async fn handle(
        &self,
        text: &str,
    ) -> Option<impl Future<Output = (String, RoomId, Result<Message, Error>)> + use<>> {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                self.reply(parse_error(text, &e)).await;
                return None;
            }
        };
        match frame {
            ClientFrame::Send {
                room_id,
                client_id,
                body,
                reply_to,
                attachments,
            } => {
                let chat = &self.app.chat;
                let sender = (*self.conn.sender()).clone();
                let prepared = chat.prepare_send(
                    sender,
                    room_id.clone(),
                    client_id.clone(),
                    body,
                    reply_to,
                    attachments,
                );
                let refused = match prepared {
                    Ok(prepared) if self.app.hub.is_subscribed(&self.conn, &room_id) => {
                        let done = chat.commit(prepared).await;
                        return Some(async move { (client_id, room_id, done.await) });
                    }
                    Ok(_) => self.not_member(&room_id).await,
                    Err(e) => e,
                };
                self.reply(error_event(&refused, Some(&client_id), Some(&room_id)))
                    .await;
                None
            }
            ClientFrame::Sync { since } => {
                let _ = self.control.send(Control::Sync(Box::new(since))).await;
                None
            }
            ClientFrame::Typing { room_id } => {
                if self.app.hub.is_subscribed(&self.conn, &room_id) {
                    self.app.chat.typing(&self.conn.sender(), &room_id);
                } else {
                    let e = self.not_member(&room_id).await;
                    self.reply(error_event(&e, None, Some(&room_id))).await;
                }
                None
            }
            ClientFrame::Read { room_id, seq } => {
                if let Err(e) = self
                    .app
                    .chat
                    .mark_read(&self.conn.user_id, &room_id, seq)
                    .await
                {
                    self.reply(error_event(&e, None, Some(&room_id))).await;
                }
                None
            }
            ClientFrame::Presence { mode } => {
                if let Err(e) = self.app.chat.set_presence(&self.conn.user_id, mode).await {
                    self.reply(error_event(&e, None, None)).await;
                }
                None
            }
        }
    }
}

/// The close code for a frame the client got wrong, or `None` when the connection itself
/// failed (then nobody is left to tell, and the socket just ends).
fn read_error_code(e: &axum::Error) -> Option<u16> {
    use std::error::Error as _;
    use tokio_tungstenite::tungstenite::Error as WsError;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    // axum passes tungstenite's own error on (tests/it/robustness.rs checks the codes).
    match e.source()?.downcast_ref::<WsError>()? {
        WsError::Capacity(_) => Some(close::TOO_BIG),
        WsError::Utf8(_) => Some(close::INVALID_PAYLOAD),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(_) => Some(close::PROTOCOL_ERROR),
        _ => None,
    }
}

/// Explains why a frame did not parse: malformed JSON, an unknown `type`, or bad fields.
fn parse_error(text: &str, e: &serde_json::Error) -> String {
    let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let client_id = value
        .as_ref()
        .and_then(|v| v.get("client_id"))
        .and_then(|c| c.as_str());
    let kind = value
        .as_ref()
        .and_then(|v| v.get("type"))
        .and_then(|t| t.as_str());
    let (code, message) = match (&value, kind) {
        (None, _) => ("invalid_input", format!("malformed JSON: {e}")),
        (Some(v), _) if !v.is_object() => ("invalid_input", "a frame must be a JSON object".into()),
        (Some(_), None) => ("invalid_input", "missing \"type\"".into()),
        (Some(_), Some(t)) if !CLIENT_TYPES.contains(&t) => (
            "unknown_type",
            format!("unknown type {t:?}; expected one of {CLIENT_TYPES:?}"),
        ),
        (Some(_), Some(_)) => ("invalid_input", format!("bad fields: {e}")),
    };
    ServerEvent::Error {
        code,
        message: &message,
        client_id,
        room_id: None,
    }
    .to_text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code_of(text: &str) -> Option<String> {
        match serde_json::from_str::<ClientFrame>(text) {
            Ok(_) => None,
            Err(e) => {
                let event: serde_json::Value =
                    serde_json::from_str(&parse_error(text, &e)).unwrap();
                assert_eq!(event["type"], "error");
                Some(event["code"].as_str().unwrap().to_owned())
            }
        }
    }

    #[test]
    fn frames_parse_or_explain_why_not() {
        assert_eq!(
            code_of(r#"{"type":"send","room_id":"r","client_id":"c","body":"b"}"#),
            None
        );
        assert_eq!(code_of(r#"{"type":"sync","since":{"r":3}}"#), None);
        assert_eq!(code_of("{oops").as_deref(), Some("invalid_input"));
        assert_eq!(
            code_of(r#"{"type":"dance"}"#).as_deref(),
            Some("unknown_type")
        );
        assert_eq!(
            code_of(r#"{"type":"read","room_id":"r"}"#).as_deref(),
            Some("invalid_input")
        );
        assert_eq!(
            code_of(r#"{"type":"read","room_id":"r","seq":1,"extra":true}"#).as_deref(),
            Some("invalid_input")
        );
    }

    proptest! {
        #[test]
        fn any_text_gets_a_frame_or_an_error_event(text in "\\PC{0,200}") {
            let _ = code_of(&text);
        }

        #[test]
        fn json_shaped_noise_never_panics(
            ty in prop::sample::select(vec!["send", "sync", "typing", "read", "x", ""]),
            key in "[a-z_]{1,10}",
            value in prop_oneof![Just("1".to_owned()), Just("null".to_owned()), Just("{}".to_owned()), "\"\\PC{0,20}\""],
        ) {
            let text = format!(r#"{{"type":"{ty}","{key}":{value}}}"#);
            let _ = code_of(&text);
        }
    }
}
