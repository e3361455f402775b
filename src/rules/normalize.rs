//! URL normalization before any rule: repeated slashes and backslashes, bad percent-encoding,
//! and the trailing-slash policy.

/// What to do with a trailing slash (next.config's `trailingSlash`).
///
/// Next.js adds the policy's redirect in front of the config's redirects
/// (vercel/next.js `packages/next/src/lib/load-custom-routes.ts`, end of `loadCustomRoutes`):
/// with `trailingSlash: false` (its default) `/:path+/` goes to `/:path+` with 308; with
/// `trailingSlash: true` a path whose last segment has no dot goes to the same path with a
/// slash, a file path (`/a/b.txt/`) loses its slash, and `/.well-known/...` is left alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrailingSlash {
    /// Leave paths as they come (axum's behaviour: `/a/` and `/a` are different routes).
    #[default]
    Keep,
    /// Redirect `/a/` to `/a` with 308 (Next.js's default, `trailingSlash: false`).
    Remove,
    /// Redirect `/a` to `/a/` with 308, and `/a.txt/` to `/a.txt` (`trailingSlash: true`).
    Add,
}

impl TrailingSlash {
    /// The path the policy redirects `path` to, if any.
    pub(crate) fn redirect(self, path: &str) -> Option<String> {
        match self {
            TrailingSlash::Keep => None,
            // `/:path+/`: one or more non-empty segments, then the slash.
            TrailingSlash::Remove => {
                let trimmed = path.strip_suffix('/')?;
                let ok = trimmed.len() > 1 && !trimmed.ends_with('/') && !trimmed.contains("//");
                ok.then(|| trimmed.to_owned())
            }
            TrailingSlash::Add => {
                let rest = path.strip_prefix('/')?;
                if rest.starts_with(".well-known") || rest.is_empty() || rest.contains("//") {
                    return None;
                }
                match rest.strip_suffix('/') {
                    // `/:file((?!\.well-known(?:/.*)?)(?:[^/]+/)*[^/]+\.\w+)/` -> `/:file`
                    Some(inner) => is_file(inner).then(|| format!("/{inner}")),
                    // `/:notfile((?!\.well-known(?:/.*)?)(?:[^/]+/)*[^/\.]+)` -> `/:notfile/`
                    None => {
                        let last = rest.rsplit('/').next().unwrap_or("");
                        (!last.contains('.')).then(|| format!("{path}/"))
                    }
                }
            }
        }
    }
}

/// `[^/]+\.\w+` for the last segment: a name, a dot, and word characters to the end.
fn is_file(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rfind('.') {
        Some(dot) => {
            dot > 0
                && dot + 1 < last.len()
                && last[dot + 1..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    }
}

/// Next.js's `normalizeRepeatedSlashes` on a path: backslashes become slashes, runs of
/// slashes become one. `None` when the path has neither (vercel/next.js
/// `packages/next/src/server/lib/router-utils/resolve-routes.ts` answers such a request 308
/// to the normalized URL, query kept).
pub(crate) fn repeated_slashes(path: &str) -> Option<String> {
    if !path.contains('\\') && !path.contains("//") {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        let c = if c == '\\' { '/' } else { c };
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    Some(out)
}

/// Whether the path of a URL (or a path with a query: `?` and `#` end it) holds a dot
/// segment in any spelling a URL parser resolves: `.` or `..`, each dot written `.`, `%2e`
/// or `%2E`, between `/` or `\` (the URL Standard's "single-dot / double-dot URL path
/// segment", and `\` is a separator in special URLs). For an absolute URL
/// (`https://host/...`) only the part after the authority is looked at.
///
/// A redirect or rewrite whose built path has one would land, once resolved by a browser,
/// `url::Url`, a router or a file server downstream, on a path the rule did not write
/// (`/news/:slug*` with `slug` `../../admin` is `/admin`).
pub(crate) fn has_dot_segment(url: &str) -> bool {
    let path = match url.find("://") {
        Some(i) if !url[..i].contains(['/', '?', '#']) => {
            let after = &url[i + 3..];
            match after.find(['/', '\\', '?', '#']) {
                Some(j) => &after[j..],
                None => "",
            }
        }
        _ => url,
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    path.split(['/', '\\']).any(is_dot_segment)
}

/// `.` or `..` with each dot written `.`, `%2e` or `%2E`.
fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return false,
        };
        dots += 1;
    }
    matches!(dots, 1 | 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_in_every_spelling() {
        let dotted = [
            "/a/../b",
            "/a/./b",
            "/a/..",
            "/..",
            "/a/%2e%2e/b",
            "/a/%2E%2E/b",
            "/a/.%2e/b",
            "/a/%2e./b",
            "/a/%2e/b",
            "/a\\..\\b",
            "/a/..\\b",
            "/a/..?x=1",
            "https://h.example/a/../b",
            "https://h.example/..",
            "https://h.example\\..\\b",
        ];
        for url in dotted {
            assert!(has_dot_segment(url), "{url}");
        }
        let plain = [
            "/a/b",
            "/",
            "/a/.../b",
            "/a/..b",
            "/a/b..",
            "/a/.well-known",
            "/a/%2e%2e%2e",
            "/a/%252e%252e/b",
            "/a/..%2Fb",
            "/a/..%5Cb",
            "/a?x=/../",
            "/a#/../",
            "https://h.example/a",
            "https://h.example",
            "https://h.example?x=/..",
            // A `://` in the path is not a scheme.
            "/a/x://..b",
        ];
        for url in plain {
            assert!(!has_dot_segment(url), "{url}");
        }
    }

    #[test]
    fn trailing_slash_policies() {
        // (policy, path, expected redirect) from the sources in load-custom-routes.ts.
        let rows: &[(TrailingSlash, &str, Option<&str>)] = &[
            (TrailingSlash::Keep, "/another/", None),
            (TrailingSlash::Remove, "/another/", Some("/another")),
            (TrailingSlash::Remove, "/a/b/", Some("/a/b")),
            (TrailingSlash::Remove, "/another", None),
            (TrailingSlash::Remove, "/", None),
            (TrailingSlash::Add, "/another", Some("/another/")),
            (TrailingSlash::Add, "/a/b", Some("/a/b/")),
            (TrailingSlash::Add, "/another/", None),
            (TrailingSlash::Add, "/", None),
            (TrailingSlash::Add, "/file.txt", None),
            (TrailingSlash::Add, "/dir/file.txt/", Some("/dir/file.txt")),
            (TrailingSlash::Add, "/.well-known/thing", None),
            (TrailingSlash::Add, "/.well-known/a.json/", None),
        ];
        for (policy, path, want) in rows {
            assert_eq!(policy.redirect(path).as_deref(), *want, "{policy:?} {path}");
        }
    }

    #[test]
    fn repeated_slashes_and_backslashes() {
        assert_eq!(repeated_slashes("/a//b").as_deref(), Some("/a/b"));
        assert_eq!(
            repeated_slashes("//evil.example").as_deref(),
            Some("/evil.example")
        );
        assert_eq!(repeated_slashes("/a\\b").as_deref(), Some("/a/b"));
        assert_eq!(repeated_slashes("/a/b"), None);
    }
}
