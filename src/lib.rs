#![doc = "tower-proxy-fn (crate docs come with the README)"]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unreachable_pub)]

mod function;
mod layer;
pub mod matcher;
mod request;
mod response;

pub use function::{IntoProxyResponse, ProxyFn};
pub use layer::{ProxyLayer, ProxyService, ResponseFuture};
pub use matcher::{Matcher, MatcherError};
pub use request::{ProxyRequest, RequestCookies};
pub use response::ProxyResponse;

/// The [`cookie`](https://docs.rs/cookie) crate, re-exported for building response cookies.
pub use cookie;
