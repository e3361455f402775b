//! Helpers shared by the integration tests: bodies, an echo handler, a log capture.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};
use tower::{Service, ServiceExt};
use tower_proxy_fn::{ProxyFn, ProxyLayer, ProxyService};
use tracing_subscriber::fmt::MakeWriter;

/// Collects a body into bytes (any body whose error is displayable).
pub async fn body_bytes<B>(body: B) -> Vec<u8>
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    body.collect()
        .await
        .expect("body collects")
        .to_bytes()
        .to_vec()
}

/// Collects a response body into a UTF-8 string.
pub async fn body_string<B>(response: http::Response<B>) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    String::from_utf8(body_bytes(response.into_body()).await).expect("UTF-8 body")
}

/// Collects a response body and parses it as JSON.
pub async fn body_json<B>(response: http::Response<B>) -> Value
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let text = body_string(response).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text:?}"))
}

/// A handler that answers JSON describing the request it got: method, path, query, every
/// header (name -> list of values, in order) and the body as text.
pub async fn echo(request: Request) -> Json<Value> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("request body");
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let values: Vec<Value> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        headers.insert(name.as_str().to_owned(), Value::Array(values));
    }
    Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}

/// The values of one header in an [`echo`] answer (empty when absent).
pub fn echoed_header(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"][name]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| v.as_str().expect("string header").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A router that echoes every request.
pub fn echo_router() -> Router {
    Router::new().fallback(echo)
}

/// `ProxyLayer::new(function).layer(echo_router())`: the function runs for every request.
pub fn wrap<F: ProxyFn>(function: F) -> ProxyService<Router, F> {
    ProxyLayer::new(function).layer(echo_router())
}

/// Sends one request through a clone of the service.
pub async fn send<S>(service: &S, request: http::Request<Body>) -> Response
where
    S: Service<http::Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    service
        .clone()
        .oneshot(request)
        .await
        .expect("infallible service")
}

/// A GET request for `uri`.
pub fn get_req(uri: &str) -> http::Request<Body> {
    http::Request::get(uri).body(Body::empty()).unwrap()
}

/// Every `Set-Cookie` line of a response, in order.
pub fn set_cookies<B>(response: &http::Response<B>) -> Vec<String> {
    response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("visible ASCII Set-Cookie").to_owned())
        .collect()
}

/// Every value of a response header, as text.
pub fn header_values<B>(response: &http::Response<B>, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// The `Location` header of a response.
pub fn location<B>(response: &http::Response<B>) -> String {
    response
        .headers()
        .get(http::header::LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("visible ASCII Location")
        .to_owned()
}

/// Captures what `tracing` logs while its subscriber is the default.
#[derive(Clone, Default)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl LogCapture {
    /// A subscriber that writes every event (all levels, no colours) into this capture.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static + use<> {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish()
    }

    /// Everything logged so far.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

/// One writer handed out by [`LogCapture`].
pub struct CaptureWriter {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter {
            buffer: Arc::clone(&self.buffer),
        }
    }
}

/// FNV-1a (64-bit), fed incrementally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv1a(pub u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Serves `app` with `axum::serve` on a loopback port and returns the address.
pub async fn serve<S>(app: S) -> std::net::SocketAddr
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    spawn_server(app, false).await
}

/// [`serve`], with the peer's address in each request's `ConnectInfo`.
pub async fn serve_with_peer<S>(app: S) -> std::net::SocketAddr
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    spawn_server(app, true).await
}

async fn spawn_server<S>(app: S, with_peer: bool) -> std::net::SocketAddr
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    use axum::ServiceExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let served = if with_peer {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await
        } else {
            axum::serve(listener, app.into_make_service()).await
        };
        served.unwrap();
    });
    addr
}

/// A request body fed from a channel, one chunk at a time, so the client never holds the
/// whole body.
pub struct ChannelBody(pub tokio::sync::mpsc::Receiver<bytes::Bytes>);

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|data| Ok(http_body::Frame::data(data))))
    }
}

/// `GET url` with a real HTTP client (hyper-util's), these header lines (repeated names stay
/// separate lines), and the whole body read.
pub async fn get_url(url: &str, headers: &[(&str, &str)]) -> http::Response<bytes::Bytes> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client =
        Client::builder(TokioExecutor::new()).build_http::<http_body_util::Empty<bytes::Bytes>>();
    let mut builder = http::Request::get(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = client
        .request(builder.body(http_body_util::Empty::new()).unwrap())
        .await
        .expect("the server answers");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("whole body").to_bytes();
    http::Response::from_parts(parts, body)
}

/// [`get_url`] on `http://{addr}{path}`.
pub async fn get_at(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Response<bytes::Bytes> {
    get_url(&format!("http://{addr}{path}"), headers).await
}

/// Sends `request` (a whole HTTP/1.1 request as text, as a client could write it: absolute
/// targets, odd `Host` values) on a new connection to `addr` and returns the whole answer as
/// text (status line, headers, body). The request should say `Connection: close`.
pub async fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers within 10 s")
    .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code of a [`raw_exchange`] answer.
pub fn raw_status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

/// The JSON object in the body of a [`raw_exchange`] answer (from the first `{` after the
/// head to the last `}`, which also reads a body sent in one chunk).
pub fn raw_json(answer: &str) -> Value {
    let body = &answer[answer.find("\r\n\r\n").expect("end of head") + 4..];
    let (start, end) = (body.find('{'), body.rfind('}'));
    match (start, end) {
        (Some(start), Some(end)) => serde_json::from_str(&body[start..=end])
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {body:?}")),
        _ => panic!("no JSON body in {answer:?}"),
    }
}
