//! The exchange with an upstream: hyper-util's pooled client, the time limits, and the
//! response body that streams back.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::BoxError;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::HeaderValue;
use http::{Extensions, Request, StatusCode, Uri, Version};
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tracing::Instrument;
use url::Url;

use super::headers::{remove_hop_by_hop, set_forwarded, ClientSide};
use super::Upstreams;
use crate::response::{error_response, internal_error, ResponseExtras};

#[cfg(feature = "external-rustls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "external-rustls"))]
type Connector = HttpConnector;

/// The allow-list and a pooled client, shared by every service a layer builds.
#[derive(Clone)]
pub(crate) struct Forwarder {
    upstreams: Arc<Upstreams>,
    client: Client<Connector, Body>,
}

impl Forwarder {
    pub(crate) fn new(upstreams: Upstreams) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(upstreams.connect_timeout));
        http.set_nodelay(true);
        #[cfg(feature = "external-rustls")]
        let connector = {
            http.enforce_http(false);
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
                // Fails only for a provider without a safe protocol version; ring has both.
                .expect("ring supports TLS 1.2 and 1.3")
                .https_or_http()
                .enable_http1()
                .wrap_connector(http)
        };
        #[cfg(not(feature = "external-rustls"))]
        let connector = http;
        // Without these, hyper-util keeps every connection a burst opened for 90 s.
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(upstreams.pool_idle_timeout)
            .pool_max_idle_per_host(upstreams.pool_max_idle)
            .build(connector);
        Self {
            upstreams: Arc::new(upstreams),
            client,
        }
    }

    /// Whether rewrites to `url`'s origin are forwarded.
    pub(crate) fn allows(&self, url: &Url) -> bool {
        self.upstreams.allows(url)
    }

    /// The exchange for one external rewrite, run inside the decision's span.
    pub(crate) fn forward(
        &self,
        request: Request<Body>,
        target: Url,
        extras: ResponseExtras,
        span: tracing::Span,
    ) -> BoxFuture<'static, Response> {
        Box::pin(
            self.clone()
                .exchange(request, target, extras)
                .instrument(span),
        )
    }

    async fn exchange(
        self,
        request: Request<Body>,
        target: Url,
        extras: ResponseExtras,
    ) -> Response {
        if !self.upstreams.allows(&target) {
            tracing::error!(
                destination = %target,
                "rewrite to an origin that is not allowed: add it with Upstreams::allow in \
                 ProxyLayer::with_external, or fix the proxy function: 500"
            );
            return internal_error();
        }
        let Some((uri, authority)) = upstream_uri(&target) else {
            tracing::error!(destination = %target, "rewrite destination is not a valid URI: 500");
            return internal_error();
        };
        let (mut parts, body) = request.into_parts();
        let client = ClientSide::of(&parts, self.upstreams.forwarded_proto);
        remove_hop_by_hop(&mut parts.headers);
        set_forwarded(
            &mut parts.headers,
            &client,
            &authority,
            self.upstreams.keep_host,
        );
        parts.uri = uri;
        // The client is HTTP/1.1 whatever the client spoke; the server's extensions stay here.
        parts.version = Version::HTTP_11;
        parts.extensions = Extensions::new();
        let limit = self.upstreams.timeout;
        let deadline = Instant::now() + limit;
        let sent = self.client.request(Request::from_parts(parts, body));
        let response = match tokio::time::timeout_at(deadline, sent).await {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => {
                let (status, message) = if timed_out(&err) {
                    (StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
                } else {
                    (StatusCode::BAD_GATEWAY, "Bad Gateway")
                };
                tracing::error!(
                    destination = %target,
                    error = %Chain(&err),
                    "upstream exchange failed: {}",
                    status.as_u16()
                );
                return error_response(status, message);
            }
            Err(_) => {
                tracing::error!(
                    destination = %target,
                    ?limit,
                    "upstream did not answer within the time limit: 504"
                );
                return error_response(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout");
            }
        };
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        if let Err(failed) = extras.apply_to_head(&mut parts) {
            return failed.into_response();
        }
        let body = UpstreamBody {
            inner: body,
            deadline,
            sleep: tokio::time::sleep_until(deadline),
            destination: target.to_string(),
            span: tracing::Span::current(),
            done: false,
        };
        Response::from_parts(parts, Body::new(body))
    }
}

impl fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forwarder")
            .field("upstreams", &self.upstreams)
            .finish_non_exhaustive()
    }
}

/// The absolute URI to request (no user info) and the authority for `Host`.
fn upstream_uri(target: &Url) -> Option<(Uri, HeaderValue)> {
    let host = target.host_str()?;
    let authority = match target.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let mut uri = format!("{}://{authority}{}", target.scheme(), target.path());
    if let Some(query) = target.query() {
        uri.push('?');
        uri.push_str(query);
    }
    Some((
        Uri::try_from(uri).ok()?,
        HeaderValue::try_from(authority).ok()?,
    ))
}

/// Whether an error comes from a time limit (the connect timeout gives an `io::Error` of
/// kind `TimedOut` somewhere in the chain).
fn timed_out(err: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(err) = current {
        if err
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
        {
            return true;
        }
        current = err.source();
    }
    false
}

/// An error and its sources, `: `-separated, for the log.
struct Chain<'a>(&'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

pin_project! {
    /// The upstream's response body, cut (with a logged error) when the exchange's time limit
    /// passes or the upstream breaks off.
    struct UpstreamBody {
        #[pin]
        inner: Incoming,
        deadline: Instant,
        #[pin]
        sleep: Sleep,
        destination: String,
        span: tracing::Span,
        done: bool,
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let over_time = |span: &tracing::Span, destination: &str| {
            span.in_scope(|| {
                tracing::error!(
                    destination,
                    "upstream response ran over the exchange's time limit: body cut"
                )
            });
            Poll::Ready(Some(Err(BoxError::from(
                "upstream response ran over the time limit",
            ))))
        };
        // A fast stream is cut too, not only a stalled one.
        if Instant::now() >= *this.deadline {
            *this.done = true;
            return over_time(this.span, this.destination);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Err(err))) => {
                *this.done = true;
                this.span.in_scope(|| {
                    tracing::error!(
                        destination = %this.destination,
                        error = %Chain(&err),
                        "upstream response body failed: body cut"
                    )
                });
                Poll::Ready(Some(Err(err.into())))
            }
            Poll::Pending if this.sleep.poll(cx).is_ready() => {
                *this.done = true;
                over_time(this.span, this.destination)
            }
            other => other.map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_uri_drops_user_info_and_default_ports() {
        let cases = [
            (
                "port and query",
                "http://127.0.0.1:4000/a/b?c=d",
                "http://127.0.0.1:4000/a/b?c=d",
                "127.0.0.1:4000",
            ),
            (
                "default port",
                "http://a.example:80/x",
                "http://a.example/x",
                "a.example",
            ),
            (
                "user info",
                "http://user:pw@a.example/x",
                "http://a.example/x",
                "a.example",
            ),
            (
                "ipv6",
                "http://[::1]:8080/",
                "http://[::1]:8080/",
                "[::1]:8080",
            ),
        ];
        for (name, url, want_uri, want_host) in cases {
            let (uri, host) = upstream_uri(&Url::parse(url).unwrap()).unwrap();
            assert_eq!(uri, want_uri, "{name}");
            assert_eq!(host, want_host, "{name}");
        }
    }

    #[test]
    fn timed_out_looks_through_the_chain() {
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tcp connect error")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let timeout = Wrapper(io::Error::new(io::ErrorKind::TimedOut, "connect timeout"));
        let refused = Wrapper(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(timed_out(&timeout));
        assert!(!timed_out(&refused));
        assert_eq!(
            Chain(&timeout).to_string(),
            "tcp connect error: connect timeout"
        );
    }
}
