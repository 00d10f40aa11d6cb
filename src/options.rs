//! How to run: selection, parallelism, cache use. Set by the command line,
//! read by the scheduler, the stages and the cache.

use crate::matrix::Selection;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Options {
    pub selection: Selection,
    /// Compiler jobs shared by all cells.
    pub jobs: usize,
    /// Cells worked on at once.
    pub parallel: usize,
    /// Ignore cached results.
    pub force: bool,
    /// Also build every intermediate commit of the series.
    pub per_patch: bool,
    /// Run only shard K of N (1-based) of the selected cells.
    pub shard: Option<(usize, usize)>,
    /// Seconds per cell that deal the shards (LPT); None: every N-th cell.
    pub shard_weights: Option<crate::shard::Weights>,
    /// Fast path: configure, compile only the probe object, measure structs.
    pub structs_only: bool,
    /// Share one GNU make jobserver of `jobs` slots between all builds
    /// instead of giving each of the `parallel` cells `jobs / parallel`.
    pub jobserver: bool,
    /// Compile through ccache (cache in `<cache>/ccache`).
    pub ccache: bool,
    /// Trees to work on, by name (base, patched, patch-1..): None = all.
    pub trees: Option<Vec<String>>,
    /// Build and measure only: no QEMU boot (a later run boots the kept
    /// images).
    pub no_boot: bool,
    /// Findings of the per-patch checks are regressions (exit 1).
    pub strict_checks: bool,
    /// Seconds the guest workload runs after the vma tests.
    pub workload_secs: u32,
    pub cache: PathBuf,
}

impl Options {
    pub fn new(cache: PathBuf) -> Options {
        let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
        Options {
            selection: Selection::default(),
            jobs,
            parallel: (jobs / 4).max(1),
            force: false,
            per_patch: false,
            shard: None,
            shard_weights: None,
            structs_only: false,
            jobserver: false,
            ccache: false,
            trees: None,
            no_boot: false,
            strict_checks: false,
            workload_secs: 5,
            cache,
        }
    }
}
