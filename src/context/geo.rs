//! [`Geo`]: where the client is, as the CDN in front of the application says.

use http::{HeaderMap, HeaderValue};
use percent_encoding::percent_decode_str;

/// Where the client is (Next.js's `request.geo`, `geolocation()` of `@vercel/functions`).
///
/// Each field is `None` when the source did not say.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country code (`"GB"`).
    pub country: Option<String>,
    /// The region within the country: an ISO 3166-2 subdivision code where the source has
    /// one (`"ENG"`, `"CA"`), else its name.
    pub region: Option<String>,
    /// The city's name (`"London"`).
    pub city: Option<String>,
    /// Latitude in degrees, -90 to 90.
    pub latitude: Option<f64>,
    /// Longitude in degrees, -180 to 180.
    pub longitude: Option<f64>,
}

impl Geo {
    /// Whether no field is known.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A CDN (or edge platform) whose geolocation headers the application believes.
///
/// Read only for the CDN the application names with
/// [`ProxyLayer::with_geo_headers`](crate::ProxyLayer::with_geo_headers): a client that reaches the
/// application some other way can send these headers itself. Make sure the CDN is the
/// only way in (or that it overwrites them) before naming it.
///
/// ```
/// use http::HeaderMap;
/// use tower_proxy_fn::context::Cdn;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-vercel-ip-country", "US".parse()?);
/// headers.insert("x-vercel-ip-country-region", "CA".parse()?);
/// headers.insert("x-vercel-ip-city", "San%20Francisco".parse()?);
/// headers.insert("x-vercel-ip-latitude", "37.7749".parse()?);
/// headers.insert("x-vercel-ip-longitude", "-122.4194".parse()?);
///
/// let geo = Cdn::Vercel.geo(&headers).expect("Vercel's headers are there");
/// assert_eq!(geo.country.as_deref(), Some("US"));
/// assert_eq!(geo.region.as_deref(), Some("CA"));
/// assert_eq!(geo.city.as_deref(), Some("San Francisco"));
/// assert_eq!(geo.latitude, Some(37.7749));
/// assert_eq!(geo.longitude, Some(-122.4194));
///
/// // Another CDN's headers say nothing.
/// assert_eq!(Cdn::Cloudflare.geo(&headers), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cdn {
    /// Vercel: `x-vercel-ip-country`, `x-vercel-ip-country-region`, `x-vercel-ip-city`
    /// (percent-encoded), `x-vercel-ip-latitude`, `x-vercel-ip-longitude`.
    // Names: https://vercel.com/docs/headers/request-headers and vercel/vercel
    // packages/edge/src/edge-headers.ts (CITY_HEADER_NAME … REGION_HEADER_NAME).
    Vercel,
    /// Cloudflare: `cf-ipcountry` (always sent; `XX` means unknown), and with the "Add
    /// visitor location headers" managed transform `cf-region-code` (or `cf-region`),
    /// `cf-ipcity`, `cf-iplatitude`, `cf-iplongitude`.
    // Names: https://developers.cloudflare.com/rules/transform/managed-transforms/reference/
    // ("Add visitor location headers") and
    // https://developers.cloudflare.com/fundamentals/reference/http-headers/ (CF-IPCountry).
    Cloudflare,
}

impl Cdn {
    /// The location in this CDN's headers; `None` when none of them is there.
    pub fn geo(self, headers: &HeaderMap) -> Option<Geo> {
        self.geo_with(|name| headers.get(name))
    }

    /// Reads each header through `get`, so that a caller can track what was read.
    pub(crate) fn geo_with<'a>(self, get: impl Fn(&str) -> Option<&'a HeaderValue>) -> Option<Geo> {
        let text = |name: &str| get(name).and_then(header_text);
        let geo = match self {
            Self::Vercel => Geo {
                country: text("x-vercel-ip-country"),
                region: text("x-vercel-ip-country-region"),
                city: text("x-vercel-ip-city").map(|city| percent_decoded(&city)),
                latitude: text("x-vercel-ip-latitude").and_then(|v| degrees(&v, 90.0)),
                longitude: text("x-vercel-ip-longitude").and_then(|v| degrees(&v, 180.0)),
            },
            Self::Cloudflare => Geo {
                country: text("cf-ipcountry").filter(|code| code != "XX"),
                region: text("cf-region-code").or_else(|| text("cf-region")),
                city: text("cf-ipcity"),
                latitude: text("cf-iplatitude").and_then(|v| degrees(&v, 90.0)),
                longitude: text("cf-iplongitude").and_then(|v| degrees(&v, 180.0)),
            },
        };
        (!geo.is_empty()).then_some(geo)
    }
}

/// A header's value as UTF-8 text, trimmed; `None` when empty or not UTF-8.
fn header_text(value: &HeaderValue) -> Option<String> {
    let text = std::str::from_utf8(value.as_bytes()).ok()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `San%20Francisco` → `San Francisco`; the text as it is when it does not decode to UTF-8.
fn percent_decoded(text: &str) -> String {
    percent_decode_str(text)
        .decode_utf8()
        .map_or_else(|_| text.to_owned(), |decoded| decoded.into_owned())
}

/// A coordinate within `±limit` degrees.
fn degrees(text: &str, limit: f64) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value.abs() <= limit).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_out_of_range_or_not_numbers_are_dropped() {
        assert_eq!(degrees("51.5", 90.0), Some(51.5));
        assert_eq!(degrees("-180", 180.0), Some(-180.0));
        assert_eq!(degrees("91", 90.0), None);
        assert_eq!(degrees("NaN", 90.0), None);
        assert_eq!(degrees("inf", 180.0), None);
        assert_eq!(degrees("north", 90.0), None);
    }

    #[test]
    fn city_names_decode_or_stay() {
        assert_eq!(percent_decoded("S%C3%A3o%20Paulo"), "São Paulo");
        assert_eq!(percent_decoded("100%"), "100%");
        assert_eq!(percent_decoded("%FF"), "%FF");
    }
}
