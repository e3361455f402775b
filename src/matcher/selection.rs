//! What the matcher says about one request: [`Selection`] with its [`Match`], and the lazy
//! form the layer uses ([`LazySelection`], [`Deferred`]).

use http::Request;

use super::{Matcher, Params};

/// Which entry, if any, selects a request for the proxy function: what
/// [`Matcher::select`] says.
///
/// (What the proxy function then returns is its decision, a
/// [`ProxyResponse`](crate::ProxyResponse).)
#[derive(Debug)]
#[non_exhaustive]
pub enum Selection<'m> {
    /// No entry matched: the request goes straight on.
    Skip,
    /// An entry matched.
    Run(Match<'m>),
    /// The path is not valid percent-encoded UTF-8 and did not match as sent.
    MalformedPath,
    /// The path is longer than [`MAX_PATH_LEN`](super::MAX_PATH_LEN): it was not tested.
    PathTooLong,
}

/// An entry that matched, with what it captured.
#[derive(Debug)]
pub struct Match<'m> {
    pub(super) source: &'m str,
    pub(super) params: Params,
}

impl<'m> Match<'m> {
    /// The source of the entry that matched, as written in the config
    /// (empty for [`Matcher::any`]).
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

/// A [`Selection`] whose captures are taken only when the proxy function asks for them:
/// the capture engine costs more than the selection itself, and most functions never read
/// them.
pub(crate) enum LazySelection {
    Skip,
    Malformed,
    TooLong,
    /// `None` for [`Matcher::any`].
    Run(Option<Deferred>),
}

/// The entry that matched and the form of the path it matched, to take captures from later
/// (from the same matcher: the request holds it, so that a selection clones no `Arc`).
#[derive(Clone, Debug)]
pub(crate) struct Deferred {
    index: usize,
    /// The decoded or collapsed form, when the path as sent did not match.
    form: Option<String>,
    decoded: bool,
}

impl Deferred {
    /// The source of the entry that matched.
    pub(crate) fn source<'m>(&self, matcher: &'m Matcher) -> &'m str {
        matcher
            .inner
            .entries
            .get(self.index)
            .map_or("", |e| e.source.as_str())
    }

    /// The captures, for the request that was selected.
    pub(crate) fn params<B>(&self, matcher: &Matcher, request: &Request<B>) -> Params {
        let Some(entry) = matcher.inner.entries.get(self.index) else {
            return Params::default();
        };
        let path = self.form.as_deref().unwrap_or(request.uri().path());
        // The entry held (or could not be decided, which counts as holding): whatever
        // cannot be captured is left out.
        entry
            .captures_in(request, path, self.decoded)
            .ok()
            .flatten()
            .unwrap_or_default()
    }
}

impl LazySelection {
    /// The selection for where a search ended. Out of line: the skipped request, which
    /// the caller handles first, never needs it.
    #[inline(never)]
    pub(super) fn from_found(found: Found) -> Self {
        let deferred = |index, form, decoded| Deferred {
            index,
            form,
            decoded,
        };
        match found {
            Found::Miss => LazySelection::Skip,
            Found::Malformed => LazySelection::Malformed,
            Found::TooLong => LazySelection::TooLong,
            Found::Any => LazySelection::Run(None),
            Found::HitRaw(i) => LazySelection::Run(Some(deferred(i, None, false))),
            Found::Hit(i, form, decoded) => {
                LazySelection::Run(Some(deferred(i, Some(form), decoded)))
            }
        }
    }
}

/// Where a search ended ([`Matcher::matches`], [`Matcher::select`] and the layer's lazy
/// selection all start from one).
pub(super) enum Found {
    /// [`Matcher::any`]: every request, nothing looked at.
    Any,
    /// Entry index, on the path as sent (nothing allocated).
    HitRaw(usize),
    /// Entry index, the form of the path it matched, and whether that form is decoded.
    Hit(usize, String, bool),
    Miss,
    Malformed,
    TooLong,
}
