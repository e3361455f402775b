//! JavaScript regular expressions, run by Rust engines with their JavaScript meaning.
//!
//! Next.js compiles every matcher source and every `has`/`missing` value to a JavaScript
//! `RegExp` with no flags, so in non-Unicode mode with the Annex B leniencies (for a value,
//! `matchHas` in `packages/next/src/shared/lib/router/utils/prepare-destination.ts` wraps
//! it in `^` and `$`). The Rust engines read the same text differently (`\d` is every
//! Unicode digit, `.` matches `\r`, `\b` is Unicode-aware, look-around is missing), so the
//! source is not handed to them as is:
//!
//! 1. [`parse`](parse::parse) reads the JavaScript syntax into a syntax tree
//!    ([`ast::Node`]), resolving every class escape to the characters JavaScript means;
//! 2. [`emit`] writes a tree as Rust `regex` syntax that means the same;
//! 3. [`engine`] picks the engine for a tree ([`Program::compile`]): the `regex` crate
//!    when it can, after [`lift`]ing look-aheads at a fixed offset into guards, and
//!    fancy-regex only for the look-around and back-references left; it also runs many
//!    plain programs as one set ([`ProgramSet`]).
//!
//! A match fancy-regex cannot finish (its backtracking limit) is [`Undecided`], never
//! "no": the matcher counts it as a match, so the proxy runs (`tests/fail_closed.rs`).

mod ast;
mod emit;
mod engine;
mod lift;
mod parse;

pub(crate) use ast::{JsRegex, Node};
pub(crate) use engine::{Program, ProgramSet, Undecided};
pub(crate) use parse::parse;

#[cfg(test)]
mod tests;
