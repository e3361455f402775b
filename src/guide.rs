//! Guides: where to mount the layer, what each outcome does, how a proxy that edits
//! `nextUrl` ports, axum's State, extractors and response hooks in the proxy function, and
//! cookies across the proxy and the handlers. Each is a page of prose with examples that
//! run as doctests; this module has no items.

#[doc = include_str!("../docs/mounting.md")]
pub mod mounting {}

#[doc = include_str!("../docs/outcomes.md")]
pub mod outcomes {}

#[doc = include_str!("../docs/migrating.md")]
pub mod migrating {}

#[doc = include_str!("../docs/axum.md")]
pub mod axum {}

#[cfg(feature = "signed-cookies")]
#[cfg_attr(docsrs, doc(cfg(feature = "signed-cookies")))]
#[doc = include_str!("../docs/cookies.md")]
pub mod cookies {}
