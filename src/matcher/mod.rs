//! The matcher: which requests the proxy function sees (API stub; implementation pending).

use http::Request;

/// Compiled Next.js `config.matcher`.
#[derive(Clone, Debug)]
pub struct Matcher {
    _private: (),
}

/// A source, condition or config that does not compile.
#[derive(Debug)]
#[non_exhaustive]
pub struct MatcherError {
    _private: (),
}

impl std::fmt::Display for MatcherError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("matcher error")
    }
}
impl std::error::Error for MatcherError {}

/// Named values captured by a match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The value captured under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// All captured pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// Adds captured pairs (a later pair with the same name wins in [`get`](Self::get)
    /// only if the earlier one is absent).
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// What the matcher decided for one request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Decision<'m> {
    /// No entry matched: the request goes straight on.
    Skip,
    /// An entry matched.
    Run(Match<'m>),
    /// The path is not valid percent-encoded UTF-8 and did not match as sent.
    MalformedPath,
}

/// An entry that matched, with what it captured.
#[derive(Debug)]
pub struct Match<'m> {
    source: &'m str,
    params: Params,
}

impl<'m> Match<'m> {
    /// The source of the entry that matched, as written in the config.
    pub fn source(&self) -> &'m str {
        self.source
    }
    /// The captured parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// Takes the captured parameters.
    pub fn into_params(self) -> Params {
        self.params
    }
}

impl Matcher {
    /// Compiles path sources.
    pub fn new<I>(sources: I) -> Result<Self, MatcherError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let _ = sources.into_iter().count();
        Ok(Self::any())
    }
    /// Compiles a Next.js `config` object given as JSON.
    pub fn from_json(json: &str) -> Result<Self, MatcherError> {
        let _ = json;
        Ok(Self::any())
    }
    /// A matcher that matches every request (a config with no `matcher` key).
    pub fn any() -> Self {
        Self { _private: () }
    }
    /// Whether the request concerns the proxy.
    pub fn matches<B>(&self, request: &Request<B>) -> bool {
        matches!(self.decide(request), Decision::Run(_))
    }
    /// The full decision for a request.
    pub fn decide<B>(&self, request: &Request<B>) -> Decision<'_> {
        let _ = request;
        Decision::Run(Match {
            source: "/:path*",
            params: Params::default(),
        })
    }
}
