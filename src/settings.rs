//! The configuration a [`ProxyLayer`](crate::ProxyLayer) shares with every service, request
//! and decision it makes.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::background::BackgroundTasks;
use crate::context::ContextConfig;
use crate::matcher::Matcher;
use crate::rules::Locales;

/// How long the proxy function may run before the layer answers `504 Gateway Timeout`,
/// unless [`ProxyLayer::with_timeout`](crate::ProxyLayer::with_timeout) says otherwise.
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long reading a matched request's body may take under
/// [`ProxyLayer::with_request_body`](crate::ProxyLayer::with_request_body) before the layer answers
/// `408 Request Timeout`, unless
/// [`ProxyLayer::with_body_timeout`](crate::ProxyLayer::with_body_timeout) says otherwise.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Configuration shared by every service a layer builds.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) matcher: Option<Matcher>,
    /// The proxy function's time limit (`None`: none at all, on the user's request).
    pub(crate) timeout: Option<Duration>,
    /// The time limit for reading a body under `with_request_body`.
    pub(crate) body_timeout: Option<Duration>,
    pub(crate) tasks: BackgroundTasks,
    pub(crate) body_limit: usize,
    /// The origins the application declared as its own (`ProxyLayer::with_origin`), first
    /// the one a request's URL gets when its authority names none of them.
    pub(crate) origins: Vec<Url>,
    /// Trusted proxies and geolocation sources; `None` until configured.
    pub(crate) context: Option<Arc<ContextConfig>>,
    /// The allow-list and client for external rewrites (`ProxyLayer::with_external`).
    #[cfg(feature = "external")]
    pub(crate) forwarder: Option<crate::external::Forwarder>,
    /// The key of signed and private cookies (`ProxyLayer::with_cookie_key`).
    #[cfg(feature = "signed-cookies")]
    pub(crate) cookie_key: Option<crate::cookies::CookieKey>,
    /// Whether `next` and rewrites carry what the proxy learned to the handlers
    /// (`ProxyLayer::with_learned_values`).
    pub(crate) share_learned: bool,
    /// Set by `with_rules` when a 404 rewrite may need the body `with_request_body` read.
    pub(crate) keep_body_copy: bool,
    /// The base path and the locales `ProxyRequest::next_url` reads the path with.
    pub(crate) next_config: NextConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            matcher: None,
            timeout: Some(DEFAULT_FUNCTION_TIMEOUT),
            body_timeout: Some(DEFAULT_BODY_TIMEOUT),
            tasks: BackgroundTasks::default(),
            body_limit: 0,
            origins: Vec::new(),
            context: None,
            #[cfg(feature = "external")]
            forwarder: None,
            #[cfg(feature = "signed-cookies")]
            cookie_key: None,
            share_learned: false,
            keep_body_copy: false,
            next_config: NextConfig::default(),
        }
    }
}

impl Settings {
    pub(crate) fn context_mut(&mut self) -> &mut ContextConfig {
        Arc::make_mut(self.context.get_or_insert_with(Default::default))
    }

    /// Whether an external rewrite to `url` would be forwarded (its origin is allowed).
    pub(crate) fn forwards_to(&self, url: &Url) -> bool {
        #[cfg(feature = "external")]
        if let Some(forwarder) = &self.forwarder {
            return forwarder.allows(url);
        }
        let _ = url;
        false
    }
}

/// What a [`NextUrl`](crate::NextUrl) knows of the application's next.config: its base path
/// ([`ProxyLayer::with_base_path`](crate::ProxyLayer::with_base_path)) and its locales
/// ([`Rules::i18n`](crate::rules::Rules::i18n), through
/// [`ProxyLayer::with_rules`](crate::ProxyLayer::with_rules)).
#[derive(Clone, Debug, Default)]
pub(crate) struct NextConfig {
    /// `""` or a path such as `/docs` (no trailing `/`).
    pub(crate) base_path: Arc<str>,
    pub(crate) locales: Option<Locales>,
}
