//! next.config's routing keys as serde types ([`RulesConfig`]), and their compilation into
//! [`Rules`] with the place of each error.
//!
//! The shapes follow Next.js's config schema (vercel/next.js
//! `packages/next/src/server/config-schema.ts`, `zRedirect`, `zRewrite`, `zHeader`, which are
//! strict objects, and `load-custom-routes.ts`'s `checkCustomRoutes`): an unknown key is an
//! error, `basePath` and `locale` may only be `false`, a redirect needs `permanent` or
//! `statusCode`.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::Deserialize;

use super::{HeaderRule, Locales, Redirect, Rewrite, Rules, TrailingSlash};
use crate::config_error::ConfigError;
use crate::matcher::config::{from_map, present};
use crate::matcher::{Condition, Matcher, MatcherEntry};
use crate::url_safety::RedirectStatus;

/// next.config's routing keys, read with serde from JSON, TOML or any other format:
/// `headers`, `redirects`, `rewrites` (an array, which is `afterFiles`, or
/// `{beforeFiles, afterFiles, fallback}`), `trailingSlash`, `skipTrailingSlashRedirect` and
/// `i18n: {locales, defaultLocale}`, each optional. [`Rules::from_config`] compiles it;
/// [`Rules::from_json`] does both steps.
///
/// ```
/// use tower_proxy_fn::rules::{Rules, RulesConfig};
///
/// let config: RulesConfig = toml::from_str(r#"
///     trailingSlash = false
///
///     [[redirects]]
///     source = "/old"
///     destination = "/new"
///     permanent = true
/// "#)?;
/// let rules = Rules::from_config(config)?;
/// # let _ = rules;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct RulesConfig {
    fields: ConfigFields,
}

impl<'de> Deserialize<'de> for RulesConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = from_map(deserializer, "a next.config object")?;
        Ok(RulesConfig { fields })
    }
}

// The derived structs below read maps only (see `from_map`): a derived struct would also
// take a sequence of its fields in order, which no next.config shape is.

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFields {
    #[serde(default)]
    headers: Vec<Object<HeaderFields>>,
    #[serde(default)]
    redirects: Vec<Object<RedirectFields>>,
    #[serde(default)]
    rewrites: Rewrites,
    #[serde(default, deserialize_with = "present")]
    trailing_slash: Option<bool>,
    #[serde(default)]
    skip_trailing_slash_redirect: bool,
    #[serde(default, deserialize_with = "present")]
    i18n: Option<Object<I18nFields>>,
    #[serde(default, deserialize_with = "present")]
    base_path: Option<String>,
}

/// The keys every rule shares.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RedirectFields {
    source: String,
    #[serde(default)]
    has: Vec<Condition>,
    #[serde(default)]
    missing: Vec<Condition>,
    #[serde(default, deserialize_with = "only_false")]
    locale: Option<bool>,
    // `false`: the config's `basePath` is not put in front of this rule.
    #[serde(default, deserialize_with = "only_false")]
    base_path: Option<bool>,
    destination: String,
    #[serde(default, deserialize_with = "present")]
    permanent: Option<bool>,
    #[serde(default, deserialize_with = "redirect_status")]
    status_code: Option<RedirectStatus>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RewriteFields {
    source: String,
    #[serde(default)]
    has: Vec<Condition>,
    #[serde(default)]
    missing: Vec<Condition>,
    #[serde(default, deserialize_with = "only_false")]
    locale: Option<bool>,
    // `false`: the config's `basePath` is not put in front of this rule.
    #[serde(default, deserialize_with = "only_false")]
    base_path: Option<bool>,
    destination: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HeaderFields {
    source: String,
    #[serde(default)]
    has: Vec<Condition>,
    #[serde(default)]
    missing: Vec<Condition>,
    #[serde(default, deserialize_with = "only_false")]
    locale: Option<bool>,
    // `false`: the config's `basePath` is not put in front of this rule.
    #[serde(default, deserialize_with = "only_false")]
    base_path: Option<bool>,
    headers: Vec<Object<HeaderPair>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderPair {
    key: String,
    value: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Phases {
    #[serde(default)]
    before_files: Vec<Object<RewriteFields>>,
    #[serde(default)]
    after_files: Vec<Object<RewriteFields>>,
    #[serde(default)]
    fallback: Vec<Object<RewriteFields>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct I18nFields {
    locales: Vec<String>,
    default_locale: String,
}

/// `rewrites`: an array is `afterFiles` (Next.js docs, rewrites: "if an array is returned,
/// the rewrites are applied after checking the filesystem"), an object names the phases.
/// Read by hand rather than `#[serde(untagged)]`, which would replace an error inside
/// either shape by "did not match any variant", without its place.
#[derive(Clone, Debug)]
enum Rewrites {
    List(Vec<Object<RewriteFields>>),
    Phases(Phases),
}

impl Default for Rewrites {
    fn default() -> Self {
        Rewrites::List(Vec::new())
    }
}

impl<'de> Deserialize<'de> for Rewrites {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RewritesVisitor;

        impl<'de> Visitor<'de> for RewritesVisitor {
            type Value = Rewrites;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of rewrites or {beforeFiles, afterFiles, fallback}")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Rewrites, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Rewrites::List)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Rewrites, A::Error> {
                Phases::deserialize(MapAccessDeserializer::new(map)).map(Rewrites::Phases)
            }
        }

        deserializer.deserialize_any(RewritesVisitor)
    }
}

/// A derived struct read from a map only.
#[derive(Clone, Debug)]
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_map(deserializer, "an object").map(Object)
    }
}

/// A rule's `locale` and `basePath`: Next.js allows only `false` (or no key).
fn only_false<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    match bool::deserialize(deserializer)? {
        false => Ok(Some(false)),
        true => Err(de::Error::invalid_value(Unexpected::Bool(true), &"false")),
    }
}

/// `statusCode`: one of the five [`RedirectStatus`]es. `ConfigError::is_redirect_status`
/// tells this field's errors from the others by its name.
fn redirect_status<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RedirectStatus>, D::Error> {
    let code = u64::deserialize(deserializer)?;
    u16::try_from(code)
        .ok()
        .and_then(|code| RedirectStatus::try_from(code).ok())
        .map(Some)
        .ok_or_else(|| de::Error::custom(format_args!("{code} is not 301, 302, 303, 307 or 308")))
}

impl RulesConfig {
    /// The rules, in the config's order within each list; compile errors (a source, a
    /// destination, a header, the locales) name their place.
    pub(super) fn compile(self) -> Result<Rules, ConfigError> {
        let c = self.fields;
        let mut rules = Rules::new();
        let base = match &c.base_path {
            Some(path) => {
                check_base_path(path)?;
                rules.base_path = Some(path.clone());
                BasePath(path.as_str())
            }
            None => BasePath(""),
        };
        for (i, Object(h)) in c.headers.into_iter().enumerate() {
            let place = format!("headers[{i}]");
            let source_base = base.of(h.base_path);
            let entry = entry(h.source, h.has, h.missing, h.locale);
            let pairs = h.headers.into_iter().map(|Object(p)| (p.key, p.value));
            let rule = HeaderRule::compile(entry, pairs.collect(), &place)?;
            rules = rules.header(rule.under_base_path(source_base)?);
        }
        for (i, Object(r)) in c.redirects.into_iter().enumerate() {
            let place = format!("redirects[{i}]");
            let destination = base.destination(r.destination, r.base_path);
            let source_base = base.of(r.base_path);
            let entry = entry(r.source, r.has, r.missing, r.locale);
            let rule = Redirect::compile(entry, &destination, &place)?;
            let rule = rule.under_base_path(source_base)?;
            rules = rules.redirect(match (r.status_code, r.permanent) {
                (Some(status), _) => rule.status(status),
                (None, Some(true)) => rule.permanent(),
                (None, Some(false)) => rule,
                // Next.js: "`permanent` is not set to `true` or `false`".
                (None, None) => {
                    return Err(ConfigError::schema(
                        place,
                        "a redirect needs \"permanent\" (true or false) or \"statusCode\"",
                    ));
                }
            });
        }
        // (place prefix, phase, rules); an array is `afterFiles`, named as written.
        let lists = match c.rewrites {
            Rewrites::List(list) => vec![("rewrites", Phase::After, list)],
            Rewrites::Phases(p) => vec![
                ("rewrites.beforeFiles", Phase::Before, p.before_files),
                ("rewrites.afterFiles", Phase::After, p.after_files),
                ("rewrites.fallback", Phase::Fallback, p.fallback),
            ],
        };
        for (prefix, phase, list) in lists {
            for (i, Object(r)) in list.into_iter().enumerate() {
                let place = format!("{prefix}[{i}]");
                if !base.0.is_empty() && r.base_path == Some(false) {
                    // Next.js: "rewrites urls outside of the basePath" is an error for
                    // a destination on this origin, and rules rewrite to no other.
                    return Err(ConfigError::schema(
                        format!("{place}.basePath"),
                        "a rewrite with basePath: false would rewrite outside the base path",
                    ));
                }
                let destination = base.destination(r.destination, r.base_path);
                let source_base = base.of(r.base_path);
                let entry = entry(r.source, r.has, r.missing, r.locale);
                let rule = Rewrite::compile(entry, &destination, &place)?;
                let rule = rule.under_base_path(source_base)?;
                rules = match phase {
                    Phase::Before => rules.rewrite_before(rule),
                    Phase::After => rules.rewrite_after(rule),
                    Phase::Fallback => rules.rewrite_fallback(rule),
                };
            }
        }
        if let Some(slash) = c.trailing_slash {
            rules = rules.trailing_slash(if slash {
                TrailingSlash::Add
            } else {
                TrailingSlash::Remove
            });
        }
        if c.skip_trailing_slash_redirect {
            rules = rules.skip_trailing_slash_redirect(Matcher::any());
        }
        if let Some(Object(i18n)) = c.i18n {
            rules = rules.i18n(Locales::checked(i18n.locales, i18n.default_locale, "i18n")?);
        }
        Ok(rules)
    }
}

/// next.config's `basePath` as it is put in front of the rules (`processRoutes` in
/// vercel/next.js `packages/next/src/lib/load-custom-routes.ts`): before the source and
/// before a destination on this origin, unless the rule says `basePath: false`; a source or
/// destination of `/` becomes the base path itself. With i18n the locale group goes after
/// it (`/docs/:nextInternalLocale(en|fr)/about`), which the rule's `under_base_path` sees
/// to. Empty without a base path.
struct BasePath<'a>(&'a str);

impl<'a> BasePath<'a> {
    /// The base path a rule's source is under: `""` for `basePath: false`.
    fn of(&self, flag: Option<bool>) -> &'a str {
        if flag == Some(false) {
            ""
        } else {
            self.0
        }
    }

    fn destination(&self, destination: String, flag: Option<bool>) -> String {
        // Next.js: a destination not starting with `/` is external and keeps its own path.
        let base = self.of(flag);
        if base.is_empty() || !destination.starts_with('/') {
            return destination;
        }
        let rest = if destination == "/" {
            ""
        } else {
            destination.as_str()
        };
        format!("{base}{rest}")
    }
}

/// Next.js's checks of `basePath` (`packages/next/src/server/config.ts`): it starts with
/// `/` and does not end with one; and, here, it is a plain path a source can start with.
fn check_base_path(path: &str) -> Result<(), ConfigError> {
    let fail = |message: &str| {
        Err(ConfigError::schema("basePath", message).with_text(path.to_owned(), None))
    };
    if !path.starts_with('/') {
        return fail("basePath must start with \"/\"");
    }
    if path.ends_with('/') {
        return fail("basePath must not end with \"/\" (write \"/docs\", not \"/docs/\")");
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "/-._~".contains(c);
    if !path.chars().all(plain) || path.contains("//") {
        return fail("basePath must be a plain path: letters, digits, `-`, `.`, `_`, `~` and `/`");
    }
    Ok(())
}

enum Phase {
    Before,
    After,
    Fallback,
}

fn entry(
    source: String,
    has: Vec<Condition>,
    missing: Vec<Condition>,
    locale: Option<bool>,
) -> MatcherEntry {
    MatcherEntry {
        source,
        has,
        missing,
        locale,
    }
}
