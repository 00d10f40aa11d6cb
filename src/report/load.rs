//! Loading a run: every record of a run read into one typed report that
//! every renderer (markdown, JSON, mail, JUnit, KCIDB, HTML) shows. Nothing
//! here knows an output format, and nothing here is a display string: the
//! JSON of this report is documented by `src/report/report.schema.json`.

use crate::events::Stage;
use crate::model::{BootOutcome, Diagnostic, Record, Regression, RunSummary, Status};
use crate::store::Results;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the report's JSON (`report --format json`); bump on an
/// incompatible change and regenerate `src/report/report.schema.json`.
pub const REPORT_SCHEMA: u32 = 2;

/// The two trees every cell compares, named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Trees<T> {
    pub base: T,
    pub patched: T,
}

impl<T> Trees<T> {
    pub fn get(&self, i: usize) -> &T {
        if i == 0 {
            &self.base
        } else {
            &self.patched
        }
    }

    /// `(tree name, value)` for base, then patched.
    pub fn named(&self) -> [(&'static str, &T); 2] {
        [("base", &self.base), ("patched", &self.patched)]
    }
}

/// The whole report of a run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// [`REPORT_SCHEMA`].
    pub schema: u32,
    /// The run as recorded in its run.json.
    pub run: RunSummary,
    /// The run finished and was not interrupted: every selected cell has
    /// its results. An incomplete run's report says so and exits 5.
    pub complete: bool,
    pub summary: Summary,
    /// Every cell of the matrix, selected or not, in matrix order.
    pub cells: Vec<Row>,
    /// tools/testing/vma on the host, per tree.
    pub host_vma_tests: Trees<Option<TestCounts>>,
    /// Series files (C, Rust under rust/) that no selected cell's patched
    /// build compiled.
    pub not_compiled_anywhere: Vec<String>,
    /// With `--per-patch`: each feasible cell's build at every tree.
    pub per_patch: Vec<PerPatch>,
    /// The per-patch checks, when the run got to them.
    pub checks: Option<crate::checks::SeriesChecks>,
    /// Seconds per cell, tree and stage, as recorded (`report --timing`).
    pub timing: Vec<StageTime>,
    /// The other way round from `run.regressions`: what the base tree does
    /// wrong in a cell and the patched tree does not (a boot that now
    /// reaches the marker, a kernel report that is gone, tests that now
    /// pass). One run's observation: a race on base may not recur.
    pub fixed: Vec<Regression>,
    /// Selftests that fail (or do not finish) on both trees of a booted
    /// cell: neither a regression nor a fix, which "no regression" alone
    /// would hide. Cells in matrix order.
    pub failing_on_both: Vec<FailingOnBoth>,
    /// The results directory of the run; log paths are relative to it.
    #[serde(skip)]
    pub run_dir: std::path::PathBuf,
}

/// One cell's selftests that do not pass on either tree.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FailingOnBoth {
    pub cell: String,
    pub tests: Vec<BothVerdicts>,
}

/// A selftest's verdict on each tree.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct BothVerdicts {
    pub name: String,
    pub base: crate::selftests::Verdict,
    pub patched: crate::selftests::Verdict,
}

impl FailingOnBoth {
    /// `mremap_test (FAIL), uffd-unit-tests (ERROR)`: the patched verdict,
    /// and base's too where it differs.
    pub fn tests_text(&self) -> String {
        self.tests
            .iter()
            .map(|t| {
                if t.base == t.patched {
                    format!("{} ({})", t.name, t.patched.word())
                } else {
                    format!(
                        "{} ({} on base, {} on patched)",
                        t.name,
                        t.base.word(),
                        t.patched.word()
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The run in numbers.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Summary {
    pub cells: usize,
    pub selected: usize,
    /// Selected cells Kconfig can configure.
    pub feasible: usize,
    /// Selected cells Kconfig refuses.
    pub infeasible: usize,
    /// Builds that succeeded (with `--structs-only`: probe objects).
    pub built: Trees<usize>,
    pub build_failed: Trees<usize>,
    /// Kernels that reached /init's result marker.
    pub booted: Trees<usize>,
    /// Boots that failed (panic, timeout, silence, QEMU failure).
    pub boot_failed: Trees<usize>,
    pub regressions: usize,
    /// What base does wrong and patched does not (`Report::fixed`).
    pub fixed: usize,
    /// Struct sizes that changed, per cell (the series' cost).
    pub struct_growth: Vec<Growth>,
}

/// One struct whose size changed in one cell.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Growth {
    pub cell: String,
    #[serde(rename = "struct")]
    pub name: String,
    pub base: u64,
    pub patched: u64,
    pub delta: i64,
}

/// One cell of the matrix.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Row {
    pub id: String,
    pub arch: String,
    /// "smp" or "up".
    pub smp: String,
    /// "mmu" or "nommu".
    pub mmu: String,
    pub selected: bool,
    /// None when the cell was not configured (not selected, or not reached).
    pub feasible: Option<bool>,
    /// Why Kconfig refuses the cell.
    pub reason: Option<String>,
    /// Requests of the fragments that Kconfig did not honour.
    pub dropped: Vec<crate::kconfig::Dropped>,
    /// Tracked Kconfig symbols' values.
    pub tracked: BTreeMap<String, Trees<Option<String>>>,
    pub build: Trees<Option<BuildView>>,
    pub boot: Trees<Option<BootView>>,
    /// Which of the series' C and Rust (rust/) files the patched build
    /// compiled.
    pub coverage: Option<Coverage>,
    /// vmlinux sections in bytes: text, rodata, data, bss.
    pub sections: Vec<SizeDelta>,
    /// The measured structs, in bytes.
    pub structs: Vec<SizeDelta>,
    /// The measured structs' member layouts from DWARF, per tree.
    pub layouts: Trees<Vec<crate::measure::Layout>>,
    /// Some regression has this cell as its subject.
    pub regression: bool,
}

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BuildStatus {
    /// The kernel image was built.
    Ok,
    /// `--structs-only`: only the struct probe object was compiled.
    ProbeOnly,
    /// make exited non-zero.
    Failed,
    /// The build took longer than the matrix's `timeout`.
    TimedOut,
    /// make or a compiler was killed, or the run was interrupted.
    Killed,
}

/// One tree's build of one cell.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BuildView {
    pub status: BuildStatus,
    /// make's exit status, when it exited.
    pub exit_status: Option<i32>,
    pub secs: f64,
    /// Replayed from the result cache.
    pub cached: bool,
    pub warnings: usize,
    /// Warnings the base build of the cell does not have.
    pub new_warnings: Vec<Diagnostic>,
    /// The compiler's errors, in log order.
    pub errors: Vec<Diagnostic>,
    /// The log's last lines when the build failed without a compiler error.
    pub tail: Vec<String>,
    /// The build log, relative to the run directory.
    pub log: String,
    /// The commands that reproduce the build.
    pub commands: Vec<String>,
    pub ccache: Option<crate::model::CcacheStats>,
}

/// Counts of a test program's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TestCounts {
    pub run: u32,
    pub passed: u32,
    pub failed: u32,
}

impl TestCounts {
    fn of((run, passed, failed): (u32, u32, u32)) -> TestCounts {
        TestCounts {
            run,
            passed,
            failed,
        }
    }

    pub fn all_passed(&self) -> bool {
        self.run > 0 && self.passed == self.run && self.failed == 0
    }
}

/// One tree's boot of one cell.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BootView {
    pub outcome: BootOutcome,
    /// Seconds from QEMU's start to /init's result marker.
    pub secs_to_marker: Option<f64>,
    pub cached: bool,
    /// Why it was not booted, or how it failed.
    pub reason: Option<String>,
    pub panic: Option<String>,
    /// The serial console, relative to the run directory ("" when QEMU did
    /// not run).
    pub console: String,
    /// tools/testing/vma in the guest.
    pub vma_tests: Option<TestCounts>,
    /// Why the vma tests did not run in this guest.
    pub vma_tests_note: Option<String>,
    /// Exit status of /init's exec-and-exit child.
    pub exec_child: Option<i32>,
    /// The kernel's own reports (warnings, BUG, lockdep, KASAN, ...).
    pub splats: Vec<crate::boot::splat::Splat>,
    pub workload: Option<crate::model::WorkloadData>,
    /// The per-VMA lock counters' deltas over the workload; None when the
    /// kernel has no such counters (no per-VMA lock, or no
    /// PER_VMA_LOCK_STATS).
    pub vma_lock: Option<crate::model::VmaLockStats>,
    pub selftests: Vec<crate::selftests::SelftestRun>,
    /// The QEMU command line.
    pub qemu: String,
}

/// The series' C and Rust (rust/) files and whether the patched build
/// compiled them.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Coverage {
    pub compiled: Vec<String>,
    pub not_compiled: Vec<String>,
    /// Files a compiler error names: not compiled because the build failed
    /// there, never "not compiled" for lack of a config.
    pub failed: Vec<String>,
}

/// A size before and after the series, in bytes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SizeDelta {
    pub name: String,
    pub base: Option<u64>,
    pub patched: Option<u64>,
}

impl SizeDelta {
    pub fn delta(&self) -> Option<i64> {
        Some(self.patched? as i64 - self.base? as i64)
    }
}

/// How long one stage of one cell and tree took.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StageTime {
    pub cell: String,
    pub tree: String,
    /// configure, build, measure or boot.
    pub stage: String,
    pub secs: f64,
    /// Replayed from the cache: `secs` is the time of the run that made it.
    pub cached: bool,
    /// make's -j for builds.
    pub jobs: Option<usize>,
}

/// One cell's builds along the series (`run --per-patch`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PerPatch {
    pub cell: String,
    pub steps: Vec<Step>,
    /// The first patch that breaks the build or adds a warning.
    pub first_bad: Option<String>,
}

/// One tree of a per-patch run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Step {
    /// "base", "patch-1", ..., "patched".
    pub tree: String,
    pub status: BuildStatus,
    pub new_warnings: usize,
}

impl Report {
    pub fn regressions(&self) -> &[Regression] {
        &self.run.regressions
    }

    /// A relative log path as a path on this machine.
    pub fn path(&self, rel: &str) -> std::path::PathBuf {
        self.run_dir.join(rel)
    }
}

/// Read every record of a run into the report (`report::load` adds what
/// base does wrong and patched does not).
pub(super) fn load(results: &Results, run: RunSummary) -> Report {
    let cells: Vec<Row> = run.cells.iter().map(|c| row(results, &run, c)).collect();
    let host = |tree: &str| -> Option<TestCounts> {
        let r: Record = crate::store::read_json(
            &results
                .run_dir(&run.run_id)
                .join("host")
                .join(tree)
                .join("vmatest.json"),
        )
        .ok()?;
        r.vmatest?.tests.map(TestCounts::of)
    };
    let checks = crate::store::read_json(
        &results
            .run_dir(&run.run_id)
            .join("checks")
            .join("checks.json"),
    )
    .ok();
    let per_patch = if run.trees.len() > 2 {
        cells
            .iter()
            .filter(|c| c.feasible == Some(true))
            .map(|c| PerPatch {
                cell: c.id.clone(),
                steps: run
                    .trees
                    .iter()
                    .filter_map(|t| {
                        let r = results.read_record(&run.run_id, &c.id, t, Stage::Build)?;
                        let b = build_view(&r, &c.id, t);
                        Some(Step {
                            tree: t.clone(),
                            status: b.status,
                            new_warnings: b.new_warnings.len(),
                        })
                    })
                    .collect(),
                first_bad: run.first_bad.get(&c.id).cloned(),
            })
            .collect()
    } else {
        vec![]
    };
    let mut timing = Vec::new();
    for c in run.cells.iter().filter(|c| c.selected) {
        for t in &run.trees {
            for st in [Stage::Configure, Stage::Build, Stage::Measure, Stage::Boot] {
                if let Some(r) = results.read_record(&run.run_id, &c.id, t, st) {
                    timing.push(StageTime {
                        cell: c.id.clone(),
                        tree: t.clone(),
                        stage: st.name().to_string(),
                        secs: r.secs,
                        cached: r.cached,
                        jobs: r.build.as_ref().map(|b| b.jobs),
                    });
                }
            }
        }
    }
    Report {
        schema: REPORT_SCHEMA,
        timing,
        complete: run.finished.is_some() && !run.interrupted,
        summary: summary(&run, &cells),
        // Judged from the rows by `report::load` (fixed.rs).
        fixed: vec![],
        failing_on_both: vec![],
        not_compiled_anywhere: not_compiled_anywhere(&cells),
        host_vma_tests: Trees {
            base: host("base"),
            patched: host("patched"),
        },
        per_patch,
        checks,
        cells,
        run_dir: results.run_dir(&run.run_id),
        run,
    }
}

fn summary(run: &RunSummary, cells: &[Row]) -> Summary {
    let sel: Vec<&Row> = cells.iter().filter(|c| c.selected).collect();
    let count = |f: &dyn Fn(&Row, usize) -> bool| Trees {
        base: sel.iter().filter(|c| f(c, 0)).count(),
        patched: sel.iter().filter(|c| f(c, 1)).count(),
    };
    let build_is = |c: &Row, i: usize, ok: bool| {
        c.build
            .get(i)
            .as_ref()
            .is_some_and(|b| matches!(b.status, BuildStatus::Ok | BuildStatus::ProbeOnly) == ok)
    };
    let boot_is = |c: &Row, i: usize, booted: bool| {
        c.boot.get(i).as_ref().is_some_and(|b| match b.outcome {
            BootOutcome::Booted => booted,
            BootOutcome::NotBootable => false,
            _ => !booted,
        })
    };
    let struct_growth = sel
        .iter()
        .flat_map(|c| {
            c.structs.iter().filter_map(|d| {
                let delta = d.delta().filter(|&x| x != 0)?;
                Some(Growth {
                    cell: c.id.clone(),
                    name: d.name.clone(),
                    base: d.base?,
                    patched: d.patched?,
                    delta,
                })
            })
        })
        .collect();
    Summary {
        cells: cells.len(),
        selected: sel.len(),
        feasible: sel.iter().filter(|c| c.feasible == Some(true)).count(),
        infeasible: sel.iter().filter(|c| c.feasible == Some(false)).count(),
        built: count(&|c, i| build_is(c, i, true)),
        build_failed: count(&|c, i| build_is(c, i, false)),
        booted: count(&|c, i| boot_is(c, i, true)),
        boot_failed: count(&|c, i| boot_is(c, i, false)),
        regressions: run.regressions.len(),
        fixed: 0,
        struct_growth,
    }
}

/// Series C and Rust files no selected cell's patched build compiled (a file whose
/// compile failed counts as tried, not as uncovered).
fn not_compiled_anywhere(cells: &[Row]) -> Vec<String> {
    let cov: Vec<&Coverage> = cells.iter().filter_map(|c| c.coverage.as_ref()).collect();
    let mut missing: Vec<String> = cov
        .iter()
        .flat_map(|c| c.not_compiled.iter())
        .filter(|f| {
            !cov.iter()
                .any(|c| c.compiled.contains(f) || c.failed.contains(f))
        })
        .cloned()
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

fn build_view(r: &Record, cell: &str, tree: &str) -> BuildView {
    let b = r.build.clone();
    let outcome = b.as_ref().map(|b| b.outcome.as_str()).unwrap_or("");
    let exit_status = outcome
        .strip_prefix("exit status ")
        .and_then(|c| c.parse().ok());
    let status = match (r.status, outcome) {
        (Status::Ok, _) if b.as_ref().is_some_and(|b| b.structs_only) => BuildStatus::ProbeOnly,
        (Status::Ok, _) => BuildStatus::Ok,
        (_, "timed out") => BuildStatus::TimedOut,
        (_, o) if o.starts_with("exit status") => BuildStatus::Failed,
        _ => BuildStatus::Killed,
    };
    let b = b.unwrap_or_else(|| crate::model::BuildData {
        outcome: String::new(),
        jobs: 0,
        warnings: vec![],
        errors: vec![],
        new_warnings: vec![],
        compiled: vec![],
        not_compiled: vec![],
        tail: vec![],
        ccache: None,
        structs_only: false,
    });
    BuildView {
        status,
        exit_status,
        secs: r.secs,
        cached: r.cached,
        warnings: b.warnings.len(),
        new_warnings: b.new_warnings,
        errors: b.errors,
        tail: b.tail,
        log: format!("{cell}/{tree}/build.log"),
        commands: r.commands.clone(),
        ccache: b.ccache,
    }
}

fn boot_view(r: &Record, cell: &str, tree: &str) -> Option<BootView> {
    let b = r.boot.clone()?;
    Some(BootView {
        outcome: b.outcome,
        secs_to_marker: b.secs_to_marker,
        cached: r.cached,
        reason: b.reason,
        panic: b.panic,
        console: if b.qemu.is_empty() {
            String::new()
        } else {
            format!("{cell}/{tree}/console.log")
        },
        vma_tests: b.tests.map(TestCounts::of),
        vma_tests_note: b.guest_tests_note,
        exec_child: b.child,
        splats: b.splats,
        vma_lock: b.workload.as_ref().and_then(|w| w.lock_delta()),
        workload: b.workload,
        selftests: b.selftests,
        qemu: b.qemu,
    })
}

fn row(results: &Results, run: &RunSummary, c: &crate::model::CellEntry) -> Row {
    let id = c.id.as_str();
    let get = |tree: &str, st: Stage| -> Option<Record> {
        results.read_record(&run.run_id, id, tree, st)
    };
    let both = |st: Stage| Trees {
        base: get("base", st),
        patched: get("patched", st),
    };
    let conf = both(Stage::Configure);
    let build = both(Stage::Build);
    let meas = both(Stage::Measure);
    let boot = both(Stage::Boot);
    let verdict = |i: usize| {
        conf.get(i)
            .as_ref()
            .and_then(|r| r.configure.as_ref())
            .map(|c| &c.verdict)
    };
    let v = verdict(1).or(verdict(0));
    let mut tracked: BTreeMap<String, Trees<Option<String>>> = BTreeMap::new();
    for i in 0..2 {
        for (k, val) in verdict(i).map(|v| v.tracked.clone()).unwrap_or_default() {
            let t = tracked.entry(k).or_default();
            if i == 0 {
                t.base = Some(val);
            } else {
                t.patched = Some(val);
            }
        }
    }
    let mdata = |i: usize| meas.get(i).as_ref().and_then(|r| r.measure.as_ref());
    let sections = ["text", "rodata", "data", "bss"]
        .iter()
        .map(|name| {
            let pick = |i: usize| {
                mdata(i)
                    .and_then(|m| m.vmlinux.as_ref())
                    .map(|s| match *name {
                        "text" => s.text,
                        "rodata" => s.rodata,
                        "data" => s.data,
                        _ => s.bss,
                    })
            };
            SizeDelta {
                name: name.to_string(),
                base: pick(0),
                patched: pick(1),
            }
        })
        .collect();
    let structs = run
        .structs
        .iter()
        .map(|s| {
            let pick = |i: usize| {
                mdata(i).and_then(|m| m.structs.iter().find(|l| &l.name == s).map(|l| l.size))
            };
            SizeDelta {
                name: s.clone(),
                base: pick(0),
                patched: pick(1),
            }
        })
        .collect();
    let layouts = |i: usize| -> Vec<crate::measure::Layout> {
        mdata(i).map(|m| m.structs.clone()).unwrap_or_default()
    };
    let coverage = build
        .patched
        .as_ref()
        .and_then(|r| r.build.as_ref())
        .map(|b| {
            let failed: Vec<String> = b
                .not_compiled
                .iter()
                .filter(|f| b.errors.iter().any(|e| e.file.ends_with(f.as_str())))
                .cloned()
                .collect();
            Coverage {
                compiled: b.compiled.clone(),
                not_compiled: b
                    .not_compiled
                    .iter()
                    .filter(|f| !failed.contains(f))
                    .cloned()
                    .collect(),
                failed,
            }
        });
    Row {
        id: id.to_string(),
        arch: c.arch.clone(),
        smp: c.smp.clone(),
        mmu: c.mmu.clone(),
        selected: c.selected,
        feasible: v.map(|v| v.feasible),
        reason: v.and_then(|v| v.reason.clone()),
        dropped: v.map(|v| v.warnings.clone()).unwrap_or_default(),
        tracked,
        build: Trees {
            base: build.base.as_ref().map(|r| build_view(r, id, "base")),
            patched: build.patched.as_ref().map(|r| build_view(r, id, "patched")),
        },
        boot: Trees {
            base: boot.base.as_ref().and_then(|r| boot_view(r, id, "base")),
            patched: boot
                .patched
                .as_ref()
                .and_then(|r| boot_view(r, id, "patched")),
        },
        coverage,
        sections,
        structs,
        layouts: Trees {
            base: layouts(0),
            patched: layouts(1),
        },
        regression: run.regressions.iter().any(|r| r.subject == id),
    }
}
