//! Locale prefixes: a path without `/en`, `/ja` or `/fr` in front is redirected to one, chosen
//! from the `NEXT_LOCALE` cookie, then `Accept-Language` (by q-value, `ja-JP` counting as
//! `ja`), then `en` — with [`Locales`] doing the negotiation.
//!
//! Run: `cargo run --example i18n`, then
//! `curl -i -H 'Accept-Language: fr;q=0.5, ja-JP' http://127.0.0.1:3000/products`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{routing::get, Router};
use tower::Layer;
use tower_proxy_fn::rules::Locales;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

static LOCALES: LazyLock<Locales> = LazyLock::new(|| Locales::new(["en", "ja", "fr"], "en"));

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    // `/products?page=2` becomes `/ja/products?page=2`; `/ja/...` passes.
    LOCALES
        .redirect_to_locale(&req)
        .unwrap_or_else(ProxyResponse::next)
}

fn page(lang: &str, rest: &str) -> Result<String, StatusCode> {
    let hello = match LOCALES.find(lang) {
        Some("en") => "Hello",
        Some("ja") => "こんにちは",
        Some("fr") => "Bonjour",
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
    println!(
        "i18n listening on http://{addr}; locales {:?}, default {}",
        LOCALES.locales(),
        LOCALES.default_locale()
    );
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
