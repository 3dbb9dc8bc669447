//! A client of Janus's documented API (its WebSocket transport, `janus-protocol`) and its
//! VideoRoom plugin: what the load tester needs to drive Janus with the same rooms and
//! speech as Talkstick, to measure a real SFU beside ours.
//!
//! Why a client of our own: the load tester's peers ([`super::ClientRtc`]) are the same
//! on both sides, so the generator costs the same per packet whichever server it loads;
//! only the signaling differs. Janus's requests are answered by an `ack` and then an
//! `event` with the same transaction (plugin requests), or by `success` / `error` at once
//! (core requests); [`Janus::call`] waits for the first that is not an `ack`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long one request may wait for its answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Janus drops a session that sends nothing for 60 s; a keepalive goes every 25 s.
const KEEPALIVE: Duration = Duration::from_secs(25);

/// Why talking to Janus failed.
#[derive(Debug, thiserror::Error)]
pub enum JanusError {
    /// The WebSocket could not be opened.
    #[error("cannot reach Janus at {url}: {why}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        why: String,
    },
    /// The connection closed.
    #[error("the connection to Janus closed")]
    Closed,
    /// No answer in [`CALL_TIMEOUT`].
    #[error("Janus did not answer {0} in time")]
    Timeout(String),
    /// Janus, or its plugin, refused the request.
    #[error("Janus refused {request}: {why}")]
    Refused {
        /// The request.
        request: String,
        /// Its words.
        why: String,
    },
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// One Janus session over one WebSocket.
#[derive(Debug, Clone)]
pub struct Janus {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next: Arc<AtomicU64>,
    session: u64,
}

impl Janus {
    /// Opens a WebSocket to `url` (e.g. `ws://127.0.0.1:8188`) and creates a session.
    pub async fn connect(url: &str) -> Result<Janus, JanusError> {
        let err = |why: String| JanusError::Connect { url: url.to_owned(), why };
        let mut req = url.into_client_request().map_err(|e| err(e.to_string()))?;
        let protocol = "janus-protocol".parse().map_err(|_| err("bad header".into()))?;
        req.headers_mut().insert("Sec-WebSocket-Protocol", protocol);
        let (ws, _) =
            tokio_tungstenite::connect_async(req).await.map_err(|e| err(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let answers = Arc::clone(&pending);
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(t) = m else { continue };
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else { continue };
                if v["janus"] == "ack" {
                    continue;
                }
                let Some(tx) = v["transaction"].as_str().map(str::to_owned) else { continue };
                if let Some(waiting) = answers.lock().await.remove(&tx) {
                    let _ = waiting.send(v);
                }
            }
            answers.lock().await.clear(); // every waiting call sees the close
        });
        let mut janus = Janus { out, pending, next: Arc::new(AtomicU64::new(1)), session: 0 };
        let created = janus.call(json!({"janus": "create"})).await?;
        janus.session = created["data"]["id"].as_u64().ok_or(JanusError::Closed)?;
        let keep = janus.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEPALIVE).await;
                let msg =
                    json!({"janus": "keepalive", "session_id": keep.session, "transaction": "k"});
                if keep.out.send(Message::text(msg.to_string())).is_err() {
                    break;
                }
            }
        });
        Ok(janus)
    }

    /// Sends a request (the session and a transaction are added) and waits for its
    /// answer; a Janus `error`, or a plugin answer with `error`, is [`JanusError::Refused`].
    pub async fn call(&self, mut req: Value) -> Result<Value, JanusError> {
        let tx = format!("t{}", self.next.fetch_add(1, Ordering::Relaxed));
        req["transaction"] = json!(tx);
        if self.session != 0 {
            req["session_id"] = json!(self.session);
        }
        let what =
            req["body"]["request"].as_str().or(req["janus"].as_str()).unwrap_or("?").to_owned();
        let (answer, wait) = oneshot::channel();
        self.pending.lock().await.insert(tx.clone(), answer);
        self.out.send(Message::text(req.to_string())).map_err(|_| JanusError::Closed)?;
        let v = match tokio::time::timeout(CALL_TIMEOUT, wait).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => return Err(JanusError::Closed),
            Err(_) => {
                self.pending.lock().await.remove(&tx);
                return Err(JanusError::Timeout(what));
            }
        };
        let plugin = &v["plugindata"]["data"];
        let why = if v["janus"] == "error" {
            v["error"]["reason"].as_str()
        } else {
            plugin["error"].as_str()
        };
        match why {
            Some(why) => Err(JanusError::Refused { request: what, why: why.to_owned() }),
            None => Ok(v),
        }
    }

    /// Attaches a new handle to the VideoRoom plugin.
    pub async fn attach(&self) -> Result<u64, JanusError> {
        let v = self.call(json!({"janus": "attach", "plugin": "janus.plugin.videoroom"})).await?;
        v["data"]["id"].as_u64().ok_or(JanusError::Closed)
    }

    /// A plugin request on `handle`, with a session description when there is one.
    pub async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> Result<Value, JanusError> {
        let mut req = json!({"janus": "message", "handle_id": handle, "body": body});
        if let Some(j) = jsep {
            req["jsep"] = j;
        }
        self.call(req).await
    }
}

/// The audio-only VideoRoom request that creates room `room` for `publishers` people.
pub fn create_room(room: u64, publishers: usize) -> Value {
    json!({
        "request": "create",
        "room": room,
        "publishers": publishers,
        "audiocodec": "opus",
        "videocodec": "vp8",
        "audiolevel_ext": true,
        "audiolevel_event": false,
        "notify_joining": false,
        "permanent": false,
    })
}
