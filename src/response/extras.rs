//! What a decision adds besides its outcome: header edits for the request and the response,
//! cookies, extensions. [`HeaderEdit`] is the one shape of a header edit, on either side;
//! [`ResponseExtras`] is what travels from the decision to the final response.

use axum::response::Response;
use cookie::Cookie;
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, SET_COOKIE, VARY};
use http::request::Parts;
use http::{Extensions, HeaderMap};

use super::cache_marks::CacheMarks;
use super::hook::{run_hooks, HookPanicked, ResponseHook};

/// One edit of a header map, as a decision asks for it: on the request the inner service
/// gets ([`ProxyResponse::request_header`](crate::ProxyResponse::request_header) and its
/// siblings) or on the response the client gets
/// ([`ProxyResponse::header`](crate::ProxyResponse::header),
/// [`append_header`](crate::ProxyResponse::append_header)).
///
/// ```
/// use http::HeaderMap;
/// use tower_proxy_fn::response::HeaderEdit;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-a", "client".parse().unwrap());
/// HeaderEdit::Append("x-a".parse().unwrap(), "proxy".parse().unwrap()).apply(&mut headers);
/// assert_eq!(headers.get_all("x-a").iter().count(), 2);
/// HeaderEdit::Remove("x-a".parse().unwrap()).apply(&mut headers);
/// assert!(headers.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Replaces every value of the name with this one.
    Set(HeaderName, HeaderValue),
    /// Adds this value, keeping the others of the name.
    Append(HeaderName, HeaderValue),
    /// Removes every value of the name.
    Remove(HeaderName),
}

impl HeaderEdit {
    /// The name of the header edited.
    pub fn name(&self) -> &HeaderName {
        match self {
            Self::Set(name, _) | Self::Append(name, _) | Self::Remove(name) => name,
        }
    }

    /// The value set or added; `None` for [`Remove`](Self::Remove).
    pub fn value(&self) -> Option<&HeaderValue> {
        match self {
            Self::Set(_, value) | Self::Append(_, value) => Some(value),
            Self::Remove(_) => None,
        }
    }

    /// Makes the edit in `headers`.
    pub fn apply(self, headers: &mut HeaderMap) {
        match self {
            Self::Set(name, value) => {
                headers.insert(name, value);
            }
            Self::Append(name, value) => {
                headers.append(name, value);
            }
            Self::Remove(name) => {
                headers.remove(name);
            }
        }
    }
}

/// The proxy's response-header edits, in order. One is held inline: a decision that sets a
/// single header (the usual security header, a request id) allocates nothing for it. Guarded
/// by `response_headers_keep_order_and_meaning_held_inline_or_listed`.
#[derive(Default)]
pub(crate) enum HeaderList {
    #[default]
    Empty,
    One(HeaderEdit),
    Many(Vec<HeaderEdit>),
}

impl HeaderList {
    pub(crate) fn push(&mut self, edit: HeaderEdit) {
        // The empty case, the usual one, is written in place: taking the list out first
        // would drop (and so check) the old value on every decision that sets a header.
        match self {
            HeaderList::Empty => *self = HeaderList::One(edit),
            HeaderList::Many(edits) => edits.push(edit),
            HeaderList::One(_) => {
                let HeaderList::One(first) = std::mem::take(self) else {
                    unreachable!("matched One above")
                };
                *self = HeaderList::Many(vec![first, edit]);
            }
        }
    }

    /// `later`'s edits after these.
    pub(crate) fn extend(&mut self, later: HeaderList) {
        later.for_each(|edit| self.push(edit));
    }

    /// Hands each edit to `f`, in order, by value.
    pub(crate) fn for_each(self, mut f: impl FnMut(HeaderEdit)) {
        match self {
            HeaderList::Empty => {}
            HeaderList::One(edit) => f(edit),
            HeaderList::Many(edits) => edits.into_iter().for_each(f),
        }
    }

    pub(crate) fn as_slice(&self) -> &[HeaderEdit] {
        match self {
            HeaderList::Empty => &[],
            HeaderList::One(edit) => std::slice::from_ref(edit),
            HeaderList::Many(edits) => edits,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, HeaderList::Empty)
    }
}

/// Request-header edits, cookies, extensions, and what made the decision invalid: boxed in
/// the decision, because most decisions carry none of it and a decision is moved several
/// times on its way out of the function (see `a_decision_fits_in_128_bytes`).
#[derive(Default)]
pub(crate) struct More {
    pub(crate) request_headers: Vec<HeaderEdit>,
    pub(crate) cookies: Vec<Cookie<'static>>,
    pub(crate) extensions: Extensions,
    pub(crate) invalid: Option<String>,
    /// Cookies to sign or encrypt with the layer's key before they join `cookies`.
    #[cfg(feature = "signed-cookies")]
    pub(crate) sealed: Vec<(Cookie<'static>, crate::cookies::Seal)>,
    /// Set by [`ProxyResponse::same_for_everyone`](crate::ProxyResponse::same_for_everyone):
    /// no cache marks for what was read.
    pub(crate) same_for_everyone: bool,
    /// [`ProxyResponse::on_response`](crate::ProxyResponse::on_response)'s hooks, in the
    /// order they were added.
    pub(crate) hooks: Vec<ResponseHook>,
}

/// What a decision changes in the request the inner service gets.
#[derive(Default)]
pub(crate) struct RequestEdits {
    pub(crate) headers: Vec<HeaderEdit>,
    pub(crate) extensions: Extensions,
}

impl RequestEdits {
    pub(crate) fn apply(self, parts: &mut Parts) {
        // Most decisions edit nothing: return before walking even an empty list.
        if self.headers.is_empty() && self.extensions.is_empty() {
            return;
        }
        for edit in self.headers {
            edit.apply(&mut parts.headers);
        }
        if !self.extensions.is_empty() {
            parts.extensions.extend(self.extensions);
        }
    }
}

/// What travels from the decision to the final response: response-header edits, cookies and
/// cache marks. The cookies stay in the decision's own box ([`More`]), which comes along only
/// when it holds some: this keeps the extras within 128 bytes (`a_decision_fits_in_128_bytes`),
/// and they are moved three times on a `next`.
#[derive(Default)]
pub(crate) struct ResponseExtras {
    headers: HeaderList,
    cookies: Option<Box<More>>,
    cache: Option<CacheMarks>,
}

impl ResponseExtras {
    /// `cookies`: the decision's box, its request edits taken out.
    pub(crate) fn new(headers: HeaderList, cookies: Option<Box<More>>) -> Self {
        Self {
            headers,
            cookies: cookies.filter(|more| !more.cookies.is_empty() || !more.hooks.is_empty()),
            cache: None,
        }
    }

    /// The cookies the decision sets or deletes, in order (signed and private ones sealed).
    pub(crate) fn cookies(&self) -> &[Cookie<'static>] {
        self.cookies.as_ref().map_or(&[], |more| &more.cookies)
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.cookies.is_none() && self.cache.is_none()
    }

    /// Marks the inner service's response for what the decision read (see [`CacheMarks`]).
    #[inline]
    pub(crate) fn mark_for_caches(&mut self, marks: Option<CacheMarks>) {
        self.cache = marks;
    }

    /// Runs the decision's response hooks on `response`, then adds the proxy's headers,
    /// cookies and cache marks; a hook that panics gives the `500` instead.
    pub(crate) fn apply_to(self, mut response: Response) -> Response {
        if !self.has_hooks() {
            self.apply(response.headers_mut());
            return response;
        }
        let (mut head, body) = response.into_parts();
        match self.apply_to_head(&mut head) {
            Ok(()) => Response::from_parts(head, body),
            Err(failed) => failed.into_response(),
        }
    }

    /// [`apply_to`](Self::apply_to) on a response's head.
    pub(crate) fn apply_to_head(
        mut self,
        head: &mut http::response::Parts,
    ) -> Result<(), HookPanicked> {
        if let Some(more) = &mut self.cookies {
            run_hooks(std::mem::take(&mut more.hooks), head)?;
        }
        self.apply(&mut head.headers);
        Ok(())
    }

    fn has_hooks(&self) -> bool {
        self.cookies
            .as_ref()
            .is_some_and(|more| !more.hooks.is_empty())
    }

    /// Adds the proxy's headers and cookies to a response.
    ///
    /// A header set or appended with an empty value is left out (the response keeps what it
    /// had), as Next.js copies the proxy's headers only `if (value)` (`resolveRoutes` in
    /// `packages/next/src/server/lib/router-utils/resolve-routes.ts`); recorded in the
    /// scenario app (`/empty-header`), guarded by `tests/empty_headers.rs`.
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        if let Some(marks) = &self.cache {
            // A `Vary` or `Cache-Control` the proxy set itself is its final word.
            let proxy_set = |name: &HeaderName| {
                self.headers
                    .as_slice()
                    .iter()
                    .any(|edit| edit.name() == name && edit.value().is_some_and(|v| !v.is_empty()))
            };
            let (keep_vary, keep_cache_control) = (proxy_set(&VARY), proxy_set(&CACHE_CONTROL));
            marks.merge_into(headers, keep_vary, keep_cache_control);
        }
        self.headers.for_each(|edit| {
            if edit.value().is_none_or(|value| !value.is_empty()) {
                edit.apply(headers);
            }
        });
        let Some(more) = self.cookies else {
            return;
        };
        for cookie in more.cookies {
            // Encoded as Next.js does (`encodeURIComponent` on the value); names were
            // checked to be tokens, so the line is always a valid header value.
            let line = cookie.encoded().to_string();
            if let Ok(value) = HeaderValue::try_from(line) {
                headers.append(SET_COOKIE, value);
            }
        }
    }
}
