//! Locale prefixes: a path without `/en`, `/ja` or `/fr` in front is redirected to one, chosen
//! from the `NEXT_LOCALE` cookie, then `Accept-Language` (by q-value, `ja-JP` counting as
//! `ja`), then `en`, with [`Locales`] doing the negotiation.
//!
//! Run: `cargo run --example i18n` (on `127.0.0.1:3000`, or `ADDR`). It prints what to try:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3000/products   # 307; location: /en/products
//! $ curl -i -H 'Accept-Language: fr;q=0.5, ja-JP' 'http://127.0.0.1:3000/products?page=2'   # 307; location: /ja/products?page=2
//! $ curl -i -b NEXT_LOCALE=fr -H 'Accept-Language: ja' http://127.0.0.1:3000/   # 307; location: /fr/
//! $ curl -i -H 'Accept-Language: de, fr;q=0.9, en;q=0.8' http://127.0.0.1:3000/   # 307; location: /fr/
//! $ curl -i -H 'Accept-Language: ja;q=0, fr;q=0.1' http://127.0.0.1:3000/   # 307; location: /fr/
//! $ curl -i http://127.0.0.1:3000/ja/products   # 200; "[ja] こんにちは! page: /products"
//! ```
//!
//! German is not offered and French has the highest q; `q=0` means "not Japanese".

mod support;

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{routing::get, Router};
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
    let app = ProxyLayer::new(proxy)
        .with_matcher(matcher)
        .layer(router.with_state(()));

    let (listener, addr) = support::listen("i18n").await;
    println!(
        "i18n listening on http://{addr}; locales {:?}, default {}; try:",
        LOCALES.locales(),
        LOCALES.default_locale()
    );
    println!("  curl -i http://{addr}/products   # 307; location: /en/products");
    println!("  curl -i -H 'Accept-Language: fr;q=0.5, ja-JP' 'http://{addr}/products?page=2'   # 307; location: /ja/products?page=2");
    println!("  curl -i -b NEXT_LOCALE=fr -H 'Accept-Language: ja' http://{addr}/   # 307; location: /fr/");
    println!("  curl -i -H 'Accept-Language: de, fr;q=0.9, en;q=0.8' http://{addr}/   # 307; location: /fr/");
    println!(
        "  curl -i -H 'Accept-Language: ja;q=0, fr;q=0.1' http://{addr}/   # 307; location: /fr/"
    );
    println!("  curl -i http://{addr}/ja/products   # 200; \"[ja] こんにちは! page: /products\"");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
