//! Signed and private cookies (feature `signed-cookies`): the proxy reads and sets cookies
//! that a client cannot forge (signed) or read (private), with the `cookie` crate's own
//! `SignedJar` / `PrivateJar`, so that they interoperate with axum-extra's
//! `SignedCookieJar` / `PrivateCookieJar` under the same [`Key`].
//!
//! The key is the layer's ([`ProxyLayer::with_cookie_key`](crate::ProxyLayer::with_cookie_key)).
//! A proxy function that takes the app's state can also read them with axum-extra's jars
//! as extractors, whose key comes from the state through `FromRef`.
//!
//! ```
//! use tower_proxy_fn::cookie::Key;
//! use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
//!
//! async fn proxy(req: ProxyRequest) -> ProxyResponse {
//!     match req.signed_cookie("user") {
//!         // Only this server could have set it: a changed value reads as absent.
//!         Some(user) => ProxyResponse::next().request_header("x-user", user),
//!         None => ProxyResponse::redirect("/login"),
//!     }
//! }
//!
//! let key = Key::generate(); // in an app: `Key::from(..)` of a secret kept elsewhere
//! let layer = ProxyLayer::new(proxy).with_cookie_key(key);
//! # let _ = layer;
//! ```
//!
//! Reading: a cookie whose signature does not verify (tampered, or signed with another key),
//! or that does not decrypt, reads as absent, never as an error or a panic; so does any
//! signed cookie when the layer has no key (logged as an error). Writing: a decision that
//! sets a signed or private cookie on a layer without a key is answered `500` with the
//! reason logged, since the cookie cannot be written as asked.

use std::fmt;

use cookie::{Cookie, CookieJar};

pub use cookie::Key;

use crate::{ProxyLayer, ProxyRequest, ProxyResponse};

/// How a cookie is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seal {
    /// Signed: readable by the client, not changeable.
    Signed,
    /// Encrypted and authenticated: neither readable nor changeable.
    Private,
}

/// The layer's key, kept out of `Debug` output.
#[derive(Clone)]
pub(crate) struct CookieKey(pub(crate) Key);

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

impl<F, M> ProxyLayer<F, M> {
    /// The key that signs and encrypts the proxy's signed and private cookies
    /// ([`ProxyRequest::signed_cookie`], [`ProxyResponse::signed_cookie`] and their private
    /// siblings). Give handlers the same key (axum-extra's `SignedCookieJar` takes it from
    /// the app's state) and they read what the proxy wrote, and the other way round.
    pub fn with_cookie_key(mut self, key: Key) -> Self {
        self.settings.cookie_key = Some(CookieKey(key));
        self
    }
}

impl ProxyRequest {
    /// The value of a signed cookie, if its signature verifies with the layer's key
    /// (axum-extra's `SignedCookieJar::get`). `None` for a missing, tampered or foreign
    /// cookie, and (logged) on a layer without a key. Counts as a read of the cookies for
    /// the response's `Vary`.
    pub fn signed_cookie(&self, name: &str) -> Option<String> {
        self.unsealed(name, Seal::Signed)
    }

    /// The value of a private (encrypted) cookie, if it decrypts with the layer's key
    /// (axum-extra's `PrivateCookieJar::get`); `None` otherwise, as for
    /// [`signed_cookie`](Self::signed_cookie).
    pub fn private_cookie(&self, name: &str) -> Option<String> {
        self.unsealed(name, Seal::Private)
    }

    fn unsealed(&self, name: &str, seal: Seal) -> Option<String> {
        let value = self.cookies().get(name)?;
        let Some(CookieKey(key)) = &self.head.settings.cookie_key else {
            tracing::error!(
                path = %self.path(),
                cookie = name,
                "a signed or private cookie was read on a layer without a key \
                 (ProxyLayer::with_cookie_key): it reads as absent"
            );
            return None;
        };
        let cookie = Cookie::new(name.to_owned(), value.to_owned());
        let jar = CookieJar::new();
        let opened = match seal {
            Seal::Signed => jar.signed(key).verify(cookie),
            Seal::Private => jar.private(key).decrypt(cookie),
        };
        opened.map(|cookie| cookie.value().to_owned())
    }
}

impl ProxyResponse {
    /// Sets a signed cookie: the client can read it but not change it. Signed with the
    /// layer's key when the decision is carried out, on any outcome, as axum-extra's
    /// `SignedCookieJar::add` signs it; otherwise taken as [`cookie`](Self::cookie) takes
    /// a cookie (`Path=/` unless given). The inner service, on `next` or a rewrite, sees it
    /// signed, as the browser will send it.
    pub fn signed_cookie(self, cookie: impl Into<Cookie<'static>>) -> Self {
        self.sealed_cookie(cookie.into(), Seal::Signed)
    }

    /// Sets a private cookie: encrypted and authenticated with the layer's key, as
    /// axum-extra's `PrivateCookieJar::add` does; see [`signed_cookie`](Self::signed_cookie).
    pub fn private_cookie(self, cookie: impl Into<Cookie<'static>>) -> Self {
        self.sealed_cookie(cookie.into(), Seal::Private)
    }

    fn sealed_cookie(self, cookie: Cookie<'static>, seal: Seal) -> Self {
        let before = self.cookies().count();
        let mut decision = self.cookie(cookie);
        // `cookie` checked it and added it last, unless it was refused (the decision is
        // then invalid): move it to the list sealed when the decision is carried out.
        if decision.cookies().count() > before
            && let Some(more) = decision.more.as_mut()
            && let Some(cookie) = more.cookies.pop()
        {
            more.sealed.push((cookie, seal));
        }
        decision
    }
}

/// Signs or encrypts the decision's sealed cookies into its plain ones, in the order they
/// were added after the plain ones. `Err` with the reason when there is no key to do it.
pub(crate) fn seal(decision: &mut ProxyResponse, key: Option<&CookieKey>) -> Result<(), String> {
    let Some(more) = decision.more.as_mut() else {
        return Ok(());
    };
    if more.sealed.is_empty() {
        return Ok(());
    }
    let Some(CookieKey(key)) = key else {
        return Err(format!(
            "the decision sets the signed or private cookie {:?}, but the layer has no key \
             (ProxyLayer::with_cookie_key)",
            more.sealed[0].0.name()
        ));
    };
    let mut jar = CookieJar::new();
    for (cookie, seal) in std::mem::take(&mut more.sealed) {
        let name = cookie.name().to_owned();
        match seal {
            Seal::Signed => jar.signed_mut(key).add(cookie),
            Seal::Private => jar.private_mut(key).add(cookie),
        }
        if let Some(sealed) = jar.get(&name) {
            more.cookies.push(sealed.clone().into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_cookie_keeps_its_attributes_and_hides_its_value() {
        let key = CookieKey(Key::generate());
        let mut decision = ProxyResponse::next()
            .signed_cookie(Cookie::build(("s", "ann")).http_only(true))
            .private_cookie(("p", "secret"));
        seal(&mut decision, Some(&key)).unwrap();
        let cookies: Vec<_> = decision.cookies().collect();
        assert_eq!(cookies.len(), 2);
        assert_eq!(cookies[0].name(), "s");
        assert!(cookies[0].value().ends_with("ann") && cookies[0].value() != "ann");
        assert_eq!(cookies[0].http_only(), Some(true));
        assert_eq!(cookies[0].path(), Some("/"));
        assert!(!cookies[1].value().contains("secret"));
    }

    #[test]
    fn without_a_key_sealing_is_refused_with_the_reason() {
        let mut decision = ProxyResponse::next().signed_cookie(("s", "ann"));
        let reason = seal(&mut decision, None).unwrap_err();
        assert!(reason.contains("with_cookie_key"), "{reason}");
    }
}
