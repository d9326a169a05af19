//! `vitrine exp collect`: the report endpoint.
//!
//! `POST /v1/reports` with one report (or a JSON array of at most 100) as `application/json` or
//! `text/plain` (what `fetch(…, {keepalive: true})` sends without a CORS preflight). Each report
//! is parsed (at most [`MAX_BODY_BYTES`] per request), checked against the manifest (known
//! experiment and arm, the manifest's ε exactly, exactly its metrics, bits only, a well-formed
//! id) and handed to one writer thread that stores batches in one SQLite transaction each (WAL);
//! the reply is sent after the commit, so a `200` means stored. A report id already stored is a
//! duplicate (a retry) and is not stored again. Refusals are `4xx` with
//! `{"code", "path", "reason"}`; a full queue is `503` with `Retry-After`. The handler never
//! panics on input (the release build aborts on panic, so nothing may).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use vitrine::experiment::{ExperimentError, Report, ValidManifest};

use super::args::CollectArgs;
use super::store::{self, Stored};
use crate::exit::{ExitKind, ResultExt};
use crate::output;

/// Largest request body (a report is ~200 bytes; an array of 100 fits).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most reports in one request.
pub const MAX_BATCH: usize = 100;
/// Requests waiting for the writer before new ones get `503`.
const QUEUE: usize = 8192;
/// Most reports the writer stores in one transaction.
const MAX_TX_REPORTS: usize = 4096;

/// Set when the server has stopped: the checkpoint thread runs a last checkpoint and ends.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

type Reply = oneshot::Sender<Result<Vec<Stored>, String>>;

struct Job {
    reports: Vec<(Report, String)>,
    reply: Reply,
}

#[derive(Clone)]
struct AppState {
    manifest: Arc<ValidManifest>,
    writer: mpsc::Sender<Job>,
}

/// Runs the collector until SIGINT/SIGTERM.
pub fn run(a: &CollectArgs) -> Result<()> {
    if !a.listen.ip().is_loopback() && !a.public {
        crate::exit::fail!(
            Usage,
            "--listen {} is not a loopback address: pass --public to accept reports from the network",
            a.listen
        );
    }
    let manifest = Arc::new(super::manifest_file::read_manifest(&a.manifest)?);
    let conn = store::open_for_writing(&a.db).kind(ExitKind::Io)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(manifest, conn, a.db.clone(), a.listen, a.json))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The writer thread: takes every queued job, stores them in one transaction, replies to each.
fn writer_loop(mut conn: rusqlite::Connection, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        let mut count = jobs[0].reports.len();
        while count < MAX_TX_REPORTS {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.reports.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let lens: Vec<usize> = jobs.iter().map(|j| j.reports.len()).collect();
        let all: Vec<(Report, String)> = jobs
            .iter_mut()
            .flat_map(|j| std::mem::take(&mut j.reports))
            .collect();
        match store::insert_batch(&mut conn, &all, now_ms()) {
            Ok(outcomes) => {
                // Each job's reports are contiguous in `all`, in job order.
                let mut it = outcomes.into_iter();
                for (job, n) in jobs.into_iter().zip(lens) {
                    let mine: Vec<Stored> = it.by_ref().take(n).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                eprintln!("collect: could not store a batch: {msg}");
                for job in jobs {
                    let _ = job.reply.send(Err(msg.clone()));
                }
            }
        }
    }
}

async fn serve(
    manifest: Arc<ValidManifest>,
    conn: rusqlite::Connection,
    db: std::path::PathBuf,
    listen: SocketAddr,
    json: bool,
) -> Result<()> {
    let checkpointer = store::open_for_writing(&db).kind(ExitKind::Io)?;
    let (tx, rx) = mpsc::channel::<Job>(QUEUE);
    let writer = std::thread::Builder::new()
        .name("report-writer".into())
        .spawn(move || writer_loop(conn, rx))
        .context("cannot start the writer thread")?;
    // WAL checkpoints every second from their own connection, so commits never wait for one.
    let checkpoints = tokio::task::spawn_blocking(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
        if let Err(e) = store::checkpoint_passive(&checkpointer) {
            eprintln!("collect: checkpoint failed (will retry): {e:#}");
        }
        if STOPPING.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
    });
    let state = AppState {
        manifest,
        writer: tx,
    };
    let app = Router::new()
        .route("/v1/reports", post(post_reports).options(preflight))
        .route("/v1/health", get(|| async { Json(json!({"ok": true})) }))
        .fallback(|| async {
            refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                "",
                "only POST /v1/reports is served",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(cors))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
        .kind(ExitKind::Io)?;
    let local = listener.local_addr()?;
    let url = format!("http://{local}/v1/reports");
    if json {
        output::print_json_line(&json!({"event": "listening", "url": url}))?;
    } else {
        output::print_text(&format!("listening on {url}\n"))?;
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    // The router (and with it the last sender) is dropped: the writer drains and stops.
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    // The writer has committed everything: one last checkpoint, then stop.
    STOPPING.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = checkpoints.await;
    eprintln!("collect: stopped");
    if json {
        output::print_json_line(&json!({"event": "stopped"}))?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn cors(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn preflight() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

fn refuse(status: StatusCode, code: &str, path: &str, reason: &str) -> Response {
    (
        status,
        Json(json!({"code": code, "path": path, "reason": reason})),
    )
        .into_response()
}

fn refuse_report(e: &ExperimentError, index: Option<usize>) -> Response {
    let status = match e.code {
        "invalid_json" | "unknown_field" | "missing_field" | "invalid_type" => {
            StatusCode::BAD_REQUEST
        }
        "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let path = match index {
        Some(i) if e.path.is_empty() => format!("[{i}]"),
        Some(i) => format!("[{i}].{}", e.path),
        None => e.path.clone(),
    };
    refuse(status, e.code, &path, &e.message)
}

/// Parses and checks one request body into reports with their stored text.
fn parse_body(
    text: &str,
    manifest: &ValidManifest,
) -> Result<Vec<(Report, String)>, Box<Response>> {
    let trimmed = text.trim_start();
    let one = |t: &str, index: Option<usize>| -> Result<(Report, String), Box<Response>> {
        let r = Report::from_json(t).map_err(|e| Box::new(refuse_report(&e, index)))?;
        r.check(manifest)
            .map_err(|e| Box::new(refuse_report(&e, index)))?;
        Ok((r, t.to_string()))
    };
    if !trimmed.starts_with('[') {
        return Ok(vec![one(text, None)?]);
    }
    let items: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "",
            &e.to_string(),
        ))
    })?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(Box::new(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_size",
            "",
            &format!(
                "an array holds 1 to {MAX_BATCH} reports, got {}",
                items.len()
            ),
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| one(&v.to_string(), Some(i)))
        .collect()
}

async fn post_reports(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rej) => {
            let status = rej.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_body"
            };
            return refuse(
                status,
                code,
                "",
                &format!("{rej} (at most {MAX_BODY_BYTES} bytes)"),
            );
        }
    };
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && essence != "text/plain" {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                "",
                "send application/json or text/plain",
            );
        }
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_utf8",
            "",
            "the body is not UTF-8",
        );
    };
    let reports = match parse_body(text, &st.manifest) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let (reply, answer) = oneshot::channel();
    let job = Job { reports, reply };
    if st.writer.try_send(job).is_err() {
        let mut r = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "",
            "the collector is busy; retry the same report later",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    match answer.await {
        Ok(Ok(outcomes)) => {
            let new = outcomes.iter().filter(|o| **o == Stored::New).count();
            Json(json!({"stored": new, "duplicates": outcomes.len() - new})).into_response()
        }
        Ok(Err(_)) | Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage",
            "",
            "the report could not be stored; retry the same report later",
        ),
    }
}
