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
use crate::protocol::{self, ClientFrame, ServerEvent, close};

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
        let frame = match protocol::parse_client_frame(text) {
            Ok(frame) => frame,
            Err(event) => {
                self.reply(event).await;
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
