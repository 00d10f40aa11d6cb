//! Loading a run: every record of a run read into the rows that the
//! renderers show. Nothing here knows an output format.

use crate::events::Stage;
use crate::model::{Record, RunSummary, Status};
use crate::store::Results;
use serde::Serialize;

/// One row of the matrix table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub arch: String,
    pub selected: bool,
    pub feasible: Option<bool>,
    pub reason: Option<String>,
    pub dropped: Vec<String>,
    /// Tracked Kconfig symbols: name -> [base, patched] values.
    pub tracked: std::collections::BTreeMap<String, [Option<String>; 2]>,
    pub build: [Option<String>; 2],
    pub warnings: [Option<usize>; 2],
    pub new_warnings: Vec<String>,
    /// Series C files compiled in the patched build / touched C files.
    pub coverage: Option<(usize, usize)>,
    pub not_compiled: Vec<String>,
    /// Series C files the patched build compiled.
    pub compiled: Vec<String>,
    pub sections: Vec<SizeDelta>,
    pub structs: Vec<SizeDelta>,
    /// Boot outcome per tree: "booted 2.1s", "panic", "not bootable", ...
    pub boot: [Option<String>; 2],
    /// Why a tree was not booted, or how it failed.
    pub boot_notes: Vec<String>,
    /// tools/testing/vma in the guest per tree: "26/26 passed", or "-".
    pub guest_tests: [Option<String>; 2],
    pub regression: bool,
    /// The kernel selftests per tree.
    pub selftests: [Vec<crate::selftests::SelftestRun>; 2],
    /// The guest VMA workload per tree.
    pub workload: [Option<crate::model::WorkloadData>; 2],
    /// ccache results per tree (`run --ccache`).
    pub ccache: [Option<crate::model::CcacheStats>; 2],
}

/// A size before and after the series.
#[derive(Debug, Clone, Serialize)]
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

/// The whole report of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub run: RunSummary,
    pub rows: Vec<Row>,
    /// The per-patch checks, when the run got to them.
    pub checks: Option<crate::checks::SeriesChecks>,
    /// (cell, tree) -> (build status, new warnings) for every tree built.
    #[serde(skip)]
    pub results_root: std::path::PathBuf,
    #[serde(skip)]
    pub per_tree: std::collections::BTreeMap<(String, String), (String, usize)>,
}

/// Read every record of a run into rows.
pub fn load(results: &Results, run: RunSummary) -> Report {
    let rows = run
        .cells
        .iter()
        .map(|c| row(results, &run, &c.id, &c.arch, c.selected))
        .collect();
    let mut per_tree = std::collections::BTreeMap::new();
    for c in &run.cells {
        for t in &run.trees {
            if let Some(rec) = results.read_record(&run.run_id, &c.id, t, Stage::Build) {
                let nw = rec.build.as_ref().map_or(0, |b| b.new_warnings.len());
                let st = if rec.status == Status::Ok {
                    "ok"
                } else {
                    "FAIL"
                };
                per_tree.insert((c.id.clone(), t.clone()), (st.to_string(), nw));
            }
        }
    }
    let checks = crate::store::read_json(
        &results
            .run_dir(&run.run_id)
            .join("checks")
            .join("checks.json"),
    )
    .ok();
    Report {
        schema: crate::model::SCHEMA,
        checks,
        run,
        rows,
        results_root: results.root.clone(),
        per_tree,
    }
}

fn row(results: &Results, run: &RunSummary, id: &str, arch: &str, selected: bool) -> Row {
    let get = |tree: &str, st: Stage| -> Option<Record> {
        results.read_record(&run.run_id, id, tree, st)
    };
    let trees = ["base", "patched"];
    let conf: Vec<Option<Record>> = trees.iter().map(|t| get(t, Stage::Configure)).collect();
    let build: Vec<Option<Record>> = trees.iter().map(|t| get(t, Stage::Build)).collect();
    let meas: Vec<Option<Record>> = trees.iter().map(|t| get(t, Stage::Measure)).collect();
    let verdict = |i: usize| {
        conf[i]
            .as_ref()
            .and_then(|r| r.configure.as_ref())
            .map(|c| &c.verdict)
    };
    let feasible = verdict(1).or(verdict(0)).map(|v| v.feasible);
    let reason = verdict(1).or(verdict(0)).and_then(|v| v.reason.clone());
    let dropped = verdict(1)
        .or(verdict(0))
        .map(|v| {
            v.warnings
                .iter()
                .map(|d| {
                    format!(
                        "CONFIG_{}={} -> {}: {}",
                        d.symbol, d.requested, d.got, d.why
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let bdata = |i: usize| build[i].as_ref().and_then(|r| r.build.as_ref());
    let build_status = |i: usize| {
        build[i].as_ref().map(|r| match r.status {
            Status::Ok => "ok".to_string(),
            _ => format!(
                "FAIL ({})",
                r.build.as_ref().map(|b| b.outcome.as_str()).unwrap_or("?")
            ),
        })
    };
    let mdata = |i: usize| meas[i].as_ref().and_then(|r| r.measure.as_ref());
    let mut sections = Vec::new();
    for name in ["text", "rodata", "data", "bss"] {
        let pick = |i: usize| {
            mdata(i)
                .and_then(|m| m.vmlinux.as_ref())
                .map(|s| match name {
                    "text" => s.text,
                    "rodata" => s.rodata,
                    "data" => s.data,
                    _ => s.bss,
                })
        };
        sections.push(SizeDelta {
            name: name.into(),
            base: pick(0),
            patched: pick(1),
        });
    }
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
    let new_warnings: Vec<String> = bdata(1)
        .map(|b| {
            b.new_warnings
                .iter()
                .map(|d| format!("{}:{}: {}", d.file, d.line, d.text))
                .collect()
        })
        .unwrap_or_default();
    let coverage = bdata(1).map(|b| (b.compiled.len(), b.compiled.len() + b.not_compiled.len()));
    let not_compiled = bdata(1).map(|b| b.not_compiled.clone()).unwrap_or_default();
    let regression = run
        .regressions
        .iter()
        .any(|r| r.starts_with(&format!("{id}:")));
    let boots: Vec<Option<crate::model::BootData>> = trees
        .iter()
        .map(|t| get(t, Stage::Boot).and_then(|r| r.boot))
        .collect();
    let boot_text = |i: usize| {
        boots[i]
            .as_ref()
            .map(|b| match (b.outcome, b.secs_to_marker) {
                (crate::model::BootOutcome::Booted, Some(s)) => format!("booted {s:.1}s"),
                (crate::model::BootOutcome::NotBootable, _) => "not bootable".to_string(),
                (o, _) => format!("{o:?}").to_lowercase(),
            })
    };
    let guest = |i: usize| {
        boots[i].as_ref().and_then(|b| b.tests).map(|(n, p, f)| {
            if f == 0 && n == p {
                format!("{p}/{n} passed")
            } else {
                format!("{f} of {n} FAILED")
            }
        })
    };
    let mut boot_notes: Vec<String> = Vec::new();
    for (i, t) in trees.iter().enumerate() {
        if let Some(b) = &boots[i] {
            if let Some(why) = b.panic.as_ref().or(b.reason.as_ref()) {
                if i == 1 && boot_notes.iter().any(|n| n.ends_with(why.as_str())) {
                    continue;
                }
                boot_notes.push(format!("{t} boot: {why}"));
            }
            if b.child.is_some_and(|c| c != 0) {
                boot_notes.push(format!("{t} boot: /init's exec-and-exit child failed"));
            }
            for w in &b.warnings {
                boot_notes.push(format!("{t} boot: kernel said: {w}"));
            }
            if let Some(n) = &b.guest_tests_note {
                let note = format!("guest vma tests not run: {n}");
                if !boot_notes.contains(&note) {
                    boot_notes.push(note);
                }
            }
        }
    }
    Row {
        id: id.to_string(),
        arch: arch.to_string(),
        selected,
        feasible,
        reason,
        dropped,
        tracked: {
            let mut t = std::collections::BTreeMap::new();
            for i in 0..2 {
                for (k, v) in verdict(i).map(|v| v.tracked.clone()).unwrap_or_default() {
                    t.entry(k).or_insert([None, None])[i] = Some(v);
                }
            }
            t
        },
        build: [build_status(0), build_status(1)],
        warnings: [
            bdata(0).map(|b| b.warnings.len()),
            bdata(1).map(|b| b.warnings.len()),
        ],
        new_warnings,
        coverage,
        not_compiled,
        compiled: bdata(1).map(|b| b.compiled.clone()).unwrap_or_default(),
        sections,
        structs,
        boot: [boot_text(0), boot_text(1)],
        boot_notes,
        guest_tests: [guest(0), guest(1)],
        selftests: [
            boots[0]
                .as_ref()
                .map(|b| b.selftests.clone())
                .unwrap_or_default(),
            boots[1]
                .as_ref()
                .map(|b| b.selftests.clone())
                .unwrap_or_default(),
        ],
        workload: [
            boots[0].as_ref().and_then(|b| b.workload.clone()),
            boots[1].as_ref().and_then(|b| b.workload.clone()),
        ],
        regression,
        ccache: [
            bdata(0).and_then(|b| b.ccache.clone()),
            bdata(1).and_then(|b| b.ccache.clone()),
        ],
    }
}
