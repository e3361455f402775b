//! The forms of a request path that the matcher tests.
//!
//! A bypass hides a protected path behind another spelling that the router still serves
//! (`/%61dmin`, `//admin`), so a path is tested as sent, percent-decoded, and with runs of
//! `/` collapsed; any form that matches counts (`tests/bypass.rs`).

use crate::request_values::decode_uri_component;

/// Whether a path has forms other than itself: a `%` to decode or a `//` to collapse.
///
/// Every request the matcher skips pays for this scan, so it reads eight bytes at a time,
/// in words that overlap by one byte so that every pair of neighbours sits in one word.
/// `tests::other_forms_scan_agrees_with_the_plain_search` holds it to
/// `contains('%') || contains("//")`.
pub(crate) fn has_other_forms(path: &str) -> bool {
    let bytes = path.as_bytes();
    let len = bytes.len();
    if len < 8 {
        return bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'%' || (b == b'/' && i > 0 && bytes[i - 1] == b'/'));
    }
    let mut at = 0;
    loop {
        // The last word ends at the last byte (and overlaps the one before it more).
        let start = at.min(len - 8);
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[start..start + 8]);
        if percent_or_double_slash(u64::from_le_bytes(word)) {
            return true;
        }
        if start + 8 == len {
            return false;
        }
        at += 7;
    }
}

/// Whether eight bytes (little-endian: byte 0 lowest) hold a `%`, or a `/` followed by `/`.
#[inline(always)]
fn percent_or_double_slash(word: u64) -> bool {
    const LANES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // Some lane of `x` is zero (the classic test: exact for "any", which is all we ask).
    let has_zero_lane = |x: u64| x.wrapping_sub(LANES) & !x;
    let percent = word ^ (LANES * u64::from(b'%'));
    // Lane i is zero when byte i is `/` and equals byte i + 1 (lane 7 compares with zero).
    let double_slash = (word ^ (LANES * u64::from(b'/'))) | (word ^ (word >> 8));
    (has_zero_lane(percent) | has_zero_lane(double_slash)) & HIGH_BITS != 0
}

/// Collapses runs of `/` into one.
fn collapse_slashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_slash = false;
    for c in s.chars() {
        if c == '/' {
            if prev_slash {
                continue;
            }
            prev_slash = true;
        } else {
            prev_slash = false;
        }
        out.push(c);
    }
    out
}

/// The forms of a path to test.
pub(super) struct Forms<'a> {
    raw: &'a str,
    others: Vec<(String, bool)>,
    /// Whether the path has a `%` but is not valid percent-encoded UTF-8.
    pub(super) malformed: bool,
}

impl<'a> Forms<'a> {
    pub(super) fn of(raw: &'a str) -> Self {
        let mut others: Vec<(String, bool)> = Vec::new();
        let mut malformed = false;
        let decoded = if raw.contains('%') {
            let d = decode_uri_component(raw);
            malformed = d.is_none();
            d
        } else {
            None
        };
        if let Some(d) = &decoded
            && d != raw
        {
            others.push((d.clone(), true));
        }
        if raw.contains("//") {
            others.push((collapse_slashes(raw), false));
        }
        if let Some(d) = &decoded
            && d.contains("//")
        {
            others.push((collapse_slashes(d), true));
        }
        let mut seen: Vec<(String, bool)> = Vec::with_capacity(others.len());
        for o in others {
            if o.0 != raw && !seen.iter().any(|s| s.0 == o.0) {
                seen.push(o);
            }
        }
        Forms {
            raw,
            others: seen,
            malformed,
        }
    }

    /// The path as sent first, then its other forms with whether each is decoded.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, bool)> {
        std::iter::once((self.raw, false)).chain(self.others.iter().map(|(s, d)| (s.as_str(), *d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_slashes_merges_runs() {
        assert_eq!(collapse_slashes("//a///b/"), "/a/b/");
    }

    /// The word-at-a-time scan against the plain definition, on every string of up to 17 bytes
    /// over an alphabet that puts `%` and `//` on each side of every word boundary.
    #[test]
    fn other_forms_scan_agrees_with_the_plain_search() {
        fn plain(path: &str) -> bool {
            path.contains('%') || path.contains("//")
        }
        let alphabet = ["/", "%", "a", "\u{e9}"];
        let mut checked = 0;
        let mut strings = vec![String::new()];
        while let Some(s) = strings.pop() {
            assert_eq!(has_other_forms(&s), plain(&s), "{s:?}");
            checked += 1;
            // Long strings only from a sparse subset, to keep the test quick.
            if s.len() < 17
                && (s.len() < 7 || s.bytes().filter(|&b| b == b'a').count() >= s.len() - 3)
            {
                for c in alphabet {
                    strings.push(format!("{s}{c}"));
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
