//! `ProxyRequest::geo`: from Vercel's and Cloudflare's headers when the layer names that
//! CDN, nothing when it names none (even if a client sends the headers), and (feature
//! `maxminddb`) from MaxMind's test database by client IP.

mod common;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use common::*;
use http::StatusCode;
use serde_json::{json, Value};
use tower_proxy_fn::context::Cdn;
use tower_proxy_fn::{ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse, ProxyService};

/// Answers what `geo()` says, as JSON (`null` for none).
async fn where_am_i(req: ProxyRequest) -> ProxyResponse {
    let geo = req.geo().map(|geo| {
        json!({
            "country": geo.country,
            "region": geo.region,
            "city": geo.city,
            "latitude": geo.latitude,
            "longitude": geo.longitude,
        })
    });
    ProxyResponse::json(StatusCode::OK, &json!({ "geo": geo }))
}

fn layer() -> ProxyLayer<impl ProxyFn> {
    ProxyLayer::new(where_am_i)
}

fn app(cdn: Option<Cdn>) -> ProxyService<Router, impl ProxyFn> {
    let layer = layer();
    match cdn {
        Some(cdn) => layer.with_geo_headers(cdn).layer(echo_router()),
        None => layer.layer(echo_router()),
    }
}

async fn geo_of<S>(app: &S, headers: &[(&str, &str)]) -> Value
where
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone,
{
    let mut builder = http::Request::get("/");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = send(app, builder.body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    body_json(response).await["geo"].clone()
}

// https://vercel.com/docs/headers/request-headers
const VERCEL: &[(&str, &str)] = &[
    ("x-vercel-ip-country", "US"),
    ("x-vercel-ip-country-region", "CA"),
    ("x-vercel-ip-city", "San%20Francisco"),
    ("x-vercel-ip-latitude", "37.7749"),
    ("x-vercel-ip-longitude", "-122.4194"),
];

// https://developers.cloudflare.com/rules/transform/managed-transforms/reference/
const CLOUDFLARE: &[(&str, &str)] = &[
    ("cf-ipcountry", "DE"),
    ("cf-region", "Bavaria"),
    ("cf-region-code", "BY"),
    ("cf-ipcity", "Munich"),
    ("cf-iplatitude", "48.1374"),
    ("cf-iplongitude", "11.5755"),
];

#[tokio::test]
async fn vercel_headers() {
    let geo = geo_of(&app(Some(Cdn::Vercel)), VERCEL).await;
    assert_eq!(
        geo,
        json!({"country": "US", "region": "CA", "city": "San Francisco", "latitude": 37.7749, "longitude": -122.4194})
    );
    // A city outside ASCII arrives percent-encoded (UTF-8).
    let geo = geo_of(
        &app(Some(Cdn::Vercel)),
        &[("x-vercel-ip-city", "S%C3%A3o%20Paulo")],
    )
    .await;
    assert_eq!(geo["city"], "São Paulo");
    assert_eq!(geo["country"], Value::Null);
}

#[tokio::test]
async fn cloudflare_headers() {
    let geo = geo_of(&app(Some(Cdn::Cloudflare)), CLOUDFLARE).await;
    assert_eq!(
        geo,
        json!({"country": "DE", "region": "BY", "city": "Munich", "latitude": 48.1374, "longitude": 11.5755})
    );
    // Without the managed transform only the country is sent; `XX` means no country.
    let geo = geo_of(&app(Some(Cdn::Cloudflare)), &[("cf-ipcountry", "FR")]).await;
    assert_eq!(
        geo,
        json!({"country": "FR", "region": null, "city": null, "latitude": null, "longitude": null})
    );
    let geo = geo_of(&app(Some(Cdn::Cloudflare)), &[("cf-ipcountry", "XX")]).await;
    assert_eq!(geo, Value::Null);
    // The region name when there is no code.
    let geo = geo_of(&app(Some(Cdn::Cloudflare)), &[("cf-region", "Bavaria")]).await;
    assert_eq!(geo["region"], "Bavaria");
}

#[tokio::test]
async fn nothing_without_a_configured_cdn() {
    let everything: Vec<(&str, &str)> = VERCEL.iter().chain(CLOUDFLARE).copied().collect();
    assert_eq!(geo_of(&app(None), &everything).await, Value::Null);
    // One CDN's layer does not read the other's headers.
    assert_eq!(
        geo_of(&app(Some(Cdn::Vercel)), CLOUDFLARE).await,
        Value::Null
    );
    assert_eq!(
        geo_of(&app(Some(Cdn::Cloudflare)), VERCEL).await,
        Value::Null
    );
    // Configured, but no header sent.
    assert_eq!(geo_of(&app(Some(Cdn::Vercel)), &[]).await, Value::Null);
}

#[tokio::test]
async fn bad_coordinates_are_dropped_not_fatal() {
    let headers = [
        ("x-vercel-ip-country", "US"),
        ("x-vercel-ip-latitude", "95"),
        ("x-vercel-ip-longitude", "east"),
    ];
    let geo = geo_of(&app(Some(Cdn::Vercel)), &headers).await;
    assert_eq!(geo["country"], "US");
    assert_eq!(geo["latitude"], Value::Null);
    assert_eq!(geo["longitude"], Value::Null);
}

#[tokio::test]
async fn over_a_real_server() {
    let addr = serve_with_peer(app(Some(Cdn::Vercel))).await;
    let response = get_at(addr, "/", VERCEL).await;
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["geo"]["city"], "San Francisco");
    assert_eq!(body["geo"]["country"], "US");
}

#[cfg(feature = "maxminddb")]
mod maxmind {
    use super::*;
    use axum::extract::ConnectInfo;
    use tower_proxy_fn::context::{GeoDatabase, TrustedProxies};

    const DATABASE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/maxmind/GeoIP2-City-Test.mmdb"
    );

    fn app(cdn: Option<Cdn>) -> ProxyService<Router, impl ProxyFn> {
        let layer = layer()
            .with_trusted_proxies(TrustedProxies::hops(1))
            .with_geo_database(GeoDatabase::open(DATABASE).expect("the test database opens"));
        match cdn {
            Some(cdn) => layer.with_geo_headers(cdn).layer(echo_router()),
            None => layer.layer(echo_router()),
        }
    }

    async fn geo_for(
        app: &ProxyService<Router, impl ProxyFn>,
        peer: &str,
        headers: &[(&str, &str)],
    ) -> Value {
        let mut builder = http::Request::get("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<std::net::SocketAddr>().unwrap()));
        body_json(send(app, request).await).await["geo"].clone()
    }

    // Expected records: tests/fixtures/maxmind/README.md (MaxMind's source JSON).
    #[tokio::test]
    async fn looks_the_client_ip_up() {
        let app = app(None);
        assert_eq!(
            geo_for(&app, "81.2.69.142:1000", &[]).await,
            json!({"country": "GB", "region": "ENG", "city": "London", "latitude": 51.5142, "longitude": -0.0931})
        );
        // The client behind one trusted proxy, not the proxy.
        let geo = geo_for(
            &app,
            "10.0.0.1:1000",
            &[("x-forwarded-for", "89.160.20.112")],
        )
        .await;
        assert_eq!(
            geo,
            json!({"country": "SE", "region": "E", "city": "Linköping", "latitude": 58.4167, "longitude": 15.6167})
        );
        let geo = geo_for(
            &app,
            "10.0.0.1:1000",
            &[("x-forwarded-for", "2001:480:10::1")],
        )
        .await;
        assert_eq!(geo["city"], "San Diego");
        assert_eq!(geo["region"], "CA");
        // An IPv4-mapped peer is looked up as IPv4.
        let geo = geo_for(&app, "[::ffff:81.2.69.142]:1000", &[]).await;
        assert_eq!(geo["city"], "London");
        // Addresses the database does not hold.
        assert_eq!(geo_for(&app, "127.0.0.1:1000", &[]).await, Value::Null);
        assert_eq!(
            geo_for(&app, "10.0.0.1:1000", &[("x-forwarded-for", "garbage")]).await,
            Value::Null
        );
    }

    #[tokio::test]
    async fn cdn_headers_first_then_the_database() {
        let app = app(Some(Cdn::Cloudflare));
        let geo = geo_for(&app, "81.2.69.142:1000", &[("cf-ipcountry", "FR")]).await;
        assert_eq!(geo["country"], "FR");
        assert_eq!(geo["city"], Value::Null);
        let geo = geo_for(&app, "81.2.69.142:1000", &[]).await;
        assert_eq!(geo["city"], "London");
    }

    #[test]
    fn a_missing_or_bad_file_is_a_clear_error() {
        let err = GeoDatabase::open("/nonexistent/GeoLite2-City.mmdb").unwrap_err();
        let message = err.to_string();
        assert!(
            message
                .starts_with("cannot open the MaxMind database /nonexistent/GeoLite2-City.mmdb: "),
            "{message}"
        );
        assert!(message.contains("No such file"), "{message}");
        assert_eq!(
            err.path(),
            std::path::Path::new("/nonexistent/GeoLite2-City.mmdb")
        );

        let not_a_database = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/maxmind/README.md"
        );
        let message = GeoDatabase::open(not_a_database).unwrap_err().to_string();
        assert!(
            message.starts_with("cannot open the MaxMind database "),
            "{message}"
        );
        assert!(message.contains("README.md"), "{message}");
    }
}
