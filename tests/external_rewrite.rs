//! External rewrites against a real upstream (`axum::serve` on a loopback port started in the
//! test) through a real proxy server, with hyper-util's client as the browser: bodies both
//! ways (10 MB, hashed) with a bound on memory, time limits, refused and broken upstreams,
//! headers and cookies on both sides, and the allow-list.
#![cfg(feature = "external")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use bytes::Bytes;
use common::*;
use http::{header, Method, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tower::ServiceExt;
use tower_proxy_fn::external::Upstreams;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

// ---- memory: live heap bytes and their peak, for the whole test process ----

/// Counts live heap bytes and remembers the peak, so a test can show that 10 MB went
/// through without 10 MB ever being held.
struct Peak;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call goes to `System` unchanged; the counters are plain atomics.
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Peak = Peak;

/// Runs `work` and returns its output and how far the live heap rose above where it started.
async fn peak_growth<T>(work: impl std::future::Future<Output = T>) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = work.await;
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// The tests run one at a time: the peak measurement is for the whole process, and the
/// log capture is per thread.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the 10 MB tests allow the heap to grow by. Buffering the body anywhere on the way
/// (client, proxy, upstream) takes at least 10 MB. What is left is the fixed cost of three
/// HTTP connections and their read buffers: on 2026-11-22 (2 cores, AMD EPYC) the growth was
/// 1.8 MB (GET) and 2.0 MB (POST) for 10 MB, and 1.4 MB for 1 MB.
const MEMORY_BOUND: usize = 4 * 1024 * 1024;
const TEN_MB: usize = 10 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

// ---- payload: pseudo-random chunks made on the fly ----

/// Xorshift bytes, `CHUNK` at a time, the same sequence for the same seed.
struct Payload {
    state: u64,
    left: usize,
}

impl Payload {
    fn new(len: usize) -> Self {
        Self {
            state: 0x9E37_79B9_7F4A_7C15,
            left: len,
        }
    }
}

impl Iterator for Payload {
    type Item = Bytes;
    fn next(&mut self) -> Option<Bytes> {
        if self.left == 0 {
            return None;
        }
        let len = CHUNK.min(self.left);
        let mut chunk = Vec::with_capacity(len + 8);
        while chunk.len() < len {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            chunk.extend_from_slice(&self.state.to_le_bytes());
        }
        chunk.truncate(len);
        self.left -= len;
        Some(Bytes::from(chunk))
    }
}

/// The FNV-1a hash of the whole payload, computed here in the test.
fn payload_hash(len: usize) -> u64 {
    let mut hash = Fnv1a::default();
    for chunk in Payload::new(len) {
        hash.update(&chunk);
    }
    hash.0
}

// ---- the upstream ----

/// Streams the request body, hashing it: `{len, fnv, frames}`.
async fn sink(request: Request) -> Json<Value> {
    let mut body = request.into_body();
    let (mut len, mut frames, mut hash) = (0u64, 0u64, Fnv1a::default());
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("request body frame").into_data() {
            frames += 1;
            len += data.len() as u64;
            hash.update(&data);
        }
    }
    Json(json!({ "len": len, "fnv": hash.0.to_string(), "frames": frames }))
}

/// Streams `TEN_MB` of payload, made chunk by chunk as the client reads.
async fn download() -> Body {
    Body::from_stream(futures_util::stream::iter(
        Payload::new(TEN_MB).map(Ok::<_, Infallible>),
    ))
}

/// The echo handler, with headers and a cookie of the upstream's own, and hop-by-hop
/// headers that must not reach the client.
async fn echo_with_headers(request: Request) -> Response {
    let mut response = echo(request).await.into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, "upstream=1; Path=/".parse().unwrap());
    headers.insert("x-upstream", "u".parse().unwrap());
    headers.insert("x-shared", "upstream".parse().unwrap());
    headers.insert(header::CONNECTION, "x-hop-response".parse().unwrap());
    headers.insert("x-hop-response", "secret".parse().unwrap());
    headers.insert("keep-alive", "timeout=5".parse().unwrap());
    response
}

struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

async fn start_upstream() -> Upstream {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let app = Router::new()
        .route("/sink", post(sink))
        .route("/download", get(download))
        .route("/echo/{*rest}", any(echo_with_headers))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "too late"
            }),
        )
        .route(
            "/drip",
            get(|| async {
                // One chunk now, the next one in 10 s.
                let chunks = futures_util::stream::unfold(0, |sent| async move {
                    if sent == 1 {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                    (sent < 2).then(|| (Ok::<_, Infallible>(Bytes::from("drip\n")), sent + 1))
                });
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/moved",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "http://legacy.example/new-place?x=1")],
                )
            }),
        )
        .layer(axum::middleware::from_fn(
            move |request: Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(request)
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Upstream { addr, hits }
}

// ---- the proxy ----

/// `/up/<rest>` is rewritten to `http://<upstream>/<rest>` with the query, and the proxy adds
/// a request header, response headers and a cookie.
fn rewrite_to(upstream: SocketAddr) -> impl tower_proxy_fn::ProxyFn {
    move |req: ProxyRequest| async move {
        let rest = req.path().strip_prefix("/up").unwrap_or("/");
        let mut target = format!("http://{upstream}{rest}");
        if let Some(query) = req.url().query() {
            target.push('?');
            target.push_str(query);
        }
        ProxyResponse::rewrite(target)
            .request_header("x-user", "ann")
            .header("x-shared", "proxy")
            .header("x-proxy", "p")
            .set_cookie("proxy", "1")
    }
}

fn app_router() -> Router {
    Router::new().route("/", get(|| async { "home" }))
}

/// A proxy server whose function rewrites `/up/...` to `upstream`, with `upstreams` as its
/// configuration.
async fn start_proxy(upstream: SocketAddr, upstreams: Upstreams) -> SocketAddr {
    serve_with_peer(
        ProxyLayer::new(rewrite_to(upstream))
            .with_external(upstreams)
            .layer(app_router()),
    )
    .await
}

fn allow(upstream: SocketAddr) -> Upstreams {
    Upstreams::new()
        .allow(&format!("http://{upstream}"))
        .expect("a valid origin")
}

async fn get_from(url: String, headers: &[(&str, &str)]) -> http::Response<Bytes> {
    get_url(&url, headers).await
}

fn text(response: &http::Response<Bytes>) -> &str {
    std::str::from_utf8(response.body()).expect("UTF-8 body")
}

// ---- the tests ----

#[tokio::test]
async fn ten_megabyte_streamed_post_arrives_intact_with_flat_memory() {
    let _serial = SERIAL.lock().await;
    let upstream = start_upstream().await;
    let proxy = start_proxy(upstream.addr, allow(upstream.addr)).await;
    let want_hash = payload_hash(TEN_MB);

    let ((status, seen), growth) = peak_growth(async {
        let (tx, rx) = mpsc::channel::<Bytes>(2);
        tokio::spawn(async move {
            for chunk in Payload::new(TEN_MB) {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        let client = Client::builder(TokioExecutor::new()).build_http::<ChannelBody>();
        let request = http::Request::post(format!("http://{proxy}/up/sink"))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(ChannelBody(rx))
            .unwrap();
        let response = client.request(request).await.expect("upload");
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice::<Value>(&bytes).unwrap())
    })
    .await;

    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["len"], TEN_MB as u64, "length seen by the upstream");
    assert_eq!(
        seen["fnv"],
        want_hash.to_string(),
        "FNV-1a seen by the upstream"
    );
    assert!(seen["frames"].as_u64().unwrap() > 1, "streamed: {seen}");
    println!("10 MB POST: live heap grew by at most {growth} bytes");
    assert!(
        growth < MEMORY_BOUND,
        "the heap grew by {growth} bytes for a 10 MB upload: something buffered it"
    );
}

#[tokio::test]
async fn ten_megabyte_streamed_get_arrives_intact_with_flat_memory() {
    let _serial = SERIAL.lock().await;
    let upstream = start_upstream().await;
    let proxy = start_proxy(upstream.addr, allow(upstream.addr)).await;
    let want_hash = payload_hash(TEN_MB);

    let ((status, len, hash), growth) = peak_growth(async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let request = http::Request::get(format!("http://{proxy}/up/download"))
            .body(Empty::new())
            .unwrap();
        let response = client.request(request).await.expect("download");
        let status = response.status();
        let mut body = response.into_body();
        let (mut len, mut hash) = (0usize, Fnv1a::default());
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("response frame").into_data() {
                len += data.len();
                hash.update(&data);
            }
        }
        (status, len, hash.0)
    })
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(len, TEN_MB, "length the client got");
    assert_eq!(hash, want_hash, "FNV-1a of what the client got");
    println!("10 MB GET: live heap grew by at most {growth} bytes");
    assert!(
        growth < MEMORY_BOUND,
        "the heap grew by {growth} bytes for a 10 MB download: something buffered it"
    );
}

#[tokio::test]
async fn headers_and_cookies_from_both_sides_land_where_they_belong() {
    let _serial = SERIAL.lock().await;
    let upstream = start_upstream().await;
    let proxy = start_proxy(upstream.addr, allow(upstream.addr)).await;

    let response = get_from(
        format!("http://{proxy}/up/echo/a%20b?q=1"),
        &[
            ("host", "app.test"),
            ("cookie", "session=s1"),
            ("x-client", "c"),
            ("x-forwarded-for", "203.0.113.9"),
            ("connection", "x-hop-request"),
            ("x-hop-request", "secret"),
            ("proxy-connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));

    // What the upstream got.
    let seen: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(seen["path"], "/echo/a%20b");
    assert_eq!(seen["query"], "q=1");
    assert_eq!(echoed_header(&seen, "host"), [upstream.addr.to_string()]);
    assert_eq!(echoed_header(&seen, "x-forwarded-host"), ["app.test"]);
    assert_eq!(echoed_header(&seen, "x-forwarded-proto"), ["http"]);
    assert_eq!(
        echoed_header(&seen, "x-forwarded-for"),
        ["203.0.113.9, 127.0.0.1"]
    );
    assert_eq!(echoed_header(&seen, "x-user"), ["ann"], "the proxy's edit");
    assert_eq!(echoed_header(&seen, "x-client"), ["c"]);
    assert_eq!(echoed_header(&seen, "cookie"), ["session=s1"]);
    for hop in ["x-hop-request", "proxy-connection", "keep-alive"] {
        assert_eq!(echoed_header(&seen, hop), Vec::<String>::new(), "{hop}");
    }
    for response_only in ["x-proxy", "x-shared"] {
        assert_eq!(
            echoed_header(&seen, response_only),
            Vec::<String>::new(),
            "{response_only} is for the client only"
        );
    }

    // What the client got.
    assert_eq!(header_values(&response, "x-upstream"), ["u"]);
    assert_eq!(header_values(&response, "x-proxy"), ["p"]);
    assert_eq!(
        header_values(&response, "x-shared"),
        ["proxy"],
        "the proxy's response header replaces the upstream's"
    );
    assert_eq!(
        set_cookies(&response),
        ["upstream=1; Path=/", "proxy=1; Path=/"]
    );
    assert_eq!(
        header_values(&response, "x-hop-response"),
        Vec::<String>::new()
    );
    assert_eq!(header_values(&response, "keep-alive"), Vec::<String>::new());
}

#[tokio::test]
async fn keep_host_sends_the_clients_host() {
    let _serial = SERIAL.lock().await;
    let upstream = start_upstream().await;
    let proxy = start_proxy(upstream.addr, allow(upstream.addr).with_client_host(true)).await;
    let response = get_from(format!("http://{proxy}/up/echo/x"), &[("host", "app.test")]).await;
    let seen: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(echoed_header(&seen, "host"), ["app.test"]);
    assert_eq!(echoed_header(&seen, "x-forwarded-host"), ["app.test"]);
}

#[tokio::test]
async fn upstream_redirects_pass_through_unchanged() {
    let _serial = SERIAL.lock().await;
    let upstream = start_upstream().await;
    let proxy = start_proxy(upstream.addr, allow(upstream.addr)).await;
    let response = get_from(format!("http://{proxy}/up/moved"), &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "http://legacy.example/new-place?x=1");
}

#[tokio::test]
async fn a_slow_upstream_gives_504_within_the_limit() {
    let _serial = SERIAL.lock().await;
    let logs = LogCapture::default();
    let _log = tracing::subscriber::set_default(logs.subscriber());
    let upstream = start_upstream().await;
    let limit = Duration::from_millis(300);
    let proxy = start_proxy(upstream.addr, allow(upstream.addr).with_timeout(limit)).await;

    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        get_from(format!("http://{proxy}/up/slow"), &[]),
    )
    .await
    .expect("the proxy answers well before the upstream's 10 s");
    let elapsed = started.elapsed();

    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(text(&response), "Gateway Timeout");
    assert!(
        elapsed >= limit,
        "answered after {elapsed:?}, before the limit"
    );
    assert!(
        elapsed < limit + Duration::from_secs(1),
        "answered after {elapsed:?}"
    );
    assert_eq!(
        upstream.hits.load(Ordering::SeqCst),
        1,
        "the upstream was asked"
    );
    assert!(
        logs.contents()
            .contains("upstream did not answer within the time limit"),
        "{}",
        logs.contents()
    );
}

#[tokio::test]
async fn an_upstream_that_does_not_accept_gives_504_at_the_connect_timeout() {
    let _serial = SERIAL.lock().await;
    let logs = LogCapture::default();
    let _log = tracing::subscriber::set_default(logs.subscriber());
    // A listener with a backlog of one that never accepts: once its queue is full, Linux
    // drops further connection attempts, so connecting hangs until the connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let stuck = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..8 {
        let attempt = tokio::net::TcpStream::connect(stuck);
        match tokio::time::timeout(Duration::from_millis(200), attempt).await {
            Ok(Ok(stream)) => queued.push(stream),
            _ => break, // the queue is full
        }
    }
    let limit = Duration::from_millis(300);
    let upstreams = allow(stuck)
        .with_connect_timeout(limit)
        .with_timeout(Duration::from_secs(10));
    let proxy = start_proxy(stuck, upstreams).await;

    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        get_from(format!("http://{proxy}/up/anything"), &[]),
    )
    .await
    .expect("the connect timeout answers well before the exchange's 10 s");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(elapsed >= limit, "answered after {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(2),
        "answered after {elapsed:?}"
    );
    let logged = logs.contents();
    assert!(logged.contains("upstream exchange failed: 504"), "{logged}");
    drop((listener, queued));
}

#[tokio::test]
async fn a_closed_port_gives_502() {
    let _serial = SERIAL.lock().await;
    let logs = LogCapture::default();
    let _log = tracing::subscriber::set_default(logs.subscriber());
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = start_proxy(closed, allow(closed)).await;

    let response = tokio::time::timeout(
        Duration::from_secs(5),
        get_from(format!("http://{proxy}/up/anything"), &[]),
    )
    .await
    .expect("no hang");
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(text(&response), "Bad Gateway");
    let logged = logs.contents();
    assert!(logged.contains("upstream exchange failed: 502"), "{logged}");
    assert!(
        logged.contains(&closed.to_string()),
        "names the destination: {logged}"
    );
}

#[tokio::test]
async fn an_upstream_that_breaks_off_mid_body_cuts_the_response() {
    let _serial = SERIAL.lock().await;
    let logs = LogCapture::default();
    let _log = tracing::subscriber::set_default(logs.subscriber());
    // Promises 1000 bytes, sends 10, and closes the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broken = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789")
            .await
            .unwrap();
        // Dropping the socket closes the connection.
    });
    let proxy = start_proxy(broken, allow(broken)).await;

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(format!("http://{proxy}/up/file"))
        .body(Empty::new())
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), async {
        let response = client.request(request).await.expect("the head arrives");
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().collect().await
    })
    .await
    .expect("no hang");
    assert!(
        outcome.is_err(),
        "the client sees the body cut, not a short body"
    );
    let logged = logs.contents();
    assert!(logged.contains("upstream response body failed"), "{logged}");
}

#[tokio::test]
async fn a_body_that_runs_over_the_time_limit_is_cut() {
    let _serial = SERIAL.lock().await;
    let logs = LogCapture::default();
    let _log = tracing::subscriber::set_default(logs.subscriber());
    let upstream = start_upstream().await;
    let limit = Duration::from_millis(500);
    let proxy = start_proxy(upstream.addr, allow(upstream.addr).with_timeout(limit)).await;

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(format!("http://{proxy}/up/drip"))
        .body(Empty::new())
        .unwrap();
    let started = Instant::now();
    let (first, rest) = tokio::time::timeout(Duration::from_secs(5), async {
        let response = client.request(request).await.expect("the head arrives");
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body();
        let first = body.frame().await.expect("a first frame").expect("data");
        let rest = body.frame().await;
        (first.into_data().unwrap(), rest)
    })
    .await
    .expect("no hang");
    let elapsed = started.elapsed();
    assert_eq!(first, "drip\n");
    assert!(
        matches!(rest, Some(Err(_))),
        "the body is cut, not ended: {rest:?}"
    );
    assert!(elapsed >= limit, "cut after {elapsed:?}");
    assert!(
        elapsed < limit + Duration::from_secs(1),
        "cut after {elapsed:?}"
    );
    let logged = logs.contents();
    assert!(
        logged.contains("ran over the exchange's time limit"),
        "{logged}"
    );
}

#[tokio::test]
async fn the_allow_list_refuses_another_origin() {
    let _serial = SERIAL.lock().await;
    let logs = LogCapture::default();
    let _log = tracing::subscriber::set_default(logs.subscriber());
    let allowed = start_upstream().await;
    let other = start_upstream().await;
    // The function targets `other`; only `allowed` is on the list.
    let proxy = start_proxy(other.addr, allow(allowed.addr)).await;

    let response = get_from(format!("http://{proxy}/up/echo/x"), &[]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(other.hits.load(Ordering::SeqCst), 0, "nothing reached it");
    assert_eq!(allowed.hits.load(Ordering::SeqCst), 0);
    let logged = logs.contents();
    assert!(
        logged.contains("rewrite to an origin that is not allowed"),
        "{logged}"
    );
    assert!(logged.contains(&other.addr.to_string()), "{logged}");

    // An empty allow-list refuses everything.
    let proxy = start_proxy(allowed.addr, Upstreams::new()).await;
    let response = get_from(format!("http://{proxy}/up/echo/x"), &[]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(allowed.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_layer_without_external_refuses_external_rewrites() {
    let _serial = SERIAL.lock().await;
    let logs = LogCapture::default();
    let _log = tracing::subscriber::set_default(logs.subscriber());
    let upstream = start_upstream().await;
    let app = ProxyLayer::new(rewrite_to(upstream.addr)).layer(app_router());

    let request = http::Request::get("/up/echo/x")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);
    let logged = logs.contents();
    assert!(logged.contains("ProxyLayer::with_external"), "{logged}");
}

#[tokio::test]
async fn a_read_body_layer_forwards_the_bytes_it_read() {
    let _serial = SERIAL.lock().await;
    let upstream = start_upstream().await;
    let up = upstream.addr;
    let proxy = move |req: ProxyRequest| async move {
        let seen = String::from_utf8_lossy(req.body().map_or(&[][..], |b| &b[..])).into_owned();
        ProxyResponse::rewrite(format!("http://{up}/echo/read")).request_header("x-proxy-saw", seen)
    };
    let app = ProxyLayer::new(proxy)
        .with_request_body(1024)
        .with_external(allow(up))
        .layer(app_router());

    let request = http::Request::builder()
        .method(Method::POST)
        .uri("/anything")
        .body(Body::from("hello upstream"))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = body_json(response).await;
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["body"], "hello upstream");
    assert_eq!(echoed_header(&seen, "x-proxy-saw"), ["hello upstream"]);
}

#[tokio::test]
async fn unmatched_and_same_origin_requests_stay_local() {
    let _serial = SERIAL.lock().await;
    let upstream = start_upstream().await;
    let up = upstream.addr;
    let proxy = move |req: ProxyRequest| async move {
        match req.path() {
            "/local" => ProxyResponse::rewrite("/"),
            _ => ProxyResponse::rewrite(format!("http://{up}/echo/x")),
        }
    };
    let app = ProxyLayer::new(proxy)
        .with_matcher(tower_proxy_fn::Matcher::new(["/local", "/remote"]).unwrap())
        .with_external(allow(up))
        .layer(app_router());
    for (path, want) in [("/", "home"), ("/local", "home")] {
        let request = http::Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(body_string(response).await, want, "{path}");
    }
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);
    let request = http::Request::get("/remote").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(body_json(response).await["path"], "/echo/x");
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 1);
}

/// With `external-rustls`, an `https` destination is spoken to in TLS: a plain-HTTP server on
/// that port gets a handshake, not a request, and the client gets a 502.
#[cfg(feature = "external-rustls")]
#[tokio::test]
async fn an_https_destination_is_spoken_to_in_tls() {
    let _serial = SERIAL.lock().await;
    let logs = LogCapture::default();
    let _log = tracing::subscriber::set_default(logs.subscriber());
    let upstream = start_upstream().await;
    let https = format!("https://{}", upstream.addr);
    let target = https.clone();
    let proxy = move |_: ProxyRequest| {
        let target = target.clone();
        async move { ProxyResponse::rewrite(format!("{target}/echo/x")) }
    };
    let app = ProxyLayer::new(proxy)
        .with_external(Upstreams::new().allow(&https).unwrap())
        .layer(app_router());
    let request = http::Request::get("/anything").body(Body::empty()).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), app.oneshot(request))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0, "no plain request");
    let logged = logs.contents();
    assert!(logged.contains("upstream exchange failed: 502"), "{logged}");
}
