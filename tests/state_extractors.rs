//! Proxy functions that take axum extractors and the app's state (issue 21, item 1): with
//! `oneshot` and over a real server; rejections, panics and a missing extension become a
//! response with a logged reason; `req.extract`; extractors in `chain` and `when`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Query, State};
use axum::routing::get;
use axum::{Extension, Router};
use axum_extra::extract::CookieJar;
use common::*;
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use tower_proxy_fn::compose::{chain, when};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

#[derive(Clone)]
struct App {
    session_token: &'static str,
    calls: Arc<AtomicUsize>,
}

/// A part of the state that an extractor reads through `FromRef`, as axum's sub-states.
#[derive(Clone)]
struct Banner(&'static str);

impl FromRef<App> for Banner {
    fn from_ref(_: &App) -> Self {
        Banner("from-state")
    }
}

fn app() -> App {
    App {
        session_token: "t0k3n",
        calls: Arc::default(),
    }
}

async fn guard(State(app): State<App>, jar: CookieJar, req: ProxyRequest) -> ProxyResponse {
    app.calls.fetch_add(1, Ordering::SeqCst);
    match jar.get("session").map(|cookie| cookie.value()) {
        Some(token) if token == app.session_token => {
            ProxyResponse::next().request_header("x-user", "ann")
        }
        _ => ProxyResponse::redirect(format!("/login?from={}", req.path())),
    }
}

fn router(app: App) -> Router {
    Router::new()
        .route("/dashboard", get(echo))
        .route("/login", get(|| async { "log in" }))
        .with_state(app)
}

fn guarded(app: App) -> tower_proxy_fn::ProxyService<Router, impl tower_proxy_fn::ProxyFn> {
    ProxyLayer::with_state(app.clone(), guard)
        .with_matcher(Matcher::new(["/dashboard/:path*"]).unwrap())
        .layer(router(app))
}

fn with_cookie(path: &str, cookie: &str) -> http::Request<axum::body::Body> {
    http::Request::get(path)
        .header("cookie", cookie)
        .body(axum::body::Body::empty())
        .unwrap()
}

#[tokio::test]
async fn state_and_a_cookie_jar_decide_with_oneshot() {
    let state = app();
    let service = guarded(state.clone());

    let response = send(&service, get_req("/dashboard")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/login?from=/dashboard");

    let response = send(&service, with_cookie("/dashboard", "session=wrong")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);

    let response = send(&service, with_cookie("/dashboard", "session=t0k3n")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(echoed_header(&body_json(response).await, "x-user"), ["ann"]);

    // The matcher still picks: the login page is not guarded.
    let response = send(&service, get_req("/login")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(state.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn state_and_a_cookie_jar_decide_over_a_real_server() {
    let addr = serve(guarded(app())).await;

    let response = get_at(addr, "/dashboard", &[]).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], "/login?from=/dashboard");

    let response = get_at(addr, "/dashboard", &[("cookie", "a=1; session=t0k3n")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let echo: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(echoed_header(&echo, "x-user"), ["ann"]);
}

#[tokio::test]
async fn extractors_that_need_no_state_work_with_new() {
    async fn by_header(headers: HeaderMap, _req: ProxyRequest) -> ProxyResponse {
        match headers.contains_key("x-beta") {
            true => ProxyResponse::rewrite("/login"),
            false => ProxyResponse::next(),
        }
    }
    let service = ProxyLayer::new(by_header).layer(router(app()));
    let mut request = get_req("/dashboard");
    request.headers_mut().insert("x-beta", "1".parse().unwrap());
    let response = send(&service, request).await;
    assert_eq!(body_string(response).await, "log in");
}

#[tokio::test]
async fn a_sub_state_is_read_through_from_ref() {
    async fn banner(State(Banner(text)): State<Banner>, _req: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next().header("x-banner", text)
    }
    let state = app();
    let service = ProxyLayer::with_state(state.clone(), banner).layer(router(state));
    let response = send(&service, get_req("/login")).await;
    assert_eq!(header_values(&response, "x-banner"), ["from-state"]);
}

#[tokio::test]
async fn sixteen_extractors_are_taken() {
    #[allow(clippy::too_many_arguments)]
    async fn many(
        State(app): State<App>,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        _: HeaderMap,
        jar: CookieJar,
        _req: ProxyRequest,
    ) -> ProxyResponse {
        let token = jar.get("session").map(|c| c.value().to_owned());
        match token.as_deref() == Some(app.session_token) {
            true => ProxyResponse::next(),
            false => ProxyResponse::respond(StatusCode::UNAUTHORIZED),
        }
    }
    let state = app();
    let service = ProxyLayer::with_state(state.clone(), many).layer(router(state));
    assert_eq!(send(&service, get_req("/login")).await.status(), 401);
    let response = send(&service, with_cookie("/login", "session=t0k3n")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[derive(serde::Deserialize)]
struct Page {
    #[allow(dead_code)]
    page: u32,
}

async fn paged(Query(_): Query<Page>, _req: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
}

#[tokio::test]
async fn a_rejection_is_the_response_and_its_reason_is_logged() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let router = Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "handler" }
    });
    let service = ProxyLayer::new(paged).layer(router);

    let response = send(&service, get_req("/list?page=x")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body_string(response).await.contains("page"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a rejection never reaches the handler"
    );
    let text = logs.contents();
    assert!(text.contains("rejected the request"), "{text}");
    assert!(text.contains("Query"), "the extractor is named: {text}");

    let response = send(&service, get_req("/list?page=2")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[derive(Clone)]
struct Pool;

#[tokio::test]
async fn a_missing_extension_state_is_a_500_with_a_logged_reason() {
    async fn needs_pool(Extension(_): Extension<Pool>, _req: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next()
    }
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let service = ProxyLayer::new(needs_pool).layer(router(app()));
    let response = send(&service, get_req("/login")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = logs.contents();
    assert!(text.contains("ERROR"), "{text}");
    assert!(
        text.contains("an extractor of the proxy function failed"),
        "{text}"
    );
    assert!(text.contains("Pool"), "{text}");
}

/// An extractor that panics, to show the panic guard covers extractors too.
struct Panics;

impl<S: Sync> FromRequestParts<S> for Panics {
    type Rejection = StatusCode;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, StatusCode> {
        panic!("extractor exploded")
    }
}

#[tokio::test]
async fn a_panicking_extractor_is_a_500_with_a_logged_reason() {
    async fn with_panics(_: Panics, _req: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next()
    }
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let service = ProxyLayer::new(with_panics).layer(router(app()));
    let response = send(&service, get_req("/login")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        logs.contents().contains("extractor exploded"),
        "{}",
        logs.contents()
    );
    // The service keeps serving.
    let response = send(&service, get_req("/login")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// An extractor that leaves a value in the request extensions, as some cache what they read.
#[derive(Clone)]
struct Remembered(&'static str);

struct Remembers;

impl<S: Sync> FromRequestParts<S> for Remembers {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, StatusCode> {
        parts.extensions.insert(Remembered("cached"));
        Ok(Remembers)
    }
}

#[tokio::test]
async fn what_an_extractor_leaves_in_the_extensions_reaches_the_handler() {
    async fn remembers(_: Remembers, _req: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next()
    }
    let router = Router::new().route(
        "/",
        get(|Extension(Remembered(text)): Extension<Remembered>| async move { text }),
    );
    let service = ProxyLayer::new(remembers).layer(router);
    let response = send(&service, get_req("/")).await;
    assert_eq!(body_string(response).await, "cached");
}

#[tokio::test]
async fn extract_serves_one_off_use_with_and_without_state() {
    async fn one_off(req: ProxyRequest) -> ProxyResponse {
        let jar: CookieJar = match req.extract().await {
            Ok(jar) => jar,
            Err(never) => match never {},
        };
        let App { session_token, .. } = match req.extract_with_state::<State<App>, _>(&app()).await
        {
            Ok(State(app)) => app,
            Err(never) => match never {},
        };
        match req.extract::<Query<Page>>().await {
            Err(rejection) => ProxyResponse::respond(rejection),
            Ok(_) if jar.get("session").map(|c| c.value()) == Some(session_token) => {
                ProxyResponse::next()
            }
            Ok(_) => ProxyResponse::respond(StatusCode::UNAUTHORIZED),
        }
    }
    let service = ProxyLayer::new(one_off).layer(router(app()));
    assert_eq!(send(&service, get_req("/login?page=x")).await.status(), 400);
    assert_eq!(send(&service, get_req("/login?page=1")).await.status(), 401);
    let response = send(&service, with_cookie("/login?page=1", "session=t0k3n")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn chain_and_when_take_functions_of_extractors_with_the_chains_state() {
    async fn request_id(headers: HeaderMap, _req: ProxyRequest) -> ProxyResponse {
        let id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("generated")
            .to_owned();
        ProxyResponse::next().request_header("x-request-id", id)
    }
    // Sees the header the step before it set, through its own extractor.
    async fn checks_id(headers: HeaderMap, _req: ProxyRequest) -> ProxyResponse {
        match headers.get("x-request-id") {
            Some(_) => ProxyResponse::next(),
            None => ProxyResponse::respond(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
    let state = app();
    let proxy = chain()
        .then(request_id)
        .then(checks_id)
        .with_state(state.clone())
        .then(when(Matcher::new(["/dashboard"]).unwrap(), guard));
    let service = ProxyLayer::new(proxy).layer(router(state.clone()));

    let response = send(&service, get_req("/dashboard")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    let response = send(&service, with_cookie("/dashboard", "session=t0k3n")).await;
    let echo = body_json(response).await;
    assert_eq!(echoed_header(&echo, "x-request-id"), ["generated"]);
    assert_eq!(echoed_header(&echo, "x-user"), ["ann"]);
    // `when` skipped the guard for the login page.
    let response = send(&service, get_req("/login")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(state.calls.load(Ordering::SeqCst), 2);

    // A `when` of a stateful function directly in a stateful layer.
    let service = ProxyLayer::with_state(
        state.clone(),
        when(Matcher::new(["/dashboard"]).unwrap(), guard),
    )
    .layer(router(state));
    assert_eq!(send(&service, get_req("/dashboard")).await.status(), 307);
    assert_eq!(send(&service, get_req("/login")).await.status(), 200);
}

#[tokio::test]
async fn a_rejection_inside_a_chain_ends_it_as_the_response() {
    let proxy = chain()
        .then(paged)
        .then(|_: ProxyRequest| async { ProxyResponse::respond(StatusCode::IM_A_TEAPOT) });
    let service = ProxyLayer::new(proxy).layer(router(app()));
    assert_eq!(send(&service, get_req("/login?page=x")).await.status(), 400);
    assert_eq!(send(&service, get_req("/login?page=1")).await.status(), 418);
}
