//! vmamatrix: validate a Linux kernel patch series across an
//! architecture x SMP/UP x MMU/NOMMU matrix. The pipeline, one module per
//! stage: series -> matrix -> kconfig (configure) -> build -> measure ->
//! report, scheduled by the engine, which emits events and never prints.

pub mod arch;
pub mod boot;
pub mod build;
pub mod cache;
pub mod checks;
pub mod cli;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod events;
pub mod init;
pub mod jobserver;
pub mod kconfig;
pub mod make;
pub mod matrix;
pub mod measure;
pub mod model;
pub mod options;
pub mod proc;
pub mod regress;
pub mod report;
pub mod selftests;
pub mod series;
pub mod shard;
pub mod stage;
pub mod store;
pub mod vmatest;
pub mod workspace;

pub use error::{Error, Result};
