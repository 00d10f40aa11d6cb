//! The scheduler: brings the shared source directory to each tree in turn
//! (base, each patch with `--per-patch`, patched) and runs the stages of
//! every selected cell on it in parallel: configure -> build -> measure ->
//! boot, replaying what the cache holds. It emits events and writes records;
//! it never prints.

use crate::boot;
use crate::build;
use crate::cache::{self, Cache, State};
use crate::checks;
use crate::error::{Error, Result};
use crate::events::{Event, Sink, Tree};
use crate::kconfig;
use crate::matrix::Cell;
use crate::measure;
use crate::model::{CellEntry, PlanCell, RunSummary, Status, SCHEMA};
use crate::options::Options;
use crate::proc;
use crate::regress;
use crate::series::Applied;
use crate::shard;
use crate::stage::StageCtx;
use crate::store::{self, Results};
use crate::vmatest;
use crate::workspace::Prepared;
use rayon::prelude::*;
use std::time::Instant;

/// Configure every cell at the base and classify it, without building.
pub fn plan(p: &Prepared, opts: &Options, sink: &dyn Sink) -> Result<Vec<PlanCell>> {
    p.checkout(&Tree::Base, &p.applied.base, sink)?;
    let ctx = StageCtx::new(p, opts, None, sink)?;
    let idx = kconfig::run::Indexes::default();
    let cells = p.matrix.cells();
    pool(opts.parallel.max(opts.jobs))?.install(|| {
        cells
            .par_iter()
            .map(|cell| {
                let dir = ctx.log_dir(cell, &Tree::Base);
                let (rec, verdict) =
                    kconfig::run::configure(&ctx, &idx, cell, &Tree::Base, &p.applied.base, &dir)?;
                let mut commands = rec.commands.clone();
                commands.push(ctx.build_make(cell).line());
                Ok(PlanCell {
                    id: cell.id(),
                    arch: cell.arch.clone(),
                    smp: cell.smp.name().into(),
                    mmu: cell.mmu.name().into(),
                    feasible: verdict.feasible,
                    reason: verdict.reason,
                    warnings: verdict.warnings,
                    tracked: verdict.tracked,
                    commands,
                })
            })
            .collect::<Result<Vec<_>>>()
    })
}

/// Run the whole pipeline for the selected cells; returns the summary.
pub fn run(p: &Prepared, opts: &Options, results: &Results, sink: &dyn Sink) -> Result<RunSummary> {
    let t0 = Instant::now();
    let cells = p.matrix.cells();
    opts.selection.validate(&cells)?;
    // Every input is checked before anything is written.
    let trees = select_trees(trees(&p.applied, opts.per_patch), opts.trees.as_deref())?;
    let selected: Vec<Cell> = cells
        .iter()
        .filter(|c| opts.selection.matches(c))
        .cloned()
        .collect();
    let dealt: Vec<String> = match opts.shard {
        Some(_) => selected.iter().map(Cell::id).collect(),
        None => Vec::new(),
    };
    let selected = shard::shard(selected, opts.shard, opts.shard_weights.as_ref());
    let ctx = StageCtx::new(p, opts, None, sink)?;
    let started = store::now_utc();
    let mut run_id = store::run_id_from(&started);
    let mut n = 1;
    while results.run_dir(&run_id).exists() {
        n += 1;
        run_id = format!("{}.{n}", store::run_id_from(&started));
    }
    let mut summary = RunSummary {
        schema: SCHEMA,
        run_id: run_id.clone(),
        vmamatrix: format!("{} ({})", env!("CARGO_PKG_VERSION"), cache::SOURCE_ID),
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
        trees: trees.iter().map(|(t, _)| t.name()).collect(),
        first_bad: Default::default(),
        shard: opts.shard,
        shard_weights: opts
            .shard
            .and(opts.shard_weights.as_ref())
            .map(|w| w.digest.clone()),
        dealt,
        base_source: p.base_source.clone(),
        configs: p
            .matrix
            .configs
            .iter()
            .map(|c| c.display().to_string())
            .collect(),
    };
    results.write_summary(&summary)?;
    sink.event(Event::RunStarted {
        run_id: run_id.clone(),
        cells: cells.iter().map(Cell::id).collect(),
        selected: selected.iter().map(Cell::id).collect(),
    });

    let ctx = StageCtx {
        out: Some((results, run_id.as_str())),
        ..ctx
    };
    let runner = Runner {
        ctx: &ctx,
        cache: Cache::new(&ctx),
        kconfig: Default::default(),
        images: Default::default(),
    };
    let pool = pool(opts.parallel)?;
    for (tree, commit) in &trees {
        // Only touch the source tree when some stage must really run.
        let host_cached = !opts.force && cache::host_record(&opts.cache, commit).exists();
        if !host_cached
            || selected
                .iter()
                .any(|c| runner.cache.state(c, commit) != State::Complete)
        {
            p.checkout(tree, commit, sink)?;
        }
        vmatest::run::host(&ctx, tree, commit, host_cached)?;
        if proc::interrupted() {
            break;
        }
        let done = pool.install(|| {
            selected
                .par_iter()
                .map(|cell| runner.cell_tree(cell, tree, commit))
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
    if !proc::interrupted() {
        let checks = checks::run::run(&ctx, &results.run_dir(&run_id).join("checks"))?;
        if opts.strict_checks {
            summary.regressions.extend(regress::check_findings(&checks));
        }
    }
    if opts.per_patch {
        summary.first_bad =
            regress::first_bad(results, &run_id, &selected, &trees, p.applied.commits.len());
    }
    summary.interrupted = proc::interrupted();
    summary.finished = Some(store::now_utc());
    results.write_summary(&summary)?;
    sink.event(Event::RunFinished {
        run_dir: results.run_dir(&run_id).display().to_string(),
        regressions: summary.regressions.iter().map(|r| r.to_string()).collect(),
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
/// this run is a usage error.
fn select_trees(all: Vec<(Tree, String)>, only: Option<&[String]>) -> Result<Vec<(Tree, String)>> {
    let Some(only) = only else { return Ok(all) };
    for name in only {
        if !all.iter().any(|(t, _)| t.name() == *name) {
            let names: Vec<String> = all.iter().map(|(t, _)| t.name()).collect();
            return Err(Error::Usage(format!(
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

/// The stage runners of one run and the state they keep between cells.
struct Runner<'a> {
    ctx: &'a StageCtx<'a>,
    cache: Cache<'a>,
    kconfig: kconfig::run::Indexes,
    images: boot::run::Images,
}

impl Runner<'_> {
    /// configure -> build -> measure -> boot for one cell at one tree.
    fn cell_tree(&self, cell: &Cell, tree: &Tree, commit: &str) -> Result<()> {
        if proc::interrupted() {
            return Ok(());
        }
        let ctx = self.ctx;
        let dir = ctx.log_dir(cell, tree);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        match self.cache.state(cell, commit) {
            State::Complete => return self.replay(cell, tree, commit, &dir),
            State::NeedsBoot => {
                // Built and measured before, not booted with this recipe
                // (or the boot did not finish): boot the kept image.
                self.replay(cell, tree, commit, &dir)?;
                boot::run::boot(ctx, &self.images, cell, tree, commit, &dir)?;
                self.cache.store(cell, commit, &dir);
                return Ok(());
            }
            State::Miss => {}
        }
        let (_, verdict) = kconfig::run::configure(ctx, &self.kconfig, cell, tree, commit, &dir)?;
        if verdict.feasible && !proc::interrupted() {
            let brec = build::run::build(ctx, cell, tree, commit, &dir)?;
            if brec.status == Status::Ok && !proc::interrupted() {
                measure::run::measure(ctx, cell, tree, commit, &dir)?;
                if !ctx.opts.structs_only && !ctx.opts.no_boot {
                    boot::run::boot(ctx, &self.images, cell, tree, commit, &dir)?;
                }
            }
        }
        if !proc::interrupted() {
            self.cache.store(cell, commit, &dir);
        }
        Ok(())
    }

    /// Replay the cached records of a cell-tree into this run.
    fn replay(&self, cell: &Cell, tree: &Tree, commit: &str, dir: &std::path::Path) -> Result<()> {
        for mut r in self.cache.replay(cell, tree, commit, dir)? {
            if r.stage == crate::events::Stage::Build && *tree != Tree::Base {
                build::run::mark_new_warnings(self.ctx, cell, &mut r);
            }
            if let Some((res, id)) = self.ctx.out {
                res.write_record(id, &r)?;
            }
            self.ctx.finished(&r, tree, "cached".into());
        }
        Ok(())
    }
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
        let e = select_trees(trees(&applied, true), Some(&bad)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        let e = e.to_string();
        assert!(
            e.contains("--trees") && e.contains("\"patch-7\"") && e.contains("patch-2"),
            "{e}"
        );
    }
}
