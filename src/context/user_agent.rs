//! [`UserAgent`]: what the `User-Agent` header says about the client (Next.js's
//! `userAgent(request)`), from the [`woothee`](https://docs.rs/woothee) parser.

use woothee::parser::Parser;
use woothee::woothee::VALUE_UNKNOWN;

/// The client as its `User-Agent` header describes it: bot or not, browser, OS, device
/// type, rendering engine (Next.js's `userAgent(request)` from `next/server`).
///
/// Browser, OS and bot detection come from [`woothee`](https://docs.rs/woothee), a
/// maintained table of user agents (no data file to load, no start-up cost). Read it
/// with [`ProxyRequest::user_agent`](crate::ProxyRequest::user_agent), which parses the
/// header once, on first use.
///
/// ```
/// use tower_proxy_fn::context::{DeviceType, UserAgent};
///
/// let ua = UserAgent::parse(
///     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 \
///      (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
/// );
/// assert!(!ua.is_bot);
/// assert_eq!(ua.browser.as_ref().map(|b| b.name.as_str()), Some("Safari"));
/// assert_eq!(ua.device, DeviceType::Mobile);
///
/// let bot = UserAgent::parse(
///     "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
/// );
/// assert!(bot.is_bot);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserAgent {
    /// A crawler or other known bot (Googlebot, Bingbot, …).
    pub is_bot: bool,
    /// The browser (or the bot's name), with its version when the string has one.
    pub browser: Option<Software>,
    /// The operating system, with its version when the string has one.
    pub os: Option<Software>,
    /// Desktop, mobile or tablet.
    pub device: DeviceType,
    /// The rendering engine (Blink, WebKit, Gecko, …).
    pub engine: Option<Software>,
    /// Who makes the browser (`Google`, `Apple`, `Mozilla`, …), as woothee knows it.
    pub vendor: Option<String>,
}

/// A name and, when known, a version.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Software {
    /// The name (`Chrome`, `Windows 10`, `Blink`).
    pub name: String,
    /// The version as the string writes it (`120.0.0.0`).
    pub version: Option<String>,
}

/// The kind of device a [`UserAgent`] runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceType {
    /// A desktop or laptop computer.
    Desktop,
    /// A phone (smartphone or feature phone).
    Mobile,
    /// A tablet: an iPad, or an Android device whose string lacks `Mobile`.
    Tablet,
    /// A bot, a console or another appliance, or a string that does not say.
    #[default]
    Unknown,
}

impl UserAgent {
    /// Parses a `User-Agent` string. An empty or unknown string gives a `UserAgent` with
    /// nothing known (`is_bot` false, every field `None`, device `Unknown`).
    pub fn parse(header: &str) -> Self {
        let Some(result) = Parser::new().parse(header) else {
            return Self {
                engine: engine(header),
                ..Self::default()
            };
        };
        let is_bot = result.category == "crawler";
        let device = match result.category {
            "pc" => DeviceType::Desktop,
            "smartphone" if is_tablet(result.os, header) => DeviceType::Tablet,
            "smartphone" | "mobilephone" => DeviceType::Mobile,
            _ => DeviceType::Unknown,
        };
        Self {
            is_bot,
            browser: software(result.name, result.version),
            os: software(result.os, &result.os_version),
            device,
            engine: engine(header),
            vendor: known(result.vendor).map(str::to_owned),
        }
    }
}

/// woothee files iPads and Android tablets under "smartphone". MDN ("Browser detection
/// using the user agent", Mobile, Tablet or Desktop): Android tablets leave out `Mobile`
/// (https://developer.mozilla.org/en-US/docs/Web/HTTP/Guides/Browser_detection_using_the_user_agent).
fn is_tablet(os: &str, header: &str) -> bool {
    os == "iPad" || (os == "Android" && !header.contains("Mobile"))
}

fn known(value: &str) -> Option<&str> {
    (!value.is_empty() && value != VALUE_UNKNOWN).then_some(value)
}

fn software(name: &str, version: &str) -> Option<Software> {
    Some(Software {
        name: known(name)?.to_owned(),
        version: known(version).map(str::to_owned),
    })
}

/// The rendering engine, from the engine's own product token as MDN lists them
/// ("Browser detection using the user agent", Rendering engine): `Edge/` is EdgeHTML,
/// `Chrome/` Blink, `AppleWebKit/` WebKit, `Trident/` Trident, `Presto/` Presto, and
/// `Gecko/` with `rv:` Gecko. woothee does not report engines; the order matters because
/// Blink browsers also write `AppleWebKit/` and `Gecko`.
fn engine(header: &str) -> Option<Software> {
    let version_after = |token: &str| {
        let start = header.find(token)? + token.len();
        let rest = &header[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .unwrap_or(rest.len());
        Some(&rest[..end])
    };
    let (name, version) = if let Some(v) = version_after("Edge/") {
        ("EdgeHTML", Some(v))
    } else if let Some(v) = version_after("Chrome/") {
        ("Blink", Some(v))
    } else if let Some(v) = version_after("AppleWebKit/") {
        ("WebKit", Some(v))
    } else if let Some(v) = version_after("Trident/") {
        ("Trident", Some(v))
    } else if let Some(v) = version_after("Presto/") {
        ("Presto", Some(v))
    } else if header.contains("Gecko/") {
        ("Gecko", version_after("rv:"))
    } else {
        return None;
    };
    Some(Software {
        name: name.to_owned(),
        version: version.filter(|v| !v.is_empty()).map(str::to_owned),
    })
}
