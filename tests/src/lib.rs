//! Shared test support for the workspace integration tests.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
