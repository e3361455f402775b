//! next.config's routing keys as JSON, walked by hand so that every error names its place.

use serde_json::{Map, Value};

use super::{HeaderRule, Locales, Redirect, Rewrite, Rules, RulesError, TrailingSlash};
use crate::matcher::config::{conditions, type_name};
use crate::matcher::{Matcher, MatcherEntry};
use http::StatusCode;

fn wrong_type(location: &str, expected: &str, got: &Value) -> RulesError {
    RulesError::at(
        location,
        format!("expected {expected}, found {}", type_name(got)),
    )
}

fn string(v: &Value, location: &str) -> Result<String, RulesError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| wrong_type(location, "a string", v))
}

fn boolean(v: &Value, location: &str) -> Result<bool, RulesError> {
    v.as_bool()
        .ok_or_else(|| wrong_type(location, "a boolean", v))
}

fn array<'v>(v: &'v Value, location: &str) -> Result<&'v Vec<Value>, RulesError> {
    v.as_array()
        .ok_or_else(|| wrong_type(location, "an array", v))
}

fn object<'v>(v: &'v Value, location: &str) -> Result<&'v Map<String, Value>, RulesError> {
    v.as_object()
        .ok_or_else(|| wrong_type(location, "an object", v))
}

fn unknown(location: &str, key: &str, expected: &str) -> RulesError {
    RulesError::at(
        location,
        format!("unknown key {key:?} (expected {expected})"),
    )
}

pub(super) fn parse(json: &str) -> Result<Rules, RulesError> {
    let value: Value = serde_json::from_str(json).map_err(|e| {
        RulesError::at(
            "",
            format!(
                "invalid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let top = value
        .as_object()
        .ok_or_else(|| wrong_type("", "a config object", &value))?;
    let mut rules = Rules::new();
    for (key, v) in top {
        match key.as_str() {
            "headers" => {
                for (i, item) in array(v, "headers")?.iter().enumerate() {
                    rules = rules.header(header(item, &format!("headers[{i}]"))?);
                }
            }
            "redirects" => {
                for (i, item) in array(v, "redirects")?.iter().enumerate() {
                    rules = rules.redirect(redirect(item, &format!("redirects[{i}]"))?);
                }
            }
            "rewrites" => match v {
                // An array is `afterFiles` (Next.js docs, rewrites: "if an array is returned,
                // the rewrites are applied after checking the filesystem").
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        rules = rules.rewrite_after(rewrite(item, &format!("rewrites[{i}]"))?);
                    }
                }
                Value::Object(phases) => {
                    check_phases(phases)?;
                    for (phase, list) in phases {
                        let loc = format!("rewrites.{phase}");
                        for (i, item) in array(list, &loc)?.iter().enumerate() {
                            let rule = rewrite(item, &format!("{loc}[{i}]"))?;
                            rules = match phase.as_str() {
                                "beforeFiles" => rules.rewrite_before(rule),
                                "afterFiles" => rules.rewrite_after(rule),
                                "fallback" => rules.rewrite_fallback(rule),
                                _ => unreachable!("phase checked below"),
                            };
                        }
                    }
                }
                other => return Err(wrong_type("rewrites", "an array or an object", other)),
            },
            "trailingSlash" => {
                rules = rules.trailing_slash(if boolean(v, "trailingSlash")? {
                    TrailingSlash::Add
                } else {
                    TrailingSlash::Remove
                });
            }
            "skipTrailingSlashRedirect" => {
                if boolean(v, "skipTrailingSlashRedirect")? {
                    rules = rules.skip_trailing_slash_redirect(Matcher::any());
                }
            }
            "i18n" => rules = rules.i18n(i18n(v)?),
            _ => {
                return Err(unknown(
                    "",
                    key,
                    "\"headers\", \"redirects\", \"rewrites\", \"trailingSlash\", \"skipTrailingSlashRedirect\" or \"i18n\"",
                ))
            }
        }
    }
    Ok(rules)
}

/// Checks the rewrite phases' names before any is read, so the walk above can trust them.
fn check_phases(phases: &Map<String, Value>) -> Result<(), RulesError> {
    for key in phases.keys() {
        if !matches!(key.as_str(), "beforeFiles" | "afterFiles" | "fallback") {
            return Err(unknown(
                "rewrites",
                key,
                "\"beforeFiles\", \"afterFiles\" or \"fallback\"",
            ));
        }
    }
    Ok(())
}

fn i18n(v: &Value) -> Result<Locales, RulesError> {
    let obj = object(v, "i18n")?;
    let mut locales = None;
    let mut default = None;
    for (key, v) in obj {
        match key.as_str() {
            "locales" => {
                let items = array(v, "i18n.locales")?;
                locales = Some(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, l)| string(l, &format!("i18n.locales[{i}]")))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            "defaultLocale" => default = Some(string(v, "i18n.defaultLocale")?),
            _ => return Err(unknown("i18n", key, "\"locales\" or \"defaultLocale\"")),
        }
    }
    let locales = locales.ok_or_else(|| RulesError::at("i18n", "missing \"locales\""))?;
    let default = default.ok_or_else(|| RulesError::at("i18n", "missing \"defaultLocale\""))?;
    Locales::checked(locales, default, "i18n")
}

/// The keys every rule shares: `source`, `has`, `missing`, `locale`.
fn entry(obj: &Map<String, Value>, location: &str) -> Result<MatcherEntry, RulesError> {
    let mut entry = MatcherEntry::default();
    let mut source = None;
    for (key, v) in obj {
        let loc = format!("{location}.{key}");
        match key.as_str() {
            "source" => source = Some(string(v, &loc)?),
            "has" => entry.has = conditions(v, &loc)?,
            "missing" => entry.missing = conditions(v, &loc)?,
            // Next.js: "`locale` must be undefined or false".
            "locale" => match v {
                Value::Bool(false) => entry.locale = Some(false),
                other => return Err(wrong_type(&loc, "false", other)),
            },
            _ => {}
        }
    }
    entry.source = source.ok_or_else(|| RulesError::at(location, "missing \"source\""))?;
    Ok(entry)
}

fn check_keys(
    obj: &Map<String, Value>,
    location: &str,
    allowed: &[&str],
) -> Result<(), RulesError> {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            let expected: Vec<String> = allowed.iter().map(|k| format!("{k:?}")).collect();
            return Err(unknown(location, key, &expected.join(", ")));
        }
    }
    Ok(())
}

const COMMON: [&str; 4] = ["source", "has", "missing", "locale"];

fn redirect(v: &Value, location: &str) -> Result<Redirect, RulesError> {
    let obj = object(v, location)?;
    check_keys(
        obj,
        location,
        &[
            &COMMON[..],
            &["destination", "permanent", "statusCode", "basePath"],
        ]
        .concat(),
    )?;
    reject_base_path(obj, location)?;
    let entry = entry(obj, location)?;
    let destination = destination(obj, location)?;
    let permanent = obj
        .get("permanent")
        .map(|v| boolean(v, &format!("{location}.permanent")))
        .transpose()?;
    let status = obj
        .get("statusCode")
        .map(|v| {
            let loc = format!("{location}.statusCode");
            let code = v
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .filter(|s| super::is_redirect_status(*s));
            code.ok_or_else(|| RulesError::at(loc, format!("{v} is not 301, 302, 303, 307 or 308")))
        })
        .transpose()?;
    let rule = Redirect::compile(entry, &destination, location)?;
    Ok(match (status, permanent) {
        (Some(status), _) => rule.status(status),
        (None, Some(true)) => rule.permanent(),
        (None, Some(false)) => rule,
        // Next.js: "`permanent` is not set to `true` or `false`".
        (None, None) => {
            return Err(RulesError::at(
                location,
                "a redirect needs \"permanent\" (true or false) or \"statusCode\"",
            ))
        }
    })
}

fn rewrite(v: &Value, location: &str) -> Result<Rewrite, RulesError> {
    let obj = object(v, location)?;
    check_keys(
        obj,
        location,
        &[&COMMON[..], &["destination", "basePath"]].concat(),
    )?;
    reject_base_path(obj, location)?;
    let entry = entry(obj, location)?;
    let destination = destination(obj, location)?;
    Rewrite::compile(entry, &destination, location)
}

fn header(v: &Value, location: &str) -> Result<HeaderRule, RulesError> {
    let obj = object(v, location)?;
    check_keys(
        obj,
        location,
        &[&COMMON[..], &["headers", "basePath"]].concat(),
    )?;
    reject_base_path(obj, location)?;
    let entry = entry(obj, location)?;
    let loc = format!("{location}.headers");
    let list = obj
        .get("headers")
        .ok_or_else(|| RulesError::at(location, "missing \"headers\""))?;
    let mut headers = Vec::new();
    for (i, item) in array(list, &loc)?.iter().enumerate() {
        let item_loc = format!("{loc}[{i}]");
        let pair = object(item, &item_loc)?;
        check_keys(pair, &item_loc, &["key", "value"])?;
        let key = pair
            .get("key")
            .ok_or_else(|| RulesError::at(&item_loc, "missing \"key\""))?;
        let value = pair
            .get("value")
            .ok_or_else(|| RulesError::at(&item_loc, "missing \"value\""))?;
        headers.push((
            string(key, &format!("{item_loc}.key"))?,
            string(value, &format!("{item_loc}.value"))?,
        ));
    }
    HeaderRule::compile(entry, headers, location)
}

fn destination(obj: &Map<String, Value>, location: &str) -> Result<String, RulesError> {
    let v = obj
        .get("destination")
        .ok_or_else(|| RulesError::at(location, "missing \"destination\""))?;
    string(v, &format!("{location}.destination"))
}

/// There is no base path here: `basePath: false` is accepted and means nothing.
fn reject_base_path(obj: &Map<String, Value>, location: &str) -> Result<(), RulesError> {
    match obj.get("basePath") {
        None | Some(Value::Bool(false)) => Ok(()),
        Some(other) => Err(wrong_type(&format!("{location}.basePath"), "false", other)),
    }
}
