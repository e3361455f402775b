//! What the examples share; not an example itself (cargo builds `examples/*.rs` and
#![allow(dead_code)] // also compiled into tests that include an example for its `app`
//! `examples/*/main.rs` only).

use tokio::net::TcpListener;

/// Binds the address in `ADDR`, `127.0.0.1:3000` by default, and returns it as served
/// (`ADDR=127.0.0.1:0` picks a free port, and the real one is returned). When the address is
/// taken, says how to choose another and exits.
pub async fn listen(example: &str) -> (TcpListener, String) {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    match TcpListener::bind(&addr).await {
        Ok(listener) => {
            let bound = listener.local_addr().map_or(addr, |a| a.to_string());
            (listener, bound)
        }
        Err(err) => {
            eprintln!("{example}: cannot listen on {addr}: {err}");
            eprintln!(
                "set ADDR to a free address: ADDR=127.0.0.1:3001 cargo run --example {example}"
            );
            std::process::exit(1);
        }
    }
}
