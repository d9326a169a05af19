//! The load generator against a real HTTP server on loopback that misbehaves on purpose: it
//! answers some first attempts with `503`, or closes the connection without an answer, or
//! stores a report and then loses the answer. Resends must carry every report to "stored"
//! exactly once, counted with their reasons; a server that never stores must fail the run.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::{load, LoadArgs, ATTEMPTS};

const MANIFEST: &str = r#"{"format":"vitrine-experiments","version":1,"experiments":[
  {"id":"shelf","salt":"0123456789abcdef","start":"2026-01-01","end":"2027-01-01",
   "arms":[{"name":"control","allocation":0.5},{"name":"treatment","allocation":0.5}],
   "metrics":[{"name":"shelf_click","epsilon":1}],"report":{"epsilon":1}}]}"#;

/// How the test server treats the first attempt of every `every`-th report.
#[derive(Clone, Copy)]
enum Fault {
    /// `503 busy`.
    Busy,
    /// Stores the report, then drops the connection before answering.
    StoreThenDrop,
    /// Never stores anything: `503` always.
    AlwaysBusy,
}

struct Server {
    fault: Fault,
    every: u64,
    /// Distinct reports seen (stored or not).
    seen: AtomicU64,
    /// Reports whose first attempt has been seen.
    attempted: Mutex<HashSet<String>>,
    stored: Mutex<HashSet<String>>,
}

fn report_id(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("a JSON report");
    v["id"].as_str().expect("an id").to_string()
}

async fn handle(st: Arc<Server>, body: Bytes) -> Response {
    let id = report_id(&body);
    if matches!(st.fault, Fault::AlwaysBusy) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let known = st.stored.lock().unwrap().contains(&id);
    if known {
        return r#"{"stored":0,"duplicates":1}"#.into_response();
    }
    let first_attempt = st.attempted.lock().unwrap().insert(id.clone());
    if first_attempt && st.seen.fetch_add(1, Ordering::Relaxed) % st.every == 0 {
        match st.fault {
            Fault::Busy => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
            Fault::StoreThenDrop => {
                st.stored.lock().unwrap().insert(id);
                // Panicking in a handler makes hyper drop the connection without an answer.
                panic!("the test server loses this answer on purpose");
            }
            Fault::AlwaysBusy => unreachable!(),
        }
    }
    st.stored.lock().unwrap().insert(id);
    r#"{"stored":1,"duplicates":0}"#.into_response()
}

/// Starts the server on a loopback port in its own thread; returns its address and state.
fn start(fault: Fault, every: u64) -> (SocketAddr, Arc<Server>) {
    let st = Arc::new(Server {
        fault,
        every,
        seen: AtomicU64::new(0),
        attempted: Mutex::new(HashSet::new()),
        stored: Mutex::new(HashSet::new()),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let state = st.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new().route(
                "/v1/reports",
                post(move |body: Bytes| handle(state.clone(), body)),
            );
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (addr, st)
}

fn args(addr: SocketAddr, manifest: &std::path::Path) -> LoadArgs {
    LoadArgs {
        url: format!("http://{addr}/v1/reports"),
        manifest: manifest.to_path_buf(),
        rate: 2000.0,
        seconds: 0.2,
        hostile: 0,
        retries: 0,
        connections: 4,
        db: None,
        seed: 7,
        json: true,
    }
}

fn manifest_file(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("vitrine-load-{}-{name}.json", std::process::id()));
    std::fs::write(&p, MANIFEST).unwrap();
    p
}

#[test]
fn a_busy_answer_is_resent_and_the_report_stored_once() {
    let m = manifest_file("busy");
    let (addr, st) = start(Fault::Busy, 100);
    let r = load(&args(addr, &m)).unwrap();
    assert_eq!(r.valid_sent, 400);
    assert_eq!(r.stored_new, 400, "{r:?}");
    assert_eq!(st.stored.lock().unwrap().len(), 400);
    assert_eq!(r.valid_failed, 0);
    assert_eq!(r.valid_resent, 4, "{r:?}");
    assert_eq!(r.valid_resent_reasons.get("status 503"), Some(&4));
    assert!(r.ok, "{r:?}");
}

#[test]
fn a_lost_answer_is_resent_and_its_duplicate_counts_as_stored() {
    let m = manifest_file("drop");
    let (addr, st) = start(Fault::StoreThenDrop, 100);
    let r = load(&args(addr, &m)).unwrap();
    assert_eq!(r.stored_new, 400, "{r:?}");
    assert_eq!(st.stored.lock().unwrap().len(), 400);
    assert_eq!(r.valid_resent, 4, "{r:?}");
    let transport: u64 = r
        .valid_resent_reasons
        .iter()
        .filter(|(k, _)| k.starts_with("transport: "))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(transport, 4, "{r:?}");
    assert!(r.ok, "{r:?}");
}

#[test]
fn a_server_that_never_stores_fails_the_run() {
    let m = manifest_file("never");
    let (addr, _) = start(Fault::AlwaysBusy, 1);
    let mut a = args(addr, &m);
    a.rate = 200.0;
    a.seconds = 0.05;
    let r = load(&a).unwrap();
    assert_eq!(r.valid_sent, 10);
    assert_eq!(r.stored_new, 0);
    assert_eq!(r.valid_failed, 10);
    assert_eq!(r.valid_resent, 10 * u64::from(ATTEMPTS - 1));
    assert!(!r.ok);
}
