//! [`RedirectStatus`]: the five statuses a redirect may have, as a type, so that an invalid
//! one cannot reach a response from any API.

use std::fmt;

use http::StatusCode;

/// The status of a redirect: one of the five that Next.js allows (`allowedStatusCodes` in
/// `packages/next/src/lib/load-custom-routes.ts`), and the only ones a browser follows with a
/// `Location`.
///
/// Every API that takes a redirect status takes this type, so an invalid status is refused
/// once, where a number becomes a `RedirectStatus`: [`TryFrom`] for code, and the config
/// loaders for next.config's `statusCode` (with the place of the bad value).
///
/// ```
/// use http::StatusCode;
/// use tower_proxy_fn::RedirectStatus;
///
/// assert_eq!(StatusCode::from(RedirectStatus::Temporary), StatusCode::TEMPORARY_REDIRECT);
/// assert_eq!(RedirectStatus::try_from(303), Ok(RedirectStatus::SeeOther));
/// assert!(RedirectStatus::try_from(StatusCode::OK).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedirectStatus {
    /// `301 Moved Permanently`: permanent; browsers may turn a POST into a GET.
    MovedPermanently,
    /// `302 Found`: temporary; browsers may turn a POST into a GET. What the web platform's
    /// `Response.redirect` uses by default.
    Found,
    /// `303 See Other`: go and GET the other URL (after a form POST, say).
    SeeOther,
    /// `307 Temporary Redirect`: temporary, method and body kept. The default, as
    /// `NextResponse.redirect`'s.
    Temporary,
    /// `308 Permanent Redirect`: permanent, method and body kept (next.config's
    /// `permanent: true`).
    Permanent,
}

impl RedirectStatus {
    /// The status code.
    pub const fn status_code(self) -> StatusCode {
        match self {
            Self::MovedPermanently => StatusCode::MOVED_PERMANENTLY,
            Self::Found => StatusCode::FOUND,
            Self::SeeOther => StatusCode::SEE_OTHER,
            Self::Temporary => StatusCode::TEMPORARY_REDIRECT,
            Self::Permanent => StatusCode::PERMANENT_REDIRECT,
        }
    }

    /// Whether browsers and caches may keep the redirect (301 and 308).
    pub const fn is_permanent(self) -> bool {
        matches!(self, Self::MovedPermanently | Self::Permanent)
    }
}

impl From<RedirectStatus> for StatusCode {
    fn from(status: RedirectStatus) -> Self {
        status.status_code()
    }
}

impl TryFrom<StatusCode> for RedirectStatus {
    type Error = InvalidRedirectStatus;

    fn try_from(status: StatusCode) -> Result<Self, Self::Error> {
        Self::try_from(status.as_u16())
    }
}

impl TryFrom<u16> for RedirectStatus {
    type Error = InvalidRedirectStatus;

    fn try_from(code: u16) -> Result<Self, Self::Error> {
        Ok(match code {
            301 => Self::MovedPermanently,
            302 => Self::Found,
            303 => Self::SeeOther,
            307 => Self::Temporary,
            308 => Self::Permanent,
            _ => return Err(InvalidRedirectStatus(code)),
        })
    }
}

/// A status that is not one of [`RedirectStatus`]'s five.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidRedirectStatus(u16);

impl InvalidRedirectStatus {
    /// The refused code.
    pub fn code(self) -> u16 {
        self.0
    }
}

impl fmt::Display for InvalidRedirectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "redirect status {} is not one of 301, 302, 303, 307, 308",
            self.0
        )
    }
}

impl std::error::Error for InvalidRedirectStatus {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_five_redirect_statuses_convert() {
        let accepted: Vec<u16> = (100..=599)
            .filter(|code| RedirectStatus::try_from(*code).is_ok())
            .collect();
        assert_eq!(accepted, [301, 302, 303, 307, 308]);
        for code in accepted {
            let status = RedirectStatus::try_from(code).unwrap();
            assert_eq!(StatusCode::from(status).as_u16(), code);
        }
        assert_eq!(
            RedirectStatus::try_from(300).unwrap_err().to_string(),
            "redirect status 300 is not one of 301, 302, 303, 307, 308"
        );
    }
}
