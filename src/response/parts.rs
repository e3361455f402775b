//! A decision taken apart ([`ProxyResponse::into_parts`](crate::ProxyResponse::into_parts)):
//! what it does ([`Outcome`]) and what it adds ([`Additions`]).

use std::fmt;

use axum::response::Response;
use cookie::Cookie;
use http::Extensions;

use super::extras::{HeaderEdit, HeaderList, More, RequestEdits, ResponseExtras};
use crate::url_safety::RedirectStatus;

/// What a decision does: one of the four outcomes of
/// [`ProxyResponse`](crate::ProxyResponse).
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The request goes on to the inner service ([`ProxyResponse::next`](crate::ProxyResponse::next)).
    Next,
    /// The inner service serves `destination`, as the function wrote it
    /// ([`ProxyResponse::rewrite`](crate::ProxyResponse::rewrite)).
    Rewrite {
        /// The path or URL, not yet resolved against the request.
        destination: String,
    },
    /// A redirect to `destination`, as the function wrote it
    /// ([`ProxyResponse::redirect`](crate::ProxyResponse::redirect) and its siblings).
    Redirect {
        /// The path or URL, not yet resolved into a `Location`.
        destination: String,
        /// The redirect's status.
        status: RedirectStatus,
    },
    /// The proxy's own response ([`ProxyResponse::respond`](crate::ProxyResponse::respond),
    /// [`ProxyResponse::json`](crate::ProxyResponse::json)), without the additions.
    Respond(Response),
}

/// What a decision adds to the request the inner service gets and to the response the client
/// gets, whatever its [`Outcome`].
#[must_use]
pub struct Additions {
    pub(super) response_headers: HeaderList,
    /// Request edits, cookies and extensions, when the decision has any.
    pub(super) more: Option<Box<More>>,
}

impl Additions {
    /// The edits of the request's headers, in order.
    pub fn request_headers(&self) -> &[HeaderEdit] {
        self.more.as_ref().map_or(&[], |more| &more.request_headers)
    }

    /// The extensions handlers will find in the request; `None` when there are none.
    pub fn extensions(&self) -> Option<&Extensions> {
        self.more
            .as_ref()
            .map(|more| &more.extensions)
            .filter(|extensions| !extensions.is_empty())
    }

    /// The edits of the response's headers, in order.
    pub fn response_headers(&self) -> &[HeaderEdit] {
        self.response_headers.as_slice()
    }

    /// The cookies the response sets (deletions included), in order.
    pub fn cookies(&self) -> &[Cookie<'static>] {
        self.more.as_ref().map_or(&[], |more| &more.cookies)
    }

    /// Whether the decision adds nothing.
    pub fn is_empty(&self) -> bool {
        self.response_headers.is_empty()
            && self.more.as_ref().is_none_or(|more| {
                more.request_headers.is_empty()
                    && more.cookies.is_empty()
                    && more.extensions.is_empty()
                    && more.hooks.is_empty()
            })
    }

    /// Takes out what goes to the request; the rest is for the response.
    pub(crate) fn take_request_edits(&mut self) -> RequestEdits {
        match &mut self.more {
            None => RequestEdits::default(),
            Some(more) => RequestEdits {
                headers: std::mem::take(&mut more.request_headers),
                extensions: std::mem::take(&mut more.extensions),
            },
        }
    }

    /// What goes to the response. The decision's box goes on with the cookies, when it holds
    /// any, and is freed otherwise: no allocation either way.
    pub(crate) fn into_response_extras(self) -> ResponseExtras {
        ResponseExtras::new(self.response_headers, self.more)
    }
}

impl fmt::Debug for Additions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Additions")
            .field("request_headers", &self.request_headers())
            .field("extensions", &self.extensions().map_or(0, Extensions::len))
            .field("response_headers", &self.response_headers())
            .field("cookies", &self.cookies())
            .field(
                "response_hooks",
                &self.more.as_ref().map_or(0, |more| more.hooks.len()),
            )
            .finish()
    }
}
