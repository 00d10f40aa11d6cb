//! Command-line definitions (clap) and their translation into library calls.

use crate::{doctor, init};

use crate::engine;
use crate::error::{exit, Error, Result};
use crate::events::{Event, Sink};
use crate::matrix::{self, Cell, Matrix, Overrides, Selection};
use crate::options::Options;
use crate::report::{self, progress::Progress};
use crate::shard::{self, Weights};
use crate::store::Results;
use crate::workspace::Prepared;
use std::path::PathBuf;

mod args;

pub use args::*;

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

/// Where the matrix and the kernel tree came from, to tell the user.
#[derive(Debug, Clone)]
pub struct Origin {
    /// "./matrix.toml", "--matrix FILE" or the built-in matrix.
    pub matrix: String,
    /// The matrix is the built-in one.
    pub builtin: bool,
    /// Why this kernel tree: "--kernel", "the kernel tree around the
    /// current directory", ...
    pub kernel: String,
}

/// Does matrix.toml `path` set `kernel`? (Matrix::load has read it already,
/// so it parses.)
fn sets_kernel(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        .is_some_and(|t| t.contains_key("kernel"))
}

/// The matrix of a command line: `--matrix`, else ./matrix.toml, else the
/// built-in one (from its copy in the cache). The kernel tree: `--kernel`,
/// else matrix.toml `kernel`, else the kernel tree around the current
/// directory, else $VMAMATRIX_CACHE/linux.
fn load_matrix(c: &Common) -> Result<(Matrix, Origin)> {
    let cache = matrix::cache_dir();
    let (path, builtin, what) = match &c.matrix {
        Some(p) => (p.clone(), false, format!("{} (--matrix)", p.display())),
        None if std::path::Path::new("matrix.toml").is_file() => (
            PathBuf::from("matrix.toml"),
            false,
            "./matrix.toml".to_string(),
        ),
        None => {
            let p = init::materialize(&cache)?;
            let what = format!("the built-in matrix ({})", p.display());
            (p, true, what)
        }
    };
    let series = match &c.series {
        Some(p) if p.as_os_str() == "-" => Some(series_from_stdin()?),
        other => other.clone(),
    };
    let mut ov = Overrides {
        kernel: c.kernel.clone(),
        series,
        results: c.results.clone(),
        base: c.base.clone(),
    };
    // The built-in matrix's copy lives in the cache; its results go where
    // they went without a matrix.toml: ./results.
    if builtin && ov.results.is_none() {
        ov.results = Some(PathBuf::from("results"));
    }
    let mut m = Matrix::load(Some(&path), &ov)?;
    let kernel = if c.kernel.is_some() {
        "--kernel".to_string()
    } else if !builtin && sets_kernel(&path) {
        format!("`kernel` in {}", path.display())
    } else if let Some(tree) = std::env::current_dir()
        .ok()
        .and_then(|d| init::enclosing_kernel_tree(&d))
    {
        m.kernel = tree;
        "the kernel tree around the current directory".to_string()
    } else {
        "the default, $VMAMATRIX_CACHE/linux, which scripts/setup.sh makes".to_string()
    };
    Ok((
        m,
        Origin {
            matrix: what,
            builtin,
            kernel,
        },
    ))
}

/// A matrix that plan and run can use: the built-in matrix's series
/// ("patches", vmamatrix's own) exists only in vmamatrix's checkout, so
/// elsewhere the user has to name one.
fn needs_series(m: &Matrix, origin: &Origin, c: &Common) -> Result<()> {
    if origin.builtin && c.series.is_none() && !m.series.exists() {
        return Err(Error::Setup(
            "no series: the built-in matrix's series (\"patches\") is vmamatrix's own; \
             pass --series DIR|MBOX (a git format-patch directory, an mbox, or - for an \
             mbox on stdin), or write a matrix.toml with `vmamatrix init`"
                .into(),
        ));
    }
    Ok(())
}

/// The lines that say which matrix and kernel tree a command uses.
fn origin_lines(m: &Matrix, origin: &Origin) -> String {
    format!(
        "matrix: {}\nkernel: {} ({})\n",
        origin.matrix,
        m.kernel.display(),
        origin.kernel
    )
}

/// Narrow `m` to the arches and axes of `cells` (a superset of them when
/// the selection is not a product); returns the ids of `cells`.
fn narrow(m: &mut Matrix, cells: &[Cell]) -> Vec<String> {
    m.arches.retain(|a| cells.iter().any(|c| &c.arch == a));
    m.smp.retain(|s| cells.iter().any(|c| c.smp == *s));
    m.mmu.retain(|x| cells.iter().any(|c| c.mmu == *x));
    cells.iter().map(Cell::id).collect()
}

/// Run a parsed command line; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    match cli.cmd {
        Cmd::Plan(a) => plan(a),
        Cmd::Run(a) => run(a),
        Cmd::Cache(a) => cache(a),
        Cmd::Merge(a) => merge(a),
        Cmd::Init(a) => init_dir(a),
        Cmd::Doctor(a) => doctor_cmd(a),
        Cmd::Report(a) => report_cmd(a),
    }
}

fn plan(a: PlanArgs) -> Result<i32> {
    let PlanArgs {
        common,
        only,
        format,
        shards,
        weights,
    } = a;
    let weights = weights.as_deref().map(Weights::load).transpose()?;
    let (mut m, origin) = load_matrix(&common)?;
    needs_series(&m, &origin, &common)?;
    // The engine plans every cell of the matrix: give it only the
    // arches and axes of the selection, and keep its cells.
    let selected = match &only {
        Some(spec) => {
            let sel = Selection::parse(spec)?;
            let all = m.cells();
            sel.validate(&all)?;
            let cells: Vec<Cell> = all.into_iter().filter(|c| sel.matches(c)).collect();
            Some(narrow(&mut m, &cells))
        }
        None => None,
    };
    let cache = matrix::cache_dir();
    let sink = Progress::stderr();
    let head = origin_lines(&m, &origin);
    let p = Prepared::new(m, &cache, &sink)?;
    let opts = Options::new(cache);
    let mut cells = engine::plan(&p, &opts, &sink)?;
    if let Some(ids) = &selected {
        cells.retain(|c| ids.contains(&c.id));
    }
    // The cells `run --only ... --shard K/N` deals, in its order.
    let dealt: Vec<Cell> = p
        .matrix
        .cells()
        .into_iter()
        .filter(|c| selected.as_ref().is_none_or(|ids| ids.contains(&c.id())))
        .collect();
    match format {
        PlanFormat::Json => {
            let v = serde_json::json!({
                "matrix": origin.matrix,
                "kernel": p.matrix.kernel,
                "kernel_source": origin.kernel,
                "base": p.applied.base,
                "base_source": p.base_source,
                "patched": p.applied.head(),
                "series": p.series.info(Some(&p.applied)),
                "cells": cells,
                "shards": shards.map(|n| {
                    shard::deal(&dealt, n as usize, weights.as_ref())
                        .iter()
                        .enumerate()
                        .map(|(k, d)| serde_json::json!({
                            "shard": format!("{}/{n}", k + 1),
                            "cells": d.iter().map(Cell::id).collect::<Vec<_>>(),
                            "predicted_secs": weights.as_ref().map(|w| d.iter().map(|c| w.of(&c.id())).sum::<f64>()),
                        }))
                        .collect::<Vec<_>>()
                }),
                "weights": weights.as_ref().map(|w| serde_json::json!({"file": w.file, "digest": w.digest})),
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap());
        }
        PlanFormat::Text => {
            print!("{head}base: {} ({})\n\n", p.applied.base, p.base_source);
            out(&report::plan::text(&cells))?;
            if let Some(n) = shards {
                print!(
                    "\n{}",
                    report::plan::shards(&dealt, n as usize, weights.as_ref())
                );
            }
        }
    }
    Ok(exit::OK)
}

fn run(a: RunArgs) -> Result<i32> {
    let RunArgs {
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
        weights,
        structs_only,
        workload_secs,
        strict_checks,
        no_boot,
    } = a;
    let (m, origin) = load_matrix(&common)?;
    needs_series(&m, &origin, &common)?;
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
    opts.shard_weights = weights.as_deref().map(Weights::load).transpose()?;
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
    for line in origin_lines(&m, &origin).lines() {
        sink.event(Event::Notice { msg: line.into() });
    }
    let p = Prepared::new(m, &cache, &sink)?;
    let summary = engine::run(&p, &opts, &results, &sink)?;
    let rep = report::load(&results, summary);
    out(&report::markdown(&rep))?;
    Ok(exit_code(&rep))
}

/// A report on standard output: a reader that stops early (`| head`) ends
/// the output, not vmamatrix with a panic.
fn out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(crate::Error::io("<standard output>", e)),
        Ok(()) => Ok(()),
    }
}

fn cache(a: CacheArgs) -> Result<i32> {
    let CacheArgs { prune, older_than } = a;
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

fn merge(a: MergeArgs) -> Result<i32> {
    let MergeArgs { runs, results } = a;
    // A merge it refuses leaves no results directory behind.
    crate::shard::shards(&runs)?;
    let results = Results::lock(&results)?;
    let summary = crate::shard::merge(&runs, &results)?;
    let rep = report::load(&results, summary);
    out(&report::markdown(&rep))?;
    Ok(exit_code(&rep))
}

fn init_dir(a: InitArgs) -> Result<i32> {
    let InitArgs { dir, force } = a;
    let written = init::write(&dir, force)?;
    println!(
        "wrote {} files to {}: matrix.toml (the built-in matrix; set `series`, \
             or pass --series) and its configs/",
        written.len(),
        dir.display()
    );
    Ok(exit::OK)
}

fn doctor_cmd(a: DoctorArgs) -> Result<i32> {
    let DoctorArgs {
        matrix,
        kernel,
        base,
    } = a;
    let (m, origin) = load_matrix(&Common {
        matrix,
        kernel,
        series: None,
        base,
        results: None,
    })?;
    println!("matrix: {}", origin.matrix);
    let checks = doctor::checks(&m, &origin.kernel, &matrix::cache_dir());
    let (text, code) = doctor::report(&checks);
    print!("{text}");
    Ok(code)
}

fn report_cmd(a: ReportArgs) -> Result<i32> {
    let ReportArgs {
        matrix,
        results,
        run,
        format,
        struct_size,
        timing,
        weights,
        output,
        mbox,
    } = a;
    if weights && !matches!(format, ReportFormat::Md) {
        return Err(crate::Error::Usage(
            "--weights prints a TOML weights file: leave out --format".into(),
        ));
    }
    // Each prints one markdown table; with another format it would be
    // ignored without a word.
    for (on, flag) in [(struct_size, "--struct-size"), (timing, "--timing")] {
        if on && !matches!(format, ReportFormat::Md) {
            return Err(crate::Error::Usage(format!(
                "{flag} prints one markdown table: leave out --format (the JSON report has the same figures)"
            )));
        }
    }
    if mbox && !matches!(format, ReportFormat::Mail) {
        return Err(crate::Error::Usage("--mbox needs --format mail".into()));
    }
    let (m, _) = load_matrix(&Common {
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
        ReportFormat::Md if timing => report::markdown::timing_only(&rep),
        ReportFormat::Md if weights => report::plan::weights_toml(&rep),
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
        None => out(&text)?,
    }
    Ok(exit_code(&rep))
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
