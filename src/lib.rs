#![doc = "tower-proxy-fn (docs written with the layer)"]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unreachable_pub)]

pub mod matcher;
