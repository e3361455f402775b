//! Next.js's Proxy (formerly "middleware") for tower and axum.
//!
//! A [`Matcher`] picks the requests; for each of them an async function reads a
//! [`ProxyRequest`] and returns a [`ProxyResponse`]: **next** (with request-header edits,
//! response headers and cookies), **rewrite**, **redirect**, or **its own response**.
//! Requests the matcher does not pick go straight to the inner service, with no allocation.
//!
//! ```
//! use axum::{routing::get, Extension, Router};
//! use http::StatusCode;
//! use tower::ServiceExt; // `oneshot`, for this test
//! use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
//!
//! #[derive(Clone)]
//! struct User(String);
//!
//! async fn proxy(req: ProxyRequest) -> ProxyResponse {
//!     match req.cookies().get("session") {
//!         // A typed hand-off: the handler extracts `Extension<User>`.
//!         Some(name) => ProxyResponse::next().extension(User(name.to_owned())),
//!         None => {
//!             let mut login = req.url_for("/login");
//!             login.query_pairs_mut().append_pair("from", req.path());
//!             ProxyResponse::redirect(login)
//!         }
//!     }
//! }
//!
//! async fn dashboard(Extension(User(name)): Extension<User>) -> String {
//!     format!("Welcome, {name}")
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let router = Router::new()
//!     .route("/dashboard", get(dashboard))
//!     .route("/login", get(|| async { "log in" }))
//!     .with_state(()); // readies the routes once: see the mounting guide
//! let app = ProxyLayer::new(proxy)
//!     .with_matcher(Matcher::new(["/dashboard/:path*"])?)
//!     .layer(router);
//!
//! // Serve it with `axum::serve(listener, axum::ServiceExt::<axum::extract::Request>::into_make_service(app))`;
//! // here, one request without a session:
//! let request = http::Request::get("/dashboard").body(axum::body::Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
//! assert_eq!(response.headers()["location"], "/login?from=%2Fdashboard");
//! # Ok(())
//! # }
//! ```
//!
//! The layer reports mistakes (a rewrite it cannot carry out, an invalid header from the
//! function, a panic) through [`tracing`](https://docs.rs/tracing): install a subscriber, such
//! as `tracing_subscriber::fmt().init()`, to see them.
//!
//! # Guides
//!
//! - [Where to mount the layer](guide::mounting), and why `Router::with_state` comes first.
//! - [What each outcome does](guide::outcomes): header edits, cookies, cache marks,
//!   failures, composition.
//! - Cookies the handler sees, signed and private cookies, what the proxy learned as
//!   extractors (the `guide::cookies` page, feature `signed-cookies`; [`extract`]).
//! - [Axum's State and extractors in the proxy function, and the response on its way
//!   back](guide::axum).
//! - [The matcher](matcher), [next.config rules](rules), [client IP, user agent and
//!   geolocation](context), external rewrites (the `external` module, feature `external`),
//!   [`testing`].
//!
//! The README has the migration table from Next.js and the list of examples.
//!
//! # Cargo features
//!
//! All off by default.
//!
//! | feature | what it adds | pulls in |
//! |---|---|---|
//! | `external` | rewrites to allow-listed other origins are forwarded there: `ProxyLayer::with_external`, the `external` module | `hyper`, `hyper-util` |
//! | `external-rustls` | the same for `https` upstreams (rustls with ring, webpki roots) | `hyper-rustls`, `rustls` |
//! | `user-agent` | `ProxyRequest::user_agent`: browser, OS, device, bot | `woothee` |
//! | `signed-cookies` | signed and private cookies with `ProxyLayer::with_cookie_key` (the `cookies` module) | `cookie`'s `signed`, `private` |
//! | `maxminddb` | `ProxyLayer::with_geo_database`: geolocation from a MaxMind `.mmdb` file | `maxminddb` |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unreachable_pub)]

pub mod background;
pub mod compose;
mod config_error;
pub mod context;
#[cfg(feature = "signed-cookies")]
#[cfg_attr(docsrs, doc(cfg(feature = "signed-cookies")))]
pub mod cookies;
#[cfg(feature = "external")]
#[cfg_attr(docsrs, doc(cfg(feature = "external")))]
pub mod external;
pub mod extract;
mod function;
pub mod guide;
mod layer;
pub mod matcher;
pub mod next_url;
pub mod request;
mod request_values;
pub mod response;
pub mod rules;
mod settings;
pub mod testing;
mod url_safety;

pub use background::BackgroundTasks;
pub use config_error::ConfigError;
/// The future of a proxy function that takes extractors.
pub use function::ExtractingFuture;
pub use function::{IntoProxyResponse, ProxyFn, ProxyHandler, WithState};
pub use layer::body_mode;
pub use layer::{ProxyLayer, ProxyService};

/// The response futures of the services this crate builds.
pub mod future {
    pub use crate::layer::future::ResponseFuture;
    pub use crate::layer::rules::{RewriteFuture, RulesFuture};
}
pub use matcher::Matcher;
pub use next_url::NextUrl;
pub use request::ProxyRequest;
pub use response::ProxyResponse;
pub use settings::{DEFAULT_BODY_TIMEOUT, DEFAULT_FUNCTION_TIMEOUT};
pub use url_safety::{InvalidRedirectStatus, RedirectStatus};

/// The [`cookie`](https://docs.rs/cookie) crate, re-exported for building response cookies.
pub use cookie;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
