//! Matcher benchmarks: ns per selection over a mix of matching and
//! non-matching paths, and compile time.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower_proxy_fn::matcher::{Matcher, Selection};

const PATHS: &[&str] = &[
    "/",
    "/about",
    "/about/team/people",
    "/api/users/42",
    "/_next/static/chunks/main.js",
    "/_next/image",
    "/favicon.ico",
    "/dashboard/settings",
    "/blog/2024/hello-world",
    "/section7/a/b",
    "/api/v3/123",
    "/shop/shoes/red",
    "/section5/a/b",
    "/api/v1/123",
    "/blog2/hello",
    "/docs4/en/x",
];

fn many(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 5 {
            0 => format!("/section{i}/:path*"),
            1 => format!("/api/v{i}/:id(\\d+)"),
            2 => format!("/blog{i}/:slug"),
            3 => format!("/shop{i}{{/:cat}}?"),
            _ => format!("/docs{i}/:lang(en|ja)/:rest*"),
        })
        .collect()
}

fn requests() -> Vec<Request<()>> {
    PATHS
        .iter()
        .map(|p| Request::builder().uri(*p).body(()).unwrap())
        .collect()
}

fn bench_case(c: &mut Criterion, name: &str, matcher: &Matcher) {
    let reqs = requests();
    let mut i = 0;
    c.bench_function(&format!("select/{name}"), |b| {
        b.iter(|| {
            i += 1;
            if i == reqs.len() {
                i = 0;
            }
            black_box(matches!(
                matcher.select(black_box(&reqs[i])),
                Selection::Run(_)
            ))
        })
    });
    let mut i = 0;
    c.bench_function(&format!("matches/{name}"), |b| {
        b.iter(|| {
            i += 1;
            if i == reqs.len() {
                i = 0;
            }
            black_box(matcher.matches(black_box(&reqs[i])))
        })
    });
}

fn benches(c: &mut Criterion) {
    let one = Matcher::new(["/((?!api|_next/static|_next/image|favicon.ico).*)"]).unwrap();
    bench_case(c, "1 look-ahead pattern", &one);
    let two = Matcher::new(["/about/:path*", "/dashboard/:path*"]).unwrap();
    bench_case(c, "2 patterns", &two);
    let fifty = Matcher::new(many(50)).unwrap();
    bench_case(c, "50 patterns", &fifty);
    let five_hundred = Matcher::new(many(500)).unwrap();
    bench_case(c, "500 patterns", &five_hundred);
    bench_case(c, "any", &Matcher::any());
    let sources = many(500);
    c.bench_function("compile/500 patterns", |b| {
        b.iter(|| black_box(Matcher::new(black_box(&sources)).unwrap()))
    });
}

criterion_group!(matcher, benches);
criterion_main!(matcher);
