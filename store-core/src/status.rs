//! Placeholder: the Kubernetes-wire-compatible `Status` (being written).
#![allow(missing_docs)]
#[derive(Debug)]
pub struct Status;
#[derive(Debug)]
pub struct StatusCause;
#[derive(Debug)]
pub struct StatusDetails;
#[derive(Debug)]
pub enum StatusReason {}
