//! Turning a `ProxyResponse` built from arbitrary values into an HTTP response, through
//! the layer as a server would run it.
//! Properties: no panic; the layer answers (500 for a refused value); a redirect whose
//! destination was not an absolute URL never sends the client to another origin.
#![no_main]

use std::cell::RefCell;

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::{Layer, ServiceExt};
use tower_proxy_fn::cookie::Cookie;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
use url::Url;

#[derive(Arbitrary, Debug, Clone)]
enum Outcome {
    Next,
    Rewrite(String),
    Redirect(String, u16),
    Respond(u16, String),
    Json(u16, String),
}

#[derive(Arbitrary, Debug, Clone)]
enum Edit {
    Header(Vec<u8>, Vec<u8>),
    AppendHeader(Vec<u8>, Vec<u8>),
    RequestHeader(Vec<u8>, Vec<u8>),
    AppendRequestHeader(Vec<u8>, Vec<u8>),
    RemoveRequestHeader(Vec<u8>),
    SetCookie(String, String),
    DeleteCookie(String),
    Cookie {
        name: String,
        value: String,
        path: Option<String>,
        domain: Option<String>,
    },
}

#[derive(Arbitrary, Debug, Clone)]
struct Input {
    target: String,
    host: Option<Vec<u8>>,
    cookie_header: Option<Vec<u8>>,
    /// What the function reads before deciding (cache-safety marks depend on it).
    read_cookie: Option<String>,
    read_header: Option<String>,
    outcome: Outcome,
    edits: Vec<Edit>,
}

fn decide(input: &Input, req: &ProxyRequest) -> ProxyResponse {
    if let Some(name) = &input.read_cookie {
        let _ = req.cookies().get(name);
    }
    if let Some(name) = &input.read_header {
        let _ = req.header(name);
    }
    let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    let mut decision = match &input.outcome {
        Outcome::Next => ProxyResponse::next(),
        Outcome::Rewrite(url) => ProxyResponse::rewrite(url),
        Outcome::Redirect(url, code) => match StatusCode::from_u16(*code) {
            Ok(code) => ProxyResponse::redirect_with_status(url, code),
            Err(_) => ProxyResponse::redirect(url),
        },
        Outcome::Respond(code, body) => ProxyResponse::respond((status(*code), body.clone())),
        Outcome::Json(code, text) => ProxyResponse::json(status(*code), text),
    };
    for edit in &input.edits {
        decision = match edit.clone() {
            Edit::Header(k, v) => decision.header(k.as_slice(), v.as_slice()),
            Edit::AppendHeader(k, v) => decision.append_header(k.as_slice(), v.as_slice()),
            Edit::RequestHeader(k, v) => decision.request_header(k.as_slice(), v.as_slice()),
            Edit::AppendRequestHeader(k, v) => {
                decision.append_request_header(k.as_slice(), v.as_slice())
            }
            Edit::RemoveRequestHeader(k) => decision.remove_request_header(k.as_slice()),
            Edit::SetCookie(k, v) => decision.set_cookie(k, v),
            Edit::DeleteCookie(k) => decision.delete_cookie(k),
            Edit::Cookie {
                name,
                value,
                path,
                domain,
            } => {
                let mut cookie = Cookie::new(name, value);
                if let Some(path) = path {
                    cookie.set_path(path);
                }
                if let Some(domain) = domain {
                    cookie.set_domain(domain);
                }
                decision.cookie(cookie)
            }
        };
    }
    decision
}

thread_local! {
    static RUNTIME: RefCell<tokio::runtime::Runtime> = RefCell::new(
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
    );
}

fuzz_target!(|input: Input| {
    let mut builder = http::Request::get(input.target.as_str());
    if let Some(host) = &input.host {
        builder = builder.header("host", host.as_slice());
    }
    if let Some(cookie) = &input.cookie_header {
        builder = builder.header("cookie", cookie.as_slice());
    }
    let Ok(request) = builder.body(Body::empty()) else {
        return;
    };
    // The request's own URL as the layer sees it: `Host`, else the URI's authority (an
    // absolute-form target), else localhost.
    let mut head = http::Request::get(request.uri().clone()).body(()).unwrap();
    *head.headers_mut() = request.headers().clone();
    let request_url = ProxyRequest::from_request(head).url().clone();

    let function_input = input.clone();
    let app = ProxyLayer::new(move |req: ProxyRequest| {
        let decision = decide(&function_input, &req);
        async move { decision }
    })
    .layer(Router::new().fallback(|| async { "inner" }));

    let response = RUNTIME.with(|rt| {
        rt.borrow().block_on(async {
            let response = app.oneshot(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let _ = body.collect().await;
            parts
        })
    });

    if let (Outcome::Redirect(destination, _), true) =
        (&input.outcome, response.status.is_redirection())
    {
        let location = response.headers.get("location").expect("a redirect has a Location");
        let location = location.to_str().expect("Location is visible ASCII");
        // An absolute URL is only sent when the code asked for one (it has a scheme).
        let resolved = request_url.join(location).expect("Location resolves");
        if !destination.contains("://") {
            assert_eq!(
                resolved.origin(),
                request_url.origin(),
                "{destination:?} redirected off-origin to {location:?}"
            );
        }
        let _ = Url::parse(location);
    }
});
