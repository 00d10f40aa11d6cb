//! The command line: clap's definitions of vmamatrix's commands and their
//! options (dispatched in `cli/mod.rs`).

use super::parse_shard;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "vmamatrix",
    // The source identity too, as a run's header names the vmamatrix that
    // made it.
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("VMAMATRIX_SOURCE_ID"), ")"),
    about = "Build, measure and boot a kernel patch series across arch x SMP/UP x MMU/NOMMU"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// matrix.toml to read (default: ./matrix.toml when it exists, else the
    /// built-in one; `vmamatrix init` writes it out)
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Kernel git tree (overrides matrix.toml `kernel`; default: the
    /// kernel tree around the current directory, else
    /// $VMAMATRIX_CACHE/linux)
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Series: format-patch directory, mbox, or `-` for an mbox on stdin
    /// (`b4 am -o - MSGID | vmamatrix run --series -`) (overrides `series`)
    #[arg(long, value_name = "PATH")]
    pub series: Option<PathBuf>,
    /// Base revision in the kernel tree (overrides `base`)
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Results directory (overrides `results`; default results/)
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    /// JUnit XML (GitLab, Jenkins): a suite per cell, a case per tree and stage
    Junit,
    /// KCIDB I/O JSON (KernelCI); env VMAMATRIX_KCIDB_ORIGIN, _LOG_URL, _TREE
    Kcidb,
    /// One self-contained HTML page; its log links are relative to the
    /// directory of --output (or the current directory)
    Html,
    /// A plain-text reply to the series' thread (RFC 5322; see --mbox)
    Mail,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Classify every cell (feasible or why not) and print the make commands, without building.
    Plan(PlanArgs),
    /// Run the pipeline: configure, build and measure base and patched for the selected cells.
    Run(RunArgs),
    /// Combine shard runs (results/<run-id> directories) into one run.
    Merge(MergeArgs),
    /// Show what the cache directory holds, or prune it.
    Cache(CacheArgs),
    /// Write the built-in matrix.toml and configs/ into DIR, for editing.
    Init(InitArgs),
    /// Check that this machine has what the matrix needs: toolchain, QEMU
    /// per arch, guest test compilers, kernel tree, disk space.
    Doctor(DoctorArgs),
    /// Show the matrix table of a run (default: the latest).
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: Common,
    /// Cells to plan: ids or arch=/smp=/mmu= terms, comma separated (e.g. arch=x86)
    #[arg(long, value_name = "SPEC")]
    pub only: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Also show how `run --shard K/N` deals the selected cells to N
    /// shards, with each shard's predicted seconds
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,
    /// Seconds per cell for that deal (`report --weights` of an earlier run)
    #[arg(long, value_name = "FILE", requires = "shards")]
    pub weights: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: Common,
    /// Cells to run: ids or arch=/smp=/mmu= terms, comma separated (e.g. arch=x86)
    #[arg(long, value_name = "SPEC")]
    pub only: Option<String>,
    /// Compiler jobs shared by all cells (default: number of CPUs)
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Cells worked on at once (default: jobs/4, at least 1; with
    /// --jobserver: jobs)
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Share one GNU make jobserver of --jobs slots between all builds
    /// (instead of splitting -j between the --parallel cells)
    #[arg(long)]
    pub jobserver: bool,
    /// Compile through ccache (cache in $VMAMATRIX_CACHE/ccache); hit
    /// rates go in the report
    #[arg(long)]
    pub ccache: bool,
    /// Trees to run, comma separated: base, patched, patch-1.. (default: all)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub trees: Option<Vec<String>>,
    /// Ignore cached results and redo every stage
    #[arg(long)]
    pub force: bool,
    /// Also build every intermediate commit and name the first bad patch
    #[arg(long)]
    pub per_patch: bool,
    /// Fast path: configure and compile only the struct probe object (no
    /// vmlinux, no boot), for struct sizes of every cell in minutes
    #[arg(long)]
    pub structs_only: bool,
    /// Configure, build and measure, but boot nothing (a later run
    /// without it boots the kept images)
    #[arg(long)]
    pub no_boot: bool,
    /// Count the per-patch checks' findings (checkpatch --strict,
    /// sign-off, whitespace, new kernel-doc warnings) as regressions
    #[arg(long)]
    pub strict_checks: bool,
    /// Seconds the VMA workload runs in each guest after the vma tests
    /// (0: no workload)
    #[arg(long, value_name = "SECS", default_value = "5")]
    pub workload_secs: u32,
    /// Run only shard K of N of the selected cells (e.g. 2/4), for batch systems
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Deal the shards by these seconds per cell (`report --weights`
    /// of an earlier run) so that they finish close together; every
    /// shard must be given the same file
    #[arg(long, value_name = "FILE", requires = "shard")]
    pub weights: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Run directories of the shards
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where the merged run goes (default: results/)
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub results: PathBuf,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Remove what vmamatrix can make again (records, work trees,
    /// scratch repositories, ccache); never the kernel tree
    #[arg(long)]
    pub prune: bool,
    /// With --prune: only entries unchanged for this many days
    #[arg(long, value_name = "DAYS", requires = "prune")]
    pub older_than: Option<u64>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write them
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that exist
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// matrix.toml to read (default: ./matrix.toml when it exists, else
    /// the built-in one)
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Kernel git tree (overrides matrix.toml `kernel`)
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Base revision in the kernel tree (overrides `base`)
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// matrix.toml whose `results` directory holds the run
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Results directory (overrides `results`; default results/)
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// Run id or directory (default: latest)
    pub run: Option<String>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: ReportFormat,
    /// Only the struct sizes, base -> patched per cell (markdown)
    #[arg(long)]
    pub struct_size: bool,
    /// Only the seconds per cell, tree and stage (markdown)
    #[arg(long, conflicts_with = "struct_size")]
    pub timing: bool,
    /// Only the seconds per cell (all trees and stages), as the TOML
    /// weights file of `run --shard K/N --weights FILE`
    #[arg(long, conflicts_with_all = ["struct_size", "timing"])]
    pub weights: bool,
    /// Write the report to FILE (atomically) instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --format mail: one mbox message (for mutt -f or git
    /// send-email) instead of a bare RFC 5322 message
    #[arg(long)]
    pub mbox: bool,
}
