//! Guides: where to mount the layer and what each outcome does. Each is a page of prose
//! with examples that run as doctests; this module has no items.

#[doc = include_str!("../docs/mounting.md")]
pub mod mounting {}

#[doc = include_str!("../docs/outcomes.md")]
pub mod outcomes {}
