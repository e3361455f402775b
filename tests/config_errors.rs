//! `ConfigError`: one error type for the matcher and the rules, with the place in the
//! config, the kind (`is_*`) and, for a pattern, the caret line under the position.

use tower_proxy_fn::rules::{Redirect, Rules};
use tower_proxy_fn::{ConfigError, Matcher, RedirectStatus};

/// The caret line `Display` ends with for an error at `position` in `text`.
fn caret(text: &str, position: usize) -> String {
    format!("\n  {text}\n  {}^", " ".repeat(position))
}

#[test]
fn a_matcher_entry_source_names_the_entry_and_marks_the_position() {
    let err = Matcher::from_json(r#"{"matcher": ["/ok", "/a/(b"]}"#).unwrap_err();
    assert!(err.is_pattern(), "{err}");
    assert_eq!(err.location(), "matcher[1]");
    assert_eq!(err.text(), Some("/a/(b"));
    assert_eq!(err.position(), Some(3));
    let shown = err.to_string();
    assert!(
        shown.starts_with("matcher[1]: \"/a/(b\" at position 3: "),
        "{shown}"
    );
    assert!(shown.ends_with(&caret("/a/(b", 3)), "{shown}");

    // The same from code.
    let err = Matcher::new(["/ok", "/a/(b"]).unwrap_err();
    assert_eq!((err.location(), err.position()), ("matcher[1]", Some(3)));
}

#[test]
fn a_condition_value_names_its_field_and_marks_the_position() {
    let err = Matcher::from_json(
        r#"{"matcher": [{"source": "/", "has": [{"type": "header", "key": "k", "value": "a)"}]}]}"#,
    )
    .unwrap_err();
    assert!(err.is_pattern(), "{err}");
    assert_eq!(err.location(), "matcher[0].has[0].value");
    assert!(err.to_string().ends_with(&caret("a)", 1)), "{err}");
}

#[test]
fn a_redirect_source_names_the_rule_field_and_marks_the_position() {
    let err = Rules::from_json(
        r#"{"redirects": [
            {"source": "/a", "destination": "/b", "permanent": true},
            {"source": "/a", "destination": "/b", "permanent": true},
            {"source": "/x/(y", "destination": "/", "permanent": false}
        ]}"#,
    )
    .unwrap_err();
    assert!(err.is_pattern(), "{err}");
    assert_eq!(err.location(), "redirects[2].source");
    assert_eq!(err.position(), Some(3));
    let shown = err.to_string();
    assert!(shown.starts_with("redirects[2].source: "), "{shown}");
    assert!(shown.ends_with(&caret("/x/(y", 3)), "{shown}");
}

#[test]
fn a_rewrite_destination_names_its_phase_and_index() {
    let err = Rules::from_json(
        r#"{"rewrites": {"beforeFiles": [{"source": "/a", "destination": "https://example.com/a"}]}}"#,
    )
    .unwrap_err();
    assert!(err.is_destination(), "{err}");
    assert_eq!(err.location(), "rewrites.beforeFiles[0].destination");
    assert_eq!(err.text(), Some("https://example.com/a"));
    assert!(
        err.to_string()
            .starts_with("rewrites.beforeFiles[0].destination: \"https://example.com/a\": "),
        "{err}"
    );
    // A `rewrites` array is named as written.
    let err =
        Rules::from_json(r#"{"rewrites": [{"source": "/a", "destination": "b"}]}"#).unwrap_err();
    assert!(err.is_destination(), "{err}");
    assert_eq!(err.location(), "rewrites[0].destination");
}

#[test]
fn a_status_code_that_is_not_a_redirect_is_refused_at_its_place() {
    for (json, fragment) in [
        (r#"200"#, "200 is not 301, 302, 303, 307 or 308"),
        (r#"70000"#, "70000 is not 301"),
        (r#""301""#, "invalid type: string"),
    ] {
        let config = format!(
            r#"{{"redirects": [{{"source": "/a", "destination": "/b", "statusCode": {json}}}]}}"#
        );
        let err = Rules::from_json(&config).unwrap_err();
        assert!(err.is_redirect_status(), "{json}: {err}");
        assert!(!err.is_schema(), "{json}: {err}");
        assert_eq!(err.location(), "redirects[0].statusCode", "{json}");
        assert!(err.to_string().contains(fragment), "{json}: {err}");
    }
    // Where no status is allowed, `statusCode` is an unknown key.
    let err = Rules::from_json(
        r#"{"rewrites": [{"source": "/a", "destination": "/b", "statusCode": 301}]}"#,
    )
    .unwrap_err();
    assert!(err.is_schema() && !err.is_redirect_status(), "{err}");
    assert_eq!(err.location(), "rewrites[0]");
    // Each of the five loads, with its status.
    for code in [301, 302, 303, 307, 308] {
        let config = format!(
            r#"{{"redirects": [{{"source": "/a", "destination": "/b", "statusCode": {code}}}]}}"#
        );
        assert!(Rules::from_json(&config).is_ok(), "{code}");
    }
    // In code, the type leaves no invalid status to refuse.
    let status = RedirectStatus::try_from(301).unwrap();
    let _rule = Redirect::new("/a", "/b").unwrap().status(status);
    assert!(RedirectStatus::try_from(200).is_err());
}

#[test]
fn an_unknown_key_is_reported_at_the_object_that_holds_it() {
    let rows = [
        (
            r#"{"redirects": [{"source": "/a", "destination": "/b", "permanent": true, "perm": 1}]}"#,
            "redirects[0]",
            "unknown key \"perm\"",
        ),
        (
            r#"{"rewrites": {"beforeFile": []}}"#,
            "rewrites",
            "unknown key \"beforeFile\"",
        ),
        (r#"{"redirect": []}"#, "", "unknown key \"redirect\""),
    ];
    for (json, place, fragment) in rows {
        let err = Rules::from_json(json).unwrap_err();
        assert!(err.is_schema(), "{json}: {err}");
        assert_eq!(err.location(), place, "{json}");
        assert!(err.message().contains(fragment), "{json}: {err}");
        assert!(err.message().contains("expected"), "the known keys: {err}");
    }
    let err = Matcher::from_json(r#"{"matcher": [{"source": "/", "sorce": "/"}]}"#).unwrap_err();
    assert!(err.is_schema(), "{err}");
    assert_eq!(err.location(), "matcher[0]");
    assert!(err.message().contains("unknown key \"sorce\""), "{err}");
}

#[test]
fn a_missing_or_mistyped_field_is_a_schema_error_at_its_place() {
    let rows = [
        (
            r#"{"redirects": [{"source": "/a"}]}"#,
            "redirects[0]",
            "missing field `destination`",
        ),
        (
            r#"{"redirects": [{"source": "/a", "destination": "/b"}]}"#,
            "redirects[0]",
            "\"permanent\"",
        ),
        (
            r#"{"trailingSlash": "yes"}"#,
            "trailingSlash",
            "expected a boolean",
        ),
        (
            r#"{"redirects": [["/a", "/b", true]]}"#,
            "redirects[0]",
            "expected an object",
        ),
        (
            r#"{"headers": [{"source": "/a", "headers": [], "basePath": true}]}"#,
            "headers[0].basePath",
            "expected false",
        ),
    ];
    for (json, place, fragment) in rows {
        let err = Rules::from_json(json).unwrap_err();
        assert!(err.is_schema(), "{json}: {err}");
        assert_eq!(err.location(), place, "{json}");
        assert!(err.to_string().contains(fragment), "{json}: {err}");
    }
}

#[test]
fn bad_json_is_a_syntax_error_with_its_line_and_column() {
    for json in ["{", "{\"redirects\": [}", "{} x"] {
        let err = Rules::from_json(json).unwrap_err();
        assert!(err.is_syntax() && !err.is_schema(), "{json}: {err}");
        assert_eq!(err.location(), "", "{json}");
        let shown = err.to_string();
        assert!(shown.starts_with("config: invalid JSON: "), "{shown}");
        assert!(shown.contains(" at line 1 column "), "{shown}");

        let err = Matcher::from_json(json).unwrap_err();
        assert!(err.is_syntax(), "{json}: {err}");
    }
}

#[test]
fn headers_and_locales_have_their_own_kinds() {
    let err = Rules::from_json(
        r#"{"headers": [{"source": "/a", "headers": [{"key": "bad name", "value": "v"}]}]}"#,
    )
    .unwrap_err();
    assert!(err.is_header(), "{err}");
    assert_eq!(err.location(), "headers[0].headers[0].key");

    let err =
        Rules::from_json(r#"{"i18n": {"locales": ["en"], "defaultLocale": "de"}}"#).unwrap_err();
    assert!(err.is_locale(), "{err}");
    assert_eq!(err.location(), "i18n.defaultLocale");
}

#[test]
fn config_error_is_a_std_error() {
    fn takes(_: &dyn std::error::Error) {}
    let err: ConfigError = Matcher::new([""]).unwrap_err();
    takes(&err);
    assert!(err.is_pattern(), "{err}");
}

// Moved from tests/rules.rs unchanged: every place kind of the old walker, kept.
#[test]
fn json_errors_name_the_rule_and_position() {
    // (name, json, location, message fragment)
    let rows: &[(&str, &str, &str, &str)] = &[
        (
            "unknown top key",
            r#"{"redirect": []}"#,
            "",
            "unknown key \"redirect\"",
        ),
        (
            "source position",
            r#"{"redirects": [{"source": "/a", "destination": "/b", "permanent": true}, {"source": "/a", "destination": "/b", "permanent": true}, {"source": "/x/(y", "destination": "/", "permanent": false}]}"#,
            "redirects[2].source",
            "at position 3",
        ),
        (
            "no permanent",
            r#"{"redirects": [{"source": "/a", "destination": "/b"}]}"#,
            "redirects[0]",
            "\"permanent\"",
        ),
        (
            "bad status",
            r#"{"redirects": [{"source": "/a", "destination": "/b", "statusCode": 200}]}"#,
            "redirects[0].statusCode",
            "200 is not 301",
        ),
        (
            "unknown rule key",
            r#"{"redirects": [{"source": "/a", "destination": "/b", "permanent": true, "perm": 1}]}"#,
            "redirects[0]",
            "unknown key \"perm\"",
        ),
        (
            "unknown phase",
            r#"{"rewrites": {"beforeFile": []}}"#,
            "rewrites",
            "unknown key \"beforeFile\"",
        ),
        (
            "external rewrite",
            r#"{"rewrites": {"fallback": [{"source": "/a", "destination": "https://example.com/a"}]}}"#,
            "rewrites.fallback[0].destination",
            "another origin",
        ),
        (
            "relative destination",
            r#"{"rewrites": [{"source": "/a", "destination": "b"}]}"#,
            "rewrites[0].destination",
            "must start with",
        ),
        (
            "has type",
            r#"{"headers": [{"source": "/a", "headers": [], "has": [{"type": "ip"}]}]}"#,
            "headers[0].has[0].type",
            "unknown condition type \"ip\"",
        ),
        (
            "header name",
            r#"{"headers": [{"source": "/a", "headers": [{"key": "bad name", "value": "v"}]}]}"#,
            "headers[0].headers[0].key",
            "not a valid header name",
        ),
        (
            "locale true",
            r#"{"rewrites": [{"source": "/a", "destination": "/b", "locale": true}]}"#,
            "rewrites[0].locale",
            "expected false",
        ),
        (
            "default locale",
            r#"{"i18n": {"locales": ["en", "fr"], "defaultLocale": "de"}}"#,
            "i18n.defaultLocale",
            "\"de\" is not one of the locales",
        ),
        (
            "trailing type",
            r#"{"trailingSlash": "yes"}"#,
            "trailingSlash",
            "expected a boolean",
        ),
    ];
    for (name, json, loc, fragment) in rows {
        let err = Rules::from_json(json).expect_err(name);
        assert_eq!(err.location(), *loc, "{name}: {err}");
        assert!(err.to_string().contains(fragment), "{name}: {err}");
    }
}

#[test]
fn json_shapes_load() {
    let rules = Rules::from_json(
        r#"{
            "headers": [{"source": "/:path*", "headers": [{"key": "x-a", "value": "1"}]}],
            "redirects": [{"source": "/a", "destination": "/b", "statusCode": 301, "basePath": false}],
            "rewrites": {"beforeFiles": [{"source": "/c", "destination": "/d"}], "afterFiles": [], "fallback": []},
            "trailingSlash": true,
            "i18n": {"locales": ["en", "fr"], "defaultLocale": "en"}
        }"#,
    )
    .unwrap();
    assert_eq!(rules.locales().unwrap().default_locale(), "en");
    assert!(!rules.is_empty());
}
