//! The engine: prepares the series, brings the shared source directory to
//! each tree in turn (base, then patched), and runs the stages of every
//! selected cell on it in parallel: configure -> build -> measure. It emits
//! events and writes records; it never prints.

use crate::boot;
use crate::build;
use crate::error::{Error, Result};
use crate::events::{Event, Sink, Stage, Tree};
use crate::jobserver::Jobserver;
use crate::kconfig::{self, KconfigIndex};
use crate::matrix::{Cell, Matrix, Selection};
use crate::measure;
use crate::proc::{self, Outcome};
use crate::regress;
use crate::series::{self, Applied, Scratch, Series};
use crate::shard;
use crate::store::{
    self, BuildData, CellEntry, ConfigureData, MeasureData, Record, Results, RunSummary, Status,
};
use crate::vmatest;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How to run: selection, parallelism, cache use.
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
    /// Fast path: configure, compile only the probe object, measure structs.
    pub structs_only: bool,
    /// Share one GNU make jobserver of `jobs` slots between all builds
    /// instead of giving each of the `parallel` cells `jobs / parallel`.
    pub jobserver: bool,
    /// Compile through ccache (cache in `<cache>/ccache`).
    pub ccache: bool,
    /// Trees to work on, by name (base, patched, patch-1..): None = all.
    pub trees: Option<Vec<String>>,
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
            structs_only: false,
            jobserver: false,
            ccache: false,
            trees: None,
            cache,
        }
    }
}

/// A matrix with its series applied, ready to plan or run.
pub struct Prepared {
    pub matrix: Matrix,
    pub series: Series,
    pub applied: Applied,
    /// vmamatrix's working directory for this kernel tree (source + builds).
    pub work: PathBuf,
    scratch: PathBuf,
    _lock: File,
}

impl Prepared {
    /// Load the series, apply it in the scratch repository and lock the
    /// working directory for this kernel tree.
    pub fn new(matrix: Matrix, cache: &Path, sink: &dyn Sink) -> Result<Prepared> {
        if !matrix.kernel.join("Makefile").is_file() && !matrix.kernel.join(".git").exists() {
            return Err(Error::Setup(format!(
                "kernel tree {} not found (run scripts/setup.sh, or pass --kernel)",
                matrix.kernel.display()
            )));
        }
        if !matrix.series.exists() {
            return Err(Error::Setup(format!(
                "series {} not found (pass --series DIR|MBOX)",
                matrix.series.display()
            )));
        }
        let series = Series::load(&matrix.series)?;
        let (scratch, base) = Scratch::open(&matrix.kernel, cache, &matrix.base)?;
        let applied = scratch.apply(&series, &base)?;
        sink.event(Event::SeriesApplied {
            base: applied.base.clone(),
            head: applied.head().to_string(),
            patches: series.patches.len(),
        });
        let key = scratch
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let work = cache.join("work").join(key);
        std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        let lock_path = work.join("lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            sink.event(Event::Notice {
                msg: format!(
                    "waiting for another vmamatrix that is using {}",
                    work.display()
                ),
            });
            while lock.try_lock().is_err() {
                if proc::interrupted() {
                    return Err(Error::Interrupted);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        let scratch_path = scratch.path.clone();
        scratch.cleanup(&series)?;
        Ok(Prepared {
            matrix,
            series,
            applied,
            work,
            scratch: scratch_path,
            _lock: lock,
        })
    }

    fn src(&self) -> PathBuf {
        self.work.join("src")
    }

    fn build_dir(&self, cell: &Cell) -> PathBuf {
        self.work.join("build").join(cell.id())
    }

    /// Bring the shared source directory to `commit`.
    fn checkout(&self, tree: &Tree, commit: &str, sink: &dyn Sink) -> Result<()> {
        let t = Instant::now();
        let how = series::export_tree(&self.scratch, commit, &self.src())?;
        sink.event(Event::TreeReady {
            tree: tree.clone(),
            commit: commit.to_string(),
            how: format!("{how:?}"),
            secs: t.elapsed().as_secs_f64(),
        });
        Ok(())
    }
}

/// The plan of one cell: feasibility and the commands that reproduce it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanCell {
    pub id: String,
    pub arch: String,
    pub smp: String,
    pub mmu: String,
    pub feasible: bool,
    pub reason: Option<String>,
    pub warnings: Vec<kconfig::Dropped>,
    pub tracked: std::collections::BTreeMap<String, String>,
    pub commands: Vec<String>,
}

/// Configure every cell at the base and classify it, without building.
pub fn plan(p: &Prepared, opts: &Options, sink: &dyn Sink) -> Result<Vec<PlanCell>> {
    p.checkout(&Tree::Base, &p.applied.base, sink)?;
    let ctx = Ctx::new(p, opts, None, sink)?;
    let cells = p.matrix.cells();
    let out = pool(opts.parallel.max(opts.jobs))?.install(|| {
        cells
            .par_iter()
            .map(|cell| {
                let (rec, verdict) = ctx.configure(cell, &Tree::Base, &p.applied.base, None)?;
                let mut commands = rec.commands.clone();
                commands.push(ctx.build_command(cell).1);
                Ok(PlanCell {
                    id: cell.id(),
                    arch: cell.arch.clone(),
                    smp: cell.smp.name().into(),
                    mmu: cell.mmu.name().into(),
                    feasible: verdict.feasible,
                    reason: verdict.reason.clone(),
                    warnings: verdict.warnings.clone(),
                    tracked: verdict.tracked.clone(),
                    commands,
                })
            })
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(out)
}

/// Run the whole pipeline for the selected cells; returns the summary.
pub fn run(p: &Prepared, opts: &Options, results: &Results, sink: &dyn Sink) -> Result<RunSummary> {
    let t0 = Instant::now();
    let cells = p.matrix.cells();
    opts.selection.validate(&cells)?;
    let selected: Vec<Cell> = cells
        .iter()
        .filter(|c| opts.selection.matches(c))
        .cloned()
        .collect();
    let selected = shard::shard(selected, opts.shard);
    let started = store::now_utc();
    let mut run_id = store::run_id_from(&started);
    let mut n = 1;
    while results.run_dir(&run_id).exists() {
        n += 1;
        run_id = format!("{}.{n}", store::run_id_from(&started));
    }
    let mut summary = RunSummary {
        schema: store::SCHEMA,
        run_id: run_id.clone(),
        vmamatrix: VERSION.into(),
        started,
        finished: None,
        kernel: p.matrix.kernel.display().to_string(),
        base: p.applied.base.clone(),
        patched: p.applied.head().to_string(),
        toolchain: p.matrix.toolchain.clone(),
        matrix: p.matrix.file.as_ref().map(|f| f.display().to_string()),
        series: p.series.info(Some(&p.applied)),
        structs: p.matrix.structs.clone(),
        cells: cells
            .iter()
            .map(|c| CellEntry {
                id: c.id(),
                arch: c.arch.clone(),
                smp: c.smp.name().into(),
                mmu: c.mmu.name().into(),
                selected: selected.contains(c),
            })
            .collect(),
        regressions: Vec::new(),
        interrupted: false,
        trees: vec![],
        first_bad: Default::default(),
        shard: opts.shard,
    };
    results.write_summary(&summary)?;
    sink.event(Event::RunStarted {
        run_id: run_id.clone(),
        cells: cells.iter().map(Cell::id).collect(),
        selected: selected.iter().map(Cell::id).collect(),
    });

    let ctx = Ctx::new(p, opts, Some((results, run_id.as_str())), sink)?;
    let trees = select_trees(trees(&p.applied, opts.per_patch), opts.trees.as_deref())?;
    let pool = pool(opts.parallel)?;
    for (tree, commit) in &trees {
        // Only touch the source tree when some cell needs a real stage.
        let host_cache = opts
            .cache
            .join("records/host")
            .join(format!("{commit}.json"));
        let host_cached = !opts.force && host_cache.exists();
        if !host_cached
            || selected
                .iter()
                .any(|c| ctx.cache_state(c, commit) != CacheState::Complete)
        {
            p.checkout(tree, commit, sink)?;
        }
        ctx.host_vmatest(tree, commit, &host_cache, host_cached)?;
        if proc::interrupted() {
            break;
        }
        let done = pool.install(|| {
            selected
                .par_iter()
                .map(|cell| ctx.cell_tree(cell, tree, commit))
                .collect::<Result<Vec<()>>>()
        });
        match done {
            Err(Error::Interrupted) => break,
            Err(e) => return Err(e),
            Ok(_) if proc::interrupted() => break,
            Ok(_) => {}
        }
    }
    summary.regressions = regress::regressions(results, &run_id, &selected);
    summary.trees = trees.iter().map(|(t, _)| t.name()).collect();
    if opts.per_patch {
        summary.first_bad =
            regress::first_bad(results, &run_id, &selected, &trees, p.applied.commits.len());
    }
    summary.interrupted = proc::interrupted();
    summary.finished = Some(store::now_utc());
    results.write_summary(&summary)?;
    sink.event(Event::RunFinished {
        run_dir: results.run_dir(&run_id).display().to_string(),
        regressions: summary.regressions.clone(),
        secs: t0.elapsed().as_secs_f64(),
    });
    if summary.interrupted {
        return Err(Error::Interrupted);
    }
    Ok(summary)
}

/// The trees a run builds, in order: base, each intermediate patch when
/// `per_patch`, then the whole series.
pub fn trees(applied: &Applied, per_patch: bool) -> Vec<(Tree, String)> {
    let mut out = vec![(Tree::Base, applied.base.clone())];
    if per_patch {
        for (i, c) in applied
            .commits
            .iter()
            .enumerate()
            .take(applied.commits.len().saturating_sub(1))
        {
            out.push((Tree::Patch(i + 1), c.clone()));
        }
    }
    out.push((Tree::Patched, applied.head().to_string()));
    out
}

/// Keep the trees `only` names (all when None); a name that is no tree of
/// this run is an error.
fn select_trees(all: Vec<(Tree, String)>, only: Option<&[String]>) -> Result<Vec<(Tree, String)>> {
    let Some(only) = only else { return Ok(all) };
    for name in only {
        if !all.iter().any(|(t, _)| t.name() == *name) {
            let names: Vec<String> = all.iter().map(|(t, _)| t.name()).collect();
            return Err(Error::Setup(format!(
                "--trees: no tree {name:?} in this run (trees: {})",
                names.join(", ")
            )));
        }
    }
    Ok(all
        .into_iter()
        .filter(|(t, _)| only.contains(&t.name()))
        .collect())
}

fn pool(n: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .build()
        .map_err(|e| Error::Setup(format!("thread pool: {e}")))
}

/// Everything the stages of one run share.
struct Ctx<'a> {
    p: &'a Prepared,
    opts: &'a Options,
    out: Option<(&'a Results, &'a str)>,
    sink: &'a dyn Sink,
    kconfig: Mutex<HashMap<(String, String), Arc<KconfigIndex>>>,
    /// Initramfs built this run, by directory.
    initramfs_lock: Mutex<HashMap<PathBuf, Initramfs>>,
    touched: Vec<String>,
    /// The shared make jobserver (`--jobserver`).
    jobserver: Option<Jobserver>,
    /// `CC=ccache <compiler>` (`--ccache`).
    ccache_cc: Option<String>,
}

/// An initramfs ready to boot.
#[derive(Debug, Clone)]
struct Initramfs {
    path: PathBuf,
    commands: Vec<String>,
    /// Why the vma tests are not in it.
    note: Option<String>,
    /// The vma tests are in it.
    payload: bool,
}

/// What the result cache holds for a cell at a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheState {
    /// Nothing usable: run every stage.
    Miss,
    /// Every stage's record: replay them.
    Complete,
    /// Records and the boot image, but no current boot record.
    NeedsBoot,
}

/// The boot image of a cell-tree, kept beside its records.
const IMAGE: &str = "boot-image";

impl<'a> Ctx<'a> {
    fn new(
        p: &'a Prepared,
        opts: &'a Options,
        out: Option<(&'a Results, &'a str)>,
        sink: &'a dyn Sink,
    ) -> Result<Ctx<'a>> {
        let jobserver = opts
            .jobserver
            .then(|| Jobserver::new(opts.jobs))
            .transpose()
            .map_err(|e| Error::Setup(format!("make jobserver pipe: {e}")))?;
        let ccache_cc = opts
            .ccache
            .then(|| build::compiler(&p.matrix.toolchain).map(|cc| format!("ccache {cc}")))
            .transpose()?;
        Ok(Ctx {
            p,
            opts,
            out,
            sink,
            jobserver,
            ccache_cc,
            kconfig: Mutex::new(HashMap::new()),
            initramfs_lock: Mutex::new(HashMap::new()),
            touched: p.series.touched_files(),
        })
    }

    fn srcarch(&self, cell: &Cell) -> String {
        self.p.matrix.facts(cell).srcarch(&cell.arch).to_string()
    }

    /// Compiler jobs of one build: its share of the budget, or the whole
    /// budget when a jobserver keeps the sum within it.
    fn jobs(&self) -> usize {
        match self.jobserver {
            Some(_) => self.opts.jobs,
            None => (self.opts.jobs / self.opts.parallel.max(1)).max(1),
        }
    }

    /// Jobs for the makes outside the jobserver (guest test builds): a
    /// share of the budget, or one when the jobserver hands out the rest.
    fn side_jobs(&self) -> usize {
        match self.jobserver {
            Some(_) => 1,
            None => self.jobs(),
        }
    }

    fn make(&self) -> Command {
        let mut c = Command::new("make");
        c.arg("-C").arg(self.p.src());
        c.env("KBUILD_BUILD_TIMESTAMP", "vmamatrix")
            .env("KBUILD_BUILD_USER", "vmamatrix")
            .env("KBUILD_BUILD_HOST", "vmamatrix");
        if let Some(cc) = &self.ccache_cc {
            // Depend mode: kbuild passes -Wp,-MMD, so ccache keys on the
            // compiler's own dependency file and does not run the
            // preprocessor a second time on a miss. (It did not make the
            // cold build cheaper here: see BENCHMARKS.md.)
            c.arg(format!("CC={cc}"))
                .env("CCACHE_DIR", self.opts.cache.join("ccache"))
                .env("CCACHE_DEPEND", "1");
        }
        c
    }

    fn build_command(&self, cell: &Cell) -> (Vec<String>, String) {
        let arch = self.p.matrix.facts(cell);
        let target = if self.opts.structs_only {
            self.probe_object()
        } else {
            arch.target().to_string()
        };
        let args = build::build_args(
            &self.srcarch(cell),
            &self.p.matrix.toolchain,
            &self.p.build_dir(cell),
            self.jobs(),
            &target,
        );
        let mut full = vec!["-C".to_string(), self.p.src().display().to_string()];
        full.extend(args.iter().cloned());
        (args, proc::shell_line("make", &full))
    }

    /// `mm/init-mm.o` for probe `mm/init-mm.c`.
    fn probe_object(&self) -> String {
        format!("{}.o", self.p.matrix.probe.trim_end_matches(".c"))
    }

    fn log_dir(&self, cell: &Cell, tree: &Tree) -> PathBuf {
        match self.out {
            Some((r, id)) => r.cell_dir(id, &cell.id(), &tree.name()),
            None => self.p.build_dir(cell).join("vmamatrix-plan"),
        }
    }

    fn write(&self, r: &Record) -> Result<()> {
        if let Some((res, id)) = self.out {
            res.write_record(id, r)?;
        }
        Ok(())
    }

    fn started(&self, cell: &Cell, tree: &Tree, stage: Stage) {
        self.sink.event(Event::StageStarted {
            cell: cell.id(),
            tree: tree.clone(),
            stage,
        });
    }

    fn finished(&self, r: &Record, tree: &Tree, summary: String) {
        self.sink.event(Event::StageFinished {
            cell: r.cell.clone(),
            tree: tree.clone(),
            stage: r.stage,
            status: format!("{:?}", r.status).to_lowercase(),
            summary,
            secs: r.secs,
            cached: r.cached,
        });
    }

    fn record(&self, cell: &Cell, tree: &Tree, stage: Stage, commit: &str) -> Record {
        Record::new(&cell.id(), &tree.name(), stage, commit)
    }

    /// Inputs that decide every result of a cell at a commit.
    fn cache_key(&self, cell: &Cell, commit: &str) -> Option<String> {
        let frags = kconfig::fragments(&self.p.matrix, cell).ok()?;
        let (text, _) = kconfig::merge(&frags).ok()?;
        let m = &self.p.matrix;
        let facts = m.facts(cell);
        // Only what decides configure, build and measure results; the boot
        // recipe is not part of it (a cached build is booted again when its
        // boot record is missing).
        let mut key = serde_json::json!({
            "vmamatrix": VERSION,
            "cell": cell.id(),
            "commit": commit,
            "fragments": text,
            "toolchain": m.toolchain,
            "srcarch": facts.srcarch(&cell.arch),
            "target": facts.target(),
            "image": facts.image,
            "structs": m.structs,
            "probe": m.probe,
            "track": m.track,
        });
        // The series' file list decides the coverage of its own trees only:
        // the base key leaves it out, so base results are shared by every
        // series on the same base.
        if commit != self.p.applied.base {
            key["touched"] = serde_json::json!(self.touched);
        }
        // Only present when set, so full-run keys stay as they were.
        if self.opts.structs_only {
            key["structs_only"] = serde_json::Value::Bool(true);
        }
        Some(series::hex(&Sha256::digest(key.to_string().as_bytes())))
    }

    fn cache_dir(&self, cell: &Cell, commit: &str) -> Option<PathBuf> {
        self.cache_key(cell, commit)
            .map(|k| self.opts.cache.join("records").join(&k[..2]).join(k))
    }

    /// What the cache holds for a cell at a commit.
    fn cache_state(&self, cell: &Cell, commit: &str) -> CacheState {
        let Some(cd) = self.cache_dir(cell, commit) else {
            return CacheState::Miss;
        };
        if self.opts.force || !cd.join("complete").exists() {
            return CacheState::Miss;
        }
        let built = store::read_json::<Record>(&cd.join("build.json"))
            .is_ok_and(|r| r.status == Status::Ok);
        let key = boot::boot_key(&self.p.matrix.facts(cell));
        let booted = store::read_json::<Record>(&cd.join("boot.json"))
            .is_ok_and(|r| r.boot.is_some_and(|b| b.key == key));
        if !built || booted || self.opts.structs_only {
            CacheState::Complete
        } else if cd.join(IMAGE).exists() {
            CacheState::NeedsBoot
        } else {
            CacheState::Miss
        }
    }

    /// configure -> build -> measure -> boot for one cell at one tree.
    fn cell_tree(&self, cell: &Cell, tree: &Tree, commit: &str) -> Result<()> {
        if proc::interrupted() {
            return Ok(());
        }
        let dir = self.log_dir(cell, tree);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        match self.cache_state(cell, commit) {
            CacheState::Complete => return self.replay(cell, tree, commit, &dir),
            CacheState::NeedsBoot => {
                // Built and measured before, not booted with this recipe:
                // boot the kept image.
                self.replay(cell, tree, commit, &dir)?;
                self.boot(cell, tree, commit, &dir)?;
                self.store_cache(cell, commit, &dir);
                return Ok(());
            }
            CacheState::Miss => {}
        }
        let (_, verdict) = self.configure(cell, tree, commit, Some(&dir))?;
        if verdict.feasible && !proc::interrupted() {
            let brec = self.build(cell, tree, commit, &dir)?;
            if brec.status == Status::Ok && !proc::interrupted() {
                self.measure(cell, tree, commit, &dir)?;
                if !self.opts.structs_only {
                    self.boot(cell, tree, commit, &dir)?;
                }
            }
        }
        if !proc::interrupted() {
            self.store_cache(cell, commit, &dir);
        }
        Ok(())
    }

    /// tools/testing/vma on the host for one tree (cached by commit).
    fn host_vmatest(&self, tree: &Tree, commit: &str, cache: &Path, cached: bool) -> Result<()> {
        let Some((res, id)) = self.out else {
            return Ok(());
        };
        let cell = Cell {
            arch: "host".into(),
            smp: crate::matrix::Smp::Smp,
            mmu: crate::matrix::Mmu::Mmu,
        };
        let dir = res.root.join(id).join("host").join(tree.name());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut r = if cached {
            let mut r: Record = store::read_json(cache)?;
            r.cached = true;
            r
        } else {
            self.sink.event(Event::StageStarted {
                cell: "host".into(),
                tree: tree.clone(),
                stage: Stage::VmaTest,
            });
            let t = Instant::now();
            let data = vmatest::host(&self.p.src(), self.opts.jobs, &dir.join("vmatest.log"))
                .map_err(|e| Error::Setup(format!("tools/testing/vma: {e}")))?;
            let mut r = self.record(&cell, tree, Stage::VmaTest, commit);
            r.cell = "host".into();
            r.status = if data.passed() {
                Status::Ok
            } else {
                Status::Failed
            };
            r.secs = t.elapsed().as_secs_f64();
            r.commands = data.commands.clone();
            r.vmatest = Some(data);
            if !proc::interrupted() {
                store::write_json(cache, &r)?;
            }
            r
        };
        r.tree = tree.name();
        store::write_json(&dir.join("vmatest.json"), &r)?;
        let summary = match r.vmatest.as_ref().and_then(|d| d.tests) {
            Some((n, p, f)) => format!("{n} tests run, {p} passed, {f} failed"),
            None => r
                .vmatest
                .as_ref()
                .map(|d| d.outcome.clone())
                .unwrap_or_default(),
        };
        self.finished(&r, tree, summary);
        Ok(())
    }

    /// Build (once per architecture variant) the initramfs with /init.
    /// The initramfs for a cell at `commit`: /init (built once per run and
    /// arch variant) plus, where the arch allows, the tree's
    /// tools/testing/vma built for the guest. Returns the archive, the
    /// commands run, and why the vma tests are not in it when they are not.
    fn initramfs(
        &self,
        cell: &Cell,
        commit: &str,
        dir: &Path,
    ) -> std::result::Result<Initramfs, String> {
        let mut built = self.initramfs_lock.lock().unwrap();
        let facts = self.p.matrix.facts(cell);
        let triple = facts
            .triple
            .clone()
            .ok_or("no clang triple for this arch")?;
        let srcarch = self.srcarch(cell);
        let variant = if facts.flat.unwrap_or(false) {
            format!("{triple}-flat")
        } else {
            triple
        };
        let vdir = self.p.work.join("boot").join(variant);
        let log = dir.join("initramfs.log");
        let mut payload_cmd = None;
        let (payload, note) = match (&facts.vmatest_skip, &facts.vmatest_cc) {
            (Some(why), _) => (None, Some(why.clone())),
            (None, None) => (
                None,
                Some("no cross compiler for the vma tests is configured for this arch".into()),
            ),
            (None, Some(cc)) => {
                let extra = facts
                    .vmatest_cflags
                    .as_deref()
                    .unwrap_or_default()
                    .replace("{cache}", &self.opts.cache.display().to_string());
                // One binary per commit, compiler and flags.
                let flavour = if extra.is_empty() {
                    cc.clone()
                } else {
                    let h = series::hex(&Sha256::digest(extra.as_bytes()));
                    format!("{cc}-{}", &h[..8])
                };
                let out = self
                    .p
                    .work
                    .join("boot/payload")
                    .join(&commit[..12])
                    .join(flavour)
                    .join("vma");
                if out.exists() {
                    (Some(out), None)
                } else {
                    match vmatest::build_guest(
                        &self.p.src(),
                        cc,
                        &extra,
                        self.side_jobs(),
                        &out,
                        &log,
                    ) {
                        Ok(line) => {
                            payload_cmd = Some(line);
                            (Some(out), None)
                        }
                        Err(e) => (None, Some(e)),
                    }
                }
            }
        };
        let bdir = match &payload {
            Some(_) => vdir.join(&commit[..12]),
            None => vdir.join("plain"),
        };
        if let Some(done) = built.get(&bdir) {
            return Ok(Initramfs {
                note,
                ..done.clone()
            });
        }
        let hdr_build = vdir.join("headers-build");
        let headers = vdir.join("headers");
        let mut cmd = self.make();
        let mut args = vec![
            format!("O={}", hdr_build.display()),
            format!("ARCH={srcarch}"),
        ];
        args.extend(self.p.matrix.toolchain.iter().cloned());
        args.push(format!("INSTALL_HDR_PATH={}", headers.display()));
        args.push("headers_install".into());
        cmd.args(&args);
        let o = proc::run_logged(cmd, &log, Duration::from_secs(600)).map_err(|e| e.to_string())?;
        if !o.success() {
            return Err(format!(
                "make headers_install failed ({o}); see {}",
                log.display()
            ));
        }
        let clang = boot::clang_from_toolchain(&self.p.matrix.toolchain);
        let (path, mut cmds) = boot::build_initramfs(
            &clang,
            &facts,
            &self.p.src(),
            &headers,
            payload.as_deref(),
            &bdir,
            &log,
        )?;
        let mut full = vec!["-C".to_string(), self.p.src().display().to_string()];
        full.extend(args);
        cmds.insert(0, proc::shell_line("make", &full));
        cmds.extend(payload_cmd);
        let done = Initramfs {
            path,
            commands: cmds,
            note: None,
            payload: payload.is_some(),
        };
        built.insert(bdir, done.clone());
        Ok(Initramfs { note, ..done })
    }

    fn boot(&self, cell: &Cell, tree: &Tree, commit: &str, dir: &Path) -> Result<Record> {
        self.started(cell, tree, Stage::Boot);
        let t = Instant::now();
        let facts = self.p.matrix.facts(cell);
        let mut r = self.record(cell, tree, Stage::Boot, commit);
        // Logs may be hard links into the cache: recreate, never append.
        let _ = std::fs::remove_file(dir.join("initramfs.log"));
        let skip = boot::not_bootable(&facts).or_else(|| {
            (cell.mmu == crate::matrix::Mmu::Nommu && facts.flat != Some(true)).then(|| {
                "NOMMU userland must be FLAT: set flat = true for this arch variant".to_string()
            })
        });
        let data = match skip {
            Some(reason) => boot::BootData::not_run(boot::BootOutcome::NotBootable, reason),
            None => match self.initramfs(cell, commit, dir) {
                Err(e) => boot::BootData::not_run(
                    boot::BootOutcome::QemuFailed,
                    format!("initramfs: {e}"),
                ),
                Ok(ird) => {
                    r.commands = ird.commands.clone();
                    let args = boot::qemu_args(&facts, cell, &dir.join(IMAGE), &ird.path);
                    let qemu = facts.qemu.clone().unwrap_or_default();
                    let mut limits = boot::Limits::default();
                    if ird.payload {
                        // The vma tests run under emulation after boot.
                        limits.total = Duration::from_secs(600);
                    }
                    let mut b = boot::boot(&qemu, &args, &dir.join("console.log"), limits);
                    if ird.payload && b.tests.is_none() && b.outcome == boot::BootOutcome::Booted {
                        b.guest_tests_note = Some(format!(
                            "the vma tests ran but printed no summary (exit status {})",
                            b.exit_status.unwrap_or(-1)
                        ));
                    } else if !ird.payload {
                        b.guest_tests_note = ird.note.clone();
                    }
                    b
                }
            },
        };
        let mut data = data;
        data.key = boot::boot_key(&facts);
        if data.tests.is_none() && data.guest_tests_note.is_none() {
            data.guest_tests_note = Some(match (&data.reason, data.outcome) {
                (Some(why), boot::BootOutcome::NotBootable) => format!("not bootable: {why}"),
                (Some(why), _) => format!("the guest did not finish booting: {why}"),
                (None, _) => "the guest did not finish booting".into(),
            });
        }
        if !data.qemu.is_empty() {
            r.commands.push(data.qemu.clone());
        }
        r.status = match data.outcome {
            boot::BootOutcome::Booted => Status::Ok,
            boot::BootOutcome::NotBootable => Status::Skipped,
            _ => Status::Failed,
        };
        r.secs = t.elapsed().as_secs_f64();
        let summary = match (
            &data.outcome,
            &data.secs_to_marker,
            &data.reason,
            &data.panic,
        ) {
            (boot::BootOutcome::Booted, Some(s), _, _) => format!("booted in {s:.1}s"),
            (_, _, _, Some(p)) => p.clone(),
            (o, _, Some(why), _) => format!("{o:?}: {why}"),
            (o, _, _, _) => format!("{o:?}"),
        };
        r.boot = Some(data);
        self.write(&r)?;
        self.finished(&r, tree, summary);
        Ok(r)
    }

    /// Copy this cell-tree's records and logs into the cache.
    fn store_cache(&self, cell: &Cell, commit: &str, dir: &Path) {
        let Some(cd) = self.cache_dir(cell, commit) else {
            return;
        };
        let _ = std::fs::remove_dir_all(&cd);
        if store::copy_tree(dir, &cd).is_ok() {
            let _ = std::fs::write(cd.join("complete"), "");
        }
    }

    fn replay(&self, cell: &Cell, tree: &Tree, commit: &str, dir: &Path) -> Result<()> {
        let cd = self.cache_dir(cell, commit).unwrap();
        store::copy_tree(&cd, dir)?;
        let _ = std::fs::remove_file(dir.join("complete"));
        for stage in [Stage::Configure, Stage::Build, Stage::Measure, Stage::Boot] {
            let p = dir.join(format!("{}.json", stage.name()));
            let Ok(mut r) = store::read_json::<Record>(&p) else {
                continue;
            };
            r.cached = true;
            r.tree = tree.name();
            if stage == Stage::Build && *tree != Tree::Base {
                self.mark_new_warnings(cell, &mut r);
            }
            store::write_json(&p, &r)?;
            self.finished(&r, tree, "cached".into());
        }
        Ok(())
    }

    /// Configure a cell: merged fragments -> allnoconfig -> verdict.
    fn configure(
        &self,
        cell: &Cell,
        tree: &Tree,
        commit: &str,
        dir: Option<&Path>,
    ) -> Result<(Record, kconfig::Verdict)> {
        self.started(cell, tree, Stage::Configure);
        let t = Instant::now();
        let m = &self.p.matrix;
        let frags = kconfig::fragments(m, cell)?;
        let (text, reqs) = kconfig::merge(&frags)?;
        let bdir = self.p.build_dir(cell);
        std::fs::create_dir_all(&bdir).map_err(|e| Error::io(&bdir, e))?;
        let allconfig = bdir.join("vmamatrix.config");
        store::write_atomic(&allconfig, text.as_bytes())?;
        let srcarch = self.srcarch(cell);
        let args = kconfig::configure_args(&srcarch, &m.toolchain, &bdir, &allconfig);
        let dir = dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.log_dir(cell, tree));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let log = dir.join("configure.log");
        let _ = std::fs::remove_file(&log);
        let mut cmd = self.make();
        cmd.args(&args);
        let outcome = proc::run_logged(cmd, &log, Duration::from_secs(600))
            .map_err(|e| Error::Setup(format!("cannot run make: {e}")))?;
        let mut full = vec!["-C".to_string(), self.p.src().display().to_string()];
        full.extend(args);
        let commands = vec![
            format!(
                "cat {} > {}",
                frags
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                allconfig.display()
            ),
            proc::shell_line("make", &full),
        ];
        if outcome == Outcome::Interrupted {
            return Err(Error::Interrupted);
        }
        if !outcome.success() {
            let tail = tail_lines(&log, 15).join("\n");
            return Err(Error::Setup(format!(
                "{}: configure failed ({outcome}); see {}:\n{tail}",
                cell.id(),
                log.display()
            )));
        }
        let cfg_path = bdir.join(".config");
        let cfg_text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let _ = store::write_atomic(&dir.join("config"), cfg_text.as_bytes());
        let config = kconfig::parse_config(&cfg_text);
        let index = self.kconfig_index(&srcarch, commit);
        let verdict = kconfig::verdict(cell, &reqs, &config, &index, &m.track);
        let mut r = self.record(cell, tree, Stage::Configure, commit);
        r.status = if verdict.feasible {
            Status::Ok
        } else {
            Status::Infeasible
        };
        r.secs = t.elapsed().as_secs_f64();
        r.commands = commands;
        r.configure = Some(ConfigureData {
            fragments: frags.iter().map(|f| kconfig::fragment_label(f)).collect(),
            verdict: verdict.clone(),
            config_sha256: series::hex(&Sha256::digest(cfg_text.as_bytes())),
        });
        self.write(&r)?;
        let summary = match &verdict.reason {
            Some(why) => why.clone(),
            None => format!(
                "feasible, {} dropped{}",
                verdict.warnings.len(),
                verdict
                    .tracked
                    .iter()
                    .map(|(k, v)| format!(", {k}={v}"))
                    .collect::<String>()
            ),
        };
        self.finished(&r, tree, summary);
        Ok((r, verdict))
    }

    fn kconfig_index(&self, srcarch: &str, commit: &str) -> Arc<KconfigIndex> {
        let key = (srcarch.to_string(), commit.to_string());
        let mut m = self.kconfig.lock().unwrap();
        m.entry(key)
            .or_insert_with(|| Arc::new(KconfigIndex::load(&self.p.src(), srcarch)))
            .clone()
    }

    fn build(&self, cell: &Cell, tree: &Tree, commit: &str, dir: &Path) -> Result<Record> {
        self.started(cell, tree, Stage::Build);
        let t = Instant::now();
        let (args, line) = self.build_command(cell);
        let log = dir.join("build.log");
        let _ = std::fs::remove_file(&log);
        let mut cmd = self.make();
        let stats = dir.join("ccache.stats");
        if self.ccache_cc.is_some() {
            let _ = std::fs::remove_file(&stats);
            cmd.env("CCACHE_STATSLOG", &stats);
        }
        let mut token = None;
        match &self.jobserver {
            Some(js) => {
                // make finds the budget in MAKEFLAGS; a -jN of its own
                // would start a second jobserver.
                cmd.args(args.iter().filter(|a| !a.starts_with("-j")));
                js.attach(&mut cmd);
                token = Some(
                    js.acquire()
                        .map_err(|e| Error::Setup(format!("make jobserver: {e}")))?,
                );
            }
            None => {
                cmd.args(&args);
            }
        }
        let outcome = proc::run_logged(cmd, &log, Duration::from_secs(self.p.matrix.timeout))
            .map_err(|e| Error::Setup(format!("cannot run make: {e}")))?;
        if let Some(t) = token.as_mut() {
            if !matches!(outcome, Outcome::Exited(_)) {
                t.mark_killed();
            }
        }
        drop(token);
        if outcome == Outcome::Interrupted {
            return Err(Error::Interrupted);
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let prefixes = vec![self.p.src().display().to_string()];
        let diags = build::parse_diagnostics(&text, &prefixes);
        let (warnings, errors): (Vec<_>, Vec<_>) =
            diags.into_iter().partition(|d| d.kind == "warning");
        let bdir = self.p.build_dir(cell);
        let config = std::fs::read(bdir.join(".config")).unwrap_or_default();
        let mut memory = build::WarningMemory::load(&bdir);
        memory.remember(commit, &series::hex(&Sha256::digest(&config)), &warnings);
        memory.save(&bdir)?;
        // Coverage of the series' files is a fact of the trees the series
        // made; the base record stays independent of the series, so another
        // series on the same base reuses it.
        let (compiled, not_compiled) = if self.opts.structs_only || *tree == Tree::Base {
            (vec![], vec![])
        } else {
            build::coverage(&self.touched, &self.p.build_dir(cell))
        };
        let mut r = self.record(cell, tree, Stage::Build, commit);
        r.status = if outcome.success() {
            Status::Ok
        } else {
            Status::Failed
        };
        r.secs = t.elapsed().as_secs_f64();
        r.commands = vec![line];
        r.build = Some(BuildData {
            outcome: outcome.to_string(),
            jobs: self.jobs(),
            warnings,
            errors,
            new_warnings: vec![],
            compiled,
            not_compiled,
            tail: if outcome.success() {
                vec![]
            } else {
                tail_lines(&log, 20)
            },
            ccache: self
                .ccache_cc
                .as_ref()
                .map(|_| build::ccache_stats(&std::fs::read_to_string(&stats).unwrap_or_default())),
        });
        if *tree != Tree::Base {
            self.mark_new_warnings(cell, &mut r);
        }
        if outcome.success() && !self.opts.structs_only {
            if let Some(img) = self.p.matrix.facts(cell).image {
                let from = self.p.build_dir(cell).join(img);
                let to = dir.join(IMAGE);
                std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            }
        }
        self.write(&r)?;
        let b = r.build.as_ref().unwrap();
        let summary = format!(
            "{}, {} warnings ({} new), {} errors, {:.0}s",
            b.outcome,
            b.warnings.len(),
            b.new_warnings.len(),
            b.errors.len(),
            r.secs
        );
        self.finished(&r, tree, summary);
        Ok(r)
    }

    /// New warnings of a patched build: against the base record of this
    /// run and everything base builds printed in the cell's build directory
    /// (`build::WarningMemory`), so an incremental base build that printed
    /// nothing does not make old warnings new.
    fn mark_new_warnings(&self, cell: &Cell, r: &mut Record) {
        let Some((res, id)) = self.out else { return };
        let recorded = res
            .read_record(id, &cell.id(), "base", Stage::Build)
            .and_then(|b| b.build)
            .map(|b| b.warnings)
            .unwrap_or_default();
        let memory = build::WarningMemory::load(&self.p.build_dir(cell));
        let base = build::max_merge(&recorded, memory.recall(&self.p.applied.base));
        if let Some(b) = r.build.as_mut() {
            b.new_warnings = build::new_diagnostics(&base, &b.warnings);
        }
    }

    fn measure(&self, cell: &Cell, tree: &Tree, commit: &str, dir: &Path) -> Result<Record> {
        self.started(cell, tree, Stage::Measure);
        let t = Instant::now();
        let bdir = self.p.build_dir(cell);
        let mut errors = Vec::new();
        let vmlinux = match std::fs::read(bdir.join("vmlinux")) {
            _ if self.opts.structs_only => None,
            Ok(data) => measure::elf::sections(&data)
                .map_err(|e| errors.push(format!("vmlinux: {e}")))
                .ok(),
            Err(e) => {
                errors.push(format!("vmlinux: {e}"));
                None
            }
        };
        let image = self
            .p
            .matrix
            .facts(cell)
            .image
            .filter(|_| !self.opts.structs_only)
            .as_ref()
            .and_then(|i| std::fs::metadata(bdir.join(i)).ok())
            .map(|m| m.len());
        let probe = &self.p.matrix.probe;
        let obj = format!("{}.o", probe.trim_end_matches(".c"));
        let out = measure::probe_path(&bdir);
        let mut commands = Vec::new();
        let mut structs = Vec::new();
        match measure::recorded_command(&bdir, &obj) {
            Ok(rec) => {
                let cmd_line = measure::probe_command(&rec, &obj, &out);
                commands.push(format!("cd {} && {cmd_line}", bdir.display()));
                let log = dir.join("probe.log");
                let _ = std::fs::remove_file(&log);
                let _ = std::fs::remove_file(&out);
                let mut c = Command::new("sh");
                c.arg("-c").arg(&cmd_line).current_dir(&bdir);
                match proc::run_logged(c, &log, Duration::from_secs(300)) {
                    Ok(o) if o.success() => match std::fs::read(&out)
                        .map_err(|e| e.to_string())
                        .and_then(|d| measure::dwarf::layouts(&d, &self.p.matrix.structs))
                    {
                        Ok(l) => {
                            for s in &self.p.matrix.structs {
                                if !l.iter().any(|x| &x.name == s) {
                                    errors.push(format!("struct {s}: not in the DWARF of {probe}"));
                                }
                            }
                            structs = l;
                        }
                        Err(e) => errors.push(format!("probe DWARF: {e}")),
                    },
                    Ok(o) => errors.push(format!("probe compile: {o} (see probe.log)")),
                    Err(e) => errors.push(format!("probe compile: {e}")),
                }
            }
            Err(e) => errors.push(format!("probe: {e}")),
        }
        let mut r = self.record(cell, tree, Stage::Measure, commit);
        r.status = if errors.is_empty() {
            Status::Ok
        } else {
            Status::Failed
        };
        r.secs = t.elapsed().as_secs_f64();
        r.commands = commands;
        let summary = structs
            .iter()
            .map(|l| format!("{} {}", l.name, l.size))
            .chain(errors.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ");
        r.measure = Some(MeasureData {
            image,
            vmlinux,
            structs,
            errors,
        });
        self.write(&r)?;
        self.finished(&r, tree, summary);
        Ok(r)
    }
}

fn tail_lines(path: &Path, n: usize) -> Vec<String> {
    let t = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_per_patch_and_selection() {
        let applied = Applied {
            base: "b".into(),
            commits: vec!["c1".into(), "c2".into(), "c3".into()],
        };
        let names = |t: &[(Tree, String)]| {
            t.iter()
                .map(|(t, c)| format!("{}={c}", t.name()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&trees(&applied, false)), ["base=b", "patched=c3"]);
        assert_eq!(
            names(&trees(&applied, true)),
            ["base=b", "patch-1=c1", "patch-2=c2", "patched=c3"]
        );
        let only = vec!["patched".to_string()];
        let t = select_trees(trees(&applied, true), Some(&only)).unwrap();
        assert_eq!(names(&t), ["patched=c3"]);
        let bad = vec!["patch-7".to_string()];
        let e = select_trees(trees(&applied, true), Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--trees") && e.contains("\"patch-7\"") && e.contains("patch-2"),
            "{e}"
        );
    }
}
