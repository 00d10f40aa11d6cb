//! Command-line definitions (clap) and their translation into library calls.

use crate::engine;
use crate::error::{exit, Result};
use crate::matrix::{self, Matrix, Overrides, Selection};
use crate::options::Options;
use crate::report::{self, progress::Progress};
use crate::store::Results;
use crate::workspace::Prepared;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "vmamatrix",
    version,
    about = "Build, measure and boot a kernel patch series across arch x SMP/UP x MMU/NOMMU"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// matrix.toml to read (default: ./matrix.toml when it exists)
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Kernel git tree (overrides matrix.toml `kernel`)
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
    Plan {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
    },
    /// Run the pipeline: configure, build and measure base and patched for the selected cells.
    Run {
        #[command(flatten)]
        common: Common,
        /// Cells to run: ids or arch=/smp=/mmu= terms, comma separated (e.g. arch=x86)
        #[arg(long, value_name = "SPEC")]
        only: Option<String>,
        /// Compiler jobs shared by all cells (default: number of CPUs)
        #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        jobs: Option<u32>,
        /// Cells worked on at once (default: jobs/4, at least 1; with
        /// --jobserver: jobs)
        #[arg(long, value_name = "N")]
        parallel: Option<usize>,
        /// Share one GNU make jobserver of --jobs slots between all builds
        /// (instead of splitting -j between the --parallel cells)
        #[arg(long)]
        jobserver: bool,
        /// Compile through ccache (cache in $VMAMATRIX_CACHE/ccache); hit
        /// rates go in the report
        #[arg(long)]
        ccache: bool,
        /// Trees to run, comma separated: base, patched, patch-1.. (default: all)
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        trees: Option<Vec<String>>,
        /// Ignore cached results and redo every stage
        #[arg(long)]
        force: bool,
        /// Also build every intermediate commit and name the first bad patch
        #[arg(long)]
        per_patch: bool,
        /// Fast path: configure and compile only the struct probe object (no
        /// vmlinux, no boot), for struct sizes of every cell in minutes
        #[arg(long)]
        structs_only: bool,
        /// Configure, build and measure, but boot nothing (a later run
        /// without it boots the kept images)
        #[arg(long)]
        no_boot: bool,
        /// Count the per-patch checks' findings (checkpatch --strict,
        /// sign-off, whitespace, new kernel-doc warnings) as regressions
        #[arg(long)]
        strict_checks: bool,
        /// Seconds the VMA workload runs in each guest after the vma tests
        /// (0: no workload)
        #[arg(long, value_name = "SECS", default_value = "5")]
        workload_secs: u32,
        /// Run only shard K of N of the selected cells (e.g. 2/4), for batch systems
        #[arg(long, value_name = "K/N", value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
    },
    /// Combine shard runs (results/<run-id> directories) into one run.
    Merge {
        /// Run directories of the shards
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Where the merged run goes (default: results/)
        #[arg(long, value_name = "DIR", default_value = "results")]
        results: PathBuf,
    },
    /// Show what the cache directory holds, or prune it.
    Cache {
        /// Remove what vmamatrix can make again (records, work trees,
        /// scratch repositories, ccache); never the kernel tree
        #[arg(long)]
        prune: bool,
        /// With --prune: only entries unchanged for this many days
        #[arg(long, value_name = "DAYS", requires = "prune")]
        older_than: Option<u64>,
    },
    /// Show the matrix table of a run (default: the latest).
    Report {
        /// matrix.toml whose `results` directory holds the run
        #[arg(long, value_name = "FILE")]
        matrix: Option<PathBuf>,
        /// Results directory (overrides `results`; default results/)
        #[arg(long, value_name = "DIR")]
        results: Option<PathBuf>,
        /// Run id or directory (default: latest)
        run: Option<String>,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Only the struct sizes, base -> patched per cell (markdown)
        #[arg(long)]
        struct_size: bool,
        /// Write the report to FILE (atomically) instead of stdout
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// With --format mail: one mbox message (for mutt -f or git
        /// send-email) instead of a bare RFC 5322 message
        #[arg(long)]
        mbox: bool,
    },
}

/// An mbox on stdin (`--series -`), kept in the cache under its hash so a
/// run can be repeated and its results name a file.
fn series_from_stdin() -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .map_err(|e| crate::Error::io("<stdin>", e))?;
    let hash = crate::series::hex(&Sha256::digest(&data));
    let path = matrix::cache_dir()
        .join("stdin")
        .join(format!("{}.mbox", &hash[..16]));
    crate::store::write_atomic(&path, &data)?;
    Ok(path)
}

fn load_matrix(c: &Common) -> Result<Matrix> {
    let path = c.matrix.clone().or_else(|| {
        let p = PathBuf::from("matrix.toml");
        p.is_file().then_some(p)
    });
    let series = match &c.series {
        Some(p) if p.as_os_str() == "-" => Some(series_from_stdin()?),
        other => other.clone(),
    };
    let ov = Overrides {
        kernel: c.kernel.clone(),
        series,
        results: c.results.clone(),
        base: c.base.clone(),
    };
    Matrix::load(path.as_deref(), &ov)
}

/// Run a parsed command line; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    match cli.cmd {
        Cmd::Plan { common, format } => {
            let m = load_matrix(&common)?;
            let cache = matrix::cache_dir();
            let sink = Progress::stderr();
            let p = Prepared::new(m, &cache, &sink)?;
            let opts = Options::new(cache);
            let cells = engine::plan(&p, &opts, &sink)?;
            match format {
                PlanFormat::Json => {
                    let v = serde_json::json!({
                        "base": p.applied.base,
                        "base_source": p.base_source,
                        "patched": p.applied.head(),
                        "series": p.series.info(Some(&p.applied)),
                        "cells": cells,
                    });
                    println!("{}", serde_json::to_string_pretty(&v).unwrap());
                }
                PlanFormat::Text => print!("{}", report::plan::text(&cells)),
            }
            Ok(exit::OK)
        }
        Cmd::Run {
            common,
            only,
            jobs,
            parallel,
            jobserver,
            ccache,
            trees,
            force,
            per_patch,
            shard,
            structs_only,
            workload_secs,
            strict_checks,
            no_boot,
        } => {
            let m = load_matrix(&common)?;
            let cache = matrix::cache_dir();
            let mut opts = Options::new(cache.clone());
            if let Some(j) = jobs {
                let j = j as usize;
                opts.jobs = j;
                opts.parallel = (j / 4).max(1);
            }
            opts.jobserver = jobserver;
            if jobserver {
                opts.parallel = opts.jobs;
            }
            if let Some(p) = parallel {
                opts.parallel = p.max(1);
            }
            opts.ccache = ccache;
            opts.trees = trees;
            opts.force = force;
            opts.per_patch = per_patch;
            opts.shard = shard;
            opts.structs_only = structs_only;
            opts.workload_secs = workload_secs;
            opts.strict_checks = strict_checks;
            opts.no_boot = no_boot;
            if let Some(spec) = &only {
                opts.selection = Selection::parse(spec)?;
                opts.selection.validate(&m.cells())?;
            }
            // The results directory is locked first, so a second run on it
            // is refused at once rather than waiting for the work directory.
            // The lock is an flock on the directory: bad input found after
            // it leaves nothing behind.
            let results = Results::lock(&m.results)?;
            let sink = Progress::stderr();
            let p = Prepared::new(m, &cache, &sink)?;
            let summary = engine::run(&p, &opts, &results, &sink)?;
            let rep = report::load(&results, summary);
            print!("{}", report::markdown(&rep));
            Ok(exit_code(&rep))
        }
        Cmd::Cache { prune, older_than } => {
            let cache = matrix::cache_dir();
            if prune {
                let age = older_than.map(|d| std::time::Duration::from_secs(d * 86400));
                let (n, bytes) = crate::cache::prune(&cache, age)?;
                println!("removed {n} entries, {} freed", report::human_bytes(bytes));
            }
            print!(
                "{}",
                report::cache_text(&cache, &crate::cache::inventory(&cache))
            );
            Ok(exit::OK)
        }
        Cmd::Merge { runs, results } => {
            let results = Results::lock(&results)?;
            let summary = crate::shard::merge(&runs, &results)?;
            let rep = report::load(&results, summary);
            print!("{}", report::markdown(&rep));
            Ok(exit_code(&rep))
        }
        Cmd::Report {
            matrix,
            results,
            run,
            format,
            struct_size,
            output,
            mbox,
        } => {
            if mbox && !matches!(format, ReportFormat::Mail) {
                return Err(crate::Error::Usage("--mbox needs --format mail".into()));
            }
            let m = load_matrix(&Common {
                matrix,
                kernel: None,
                series: None,
                base: None,
                results,
            })?;
            let (results, summary) = Results::open(&m.results).find_run(run.as_deref())?;
            let rep = report::load(&results, summary);
            let text = match format {
                ReportFormat::Md if struct_size => report::markdown::struct_sizes_only(&rep),
                ReportFormat::Md => report::markdown(&rep),
                ReportFormat::Json => report::json(&rep),
                ReportFormat::Junit => report::junit::junit(&rep),
                ReportFormat::Kcidb => report::kcidb::kcidb(
                    &rep,
                    &report::kcidb::Options::from_env().map_err(crate::Error::Usage)?,
                ),
                ReportFormat::Html => {
                    let dir = match output.as_deref().and_then(|p| p.parent()) {
                        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                        _ => PathBuf::from("."),
                    };
                    // The page's directory must exist to be resolved.
                    let _ = std::fs::create_dir_all(&dir);
                    report::html::html(&rep, &report::html::link_base(&dir, &rep.run_dir))
                }
                ReportFormat::Mail => {
                    let o = report::mail::MailOptions::now(&rep, mbox);
                    let m = report::mail::mail(&rep, &o);
                    for n in &m.notes {
                        eprintln!("vmamatrix: {n}");
                    }
                    m.text
                }
            };
            match output {
                Some(path) => crate::store::write_atomic(&path, text.as_bytes())?,
                None => print!("{text}"),
            }
            Ok(exit_code(&rep))
        }
    }
}

/// 0 when the run found no regression, 1 when it did, 5 when it has not
/// finished (its cells without results prove nothing).
fn exit_code(rep: &report::Report) -> i32 {
    if !rep.complete {
        exit::INCOMPLETE
    } else if rep.run.regressions.is_empty() {
        exit::OK
    } else {
        exit::REGRESSION
    }
}

/// `K/N` with 1 <= K <= N.
fn parse_shard(s: &str) -> std::result::Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 1/4")?;
    let k: usize = k.parse().map_err(|_| format!("bad shard index {k:?}"))?;
    let n: usize = n.parse().map_err(|_| format!("bad shard count {n:?}"))?;
    if k == 0 || n == 0 || k > n {
        return Err(format!("shard {k}/{n}: need 1 <= K <= N"));
    }
    Ok((k, n))
}
