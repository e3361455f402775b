//! An external rewrite: a second server (a "legacy app" on `127.0.0.1:4000`) is put behind
//! `/legacy/...` of the main app, the client's URL unchanged
//! (`NextResponse.rewrite(new URL('http://127.0.0.1:4000/...'))`).
//!
//! Run: `cargo run --features external --example external_rewrite`, then
//! `curl -i http://127.0.0.1:3000/legacy/hello?name=ann`.
//! Addresses: `ADDR` (default `127.0.0.1:3000`) and `LEGACY_ADDR` (default `127.0.0.1:4000`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use tower::Layer;
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
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let legacy = std::env::var("LEGACY_ADDR").unwrap_or_else(|_| "127.0.0.1:4000".to_owned());

    let legacy_app = Router::new()
        .route("/hello", get(hello))
        .route("/upload", post(upload));
    let legacy_listener = tokio::net::TcpListener::bind(&legacy).await?;
    tokio::spawn(async move { axum::serve(legacy_listener, legacy_app).await });

    // Only the legacy app may be a rewrite target; anything else is refused (500, logged).
    let upstreams = Upstreams::new()
        .allow(&format!("http://{legacy}"))?
        .timeout(Duration::from_secs(30));
    let router = Router::new().route("/", get(|| async { "main app: try /legacy/hello\n" }));
    let app = ProxyLayer::new(proxy_for(legacy.clone()))
        .with_matcher(Matcher::new(["/legacy/:path*"])?)
        .external(upstreams)
        .layer(router);

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("main app on http://{addr}, legacy app on http://{legacy}");
    println!("  curl -i http://{addr}/legacy/hello?name=ann");
    println!("  head -c 10000000 /dev/zero | curl -s --data-binary @- http://{addr}/legacy/upload");
    // `ConnectInfo<SocketAddr>` gives the client's address for `X-Forwarded-For`.
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .await?;
    Ok(())
}
