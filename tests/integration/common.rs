//! A test server and a WebSocket client that keeps its own view of the room, the way a
//! real client does, so tests can check that every client agrees.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkstick::http::{AppState, serve};
use talkstick::room::Plane;
use talkstick::room::Registry;
use talkstick::token::{Claims, Secret, mint, unix_now};
use talkstick_signaling::protocol::{Role, Settings};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &str = "integration-test-secret-0123456789";
/// Upper bound on any wait for the server; tests never sleep for a fixed time to pass.
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Server {
    pub addr: SocketAddr,
    #[allow(dead_code)]
    pub media: Option<std::sync::Arc<Plane>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    pub async fn start() -> Server {
        Server::with_settings(Settings::default()).await
    }

    pub async fn with_settings(settings: Settings) -> Server {
        Server::build(settings, None).await
    }

    /// A server with the audio SFU on loopback (any free UDP port).
    pub async fn with_media(settings: Settings) -> Server {
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        let plane = Plane::bind(&talkstick::media::MediaOptions::new(vec![ip])).await.unwrap();
        plane.spawn_receivers();
        Server::build(settings, Some(plane)).await
    }

    pub async fn build(settings: Settings, media: Option<std::sync::Arc<Plane>>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let registry = Registry::with_media(settings, media.clone());
        let state = AppState::new(Secret::new(SECRET), registry);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Server { addr, media, stop: Some(stop) }
    }

    /// Asks the server to stop, as SIGTERM does.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self, room: &str, name: &str, role: Role) -> String {
        token_for(room, name, role, unix_now() + 3600)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn token_for(room: &str, name: &str, role: Role, exp: u64) -> String {
    let claims = Claims { room: room.parse().unwrap(), name: name.into(), role, exp };
    mint(&Secret::new(SECRET), &claims)
}

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Ws = WsStream;

/// A client's view of the room, built only from what the server sent it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct View {
    pub participants: BTreeMap<u64, Value>,
    pub queue: Vec<u64>,
    pub notes: BTreeMap<u64, String>,
    pub floor: Value,
    pub settings: Value,
}

impl View {
    pub fn floor_state(&self) -> &str {
        self.floor["state"].as_str().unwrap_or("")
    }
    pub fn holder(&self) -> Option<u64> {
        self.floor["holder"].as_u64()
    }
    pub fn offered_to(&self) -> Option<u64> {
        self.floor["offered_to"].as_u64()
    }
}

pub struct Client {
    pub name: String,
    pub ws: Ws,
    pub id: u64,
    pub resume: String,
    pub view: View,
    pub last_seq: u64,
    /// Every message received, in order.
    pub log: Vec<Value>,
}

pub async fn connect(addr: SocketAddr) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
    ws
}

impl Client {
    /// Connects and joins; returns once the welcome arrived.
    pub async fn join(server: &Server, room: &str, name: &str, role: Role) -> Client {
        Client::join_with(server.addr, &server.token(room, name, role), name, None).await
    }

    pub async fn join_with(
        addr: SocketAddr,
        token: &str,
        name: &str,
        resume: Option<&str>,
    ) -> Client {
        let mut join = json!({"type": "join", "v": 1, "token": token});
        if let Some(r) = resume {
            join["resume"] = json!(r);
        }
        Client::join_msg(addr, name, join)
            .await
            .unwrap_or_else(|e| panic!("{name} was not welcomed: {e}"))
    }

    /// Connects and sends `join` (any join message); the client once welcomed, or the
    /// first message the server sent instead (an error).
    pub async fn join_msg(addr: SocketAddr, name: &str, join: Value) -> Result<Client, Value> {
        let mut ws = connect(addr).await;
        ws.send(Message::text(join.to_string())).await.unwrap();
        let mut c = Client {
            name: name.into(),
            ws,
            id: 0,
            resume: String::new(),
            view: View::default(),
            last_seq: 0,
            log: Vec::new(),
        };
        let first = c.next().await;
        if first["type"] != "welcome" {
            return Err(first);
        }
        c.id = first["you"]["id"].as_u64().unwrap();
        c.resume = first["you"]["resume_token"].as_str().unwrap().to_owned();
        Ok(c)
    }

    pub async fn send(&mut self, msg: Value) {
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
    }

    pub async fn send_raw(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next JSON message, applied to the view. Panics after [`WAIT`].
    pub async fn next(&mut self) -> Value {
        self.try_next(WAIT)
            .await
            .unwrap_or_else(|| panic!("{}: no message within {WAIT:?}", self.name))
    }

    /// The next JSON message within `wait`, or `None` (also when the socket closed).
    pub async fn try_next(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(wait, self.ws.next()).await.ok()??;
            match frame.ok()? {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    self.apply(&v);
                    self.log.push(v.clone());
                    return Some(v);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Reads until a message of `kind` arrives.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Reads until the view satisfies `pred`; panics with the view after [`WAIT`].
    pub async fn until(&mut self, what: &str, pred: impl Fn(&View) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !pred(&self.view) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.try_next(left).await.is_none() {
                panic!("{}: never saw {what}; view: {:#?}", self.name, self.view);
            }
        }
    }

    /// Asserts nothing arrives for a short while.
    pub async fn quiet(&mut self) {
        if let Some(v) = self.try_next(Duration::from_millis(300)).await {
            panic!("{} expected no message, got {v}", self.name);
        }
    }

    /// Ping and wait for the pong: proves the connection is open and served.
    pub async fn ping(&mut self) {
        self.send(json!({"type": "ping"})).await;
        self.next_of("pong").await;
    }

    fn apply(&mut self, v: &Value) {
        let seq = v["seq"].as_u64().expect("every server message carries seq");
        assert!(
            seq >= self.last_seq,
            "{}: seq went back from {} to {seq}",
            self.name,
            self.last_seq
        );
        self.last_seq = seq;
        let view = &mut self.view;
        match v["type"].as_str().unwrap() {
            "welcome" => {
                let room = &v["room"];
                view.participants = room["participants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p["id"].as_u64().unwrap(), p.clone()))
                    .collect();
                set_queue(view, &room["queue"]);
                view.floor = room["floor"].clone();
                view.settings = room["settings"].clone();
            }
            "participant_joined" | "participant_updated" => {
                let p = &v["participant"];
                view.participants.insert(p["id"].as_u64().unwrap(), p.clone());
            }
            "participant_left" => {
                view.participants.remove(&v["participant"].as_u64().unwrap());
            }
            "speaking" => {
                let id = v["participant"].as_u64().unwrap();
                if let Some(p) = view.participants.get_mut(&id) {
                    p["speaking"] = v["speaking"].clone();
                }
            }
            "queue" => set_queue(view, &v["hands"]),
            "floor" => view.floor = v["floor"].clone(),
            "settings" => view.settings = v["settings"].clone(),
            "reaction" => {
                if let Some(t) = v.get("tally").filter(|t| !t.is_null()) {
                    view.floor["tally"] = t.clone();
                }
            }
            _ => {}
        }
    }
}

fn set_queue(view: &mut View, hands: &Value) {
    let hands = hands.as_array().unwrap();
    for (i, h) in hands.iter().enumerate() {
        assert_eq!(h["position"].as_u64().unwrap(), i as u64 + 1, "positions are 1..n");
    }
    view.queue = hands.iter().map(|h| h["participant"].as_u64().unwrap()).collect();
    view.notes = hands
        .iter()
        .filter_map(|h| Some((h["participant"].as_u64()?, h["note"].as_str()?.to_owned())))
        .collect();
}

/// Waits until every client's view satisfies `pred`.
pub async fn all_see(clients: &mut [Client], what: &str, pred: impl Fn(&View) -> bool + Copy) {
    for c in clients.iter_mut() {
        c.until(what, pred).await;
    }
}
