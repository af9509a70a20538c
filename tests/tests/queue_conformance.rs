//! The behaviour every queue shares, run once per queue (`conformance::queue_cases`).

use conformance::fixtures::Item;
use conformance::queue_conformance;
use store_core::{DeltaFifo, Fifo, OrderedFifo};

queue_conformance!(fifo, Fifo<Item>);
queue_conformance!(delta_fifo, DeltaFifo<Item>);
queue_conformance!(ordered_fifo, OrderedFifo<Item>);
