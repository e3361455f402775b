//! Runs each serving example as a user would, reads the curl lines it prints at start, and
//! sends each one over HTTP, checking the answer the line announces after its `#`:
//!
//! ```text
//! curl -i -b session=ann http://127.0.0.1:3000/dashboard   # 200; "Welcome, ann"; no location
//! ```
//!
//! `200` is the status; `name: value` a header one of whose values starts with `value`;
//! `no name` a header that must be absent; `"text"` (or `'text'`) a piece of the body. A curl line without `#` is not checked. The
//! examples are built by `cargo test` (an example that needs a feature is skipped without
//! it); each is started with `ADDR=127.0.0.1:0` and prints the port it got.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long an example may take to print its address and curl lines.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long one request may take.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// The example's binary, next to this test's (`target/debug/examples/NAME`).
fn binary(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let path = dir.join("examples").join(name);
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    // `cargo test --test examples_run` alone does not rebuild the examples: refuse to test
    // an old build rather than pass on it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = root.join("examples").join(format!("{name}.rs"));
    let changed = std::fs::metadata(&source).and_then(|m| m.modified());
    assert!(
        changed.is_ok_and(|changed| changed <= built),
        "examples/{name}.rs changed after its last build: run `cargo test --all-features` \
         (or `cargo build --examples --all-features` first)"
    );
    Some(path)
}

/// Kills the example when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example and returns it with the lines it printed up to its first blank line
/// or its last `curl` line (whichever the output shows first within the limit).
fn start(name: &str, env: &[(&str, &str)]) -> Option<(Running, Vec<String>)> {
    let Some(path) = binary(name) else {
        eprintln!("examples/{name}.rs is not built (a feature it needs is off): skipped");
        return None;
    };
    let mut child = Command::new(path)
        .env("ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let running = Running(child);
    // An example may print its hints on either stream (`logging` keeps stdout for JSON).
    let (lines_tx, lines_rx) = mpsc::channel();
    let stderr_tx = lines_tx.clone();
    std::thread::spawn(move || forward(stdout, lines_tx));
    std::thread::spawn(move || forward(stderr, stderr_tx));
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + START_LIMIT;
    // The curl lines come right after the listening line; stop at the first quiet moment
    // after some have come.
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let wait = if lines.iter().any(|l: &String| l.contains("curl ")) {
            Duration::from_millis(300).min(left)
        } else {
            left
        };
        match lines_rx.recv_timeout(wait) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    assert!(
        lines.iter().any(|l| l.contains("curl ")),
        "{name} printed no curl line within {START_LIMIT:?}: {lines:?}"
    );
    Some((running, lines))
}

fn forward(stream: impl std::io::Read, lines: mpsc::Sender<String>) {
    // Keeps reading after the test stopped listening: an example writing to a closed pipe
    // would fail (its `println!` panics).
    for line in BufReader::new(stream).lines().map_while(Result::ok) {
        let _ = lines.send(line);
    }
}

/// One printed curl line, parsed.
#[derive(Debug)]
struct Check {
    line: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    status: u16,
    expect_headers: Vec<(String, String)>,
    absent_headers: Vec<String>,
    body_has: Vec<String>,
}

/// Splits a shell line into words: single quotes group, nothing else is special.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

fn parse(line: &str) -> Option<Check> {
    let (command, expect) = line.split_once(" # ")?;
    let start = command.find("curl ")?;
    let mut check = Check {
        line: line.trim().to_owned(),
        method: "GET".to_owned(),
        url: String::new(),
        headers: Vec::new(),
        body: None,
        status: 0,
        expect_headers: Vec::new(),
        absent_headers: Vec::new(),
        body_has: Vec::new(),
    };
    let mut args = words(&command[start + 5..]).into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-i" | "-s" | "--path-as-is" => {}
            "-X" => check.method = args.next()?,
            "-H" => {
                let header = args.next()?;
                let (name, value) = header.split_once(':')?;
                check
                    .headers
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "-b" => check.headers.push(("cookie".to_owned(), args.next()?)),
            "-A" => check.headers.push(("user-agent".to_owned(), args.next()?)),
            "-d" => {
                check.method = "POST".to_owned();
                check.body = Some(args.next()?);
                check.headers.push((
                    "content-type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ));
            }
            url if url.starts_with("http://") => check.url = url.to_owned(),
            other => panic!("{line}: curl option {other:?} is not understood by this test"),
        }
    }
    let mut items = expect.split("; ").map(str::trim);
    check.status = items.next()?.parse().ok()?;
    for item in items {
        let quoted = |q: char| item.strip_prefix(q).and_then(|t| t.strip_suffix(q));
        if let Some(text) = quoted('"').or_else(|| quoted('\'')) {
            check.body_has.push(text.to_owned());
        } else if let Some(name) = item.strip_prefix("no ") {
            check.absent_headers.push(name.to_owned());
        } else if let Some((name, value)) = item.split_once(": ") {
            check
                .expect_headers
                .push((name.to_owned(), value.to_owned()));
        } else {
            panic!("{line}: cannot read the expectation {item:?}");
        }
    }
    Some(check)
}

async fn send(check: &Check) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let mut request = http::Request::builder()
        .method(check.method.as_str())
        .uri(&check.url);
    for (name, value) in &check.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(check.body.clone().map_or_else(Body::empty, Body::from))
        .unwrap();
    let response = tokio::time::timeout(REQUEST_LIMIT, client.request(request))
        .await
        .unwrap_or_else(|_| panic!("{}: no answer within {REQUEST_LIMIT:?}", check.line))
        .unwrap_or_else(|err| panic!("{}: {err}", check.line));
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(REQUEST_LIMIT, body.collect())
        .await
        .expect("the body within the limit")
        .expect("a body")
        .to_bytes();
    let body = String::from_utf8_lossy(&body);
    let line = &check.line;
    assert_eq!(
        parts.status.as_u16(),
        check.status,
        "{line}\n{parts:?}\n{body}"
    );
    for (name, value) in &check.expect_headers {
        let got: Vec<&str> = parts
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(
            got.iter().any(|v| v.starts_with(value.as_str())),
            "{line}: {name} is {got:?}"
        );
    }
    for name in &check.absent_headers {
        assert!(
            !parts.headers.contains_key(name.as_str()),
            "{line}: {name} is set"
        );
    }
    for text in &check.body_has {
        assert!(
            body.contains(text.as_str()),
            "{line}: {text:?} not in {body:?}"
        );
    }
}

/// Runs `name` and checks every curl line it prints; returns how many were checked.
async fn run_example(name: &str, env: &[(&str, &str)]) -> usize {
    let Some((_running, lines)) = start(name, env) else {
        return 0;
    };
    let checks: Vec<Check> = lines.iter().filter_map(|line| parse(line)).collect();
    for check in &checks {
        send(check).await;
    }
    checks.len()
}

macro_rules! example_tests {
    ($($test:ident: $name:literal $(, $key:literal = $value:literal)*;)*) => {$(
        #[tokio::test]
        async fn $test() {
            let checked = run_example($name, &[$(($key, $value)),*]).await;
            if binary($name).is_some() {
                assert!(checked > 0, "{} printed no curl line with an expected answer", $name);
            }
        }
    )*};
}

example_tests! {
    quickstart: "quickstart";
    auth_guard: "auth_guard";
    headers: "headers";
    cookies: "cookies";
    cors: "cors";
    i18n: "i18n";
    ip_allowlist: "ip_allowlist", "ALLOWED_IPS" = "10.0.0.0/8";
    ip_allowlist_behind_a_proxy: "ip_allowlist", "ALLOWED_IPS" = "10.0.0.0/8", "TRUSTED_PROXIES" = "1";
    ab_test: "ab_test";
    chain: "chain";
    next_config: "next_config";
    nextjs_parity: "nextjs_parity";
    logging: "logging";
    external_rewrite: "external_rewrite", "LEGACY_ADDR" = "127.0.0.1:0";
}

#[test]
fn the_curl_lines_parse() {
    let check = parse(
        "  curl -i -b 'a=1; b=2' -H 'Accept-Language: fr;q=0.5, ja' http://h/x?y=1   \
         # 307; location: /ja/x?y=1; no set-cookie; \"text\"",
    )
    .unwrap();
    assert_eq!(check.url, "http://h/x?y=1");
    assert_eq!(
        check.headers,
        [
            ("cookie".to_owned(), "a=1; b=2".to_owned()),
            ("Accept-Language".to_owned(), "fr;q=0.5, ja".to_owned())
        ]
    );
    assert_eq!(check.status, 307);
    assert_eq!(
        check.expect_headers,
        [("location".to_owned(), "/ja/x?y=1".to_owned())]
    );
    assert_eq!(check.absent_headers, ["set-cookie"]);
    assert_eq!(check.body_has, ["text"]);
    assert!(
        parse("  curl -i -c jar -b jar http://h/").is_none(),
        "no # means no check"
    );
}

/// The README's walk-through is `examples/new_project.rs` as it is (after its header), so
/// that what the README shows is compiled, run and tested as the example.
#[test]
fn the_readme_shows_the_new_project_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/new_project.rs")).unwrap();
    let code: Vec<&str> = example
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .collect();
    let block = format!("```rust,no_run\n{}\n```", code.join("\n"));
    assert!(
        readme.contains(&block),
        "README.md's walk-through differs from examples/new_project.rs"
    );
}
