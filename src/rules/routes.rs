//! The routes an app declares to the rules ([`Rules::with_routes`](super::Rules::with_routes)),
//! so that the rewrites run in Next.js's file-system order without asking the inner service.
//!
//! Next.js knows its pages from the file system; a tower service's routes are closures the
//! layer cannot look into (an axum `Router` does not list its paths), so the app names them,
//! in axum's path syntax. A route without parameters is a static page, one with `{param}`
//! or `{*rest}` a dynamic route; that split is Next.js's own (`filesystem.ts` keeps static
//! pages and dynamic routes apart, and `resolve-routes.ts` tries the dynamic ones after the
//! `afterFiles` rewrites).

use crate::config_error::ConfigError;

/// One segment of a declared route.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: one non-empty segment.
    Param,
    /// `{*name}`: one or more segments, last.
    CatchAll,
}

/// The declared routes, static and dynamic.
#[derive(Clone, Debug, Default)]
pub(super) struct Routes {
    statics: Vec<String>,
    dynamics: Vec<Vec<Segment>>,
}

impl Routes {
    /// Parses routes in axum's syntax; errors name `routes[i]`.
    pub(super) fn parse<I>(routes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut out = Routes::default();
        for (i, route) in routes.into_iter().enumerate() {
            let route = route.as_ref();
            let fail = |message: &str| {
                Err(ConfigError::pattern(format!("routes[{i}]"), message)
                    .with_text(route.to_owned(), None))
            };
            if !route.starts_with('/') {
                return fail("a route must start with \"/\"");
            }
            let segments: Vec<&str> = route[1..].split('/').collect();
            let mut parsed = Vec::with_capacity(segments.len());
            for (j, segment) in segments.iter().enumerate() {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if let Some(rest) = name.strip_prefix('*') {
                        if rest.is_empty() || j + 1 != segments.len() {
                            return fail("`{*name}` must be named and be the last segment");
                        }
                        parsed.push(Segment::CatchAll);
                    } else if name.is_empty() || name.contains(['{', '}', '*']) {
                        return fail("a parameter is written `{name}`");
                    } else {
                        parsed.push(Segment::Param);
                    }
                } else if segment.contains(['{', '}']) {
                    return fail("a parameter must be a whole segment: `/{name}`");
                } else {
                    parsed.push(Segment::Literal((*segment).to_owned()));
                }
            }
            if parsed.iter().all(|s| matches!(s, Segment::Literal(_))) {
                out.statics.push(route.to_owned());
            } else {
                out.dynamics.push(parsed);
            }
        }
        Ok(out)
    }

    /// Whether a static route serves `path`.
    pub(super) fn serves_static(&self, path: &str) -> bool {
        self.statics.iter().any(|s| s == path)
    }

    /// Whether a dynamic route serves `path`.
    pub(super) fn serves_dynamic(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        self.dynamics
            .iter()
            .any(|route| matches_route(route, &segments))
    }

    /// Whether any route serves `path`.
    pub(super) fn serves(&self, path: &str) -> bool {
        self.serves_static(path) || self.serves_dynamic(path)
    }
}

fn matches_route(route: &[Segment], segments: &[&str]) -> bool {
    for (i, part) in route.iter().enumerate() {
        match part {
            Segment::CatchAll => {
                return segments.len() > i && segments[i..].iter().any(|s| !s.is_empty());
            }
            Segment::Param => {
                if segments.get(i).is_none_or(|s| s.is_empty()) {
                    return false;
                }
            }
            Segment::Literal(text) => {
                if segments.get(i) != Some(&text.as_str()) {
                    return false;
                }
            }
        }
    }
    route.len() == segments.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_split_into_static_and_dynamic_and_match_as_axum_does() {
        let routes =
            Routes::parse(["/", "/about", "/{slug}", "/docs/{*rest}", "/u/{id}/edit"]).unwrap();
        for (path, is_static, is_dynamic) in [
            ("/", true, false),
            ("/about", true, true),
            ("/hello", false, true),
            ("/hello/x", false, false),
            ("/docs", false, true),
            ("/docs/a/b", false, true),
            ("/docs/", false, false),
            ("/u/1/edit", false, true),
            ("/u//edit", false, false),
        ] {
            assert_eq!(routes.serves_static(path), is_static, "{path}");
            assert_eq!(routes.serves_dynamic(path), is_dynamic, "{path}");
        }
    }

    #[test]
    fn a_bad_route_is_an_error_naming_it() {
        for route in ["about", "/{*rest}/x", "/{}", "/a{b}", "/{*}"] {
            let error = Routes::parse(["/ok", route]).unwrap_err();
            assert_eq!(error.location(), "routes[1]", "{route}");
        }
    }
}
