//! Reports: the matrix table (markdown or JSON) of one run, built from the
//! records on disk, and the live progress display. Only this module knows
//! output formats.

pub mod progress;

use crate::events::Stage;
use crate::store::{Record, Results, RunSummary, Status};
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
    pub sections: Vec<SizeDelta>,
    pub structs: Vec<SizeDelta>,
    /// Boot outcome per tree: "booted 2.1s", "panic", "not bootable", ...
    pub boot: [Option<String>; 2],
    /// Why a tree was not booted, or how it failed.
    pub boot_notes: Vec<String>,
    /// tools/testing/vma in the guest per tree: "26/26 passed", or "-".
    pub guest_tests: [Option<String>; 2],
    pub regression: bool,
    /// ccache results per tree (`run --ccache`).
    pub ccache: [Option<crate::store::CcacheStats>; 2],
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
    Report {
        schema: crate::store::SCHEMA,
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
    let boots: Vec<Option<crate::boot::BootData>> = trees
        .iter()
        .map(|t| get(t, Stage::Boot).and_then(|r| r.boot))
        .collect();
    let boot_text = |i: usize| {
        boots[i]
            .as_ref()
            .map(|b| match (b.outcome, b.secs_to_marker) {
                (crate::boot::BootOutcome::Booted, Some(s)) => format!("booted {s:.1}s"),
                (crate::boot::BootOutcome::NotBootable, _) => "not bootable".to_string(),
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
        sections,
        structs,
        boot: [boot_text(0), boot_text(1)],
        boot_notes,
        guest_tests: [guest(0), guest(1)],
        regression,
        ccache: [
            bdata(0).and_then(|b| b.ccache.clone()),
            bdata(1).and_then(|b| b.ccache.clone()),
        ],
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_else(|| "-".into())
}

fn delta(d: &SizeDelta) -> String {
    match d.delta() {
        Some(0) => "0".into(),
        Some(x) => format!("{x:+}"),
        None => "-".into(),
    }
}

/// `PER_VMA_LOCK=n->undefined` for every tracked symbol.
fn tracked(row: &Row) -> String {
    row.tracked
        .iter()
        .map(|(k, [b, p])| {
            let b = b.as_deref().unwrap_or("-");
            let p = p.as_deref().unwrap_or("-");
            if b == p {
                format!("{k}={b}")
            } else {
                format!("{k}={b}->{p}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The markdown report.
pub fn markdown(r: &Report, struct_size: bool) -> String {
    let run = &r.run;
    let mut s = String::new();
    s.push_str(&format!("# vmamatrix run {}\n\n", run.run_id));
    s.push_str(&format!(
        "- kernel: `{}` base `{}`\n- series: {} ({} patches, sha256 `{}`), patched `{}`\n- toolchain: `{}`\n- started {}, finished {}{}\n\n",
        run.kernel,
        &run.base[..12.min(run.base.len())],
        run.series.cover_subject.as_deref().unwrap_or(&run.series.path),
        run.series.patches.len(),
        &run.series.hash[..16.min(run.series.hash.len())],
        &run.patched[..12.min(run.patched.len())],
        run.toolchain.join(" "),
        run.started,
        run.finished.as_deref().unwrap_or("(not finished)"),
        if run.interrupted { " (interrupted)" } else { "" },
    ));
    s.push_str("| cell | feasible | Kconfig base->patched | base build | patched build | warnings base/patched | new warnings | series .c compiled | text Δ | rodata Δ | data Δ | bss Δ | base boot | patched boot | guest vma tests base/patched |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for row in &r.rows {
        if !row.selected && row.feasible.is_none() {
            s.push_str(&format!(
                "| {} | not selected | | | | | | | | | | | | | |\n",
                row.id
            ));
            continue;
        }
        let feas = match row.feasible {
            Some(true) => "yes".to_string(),
            Some(false) => "no".to_string(),
            None => "-".to_string(),
        };
        let sec = |n: &str| {
            row.sections
                .iter()
                .find(|d| d.name == n)
                .map(delta)
                .unwrap_or_default()
        };
        s.push_str(&format!(
            "| {}{} | {} | {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |\n",
            row.id,
            if row.regression {
                " **REGRESSION**"
            } else {
                ""
            },
            feas,
            tracked(row),
            opt(&row.build[0]),
            opt(&row.build[1]),
            opt(&row.warnings[0]),
            opt(&row.warnings[1]),
            if row.build[1].is_some() {
                row.new_warnings.len().to_string()
            } else {
                "-".into()
            },
            row.coverage
                .map(|(c, t)| format!("{c}/{t}"))
                .unwrap_or_else(|| "-".into()),
            sec("text"),
            sec("rodata"),
            sec("data"),
            sec("bss"),
                        opt(&row.boot[0]),
            opt(&row.boot[1]),
            opt(&row.guest_tests[0]),
            opt(&row.guest_tests[1]),
        ));
    }
    let host: Vec<String> = ["base", "patched"]
        .iter()
        .filter_map(|t| {
            let r: Record = crate::store::read_json(
                &r.results_root
                    .join(&run.run_id)
                    .join("host")
                    .join(t)
                    .join("vmatest.json"),
            )
            .ok()?;
            let d = r.vmatest?;
            Some(match d.tests {
                Some((n, p, f)) => format!("{t}: {n} tests run, {p} passed, {f} failed"),
                None => format!("{t}: {}", d.outcome),
            })
        })
        .collect();
    if !host.is_empty() {
        s.push_str(&format!(
            "\ntools/testing/vma on the host: {}\n",
            host.join("; ")
        ));
    }
    let infeasible: Vec<&Row> = r
        .rows
        .iter()
        .filter(|r| r.feasible == Some(false))
        .collect();
    if !infeasible.is_empty() {
        s.push_str("\n## Infeasible cells\n\n");
        for row in infeasible {
            s.push_str(&format!(
                "- {}: {}\n",
                row.id,
                row.reason.as_deref().unwrap_or("?")
            ));
        }
    }
    if struct_size {
        s.push_str("\n## Struct sizes (bytes, base -> patched)\n\n| cell |");
        for st in &run.structs {
            s.push_str(&format!(" {st} |"));
        }
        s.push_str("\n|---|");
        for _ in &run.structs {
            s.push_str("---|");
        }
        s.push('\n');
        for row in r.rows.iter().filter(|r| {
            r.structs
                .iter()
                .any(|d| d.base.is_some() || d.patched.is_some())
        }) {
            s.push_str(&format!("| {} |", row.id));
            for d in &row.structs {
                s.push_str(&format!(
                    " {} -> {} ({}) |",
                    opt(&d.base),
                    opt(&d.patched),
                    delta(d)
                ));
            }
            s.push('\n');
        }
    }
    let cc: Vec<&Row> = r
        .rows
        .iter()
        .filter(|r| r.ccache.iter().any(Option::is_some))
        .collect();
    if !cc.is_empty() {
        s.push_str("\n## ccache (hits / cacheable compiler calls)\n\n| cell | base | patched |\n|---|---|---|\n");
        let one = |c: &Option<crate::store::CcacheStats>| match c {
            Some(c) => match c.hit_rate() {
                Some(rate) => format!("{}/{} ({rate:.0}%)", c.hits, c.hits + c.misses),
                None => "no cacheable calls".into(),
            },
            None => "-".into(),
        };
        for row in cc {
            s.push_str(&format!(
                "| {} | {} | {} |\n",
                row.id,
                one(&row.ccache[0]),
                one(&row.ccache[1])
            ));
        }
    }
    let notes: Vec<String> = r
        .rows
        .iter()
        .flat_map(|row| {
            let mut v = Vec::new();
            for w in &row.new_warnings {
                v.push(format!("- {}: new warning: {w}", row.id));
            }
            if !row.not_compiled.is_empty() {
                v.push(format!(
                    "- {}: series files not compiled (no proof they build here): {}",
                    row.id,
                    row.not_compiled.join(", ")
                ));
            }
            for d in &row.dropped {
                v.push(format!("- {}: dropped {d}", row.id));
            }
            for b in &row.boot_notes {
                v.push(format!("- {}: {b}", row.id));
            }
            v
        })
        .collect();
    if !notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        s.push_str(&notes.join("\n"));
        s.push('\n');
    }
    if run.trees.len() > 2 {
        s.push_str("\n## Per patch (build status, warnings new since base)\n\n| cell |");
        for t in &run.trees {
            s.push_str(&format!(" {t} |"));
        }
        s.push_str(" first bad |\n|---|");
        for _ in &run.trees {
            s.push_str("---|");
        }
        s.push_str("---|\n");
        for row in r.rows.iter().filter(|r| r.feasible == Some(true)) {
            s.push_str(&format!("| {} |", row.id));
            for t in &run.trees {
                let cell = match results_cell(r, &row.id, t) {
                    Some((st, nw)) => format!(" {st} (+{nw}) |"),
                    None => " - |".into(),
                };
                s.push_str(&cell);
            }
            s.push_str(&format!(
                " {} |\n",
                run.first_bad
                    .get(&row.id)
                    .map(String::as_str)
                    .unwrap_or("none")
            ));
        }
    }
    if !run.regressions.is_empty() {
        s.push_str("\n## Regressions\n\n");
        for reg in &run.regressions {
            s.push_str(&format!("- {reg}\n"));
        }
    }
    s
}

fn results_cell(r: &Report, id: &str, tree: &str) -> Option<(String, usize)> {
    let b = r.per_tree.get(&(id.to_string(), tree.to_string()))?;
    Some(b.clone())
}

pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("serializable") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::Diagnostic;
    use crate::events::Stage;
    use crate::kconfig::Verdict;
    use crate::measure::{Layout, Sections};
    use crate::series::SeriesInfo;
    use crate::store::{
        BuildData, CellEntry, ConfigureData, MeasureData, Results, RunSummary, Status,
    };

    fn record(cell: &str, tree: &str, stage: Stage, status: Status) -> Record {
        Record {
            status,
            ..Record::new(cell, tree, stage, "c")
        }
    }

    #[test]
    fn markdown_shows_sizes_regressions_and_infeasible_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let res = Results::open(dir.path());
        let cell = |id: &str, selected| CellEntry {
            id: id.into(),
            arch: "x86".into(),
            smp: "up".into(),
            mmu: "mmu".into(),
            selected,
        };
        let run = RunSummary {
            schema: 1,
            run_id: "r1".into(),
            vmamatrix: "0".into(),
            started: "s".into(),
            finished: Some("f".into()),
            kernel: "/k".into(),
            base: "b".repeat(40),
            patched: "p".repeat(40),
            toolchain: vec!["LLVM=-19".into()],
            matrix: None,
            series: SeriesInfo {
                path: "patches".into(),
                hash: "h".repeat(64),
                cover_subject: Some("mm: things".into()),
                patches: vec![],
            },
            structs: vec!["vm_area_struct".into()],
            cells: vec![
                cell("x86-up-mmu", true),
                cell("x86-up-nommu", true),
                cell("arm-up-mmu", false),
            ],
            regressions: vec!["x86-up-mmu: 1 new warning(s)".into()],
            interrupted: false,
            trees: vec!["base".into(), "patched".into()],
            first_bad: Default::default(),
            shard: None,
        };
        for (tree, size, warn) in [("base", 160, 0), ("patched", 168, 1)] {
            let mut c = record("x86-up-mmu", tree, Stage::Configure, Status::Ok);
            c.configure = Some(ConfigureData {
                fragments: vec![],
                verdict: Verdict {
                    feasible: true,
                    reason: None,
                    warnings: vec![],
                    requested: 3,
                    tracked: [(
                        "PER_VMA_LOCK".to_string(),
                        if tree == "base" { "n" } else { "undefined" }.to_string(),
                    )]
                    .into(),
                },
                config_sha256: "x".into(),
            });
            res.write_record("r1", &c).unwrap();
            let mut b = record("x86-up-mmu", tree, Stage::Build, Status::Ok);
            let w = Diagnostic {
                file: "mm/a.c".into(),
                line: 3,
                kind: "warning".into(),
                text: "unused".into(),
            };
            b.build = Some(BuildData {
                outcome: "exit status 0".into(),
                jobs: 2,
                warnings: vec![w.clone(); warn],
                errors: vec![],
                new_warnings: vec![w; warn],
                compiled: vec!["mm/a.c".into()],
                not_compiled: vec!["net/ipv4/tcp.c".into()],
                tail: vec![],
                ccache: (tree == "patched").then_some(crate::store::CcacheStats {
                    hits: 3,
                    misses: 1,
                    uncacheable: 2,
                }),
            });
            res.write_record("r1", &b).unwrap();
            let mut m = record("x86-up-mmu", tree, Stage::Measure, Status::Ok);
            m.measure = Some(MeasureData {
                image: Some(1),
                vmlinux: Some(Sections {
                    text: 1000 + size,
                    rodata: 10,
                    data: 20,
                    bss: 30,
                    by_name: Default::default(),
                }),
                structs: vec![Layout {
                    name: "vm_area_struct".into(),
                    size,
                    members: vec![],
                    holes: vec![],
                    padding: 0,
                }],
                errors: vec![],
            });
            res.write_record("r1", &m).unwrap();
        }
        let mut c = record("x86-up-nommu", "base", Stage::Configure, Status::Infeasible);
        c.configure = Some(ConfigureData {
            fragments: vec![],
            verdict: Verdict {
                feasible: false,
                reason: Some("CONFIG_MMU=n requested, got y: x86 always has it".into()),
                warnings: vec![],
                requested: 3,
                tracked: Default::default(),
            },
            config_sha256: "x".into(),
        });
        res.write_record("r1", &c).unwrap();

        let rep = load(&res, run);
        let md = markdown(&rep, true);
        assert!(md.contains("| x86-up-mmu **REGRESSION** | yes | PER_VMA_LOCK=n->undefined | ok | ok | 0/1 | 1 | 1/2 | +8 | 0 | 0 | 0 |"), "{md}");
        assert!(md.contains("| x86-up-nommu | no |"), "{md}");
        assert!(
            md.contains("- x86-up-nommu: CONFIG_MMU=n requested, got y: x86 always has it"),
            "{md}"
        );
        assert!(md.contains("| arm-up-mmu | not selected |"), "{md}");
        assert!(md.contains("| x86-up-mmu | 160 -> 168 (+8) |"), "{md}");
        assert!(md.contains("| x86-up-mmu | - | 3/4 (75%) |"), "{md}");
        assert!(
            md.contains("x86-up-mmu: new warning: mm/a.c:3: unused"),
            "{md}"
        );
        assert!(
            md.contains("no proof they build here): net/ipv4/tcp.c"),
            "{md}"
        );
        let js: serde_json::Value = serde_json::from_str(&json(&rep)).unwrap();
        assert_eq!(js["rows"].as_array().unwrap().len(), 3);
        assert_eq!(js["rows"][0]["structs"][0]["patched"], 168);
    }
}
