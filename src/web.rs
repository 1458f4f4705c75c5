//! The HTTP side: `/metrics` (format negotiated, gzip when asked), a landing
//! page, `/healthz`, `/readyz` and `POST /-/reload`. Nothing here calls WeChat:
//! a scrape reads the store.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::scheduler::Shared;
use crate::exposition::{self, Format};
use crate::web_config::{Auth, WebConfigSource};

/// A reload request, answered with the outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct WebState {
    pub shared: Arc<Shared>,
    pub telemetry_path: String,
    pub reload: mpsc::Sender<ReloadRequest>,
    /// (name, appid, account) of the configured apps, for the landing page.
    pub apps: Arc<std::sync::RwLock<Vec<(String, String, String)>>>,
    pub web_config: Arc<WebConfigSource>,
}

pub fn router(state: WebState) -> Router {
    let path = if state.telemetry_path.starts_with('/') { state.telemetry_path.clone() } else { format!("/{}", state.telemetry_path) };
    Router::new()
        .route(&path, get(metrics))
        .route("/", get(crate::landing::page))
        .route("/-/reload", post(reload))
        .layer(axum::middleware::from_fn_with_state(state.web_config.clone(), basic_auth))
        // The probes answer without credentials, after the auth layer: a kubelet or a load
        // balancer cannot send a password, and they tell no more than "alive" and "ready".
        .route("/healthz", get(|| async { "OK\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Basic auth on every path but the probes, when the web config names users.
async fn basic_auth(State(web): State<Arc<WebConfigSource>>, req: Request, next: Next) -> Response {
    let config = web.current();
    if !config.users.is_empty() {
        let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        match web.authorize(config, header.as_deref()).await {
            Auth::Allowed => {}
            Auth::Denied => {
                return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"wechat-exporter\"")], "Unauthorized\n")
                    .into_response();
            }
            Auth::Busy => {
                tracing::debug!("every password check is busy; refusing a request without checking it");
                return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "Too many password checks at once; try again\n")
                    .into_response();
            }
        }
    }
    next.run(req).await
}

/// Limits on the connections the server takes.
#[derive(Clone, Debug)]
pub struct ServeLimits {
    /// Connections open at once; at the cap, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and the most a kept-alive
    /// connection waits idle for the next request.
    pub header_read_timeout: Duration,
    /// Time a client has to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// At shutdown, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true: plain HTTP, or TLS when the web
/// config has a `tls_server_config` at start (its certificate is re-read when it changes).
/// One loop for both: a connection takes a slot before it is accepted, must send its
/// headers in time, and at `stop` its request in flight may finish within the grace period.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    web: Arc<WebConfigSource>,
    limits: ServeLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut tls = web.current().tls.clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let mut full_logged = false;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if !std::mem::replace(&mut full_logged, true) {
                    tracing::warn!(max = limits.max_connections, "connection limit reached; new connections wait (--web.max-connections)");
                }
                tokio::select! {
                    s = slots.clone().acquire_owned() => match s {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = stopped(&mut stop) => break,
                }
            }
        };
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        if slots.available_permits() > 0 {
            full_logged = false;
        }
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        let http = http.clone();
        let Some(current) = tls.as_mut() else {
            let conn = http.serve_connection(TokioIo::new(tcp), service);
            tokio::spawn(async move {
                let _ = watcher.watch(conn).await;
                drop(slot);
            });
            continue;
        };
        // A reload that drops TLS keeps the last certificate: switching scheme needs a restart.
        if let Some(newer) = web.current().tls.clone() {
            *current = newer;
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(current.clone());
        let handshake_timeout = limits.tls_handshake_timeout;
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp));
            let stream = tokio::select! {
                r = handshake => match r {
                    Ok(Ok(stream)) => stream,
                    _ => return,
                },
                // Shutting down: a connection that has not said anything yet is dropped.
                _ = stopped(&mut stop) => return,
            };
            let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace = ?limits.shutdown_grace, "requests still running at the end of the shutdown grace period; stopping anyway");
    }
    Ok(())
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The negotiated format, as client_golang chooses it: the media range with the highest
/// `q` wins (the first among equals); OpenMetrics only when that is what it names.
pub fn negotiate(headers: &HeaderMap) -> Format {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut ranges: Vec<(&str, f32)> = accept
        .split(',')
        .filter_map(|part| {
            let mut it = part.split(';').map(str::trim);
            let media = it.next().filter(|m| !m.is_empty())?;
            let q = it
                .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((media, q))
        })
        .filter(|(_, q)| *q > 0.0)
        .collect();
    // A stable sort keeps the header's order among equal q.
    ranges.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (media, _) in ranges {
        match media {
            "application/openmetrics-text" => return Format::OpenMetrics,
            "text/plain" | "text/*" | "*/*" => return Format::Text,
            _ => {}
        }
    }
    Format::Text
}

/// Whether `Accept-Encoding` allows gzip: named with a `q` above zero, or left to `*`
/// with one. `q=0`, `q=0.0`, `q=0.000` all say "not this".
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let ae = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut gzip = None;
    let mut any = None;
    for part in ae.split(',') {
        let mut it = part.split(';').map(str::trim);
        let coding = it.next().unwrap_or("");
        let q = it
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim().eq_ignore_ascii_case("q").then(|| v.trim().parse::<f32>().unwrap_or(0.0))
            })
            .next()
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q);
        } else if coding == "*" {
            any = Some(q);
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

async fn metrics(State(st): State<WebState>, headers: HeaderMap) -> Response {
    let format = negotiate(&headers);
    let gzip = accepts_gzip(&headers);
    let chunks = exposition::chunks(&st.shared.store, &st.shared.live, format, gzip);
    let mut resp_headers = HeaderMap::new();
    resp_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    resp_headers.insert(header::VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    if gzip {
        resp_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let len: usize = chunks.iter().map(Bytes::len).sum();
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        resp_headers.insert(header::CONTENT_LENGTH, v);
    }
    // The cached chunks go out without a copy of the whole body. Large ones (the buckets
    // of families every app has) go as they are; runs of small ones (gzip members, the
    // buckets of small families: nine chunks in ten, a quarter of the bytes) are joined
    // into pieces as the body is sent, since each chunk costs hyper a frame of its own.
    // One piece at a time: 50 scrapers at once hold 50 pieces, not 50 bodies.
    let stream = futures_util::stream::iter(Coalesce::new(chunks, JOIN_BELOW, PIECE).map(Ok::<_, std::convert::Infallible>));
    (resp_headers, axum::body::Body::from_stream(stream)).into_response()
}

/// A chunk this small is joined with its small neighbours ...
const JOIN_BELOW: usize = 16 * 1024;
/// ... into pieces of about this size.
const PIECE: usize = 64 * 1024;

/// Chunks with runs of those under `join_below` bytes joined into pieces of about
/// `piece` bytes, made as they are asked for; larger chunks pass as they are.
struct Coalesce {
    chunks: std::iter::Peekable<std::vec::IntoIter<Bytes>>,
    join_below: usize,
    piece: usize,
}

impl Coalesce {
    fn new(chunks: Vec<Bytes>, join_below: usize, piece: usize) -> Coalesce {
        Coalesce { chunks: chunks.into_iter().peekable(), join_below, piece }
    }
}

impl Iterator for Coalesce {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let first = self.chunks.next()?;
        let small = |c: &Bytes| c.len() < self.join_below;
        if !small(&first) || !self.chunks.peek().is_some_and(small) {
            return Some(first);
        }
        let mut buf = Vec::with_capacity(self.piece + self.join_below);
        buf.extend_from_slice(&first);
        while buf.len() < self.piece {
            match self.chunks.next_if(small) {
                Some(c) => buf.extend_from_slice(&c),
                None => break,
            }
        }
        Some(Bytes::from(buf))
    }
}

async fn readyz(State(st): State<WebState>) -> Response {
    let waiting = st.shared.status().iter().filter(|(_, _, s)| s.polls == 0).count();
    if waiting == 0 {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {waiting} collectors have not finished their first poll\n"))
            .into_response()
    }
}

async fn reload(State(st): State<WebState>) -> Response {
    let (tx, rx) = oneshot::channel();
    if st.reload.send(tx).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match rx.await {
        Ok(Ok(())) => (StatusCode::OK, "config reloaded\n").into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("reload failed, the old config stays in force: {e}\n")).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "reload was not answered\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(k: header::HeaderName, v: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(k, HeaderValue::from_static(v));
        m
    }

    #[test]
    fn prometheus_accept_header_gets_openmetrics() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(&h(header::ACCEPT, prom)), Format::OpenMetrics);
        assert_eq!(negotiate(&h(header::ACCEPT, "*/*")), Format::Text);
        assert_eq!(negotiate(&HeaderMap::new()), Format::Text);
        assert_eq!(negotiate(&h(header::ACCEPT, "application/openmetrics-text;q=0")), Format::Text);
        let prefers_text = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.1";
        assert_eq!(negotiate(&h(header::ACCEPT, prefers_text)), Format::Text);
        assert_eq!(negotiate(&h(header::ACCEPT, "application/json, application/openmetrics-text")), Format::OpenMetrics);
    }

    #[test]
    fn small_chunks_are_joined_in_order() {
        let chunks: Vec<Bytes> = vec![Bytes::from("ab"), Bytes::from("cd"), Bytes::from("efghij"), Bytes::from("k")];
        let out: Vec<Bytes> = Coalesce::new(chunks.clone(), 4, 4).collect();
        assert_eq!(out, vec![Bytes::from("abcd"), Bytes::from("efghij"), Bytes::from("k")]);
        assert_eq!(out.concat(), chunks.concat());
        // A large chunk ends a run and passes alone; pieces stop growing at their size.
        let chunks: Vec<Bytes> = ["a", "bcdef", "g", "h", "ij", "k"].map(Bytes::from).to_vec();
        let out: Vec<Bytes> = Coalesce::new(chunks.clone(), 4, 3).collect();
        assert_eq!(out, ["a", "bcdef", "ghij", "k"].map(Bytes::from).to_vec());
        assert_eq!(Coalesce::new(chunks.clone(), 0, 64).collect::<Vec<_>>(), chunks, "nothing is small");
    }

    #[test]
    fn gzip_when_allowed() {
        assert!(accepts_gzip(&h(header::ACCEPT_ENCODING, "gzip")));
        assert!(accepts_gzip(&h(header::ACCEPT_ENCODING, "deflate, gzip;q=1.0")));
        assert!(!accepts_gzip(&h(header::ACCEPT_ENCODING, "gzip;q=0")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn gzip_refused_with_any_spelling_of_zero() {
        for refused in ["gzip;q=0.0", "gzip; q=0.00", "gzip;q=0.000", "gzip;Q=0.0", "deflate, gzip;q=0.0", "*;q=0.0", "gzip;q=0, *", "identity"] {
            assert!(!accepts_gzip(&h(header::ACCEPT_ENCODING, refused)), "{refused}");
        }
        for allowed in ["gzip;q=0.001", "*", "*;q=0.5", "GZIP", "x-gzip", "gzip;q=1, *;q=0", "br, gzip;q=0.5"] {
            assert!(accepts_gzip(&h(header::ACCEPT_ENCODING, allowed)), "{allowed}");
        }
    }
}
