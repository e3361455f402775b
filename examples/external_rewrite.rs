//! An external rewrite: a second server (a "legacy app") is put behind `/legacy/...` of the
//! main app, the client's URL unchanged
//! (`NextResponse.rewrite(new URL('http://127.0.0.1:4000/...'))`).
//!
//! Run: `cargo run --features external --example external_rewrite`: the main app on
//! `127.0.0.1:3000` (or `ADDR`), the legacy app on `127.0.0.1:4000` (or `LEGACY_ADDR`). It
//! prints what to try:
//!
//! ```text
//! $ curl -i 'http://127.0.0.1:3000/legacy/hello?name=ann'   # 200; x-proxied-by: tower-proxy-fn; set-cookie: legacy_session=abc; "legacy app: GET /hello?name=ann"
//! $ head -c 10000000 /dev/zero | curl -s --data-binary @- http://127.0.0.1:3000/legacy/upload
//! legacy app received 10000000 bytes
//! ```
//!
//! The legacy app's cookie and the proxy's (`seen=1`) both reach the client; the legacy app
//! sees its own `Host` (`127.0.0.1:4000`) and the client in `X-Forwarded-Host` and
//! `X-Forwarded-For`; the 10 MB body streams through without being buffered.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use tower_proxy_fn::external::Upstreams;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// The legacy app: says what it was asked and by whom, and sets a cookie of its own.
async fn hello(headers: HeaderMap, request: Request) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    let text = format!(
        "legacy app: {} {}\n  host: {}\n  x-forwarded-host: {}\n  x-forwarded-for: {}\n",
        request.method(),
        request.uri(),
        header("host"),
        header("x-forwarded-host"),
        header("x-forwarded-for"),
    );
    ([(header::SET_COOKIE, "legacy_session=abc; Path=/")], text)
}

/// Counts an upload as it streams in.
async fn upload(body: Body) -> String {
    let mut body = body;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => total += frame.data_ref().map_or(0, |data| data.len()),
            Err(err) => return format!("upload failed: {err}\n"),
        }
    }
    format!("legacy app received {total} bytes\n")
}

fn proxy_for(legacy: String) -> impl Fn(ProxyRequest) -> std::future::Ready<ProxyResponse> + Clone {
    move |req: ProxyRequest| {
        // `/legacy/hello?name=ann` -> `http://127.0.0.1:4000/hello?name=ann`
        let rest = req.path().strip_prefix("/legacy").unwrap_or("");
        let mut target = format!("http://{legacy}/{}", rest.trim_start_matches('/'));
        if let Some(query) = req.url().query() {
            target.push('?');
            target.push_str(query);
        }
        std::future::ready(
            ProxyResponse::rewrite(target)
                .header("x-proxied-by", "tower-proxy-fn")
                .set_cookie("seen", "1"),
        )
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let legacy = std::env::var("LEGACY_ADDR").unwrap_or_else(|_| "127.0.0.1:4000".to_owned());

    let legacy_app = Router::new()
        .route("/hello", get(hello))
        .route("/upload", post(upload));
    let legacy_listener = tokio::net::TcpListener::bind(&legacy)
        .await
        .map_err(|err| format!("cannot listen on LEGACY_ADDR {legacy}: {err}; set LEGACY_ADDR"))?;
    // The address as bound: `LEGACY_ADDR=127.0.0.1:0` picks a free port.
    let legacy = legacy_listener.local_addr()?.to_string();
    tokio::spawn(async move { axum::serve(legacy_listener, legacy_app).await });

    // Only the legacy app may be a rewrite target; anything else is refused (500, logged).
    let upstreams = Upstreams::new()
        .allow(&format!("http://{legacy}"))?
        .with_timeout(Duration::from_secs(30));
    let router = Router::new().route("/", get(|| async { "main app: try /legacy/hello\n" }));
    let app = ProxyLayer::new(proxy_for(legacy.clone()))
        .with_matcher(Matcher::new(["/legacy/:path*"])?)
        .with_external(upstreams)
        .layer(router.with_state(()));

    let (listener, addr) = support::listen("external_rewrite").await;
    println!("main app listening on http://{addr}, legacy app on http://{legacy}; try:");
    println!("  curl -i 'http://{addr}/legacy/hello?name=ann'   # 200; x-proxied-by: tower-proxy-fn; set-cookie: legacy_session=abc; \"legacy app: GET /hello?name=ann\"");
    println!("  head -c 10000000 /dev/zero | curl -s --data-binary @- http://{addr}/legacy/upload");
    // `ConnectInfo<SocketAddr>` gives the client's address for `X-Forwarded-For`.
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .await?;
    Ok(())
}
