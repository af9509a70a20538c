//! [`Informer`]: reflector → [`OrderedFifo`] → indexed cache → event handlers, with
//! client-go's current (≥ 1.33, "in-order informers") semantics.
//!
//! - [`InformerBuilder`] configures it; [`start`](InformerBuilder::start) consumes the
//!   builder (a second start cannot compile) and hands back the running [`Informer`]
//!   and the task that ends once it has shut down and every handler has drained.
//! - [`Informer::store`] is a read-only [`ReadOnly`](store_core::ReadOnly): the informer is the only
//!   writer of its cache.
//! - [`EventHandler`]s run on their own threads, in source order;
//!   [`HandlerRegistration`] follows one and removes it.
//! - [`InformerMetrics`]: queue depth, processing latency, store resource version,
//!   relists, watch restarts, handler backlog (also through the `metrics` facade).
//!
//! ## How an object travels
//!
//! The reflector writes into the queue through `queue_writer` (the transform runs
//! there, once per object); the `processor` task pops the queue in batches, applies
//! each to the cache in one write and hands the notifications to each handler's
//! `listener`, whose own OS thread calls the [`EventHandler`].
//!
//! ## Files
//!
//! - `builder`: [`InformerBuilder`] (setters, handlers registered before start,
//!   `start`).
//! - `informer`: the [`Informer`] handle and the state the informer's parts share.
//! - `processor`: the processing task (`process`, `distribute`) and the resync
//!   decision.
//! - `queue_writer`: the reflector's store, writing into the [`OrderedFifo`].
//! - `handler`: [`EventHandler`], [`HandlerFns`], [`HandlerRegistration`].
//! - `listener`: each handler's queue and thread; `progress`: its counters.
//! - `hooks`: the error hook and the transform (synced-or-stopped lives in the
//!   crate's `readiness`, shared with the reflector).
//! - `metrics`: [`InformerMetrics`]. The read-only view of the cache is store-core's
//!   [`ReadOnly`](store_core::ReadOnly).
//!
//! [`OrderedFifo`]: store_core::OrderedFifo

mod builder;
mod handler;
mod hooks;
// `informer/informer.rs`: the handle, named as DESIGN.md §1 lays the folder out.
#[allow(clippy::module_inception)]
mod informer;
mod listener;
mod metrics;
mod processor;
mod progress;
mod queue_writer;

pub use self::builder::InformerBuilder;
pub use self::handler::{EventHandler, HandlerFns, HandlerRegistration};
pub use self::informer::Informer;
pub use self::metrics::{InformerMetrics, LatencySummary};
