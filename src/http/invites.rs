//! Invite links without a shell.
//!
//! - The admin API, for an intranet or a learning platform: `POST /api/rooms/{room}/links`
//!   makes links for the people named, `GET /api/rooms` lists the live rooms with the
//!   people in each. Authorised by the server's API key (`Authorization: Bearer <key>`,
//!   compared in constant time); without `--api-key` the admin API is off (404).
//! - A facilitator's page: `POST /api/invites` with the facilitator's own join token
//!   makes learner links for the same room, and only that room.
//!
//! Every answer is JSON; every refusal is `{"error", "message"}`. Bad input changes
//! nothing. Requests that pass the key or token check share one budget (a token bucket,
//! [`RATE`] a second): links are cheap to make, but nobody may make them without end —
//! and nobody without credentials can spend the budget of those who have them.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use talkstick_signaling::RoomId;
use talkstick_signaling::protocol::Role;

use super::AppState;
use crate::demo::link;
use crate::token::{unix_now, verify};

/// Requests a second the invite API takes (server-wide), after a burst of [`BURST`].
pub const RATE: f64 = 10.0;
/// Requests taken at once.
pub const BURST: f64 = 20.0;
/// Most people in one request.
pub const MAX_PEOPLE: usize = 200;
/// Longest validity of a link, in hours (30 days).
pub const MAX_HOURS: u64 = 720;

/// The API's token bucket.
#[derive(Debug)]
pub struct Budget(Mutex<(f64, Instant)>);

impl Default for Budget {
    fn default() -> Self {
        Budget(Mutex::new((BURST, Instant::now())))
    }
}

impl Budget {
    fn take(&self) -> bool {
        let Ok(mut b) = self.0.lock() else { return false };
        let now = Instant::now();
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * RATE).min(BURST);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1, "message": self.2 }))).into_response()
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, "bad_request", message.into())
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::UNAUTHORIZED, "unauthorized", message.into())
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| unauthorized("send 'Authorization: Bearer <key>'"))
}

/// Checks the budget and the API key.
fn admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = state.api_key.as_deref() else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "not_found",
            "the admin API is off on this server (start it with --api-key)".into(),
        ));
    };
    let given = bearer(headers)?;
    if !same_secret(given, key) {
        return Err(unauthorized("wrong API key"));
    }
    // The budget is spent by those allowed in only: nobody without the key can use it
    // up and keep the platform that holds the key out.
    budget(state)
}

/// Counts a request against the shared budget; 429 when it is spent.
fn budget(state: &AppState) -> Result<(), ApiError> {
    if state.invite_budget.take() {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; slow down".into(),
        ))
    }
}

/// Compares two secrets in time that depends on neither: their SHA-256 digests (of one
/// length whatever was sent), every byte looked at.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::Digest as _;
    let (x, y) = (sha2::Sha256::digest(a.as_bytes()), sha2::Sha256::digest(b.as_bytes()));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

/// The base of the links: the configured public URL, or the address this request used.
fn base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(b) = &state.public_url {
        return b.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h: &HeaderValue| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A request for links.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinksRequest {
    /// Learners' names.
    #[serde(default)]
    learners: Vec<String>,
    /// Facilitators' names (admin API only).
    #[serde(default)]
    facilitators: Vec<String>,
    /// Hours the links stay valid (default 24).
    #[serde(default = "default_hours")]
    hours: u64,
}

fn default_hours() -> u64 {
    24
}

/// The people asked for, checked: names trimmed and non-empty, at most [`MAX_PEOPLE`],
/// hours within 1..=[`MAX_HOURS`].
fn people(
    req: LinksRequest,
    facilitators_allowed: bool,
) -> Result<(Vec<(String, Role)>, u64), ApiError> {
    if !(1..=MAX_HOURS).contains(&req.hours) {
        return Err(bad(format!("hours must be between 1 and {MAX_HOURS}")));
    }
    if !facilitators_allowed && !req.facilitators.is_empty() {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a facilitator's page makes learner links only".into(),
        ));
    }
    let all: Vec<(String, Role)> = req
        .facilitators
        .into_iter()
        .map(|n| (n, Role::Facilitator))
        .chain(req.learners.into_iter().map(|n| (n, Role::Learner)))
        .map(|(n, r)| (n.trim().chars().take(64).collect::<String>(), r))
        .collect();
    if all.is_empty() {
        return Err(bad("name at least one person in learners or facilitators"));
    }
    if all.len() > MAX_PEOPLE {
        return Err(bad(format!("at most {MAX_PEOPLE} people in one request")));
    }
    if all.iter().any(|(n, _)| n.is_empty() || n.chars().any(char::is_control)) {
        return Err(bad("every name needs a visible character and no control characters"));
    }
    Ok((all, req.hours))
}

fn answer(
    state: &AppState,
    headers: &HeaderMap,
    room: &RoomId,
    people: Vec<(String, Role)>,
    hours: u64,
) -> Response {
    let exp = unix_now() + hours * 3600;
    let base = base(state, headers);
    let links: Vec<serde_json::Value> = people
        .into_iter()
        .map(|(name, role)| {
            let l = link(&state.secret, &base, room, name, role, exp);
            serde_json::json!({ "name": l.name, "role": l.role, "url": l.url })
        })
        .collect();
    tracing::info!(room = %room, links = links.len(), "links made");
    (
        StatusCode::CREATED,
        Json(serde_json::json!({ "room": room, "expires_at": exp, "links": links })),
    )
        .into_response()
}

/// `POST /api/rooms/{room}/links` (admin).
pub(super) async fn room_links(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(room): Path<String>,
    body: Result<Json<LinksRequest>, JsonRejection>,
) -> Response {
    let go = || {
        admin(&state, &headers)?;
        let room: RoomId =
            room.parse().ok().filter(|r: &RoomId| !r.is_group()).ok_or_else(|| {
                bad(format!("{room:?} is not a room id: use A-Z a-z 0-9 - _ (1-64)"))
            })?;
        let Json(req) = body.map_err(|e| {
            bad(format!(
                "the body must be JSON like {{\"learners\": [\"Aino\"], \"hours\": 24}}: {}",
                e.body_text()
            ))
        })?;
        let (people, hours) = people(req, true)?;
        Ok::<_, ApiError>(answer(&state, &headers, &room, people, hours))
    };
    go().unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/rooms` (admin): live rooms and the people in each.
pub(super) async fn rooms(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = admin(&state, &headers) {
        return e.into_response();
    }
    let rooms: Vec<serde_json::Value> = state
        .registry
        .rooms()
        .into_iter()
        .map(|(room, people)| serde_json::json!({ "room": room, "people": people }))
        .collect();
    Json(serde_json::json!({ "rooms": rooms })).into_response()
}

/// `POST /api/invites`: a facilitator's page makes learner links for its own room.
pub(super) async fn invites(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<LinksRequest>, JsonRejection>,
) -> Response {
    let go = || {
        let token = bearer(&headers)?;
        let claims =
            verify(&state.secret, token, unix_now()).map_err(|e| unauthorized(e.to_string()))?;
        if claims.role != Role::Facilitator {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only a facilitator invites people".into(),
            ));
        }
        budget(&state)?;
        let Json(req) = body.map_err(|e| {
            bad(format!(
                "the body must be JSON like {{\"learners\": [\"Aino\"], \"hours\": 24}}: {}",
                e.body_text()
            ))
        })?;
        let (people, hours) = people(req, false)?;
        Ok::<_, ApiError>(answer(&state, &headers, &claims.room, people, hours))
    };
    go().unwrap_or_else(IntoResponse::into_response)
}

/// `POST /api/admin/drain` (admin): drain and stop, as SIGTERM does.
pub(super) async fn drain(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = admin(&state, &headers) {
        return e.into_response();
    }
    tracing::info!("drain asked for over the admin API");
    state.registry.ask_to_drain();
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "draining": true }))).into_response()
}
