//! The upstream connection pool of external rewrites (`Upstreams::with_pool`), counted at the
//! upstream: a hand-written HTTP/1.1 server that knows how many connections it has open. A
//! real proxy server (`axum::serve`, loopback, port 0) forwards several requests at once, so
//! that the pool opens several connections, and the test watches them close.
#![cfg(feature = "external")]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use common::*;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_proxy_fn::external::Upstreams;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

/// Connections an upstream has accepted in all, and has open now.
#[derive(Default)]
struct Counts {
    opened: AtomicUsize,
    open: AtomicUsize,
}

/// An upstream that answers every request on a connection with `{"ok":true}` after `delay`
/// (so that requests sent together overlap and need a connection each), and counts its
/// connections.
async fn counting_upstream(delay: Duration) -> (SocketAddr, Arc<Counts>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let shared = Arc::clone(&counts);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            shared.opened.fetch_add(1, Ordering::SeqCst);
            shared.open.fetch_add(1, Ordering::SeqCst);
            let counts = Arc::clone(&shared);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                // One answer per request head (the proxy forwards GETs without a body); the
                // connection is over when the proxy closes it.
                while let Ok(n) = stream.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        buffer.drain(..end + 4);
                        tokio::time::sleep(delay).await;
                        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                      content-length: 11\r\n\r\n{\"ok\":true}";
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                }
                counts.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, counts)
}

/// A proxy server that rewrites every request to `upstream`, with these pool settings.
async fn proxy_to(upstream: SocketAddr, idle_timeout: Duration, max_idle: usize) -> SocketAddr {
    let origin = format!("http://{upstream}");
    let upstreams = Upstreams::new()
        .allow(&origin)
        .unwrap()
        .with_pool(idle_timeout, max_idle);
    let function = move |req: ProxyRequest| {
        std::future::ready(ProxyResponse::rewrite(format!("{origin}{}", req.path())))
    };
    let app = ProxyLayer::new(function)
        .with_external(upstreams)
        .layer(Router::new());
    serve(Router::new().fallback_service(app)).await
}

/// Sends `n` requests at once, each on a connection of its own, and checks every answer.
async fn burst(proxy: SocketAddr, n: usize) {
    let paths: Vec<String> = (0..n).map(|i| format!("/burst/{i}")).collect();
    let requests = paths.iter().map(|path| get_at(proxy, path, &[]));
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(&response.body()[..], br#"{"ok":true}"#);
    }
}

/// Waits (at most `limit`) until `open` connections are left; how long that took, or
/// `None` when it did not happen.
async fn until_open(counts: &Counts, open: usize, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if counts.open.load(Ordering::SeqCst) == open {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test]
async fn idle_upstream_connections_close_after_the_idle_timeout() {
    let (upstream, counts) = counting_upstream(Duration::from_millis(200)).await;
    let idle_timeout = Duration::from_millis(400);
    let proxy = proxy_to(upstream, idle_timeout, 16).await;
    burst(proxy, 6).await;
    let opened = counts.opened.load(Ordering::SeqCst);
    assert!(
        opened >= 2,
        "the burst overlapped on {opened} connection(s)"
    );
    // Kept for reuse at first (under the pool's maximum)...
    assert_eq!(counts.open.load(Ordering::SeqCst), opened);
    // ...and all closed once idle for the timeout (the pool checks at that interval, so it
    // may take up to twice as long).
    let closed_after = until_open(&counts, 0, Duration::from_secs(5)).await;
    let closed_after = closed_after.expect("idle upstream connections still open after 5 s");
    assert!(
        closed_after >= idle_timeout / 2,
        "closed after {closed_after:?}, before the idle timeout"
    );
}

#[tokio::test]
async fn the_pool_keeps_at_most_max_idle_connections_per_upstream() {
    let (upstream, counts) = counting_upstream(Duration::from_millis(200)).await;
    let proxy = proxy_to(upstream, Duration::from_secs(60), 2).await;
    burst(proxy, 6).await;
    let opened = counts.opened.load(Ordering::SeqCst);
    assert!(opened > 2, "the burst overlapped on {opened} connection(s)");
    until_open(&counts, 2, Duration::from_secs(5))
        .await
        .expect("more than 2 idle connections kept");
    // The two stay (the idle timeout is a minute away), and serve the next request.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(counts.open.load(Ordering::SeqCst), 2);
    burst(proxy, 1).await;
    assert_eq!(
        counts.opened.load(Ordering::SeqCst),
        opened,
        "a kept one was reused"
    );
}

#[tokio::test]
async fn max_idle_zero_closes_each_connection_after_its_exchange() {
    let (upstream, counts) = counting_upstream(Duration::ZERO).await;
    let proxy = proxy_to(upstream, Duration::from_secs(60), 0).await;
    for _ in 0..3 {
        burst(proxy, 1).await;
    }
    assert_eq!(counts.opened.load(Ordering::SeqCst), 3);
    until_open(&counts, 0, Duration::from_secs(5))
        .await
        .expect("a connection was kept");
}
