//! # reflector
//!
//! Placeholder (being written).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
pub use store_core;
