//! `has` / `missing` conditions (Next.js `matchHas`).

use http::header::{HeaderName, HOST};
use http::Request;

use super::config::{Condition, ConditionKind};
use super::js_regex::{self, Program, Undecided};
use super::Params;
use crate::config_error::ConfigError;
use crate::request_values::{query_value, RequestCookies};

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) struct CompiledCondition {
    kind: ConditionKind,
    key: String,
    header: Option<HeaderName>,
    value: Option<Program>,
}

impl CompiledCondition {
    /// Compiles one item; `location` is e.g. `matcher[0].has[1]`.
    pub(crate) fn compile(c: &Condition, location: &str) -> Result<Self, ConfigError> {
        let key = match (c.kind, &c.key) {
            (ConditionKind::Host, _) => c.key.clone().unwrap_or_default(),
            (_, Some(k)) => k.clone(),
            (kind, None) => {
                return Err(ConfigError::schema(
                    location,
                    format!("a {} condition needs a \"key\"", kind_name(kind)),
                ))
            }
        };
        if c.kind == ConditionKind::Host && c.value.is_none() {
            return Err(ConfigError::schema(
                location,
                "a host condition needs a \"value\"",
            ));
        }
        let header = if c.kind == ConditionKind::Header {
            HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes()).ok()
        } else {
            None
        };
        let value = match &c.value {
            None => None,
            Some(v) => {
                let loc = format!("{location}.value");
                let parsed = js_regex::parse(v).map_err(|e| {
                    ConfigError::pattern(&loc, format!("invalid regular expression: {}", e.message))
                        .with_text(v.clone(), Some(e.pos))
                })?;
                // Next.js tests `^value$`; we anchor the whole alternation.
                let mut whole = parsed.clone();
                whole.ast = js_regex::Node::Concat(vec![
                    js_regex::Node::Start,
                    js_regex::Node::Group(None, Box::new(parsed.ast)),
                    js_regex::Node::End,
                ]);
                Some(Program::compile(&whole).map_err(|e| {
                    ConfigError::pattern(&loc, format!("invalid regular expression: {e}"))
                        .with_text(v.clone(), None)
                })?)
            }
        };
        Ok(CompiledCondition {
            kind: c.kind,
            key,
            header,
            value,
        })
    }

    /// Whether the condition holds; captures go to `params` when given. `Err` when its
    /// expression cannot decide (see `CompiledEntry::holds` for what that means).
    pub(crate) fn holds<B>(
        &self,
        request: &Request<B>,
        params: Option<&mut Params>,
    ) -> Result<bool, Undecided> {
        let Some(value) = self.lookup(request) else {
            return Ok(false);
        };
        if value.is_empty() {
            return Ok(false);
        }
        match &self.value {
            None => {
                if let Some(p) = params {
                    p.push(self.key.clone(), value);
                }
                Ok(true)
            }
            Some(program) => {
                let Some(params) = params else {
                    return program.is_match(&value);
                };
                let Some(caps) = program.captures(&value)? else {
                    return Ok(false);
                };
                let mut named = false;
                for (name, cap) in program.groups.iter().zip(caps) {
                    if let Some(name) = name {
                        named = true;
                        if let Some(c) = cap {
                            params.push(name.clone(), c.to_owned());
                        }
                    }
                }
                if !named && self.kind == ConditionKind::Host {
                    params.push("host".to_owned(), value.clone());
                }
                Ok(true)
            }
        }
    }

    fn lookup<B>(&self, request: &Request<B>) -> Option<String> {
        match self.kind {
            ConditionKind::Header => {
                let name = self.header.as_ref()?;
                let mut out: Option<String> = None;
                for v in request.headers().get_all(name) {
                    let s = String::from_utf8_lossy(v.as_bytes());
                    match &mut out {
                        Some(o) => {
                            o.push_str(", ");
                            o.push_str(&s);
                        }
                        None => out = Some(s.into_owned()),
                    }
                }
                out
            }
            // One reading of the query and of cookies for conditions and for the function:
            // see `query_value` and `RequestCookies` for what Next.js does.
            ConditionKind::Query => query_value(request.uri().query(), &self.key),
            ConditionKind::Cookie => RequestCookies::value_of(request.headers(), &self.key),
            ConditionKind::Host => {
                let host = match request.headers().get(HOST) {
                    Some(h) => String::from_utf8_lossy(h.as_bytes()).into_owned(),
                    None => request.uri().authority()?.as_str().to_owned(),
                };
                Some(strip_port(host.trim()).to_ascii_lowercase())
            }
        }
    }
}

fn kind_name(k: ConditionKind) -> &'static str {
    match k {
        ConditionKind::Header => "header",
        ConditionKind::Query => "query",
        ConditionKind::Cookie => "cookie",
        ConditionKind::Host => "host",
    }
}

/// Removes a `:port` (IPv6 literals in brackets kept whole).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(i) => &host[..=i],
            None => host,
        };
    }
    host.split(':').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(kind: ConditionKind, key: Option<&str>, value: Option<&str>) -> CompiledCondition {
        CompiledCondition::compile(
            &Condition {
                kind,
                key: key.map(str::to_owned),
                value: value.map(str::to_owned),
            },
            "matcher[0].has[0]",
        )
        .expect("compiles")
    }

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn conditions_per_type() {
        use ConditionKind::*;
        // (name, condition, uri, headers, holds, captured pairs)
        #[allow(clippy::type_complexity)]
        let rows: &[(
            &str,
            (ConditionKind, Option<&str>, Option<&str>),
            &str,
            &[(&str, &str)],
            bool,
            &[(&str, &str)],
        )] = &[
            (
                "header present",
                (Header, Some("X-Token"), None),
                "/",
                &[("x-token", "abc")],
                true,
                &[("X-Token", "abc")],
            ),
            (
                "header absent",
                (Header, Some("x-token"), None),
                "/",
                &[],
                false,
                &[],
            ),
            (
                "header empty",
                (Header, Some("x-token"), None),
                "/",
                &[("x-token", "")],
                false,
                &[],
            ),
            (
                "header joined",
                (Header, Some("x-a"), Some("1, 2")),
                "/",
                &[("x-a", "1"), ("x-a", "2")],
                true,
                &[],
            ),
            (
                "header whole value",
                (Header, Some("x-r"), Some("a|b")),
                "/",
                &[("x-r", "abc")],
                false,
                &[],
            ),
            (
                "header named capture",
                (Header, Some("authorization"), Some("Bearer (?<token>.+)")),
                "/",
                &[("Authorization", "Bearer t0k")],
                true,
                &[("token", "t0k")],
            ),
            (
                "query present",
                (Query, Some("p"), None),
                "/?p=1",
                &[],
                true,
                &[("p", "1")],
            ),
            (
                "query decoded",
                (Query, Some("q"), Some("a b")),
                "/?q=a+b",
                &[],
                true,
                &[],
            ),
            (
                "query last wins",
                (Query, Some("l"), Some("en")),
                "/?l=ja&l=en",
                &[],
                true,
                &[],
            ),
            (
                "query last wins miss",
                (Query, Some("l"), Some("ja")),
                "/?l=ja&l=en",
                &[],
                false,
                &[],
            ),
            (
                "query empty",
                (Query, Some("p"), None),
                "/?p=",
                &[],
                false,
                &[],
            ),
            (
                "cookie present",
                (Cookie, Some("s"), None),
                "/",
                &[("cookie", "a=1; s=xyz")],
                true,
                &[("s", "xyz")],
            ),
            (
                "cookie first no longer wins",
                (Cookie, Some("s"), Some("1")),
                "/",
                &[("cookie", "s=1; s=2")],
                false,
                &[],
            ),
            // `parseCookie` (request.cookies in Next.js): a later pair replaces an earlier
            // one, quotes are kept, a pair without `=` is "true".
            (
                "cookie last wins",
                (Cookie, Some("s"), Some("2")),
                "/",
                &[("cookie", "s=1; s=2")],
                true,
                &[],
            ),
            (
                "cookie quotes kept",
                (Cookie, Some("s"), Some("\"q\"")),
                "/",
                &[("cookie", "s=\"q\"")],
                true,
                &[],
            ),
            (
                "cookie without '=' is true",
                (Cookie, Some("junk"), None),
                "/",
                &[("cookie", "junk; s=ok")],
                true,
                &[("junk", "true")],
            ),
            (
                "cookie decoded",
                (Cookie, Some("s"), Some("a b")),
                "/",
                &[("cookie", "s=a%20b")],
                true,
                &[],
            ),
            (
                "cookie malformed pair skipped",
                (Cookie, Some("s"), None),
                "/",
                &[("cookie", "junk; s=ok")],
                true,
                &[("s", "ok")],
            ),
            (
                "cookie second header",
                (Cookie, Some("t"), None),
                "/",
                &[("cookie", "a=1"), ("cookie", "t=2")],
                true,
                &[("t", "2")],
            ),
            (
                "cookie absent",
                (Cookie, Some("s"), None),
                "/",
                &[("cookie", "ss=1")],
                false,
                &[],
            ),
            (
                "host port stripped",
                (Host, None, Some("example\\.com")),
                "/",
                &[("host", "Example.COM:8080")],
                true,
                &[("host", "example.com")],
            ),
            (
                "host from uri",
                (Host, None, Some("a\\.test")),
                "http://a.test:1/x",
                &[],
                true,
                &[("host", "a.test")],
            ),
            (
                "host capture",
                (Host, None, Some("(?<sub>[a-z]+)\\.example\\.com")),
                "/",
                &[("host", "app.example.com")],
                true,
                &[("sub", "app")],
            ),
            (
                "host mismatch",
                (Host, None, Some("example\\.com")),
                "/",
                &[("host", "example.org")],
                false,
                &[],
            ),
        ];
        for (name, (kind, key, value), uri, headers, holds, captured) in rows {
            let c = cond(*kind, *key, *value);
            let r = req(uri, headers);
            let mut p = Params::default();
            assert_eq!(c.holds(&r, Some(&mut p)), Ok(*holds), "{name}");
            assert_eq!(c.holds(&r, None), Ok(*holds), "{name} (no captures)");
            let got: Vec<(&str, &str)> = p.iter().collect();
            assert_eq!(got, *captured, "{name}");
        }
    }

    #[test]
    fn compile_errors() {
        let c = |kind, key: Option<&str>, value: Option<&str>| {
            CompiledCondition::compile(
                &Condition {
                    kind,
                    key: key.map(str::to_owned),
                    value: value.map(str::to_owned),
                },
                "matcher[2].has[1]",
            )
            .expect_err("must fail")
        };
        let e = c(ConditionKind::Header, None, None);
        assert_eq!(e.location(), "matcher[2].has[1]");
        assert!(e.to_string().contains("needs a \"key\""));
        let e = c(ConditionKind::Cookie, None, Some("x"));
        assert!(e.to_string().contains("cookie condition needs a \"key\""));
        let e = c(ConditionKind::Host, None, None);
        assert!(e.to_string().contains("needs a \"value\""));
        let e = c(ConditionKind::Query, Some("a"), Some("ab(c"));
        assert_eq!(e.location(), "matcher[2].has[1].value");
        assert_eq!(e.position(), Some(2));
        let shown = e.to_string();
        assert!(shown.contains("\n  ab(c\n    ^"), "{shown}");
    }
}
