//! The order flow shared by the `order_producer`, `order_consumer` and `order_demo` examples and by
//! `tests/order_demo.rs` (each includes it with `#[path = "orders/mod.rs"] mod orders;`): the `Order` type,
//! the simulated shop (inventory, payment, shipping), its ledger, queue setup and the queue arguments of the
//! command line, the producer and consumer configuration, the exactly-once verification and the offline demo.

pub mod cli;
pub mod demo;
pub mod ledger;
pub mod model;
pub mod queues;
pub mod shop;
pub mod store;
pub mod verify;
pub mod worker;
