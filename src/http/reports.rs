//! Session reports over HTTP: `/api/sessions…`, authorised by the join token a person
//! already holds (`Authorization: Bearer <token>`).
//!
//! - A facilitator token for a room lists that room's sessions, reads each one's report
//!   (JSON, or CSV by table), and deletes an ended one.
//! - Any token reads its holder's own summary of a session of its room, and nothing
//!   else: a learner asking for a report or the list is refused (403).
//! - No token, a bad one or an expired one: 401. A session of another room: 404 (as if
//!   it did not exist, so ids of other rooms cannot be probed). No store: 404 with a
//!   clear message. Every error is JSON: `{"error": code, "message": words}`.
//!
//! Building a report replays a journal (milliseconds for a long session, but not free):
//! at most [`BUILDS`] run at once and a request beyond that is told to retry (429).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use talkstick_signaling::protocol::Role;
use tokio::sync::Semaphore;

use super::AppState;
use crate::store::reports::{self, LIST_LIMIT, ReportError, StoredReport};
use crate::store::{RunId, Store};
use crate::token::{Claims, unix_now, verify};

/// Report builds running at once, server-wide.
pub const BUILDS: usize = 2;

/// The permits for report builds.
pub(super) fn builds() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(BUILDS))
}

/// An error as the API answers it.
struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.1, "message": self.2 });
        (self.0, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn unauthorized(why: impl Into<String>) -> ApiError {
    ApiError(StatusCode::UNAUTHORIZED, "unauthorized", why.into())
}

fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "not_found", "no such session in your room".into())
}

/// The verified claims of the request's bearer token.
fn claims(state: &AppState, headers: &HeaderMap) -> ApiResult<Claims> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("send your link's token as 'Authorization: Bearer <token>'"))?;
    let text = value.to_str().map_err(|_| unauthorized("the Authorization header is not text"))?;
    let token = text
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("the Authorization header must be 'Bearer <token>'"))?;
    verify(&state.secret, token, unix_now()).map_err(|e| unauthorized(e.to_string()))
}

fn facilitator(claims: &Claims) -> ApiResult<()> {
    if claims.role == Role::Facilitator {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only a facilitator of this room reads its reports; you can read your own summary"
                .into(),
        ))
    }
}

/// The session store, or a clear 404 when the server keeps no sessions.
fn db(state: &AppState) -> ApiResult<Store> {
    state.registry.store().cloned().ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            "no_store",
            "this server keeps no session records (it runs with --no-store)".into(),
        )
    })
}

fn run_id(text: &str) -> ApiResult<RunId> {
    text.parse::<i64>().map(RunId).map_err(|_| {
        ApiError(StatusCode::BAD_REQUEST, "bad_request", format!("{text:?} is not a session id"))
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "a session report failed");
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the session record could not be read".into(),
    )
}

fn report_error(e: ReportError) -> ApiError {
    match e {
        ReportError::NotFound => not_found(),
        ReportError::Running => ApiError(
            StatusCode::CONFLICT,
            "running",
            "the session is still running; end it (everyone leaves) before deleting it".into(),
        ),
        other => internal(other),
    }
}

/// Runs a store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReportError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?.map_err(report_error)
}

/// The session `run` of the caller's room (404 for another room's).
async fn own_run(store: Store, claims: &Claims, run: RunId) -> ApiResult<bool> {
    let room = claims.room.clone();
    let found = blocking(move || Ok(store.records()?.room_of(run)?)).await?;
    match found {
        Some((r, ended)) if r == room => Ok(ended),
        _ => Err(not_found()),
    }
}

/// A facilitator's request about the session `run` of their room: their claims, the
/// database and the run, or why not.
async fn facilitators_run(
    state: &AppState,
    headers: &HeaderMap,
    run: &str,
) -> ApiResult<(Claims, Store, RunId)> {
    let claims = claims(state, headers)?;
    facilitator(&claims)?;
    let store = db(state)?;
    let run = run_id(run)?;
    own_run(store.clone(), &claims, run).await?;
    Ok((claims, store, run))
}

/// Builds a report, within the server's budget of concurrent builds.
async fn build(state: &AppState, store: Store, run: RunId) -> ApiResult<StoredReport> {
    let Ok(_permit) = state.report_builds.clone().try_acquire_owned() else {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            "other reports are being made; try again in a moment".into(),
        ));
    };
    blocking(move || reports::report(&*store.records()?, run)).await
}

/// `GET /api/sessions`: the caller's room's sessions (facilitators).
pub(super) async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let go = async {
        let claims = claims(&state, &headers)?;
        facilitator(&claims)?;
        let store = db(&state)?;
        let room = claims.room.clone();
        let sessions = blocking(move || Ok(store.records()?.list(&room, LIST_LIMIT)?)).await?;
        Ok::<_, ApiError>(Json(serde_json::json!({ "room": claims.room, "sessions": sessions })))
    };
    go.await.into_response()
}

/// Query of a report: `format=csv` with `table=people|turns|hands`.
#[derive(Debug, Deserialize)]
pub(super) struct Format {
    format: Option<String>,
    table: Option<String>,
}

/// `GET /api/sessions/{run}`: one session's report (facilitators), JSON or CSV.
pub(super) async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(run): Path<String>,
    Query(format): Query<Format>,
) -> Response {
    let go = async {
        let (_, store, run) = facilitators_run(&state, &headers, &run).await?;
        let report = build(&state, store, run).await?;
        match format.format.as_deref() {
            None | Some("json") => Ok(Json(report).into_response()),
            Some("csv") => {
                let table = format.table.as_deref().unwrap_or("people");
                let body = super::csv::table(&report, table).ok_or_else(|| {
                    ApiError(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "table must be people, turns or hands".into(),
                    )
                })?;
                let name =
                    format!("attachment; filename=\"{}-{}-{table}.csv\"", report.room, run.0);
                Ok((
                    [
                        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                        (header::CONTENT_DISPOSITION, name),
                    ],
                    body,
                )
                    .into_response())
            }
            Some(other) => Err(ApiError(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("format {other:?}: use json or csv"),
            )),
        }
    };
    go.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/sessions/{run}/summary` (or `latest`): the caller's own summary.
pub(super) async fn summary(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(run): Path<String>,
) -> Response {
    let go = async {
        let claims = claims(&state, &headers)?;
        let store = db(&state)?;
        let run = if run == "latest" {
            let (s, room) = (store.clone(), claims.room.clone());
            blocking(move || Ok(s.records()?.latest(&room)?)).await?.ok_or_else(not_found)?
        } else {
            run_id(&run)?
        };
        own_run(store.clone(), &claims, run).await?;
        let report = build(&state, store, run).await?;
        let mine = report.report.summary_for(&claims.name).ok_or_else(|| {
            ApiError(StatusCode::NOT_FOUND, "not_found", "you were not in this session".into())
        })?;
        Ok::<_, ApiError>(Json(serde_json::json!({
            "run": run,
            "room": report.room,
            "started_ms": report.started_ms,
            "ended_ms": report.ended_ms,
            "summary": mine,
        })))
    };
    go.await.into_response()
}

/// `DELETE /api/sessions/{run}`: a facilitator deletes an ended session of their room.
pub(super) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(run): Path<String>,
) -> Response {
    let go = async {
        let (claims, store, run) = facilitators_run(&state, &headers, &run).await?;
        blocking(move || reports::delete(&*store.records()?, run)).await?;
        tracing::info!(room = %claims.room, run = run.0, by = %claims.name, "session deleted");
        Ok::<_, ApiError>(StatusCode::NO_CONTENT)
    };
    go.await.into_response()
}
