//! `vitrine exp load`: a bounded load generator for a collector on **loopback only**. It sends
//! `rate × seconds` valid reports (built by the real `Report::build` for the manifest's
//! experiments) paced at `rate` per second over `connections` keep-alive connections, re-sends
//! `retries` of them (the same id: they must come back as duplicates), and spreads `hostile`
//! malformed, oversized, unknown-experiment, wrong-ε and otherwise bad requests through the run
//! (each must be refused with a 4xx). Afterwards, with `--db`, it counts the stored reports: the
//! increase must equal the reports the collector acknowledged as new — every accepted report
//! stored exactly once. A valid report that gets no answer or a 5xx/408/429 is sent again (same
//! body, same id), as the page's `flush()` does, at most [`ATTEMPTS`] times; resends are counted
//! with their reasons and may be at most 1 % of the valid reports. Exits non-zero when a check
//! fails. Every request loop is bounded in count and time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use vitrine::experiment::manifest::INTERLEAVED;
use vitrine::experiment::{Report, ValidManifest};

use crate::exit::{ExitKind, ResultExt};

use super::sim_rng::SimulatorSeededRng;
use super::store;

/// Attempts per valid report before it counts as failed (the first send and two resends).
pub const ATTEMPTS: u32 = 3;
/// Pause before a resend, milliseconds (a 503's `Retry-After` is 1 s; a load run cannot wait
/// that long per report, and the collector's queue drains in well under this).
const RESEND_PAUSE_MS: u64 = 50;

#[derive(Args)]
pub struct LoadArgs {
    /// The collector's URL (loopback only), e.g. http://127.0.0.1:8787/v1/reports.
    #[arg(long)]
    pub url: String,
    /// The manifest the collector serves (reports are built for its experiments; `-`: stdin).
    #[arg(long)]
    pub manifest: PathBuf,
    /// Valid reports per second.
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    /// Duration of the run, seconds (at most 600).
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Hostile requests spread through the run.
    #[arg(long, default_value_t = 1000)]
    pub hostile: u64,
    /// Valid reports sent a second time (retries).
    #[arg(long, default_value_t = 1000)]
    pub retries: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// The collector's SQLite file: count the stored reports before and after.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Seed of the generated reports (not private: test data).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, help = crate::output::JSON_HELP)]
    pub json: bool,
}

/// What the run measured.
#[derive(Debug, Default, Serialize)]
pub struct LoadResult {
    pub target_rate: f64,
    pub seconds: f64,
    pub valid_sent: u64,
    pub stored_new: u64,
    pub retries_sent: u64,
    pub retries_duplicate: u64,
    pub hostile_sent: u64,
    pub hostile_refused_4xx: u64,
    /// Hostile requests that got anything but a 4xx (must be 0).
    pub hostile_not_refused: u64,
    /// Valid reports sent again because an attempt got no answer (a transport error) or a
    /// 5xx/408/429, as the page's `flush()` does: the same body, the same id, at most
    /// [`ATTEMPTS`] attempts in all. At most 1 % of `valid_sent`, or the run fails.
    pub valid_resent: u64,
    /// Why attempts were resent: `"transport: <error>"` or `"status <code>"`, with counts.
    pub valid_resent_reasons: BTreeMap<String, u64>,
    /// Valid reports not stored after [`ATTEMPTS`] attempts (must be 0).
    pub valid_failed: u64,
    /// From the first request to the last response.
    pub elapsed_seconds: f64,
    /// Valid reports acknowledged as stored per second of `elapsed_seconds`.
    pub achieved_rate: f64,
    /// Reports acknowledged as stored in each whole second of the run (the sustained rate).
    pub stored_per_second: Vec<u64>,
    /// The lowest rate (reports stored per second) over any 5-second window of the scheduled
    /// run (the whole run when it is shorter): the sustained rate, free of the one-second
    /// buckets' pacing jitter.
    pub min_rate_5s_window: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_reports_added: Option<u64>,
    /// `db_reports_added == stored_new` (with --db).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exactly_once: Option<bool>,
    pub ok: bool,
}

fn check_loopback(uri: &Uri) -> Result<()> {
    let host = uri.host().context("--url needs a host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !ok || uri.scheme_str() != Some("http") {
        crate::exit::fail!(Usage, "vitrine exp load only targets http:// on loopback (127.0.0.0/8, ::1, localhost), not {uri}");
    }
    Ok(())
}

/// The hostile request number `k` (cycling through the kinds): method, path suffix, content
/// type, body.
fn hostile_request(k: u64, good: &str) -> (Method, bool, &'static str, Vec<u8>) {
    let json = "application/json";
    match k % 14 {
        0 => (
            Method::POST,
            false,
            json,
            b"{\"v\":1,\"experiment\":".to_vec(),
        ),
        1 => (Method::POST, false, json, vec![b' '; 100 * 1024]),
        2 => (
            Method::POST,
            false,
            json,
            good.replacen("\"experiment\":\"", "\"experiment\":\"nope-", 1)
                .into_bytes(),
        ),
        3 => (
            Method::POST,
            false,
            json,
            good.replacen("\"epsilon\":", "\"epsilon\":0.5e1,\"x\":", 1)
                .into_bytes(),
        ),
        4 => (
            Method::POST,
            false,
            json,
            good.replacen("\"v\":1", "\"v\":1,\"item\":\"p0012\"", 1)
                .into_bytes(),
        ),
        5 => (Method::POST, false, json, wrong_epsilon(good).into_bytes()),
        6 => (
            Method::POST,
            false,
            "application/x-www-form-urlencoded",
            good.as_bytes().to_vec(),
        ),
        7 => (Method::POST, false, json, vec![0xff, 0xfe, b'{', 0x80]),
        8 => (Method::POST, false, json, Vec::new()),
        9 => (
            Method::POST,
            false,
            json,
            format!("[{}]", vec![good; 101].join(",")).into_bytes(),
        ),
        10 => (Method::POST, false, json, "[".repeat(20_000).into_bytes()),
        11 => (Method::GET, false, json, Vec::new()),
        12 => (Method::POST, true, json, good.as_bytes().to_vec()),
        _ => (
            Method::POST,
            false,
            json,
            good.replacen(":1}", ":7}", 1)
                .replacen(":0}", ":7}", 1)
                .into_bytes(),
        ),
    }
}

fn wrong_epsilon(good: &str) -> String {
    match good.find("\"epsilon\":") {
        Some(i) => {
            let rest = &good[i + 10..];
            let end = rest.find(',').unwrap_or(rest.len());
            format!("{}\"epsilon\":99{}", &good[..i], &rest[end..])
        }
        None => good.to_string(),
    }
}

struct Counters {
    valid_sent: AtomicU64,
    stored_new: AtomicU64,
    retries_sent: AtomicU64,
    retries_duplicate: AtomicU64,
    hostile_sent: AtomicU64,
    hostile_refused: AtomicU64,
    hostile_not_refused: AtomicU64,
    valid_resent: AtomicU64,
    valid_failed: AtomicU64,
    resend_reasons: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn resent(&self, reason: String) {
        self.valid_resent.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.resend_reasons.lock() {
            *m.entry(reason).or_insert(0) += 1;
        }
    }
}

/// Runs the load test.
pub fn run(a: &LoadArgs) -> Result<()> {
    let r = load(a)?;
    if a.json {
        crate::output::print_json(&r)?;
    } else {
        let mut text = String::new();
        if let serde_json::Value::Object(fields) = serde_json::to_value(&r)? {
            for (k, v) in fields {
                crate::output::outln!(text, "{k:<22} {v}");
            }
        }
        crate::output::print_text(&text)?;
    }
    if !r.ok {
        crate::exit::fail!(Check, "load test failed (see the counts above)");
    }
    Ok(())
}

/// The load test, returning its measurements.
pub fn load(a: &LoadArgs) -> Result<LoadResult> {
    let uri: Uri = a
        .url
        .parse()
        .with_context(|| format!("--url '{}' is not a URL", a.url))
        .kind(ExitKind::Usage)?;
    check_loopback(&uri)?;
    if !(a.rate > 0.0 && a.rate <= 100_000.0 && a.seconds > 0.0 && a.seconds <= 600.0) {
        crate::exit::fail!(
            Usage,
            "--rate must be in (0, 100000] and --seconds in (0, 600]"
        );
    }
    let manifest = Arc::new(super::manifest_file::read_manifest(&a.manifest)?);
    if manifest
        .experiments()
        .iter()
        .all(|e| e.report_epsilon == 0.0)
    {
        crate::exit::fail!(Input, "the manifest has no experiment with layer-1 reports");
    }
    let before = match &a.db {
        Some(p) => Some(
            store::open_for_reading(p)
                .and_then(|c| store::count_reports(&c))
                .kind(ExitKind::Input)?,
        ),
        None => None,
    };
    let total = (a.rate * a.seconds).round() as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let counters = Arc::new(Counters {
        valid_sent: AtomicU64::new(0),
        stored_new: AtomicU64::new(0),
        retries_sent: AtomicU64::new(0),
        retries_duplicate: AtomicU64::new(0),
        hostile_sent: AtomicU64::new(0),
        hostile_refused: AtomicU64::new(0),
        hostile_not_refused: AtomicU64::new(0),
        valid_resent: AtomicU64::new(0),
        valid_failed: AtomicU64::new(0),
        resend_reasons: Mutex::new(BTreeMap::new()),
    });
    let (latencies, acks, elapsed) =
        runtime.block_on(drive(a, uri, manifest, total, counters.clone()))?;
    let mut stored_per_second = vec![0u64; elapsed.ceil().max(1.0) as usize];
    for t in &acks {
        if let Some(slot) = stored_per_second.get_mut(*t as usize) {
            *slot += 1;
        }
    }
    let scheduled = (a.seconds.floor() as usize).clamp(1, stored_per_second.len());
    let window = scheduled.min(5);
    let min_rate_5s_window = stored_per_second[..scheduled]
        .windows(window)
        .map(|w| w.iter().sum::<u64>() as f64 / window as f64)
        .fold(f64::INFINITY, f64::min);
    let mut lat = latencies;
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut r = LoadResult {
        target_rate: a.rate,
        seconds: a.seconds,
        valid_sent: g(&counters.valid_sent),
        stored_new: g(&counters.stored_new),
        retries_sent: g(&counters.retries_sent),
        retries_duplicate: g(&counters.retries_duplicate),
        hostile_sent: g(&counters.hostile_sent),
        hostile_refused_4xx: g(&counters.hostile_refused),
        hostile_not_refused: g(&counters.hostile_not_refused),
        valid_resent: g(&counters.valid_resent),
        valid_resent_reasons: counters
            .resend_reasons
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default(),
        valid_failed: g(&counters.valid_failed),
        elapsed_seconds: elapsed,
        achieved_rate: g(&counters.stored_new) as f64 / elapsed,
        latency_p50_ms: pct(0.5),
        latency_p99_ms: pct(0.99),
        stored_per_second,
        min_rate_5s_window,
        ..Default::default()
    };
    if let (Some(p), Some(b)) = (&a.db, before) {
        let after = store::count_reports(&store::open_for_reading(p)?)?;
        r.db_reports_added = Some(after.saturating_sub(b));
        r.exactly_once = Some(after.saturating_sub(b) == r.stored_new);
    }
    r.ok = r.hostile_not_refused == 0
        && r.valid_failed == 0
        && r.valid_resent * 100 <= r.valid_sent
        && r.stored_new == r.valid_sent
        && r.retries_duplicate == r.retries_sent
        && r.hostile_refused_4xx == r.hostile_sent
        && r.exactly_once != Some(false);
    Ok(r)
}

/// Sends everything; returns the valid requests' latencies (ms), the times (s since the start)
/// at which reports were acknowledged as stored, and the run's duration (s).
async fn drive(
    a: &LoadArgs,
    uri: Uri,
    manifest: Arc<ValidManifest>,
    total: u64,
    c: Arc<Counters>,
) -> Result<(Vec<f64>, Vec<f64>, f64)> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(a.connections)
        .build_http();
    let bad_path: Uri = format!(
        "{}://{}/v1/nothing-here",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |x| x.as_str())
    )
    .parse()?;
    let workers = a.connections.max(1) as u64;
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds * 3.0 + 30.0);
    let retry_every = total.checked_div(a.retries).map_or(u64::MAX, |k| k.max(1));
    let hostile_every = total.checked_div(a.hostile).map_or(u64::MAX, |k| k.max(1));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, uri, bad_path, manifest, c) = (
            client.clone(),
            uri.clone(),
            bad_path.clone(),
            manifest.clone(),
            c.clone(),
        );
        let (rate, seed, retries, hostile) = (a.rate, a.seed, a.retries, a.hostile);
        tasks.push(tokio::spawn(async move {
            let mut rng = SimulatorSeededRng::new(seed, w);
            let exps: Vec<_> = manifest
                .experiments()
                .iter()
                .filter(|e| e.report_epsilon > 0.0)
                .collect();
            let mut latencies = Vec::new();
            let mut acks = Vec::new();
            let mut i = w;
            while i < total {
                if tokio::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
                let exp = exps[(i as usize) % exps.len()];
                let arm = match exp.design {
                    vitrine::experiment::Design::Interleaving => INTERLEAVED.to_string(),
                    _ => exp.arms[rng.below(exp.arms.len())].name.clone(),
                };
                let raw = exp
                    .report_metrics()
                    .filter_map(|m| {
                        m.ldp
                            .map(|(_, lo, hi)| (m.name.clone(), rng.uniform(lo, hi)))
                    })
                    .collect();
                let Ok(report) = Report::build(exp, &arm, &raw, &mut rng) else {
                    c.valid_failed.fetch_add(1, Ordering::Relaxed);
                    i += workers;
                    continue;
                };
                let body = report.to_json();
                let t = Instant::now();
                c.valid_sent.fetch_add(1, Ordering::Relaxed);
                let stored = send_until_stored(&client, &uri, &body, &c).await;
                if stored {
                    c.stored_new.fetch_add(1, Ordering::Relaxed);
                    acks.push(start.elapsed().as_secs_f64());
                } else {
                    c.valid_failed.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                if i % retry_every == 0 && i / retry_every < retries {
                    c.retries_sent.fetch_add(1, Ordering::Relaxed);
                    let text_plain = "text/plain;charset=UTF-8";
                    if let Ok((StatusCode::OK, text)) = post(&client, &uri, text_plain, &body).await
                    {
                        if text.contains("\"duplicates\":1") {
                            c.retries_duplicate.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if i % hostile_every == 0 && i / hostile_every < hostile {
                    let (method, wrong_path, ct, bad) = hostile_request(i / hostile_every, &body);
                    let target = if wrong_path { &bad_path } else { &uri };
                    c.hostile_sent.fetch_add(1, Ordering::Relaxed);
                    match send(&client, method, target, ct, bad).await {
                        Ok((s, _)) if s.is_client_error() => {
                            c.hostile_refused.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => c.hostile_not_refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
                i += workers;
            }
            (latencies, acks)
        }));
    }
    let (mut all, mut all_acks) = (Vec::new(), Vec::new());
    for t in tasks {
        let (l, k) = t.await.context("a load worker failed")?;
        all.extend(l);
        all_acks.extend(k);
    }
    Ok((all, all_acks, start.elapsed().as_secs_f64()))
}

/// Sends the valid report `body` until the collector says it is stored, as the page's `flush()`
/// does: again after a transport error or a 5xx/408/429 (same body, same id), at most
/// [`ATTEMPTS`] attempts, each resend counted with its reason. A duplicate answer to a resend
/// means an earlier attempt was stored and its answer lost. Whether it was stored.
async fn send_until_stored(
    client: &Client<HttpConnector, Full<Bytes>>,
    uri: &Uri,
    body: &str,
    c: &Counters,
) -> bool {
    for attempt in 1..=ATTEMPTS {
        let reason = match post(client, uri, "application/json", body).await {
            Ok((StatusCode::OK, text)) if text.contains("\"stored\":1") => return true,
            Ok((StatusCode::OK, text)) if attempt > 1 && text.contains("\"duplicates\":1") => {
                return true
            }
            Ok((s, _)) if resend_status(s) => format!("status {}", s.as_u16()),
            // Anything else (a 4xx, a 200 that is not "stored") is final.
            Ok(_) => return false,
            Err(e) => format!("transport: {e}"),
        };
        if attempt == ATTEMPTS {
            break;
        }
        c.resent(reason);
        tokio::time::sleep(Duration::from_millis(RESEND_PAUSE_MS)).await;
    }
    false
}

/// `POST` of `body` to `uri` (see [`send`]).
async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    uri: &Uri,
    content_type: &str,
    body: &str,
) -> Result<(StatusCode, String), String> {
    send(
        client,
        Method::POST,
        uri,
        content_type,
        body.as_bytes().to_vec(),
    )
    .await
}

/// Whether the page's `flush()` would send a report again after this status: 5xx, 408, 429.
fn resend_status(s: StatusCode) -> bool {
    s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT || s == StatusCode::TOO_MANY_REQUESTS
}

/// One request: its status and body, or what went wrong in transport (no answer in 30 s,
/// a connection error).
async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: Method,
    uri: &Uri,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(StatusCode, String), String> {
    let req = Request::builder()
        .method(method)
        .uri(uri.clone())
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| "no answer in 30 s".to_string())?
        .map_err(|e| error_chain(&e))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| error_chain(&e))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// An error and its sources, `a: b: c` (hyper's top-level messages alone say little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
