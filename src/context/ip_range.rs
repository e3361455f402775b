//! [`IpRange`] (one CIDR block) and [`IpAllowlist`] (several).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One block of addresses in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), or one address
/// (`192.0.2.7`, a `/32` or `/128`).
///
/// Addresses are compared in their canonical form: an IPv4-mapped IPv6 address
/// (`::ffff:10.1.2.3`, what a dual-stack listener reports for an IPv4 client) is the IPv4
/// address, and a range written in the mapped form (`::ffff:10.0.0.0/104`) is the IPv4 range.
///
/// ```
/// use tower_proxy_fn::context::IpRange;
///
/// let range: IpRange = "10.0.0.0/8".parse()?;
/// assert!(range.contains("10.200.0.1".parse()?));
/// assert!(range.contains("::ffff:10.0.0.1".parse()?));
/// assert!(!range.contains("11.0.0.1".parse()?));
///
/// // Host bits after the prefix are refused rather than silently cleared.
/// let err = "10.0.0.1/8".parse::<IpRange>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"invalid IP range "10.0.0.1/8": bits are set after the /8 prefix (the range is 10.0.0.0/8)"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// The block of `network` with a prefix of `prefix` bits.
    ///
    /// An error when the prefix is longer than the address (32 bits for IPv4, 128 for
    /// IPv6) or when `network` has bits set after the prefix.
    pub fn new(network: IpAddr, prefix: u8) -> Result<Self, IpRangeError> {
        Self::checked(network, prefix).map_err(|reason| IpRangeError {
            input: format!("{network}/{prefix}"),
            reason,
        })
    }

    fn checked(network: IpAddr, prefix: u8) -> Result<Self, Reason> {
        // `::ffff:a.b.c.d/96+n` is the IPv4 block `a.b.c.d/n`.
        let (network, prefix) = match network {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && prefix >= 96 => {
                (network.to_canonical(), prefix - 96)
            }
            _ => (network, prefix),
        };
        let bits = bits_of(network);
        if prefix > bits {
            return Err(Reason::PrefixTooLong { prefix, bits });
        }
        let range = Self { network, prefix };
        if range.mask_of(network) != as_u128(network) {
            let masked = range.masked();
            return Err(Reason::HostBitsSet { prefix, masked });
        }
        Ok(range)
    }

    /// The first address of the block.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` (in its canonical form) lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && self.mask_of(ip) == as_u128(self.network)
    }

    /// `ip`'s bits with everything after the prefix cleared.
    fn mask_of(&self, ip: IpAddr) -> u128 {
        let bits = bits_of(ip);
        let host_bits = u32::from(bits - self.prefix);
        let mask = if host_bits >= 128 {
            0
        } else {
            u128::MAX << host_bits
        };
        as_u128(ip) & mask
    }

    fn masked(&self) -> Self {
        let value = self.mask_of(self.network);
        let network = match self.network {
            IpAddr::V4(_) => IpAddr::from((value as u32).to_be_bytes()),
            IpAddr::V6(_) => IpAddr::from(value.to_be_bytes()),
        };
        Self {
            network,
            prefix: self.prefix,
        }
    }
}

fn bits_of(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn as_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl FromStr for IpRange {
    type Err = IpRangeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason| IpRangeError {
            input: input.to_owned(),
            reason,
        };
        let text = input.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| error(Reason::BadAddress))?;
        let prefix = match prefix {
            None => bits_of(network),
            // Digits only: `u8::from_str` would also take `+8`.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().map_err(|_| error(Reason::BadPrefix))?
            }
            Some(_) => return Err(error(Reason::BadPrefix)),
        };
        Self::checked(network, prefix).map_err(error)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl From<IpAddr> for IpRange {
    /// The block of this one address.
    fn from(ip: IpAddr) -> Self {
        let ip = ip.to_canonical();
        Self {
            network: ip,
            prefix: bits_of(ip),
        }
    }
}

/// A set of [`IpRange`]s: an allow-list of clients, or the addresses of trusted proxies.
///
/// ```
/// use tower_proxy_fn::context::IpAllowlist;
///
/// let allowed = IpAllowlist::parse(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"])?;
/// assert!(allowed.contains("10.1.2.3".parse()?));
/// assert!(allowed.contains("2001:db8::1".parse()?));
/// assert!(allowed.contains("192.0.2.7".parse()?));
/// assert!(!allowed.contains("192.0.2.8".parse()?));
///
/// // The same from one comma-separated string (an environment variable, say).
/// let same: IpAllowlist = "10.0.0.0/8, 2001:db8::/32, 192.0.2.7".parse()?;
/// assert_eq!(same, allowed);
///
/// let err = IpAllowlist::parse(["10.0.0.0/8", "10.0.0/8"]).unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid IP range "10.0.0/8": not an IPv4 or IPv6 address"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpAllowlist {
    ranges: Vec<IpRange>,
}

impl IpAllowlist {
    /// An empty list: it contains nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses each item as an [`IpRange`]; the first that does not parse is the error.
    pub fn parse<I>(items: I) -> Result<Self, IpRangeError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        items
            .into_iter()
            .map(|item| item.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(|ranges| Self { ranges })
    }

    /// Adds a range.
    #[must_use]
    pub fn allow(mut self, range: IpRange) -> Self {
        self.ranges.push(range);
        self
    }

    /// Whether any range contains `ip` (in its canonical form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(ip))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &IpRange> {
        self.ranges.iter()
    }
}

impl FromStr for IpAllowlist {
    type Err = IpRangeError;

    /// Comma-separated ranges; empty items are skipped, so `""` is the empty list.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::parse(list.split(',').filter(|item| !item.trim().is_empty()))
    }
}

impl FromIterator<IpRange> for IpAllowlist {
    fn from_iter<I: IntoIterator<Item = IpRange>>(iter: I) -> Self {
        Self {
            ranges: iter.into_iter().collect(),
        }
    }
}

impl fmt::Display for IpAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, range) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{range}")?;
        }
        Ok(())
    }
}

/// A string that is not an IP address or CIDR range; says which string and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpRangeError {
    input: String,
    reason: Reason,
}

impl IpRangeError {
    /// The text that did not parse.
    pub fn input(&self) -> &str {
        &self.input
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Reason {
    BadAddress,
    BadPrefix,
    PrefixTooLong { prefix: u8, bits: u8 },
    HostBitsSet { prefix: u8, masked: IpRange },
}

impl fmt::Display for IpRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid IP range {:?}: ", self.input)?;
        match &self.reason {
            Reason::BadAddress => f.write_str("not an IPv4 or IPv6 address"),
            Reason::BadPrefix => f.write_str("the prefix after '/' is not a number of bits"),
            Reason::PrefixTooLong { prefix, bits } => {
                write!(
                    f,
                    "a /{prefix} prefix is longer than the address ({bits} bits)"
                )
            }
            Reason::HostBitsSet { prefix, masked } => write!(
                f,
                "bits are set after the /{prefix} prefix (the range is {masked})"
            ),
        }
    }
}

impl std::error::Error for IpRangeError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_contain_what_their_prefix_covers() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("v4 /8 inside", "10.0.0.0/8", "10.255.255.255", true),
            ("v4 /8 outside", "10.0.0.0/8", "11.0.0.0", false),
            ("v4 /24 edge", "192.168.1.0/24", "192.168.1.255", true),
            ("v4 /24 next", "192.168.1.0/24", "192.168.2.0", false),
            ("v4 /0 everything", "0.0.0.0/0", "203.0.113.9", true),
            ("v4 /0 not v6", "0.0.0.0/0", "2001:db8::1", false),
            ("v4 single", "198.51.100.7", "198.51.100.7", true),
            ("v4 single other", "198.51.100.7", "198.51.100.8", false),
            (
                "v4 range, mapped client",
                "10.0.0.0/8",
                "::ffff:10.9.9.9",
                true,
            ),
            ("v6 /32", "2001:db8::/32", "2001:db8:ffff::1", true),
            ("v6 /32 outside", "2001:db8::/32", "2001:db9::1", false),
            ("v6 /0", "::/0", "::1", true),
            ("v6 /128", "::1/128", "::1", true),
            ("v6 range not v4", "::/0", "127.0.0.1", false),
            (
                "mapped range is v4",
                "::ffff:10.0.0.0/104",
                "10.1.2.3",
                true,
            ),
            (
                "mapped range excludes",
                "::ffff:10.0.0.0/104",
                "11.1.2.3",
                false,
            ),
        ];
        for (name, range, addr, expected) in cases {
            let parsed: IpRange = range.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.contains(ip(addr)), *expected, "{name}");
        }
    }

    #[test]
    fn bad_ranges_name_the_string_and_the_reason() {
        let cases: &[(&str, &str)] = &[
            ("", r#"invalid IP range "": not an IPv4 or IPv6 address"#),
            (
                "10.0.0.0/33",
                r#"invalid IP range "10.0.0.0/33": a /33 prefix is longer than the address (32 bits)"#,
            ),
            (
                "2001:db8::/129",
                r#"invalid IP range "2001:db8::/129": a /129 prefix is longer than the address (128 bits)"#,
            ),
            (
                "10.0.0.0/",
                r#"invalid IP range "10.0.0.0/": the prefix after '/' is not a number of bits"#,
            ),
            (
                "10.0.0.0/+8",
                r#"invalid IP range "10.0.0.0/+8": the prefix after '/' is not a number of bits"#,
            ),
            (
                "10.0.0.0/300",
                r#"invalid IP range "10.0.0.0/300": the prefix after '/' is not a number of bits"#,
            ),
            (
                "2001:db8::1/32",
                r#"invalid IP range "2001:db8::1/32": bits are set after the /32 prefix (the range is 2001:db8::/32)"#,
            ),
            (
                "example.com",
                r#"invalid IP range "example.com": not an IPv4 or IPv6 address"#,
            ),
        ];
        for (input, message) in cases {
            let err = input.parse::<IpRange>().unwrap_err();
            assert_eq!(err.to_string(), *message);
            assert_eq!(err.input(), *input);
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32", "::/0"] {
            assert_eq!(text.parse::<IpRange>().unwrap().to_string(), text);
        }
        let list: IpAllowlist = "10.0.0.0/8,::1".parse().unwrap();
        assert_eq!(list.to_string(), "10.0.0.0/8, ::1/128");
        assert!("".parse::<IpAllowlist>().unwrap().is_empty());
    }
}
