//! Locale prefixes: a path without `/en`, `/ja` or `/fr` in front is redirected to one, chosen
//! from the `NEXT_LOCALE` cookie, then `Accept-Language` (by q-value), then `en`.
//!
//! Run: `cargo run --example i18n`, then
//! `curl -i -H 'Accept-Language: fr;q=0.5, ja-JP' http://127.0.0.1:3000/products`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{routing::get, Router};
use tower::Layer;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

const LOCALES: &[&str] = &["en", "ja", "fr"];
const DEFAULT_LOCALE: &str = "en";

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    let path = req.path();
    // `/en` and `/en/...` already carry a locale.
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if LOCALES.contains(&first) {
        return ProxyResponse::next();
    }
    let lang = req
        .cookies()
        .get("NEXT_LOCALE")
        .and_then(supported)
        .or_else(|| req.header("accept-language").and_then(preferred))
        .unwrap_or(DEFAULT_LOCALE);
    // `next_url` keeps the query: `/products?page=2` becomes `/ja/products?page=2`.
    let mut url = req.next_url();
    url.set_path(&format!("/{lang}{path}"));
    ProxyResponse::redirect(url)
}

/// The supported locale for a tag: `ja`, `JA` and `ja-JP` all give `ja`.
fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag.trim().split('-').next().unwrap_or("");
    LOCALES
        .iter()
        .copied()
        .find(|l| l.eq_ignore_ascii_case(primary))
}

/// The supported locale with the highest q-value in an `Accept-Language` header
/// (`fr;q=0.5, ja-JP` gives `ja`); the first one wins a tie, and `q=0` means "not this one".
fn preferred(header: &str) -> Option<&'static str> {
    let mut best: Option<(&'static str, f32)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(locale) = parts.next().and_then(supported) else {
            continue;
        };
        let q = match parts.find_map(|p| p.trim().strip_prefix("q=")) {
            Some(q) => q.trim().parse::<f32>().unwrap_or(0.0),
            None => 1.0,
        };
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((locale, q));
        }
    }
    best.map(|(locale, _)| locale)
}

fn page(lang: &str, rest: &str) -> Result<String, StatusCode> {
    let hello = match lang {
        "en" => "Hello",
        "ja" => "こんにちは",
        "fr" => "Bonjour",
        _ => return Err(StatusCode::NOT_FOUND), // only reachable if the proxy did not run
    };
    Ok(format!("[{lang}] {hello}! page: /{rest}\n"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new()
        .route(
            "/{lang}",
            get(|Path(lang): Path<String>| async move { page(&lang, "") }),
        )
        .route(
            "/{lang}/",
            get(|Path(lang): Path<String>| async move { page(&lang, "") }),
        )
        .route(
            "/{lang}/{*rest}",
            get(|Path((lang, rest)): Path<(String, String)>| async move { page(&lang, &rest) }),
        );
    // Everything but `/api/...`, `/_static/...` and `/favicon.ico`.
    let matcher = Matcher::new(["/((?!api|_static|favicon.ico).*)"])?;
    let app = ProxyLayer::new(proxy).with_matcher(matcher).layer(router);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("i18n listening on http://{addr}; locales {LOCALES:?}, default {DEFAULT_LOCALE}");
    println!(
        "  curl -i http://{addr}/products                                       # 307 /en/products"
    );
    println!("  curl -i -H 'Accept-Language: fr;q=0.5, ja-JP' http://{addr}/products  # 307 /ja/products");
    println!("  curl -i -b NEXT_LOCALE=fr -H 'Accept-Language: ja' http://{addr}/      # 307 /fr/");
    println!("  curl -i http://{addr}/ja/products                                    # 200");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
