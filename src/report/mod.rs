//! Reports: loading a run's records (`load`) and rendering them (markdown,
//! JSON, the plan), and the live progress display. Only this module knows
//! output formats.

mod fixed;
pub mod html;
mod html_layout;
pub mod junit;
pub mod kcidb;
pub mod load;
pub mod mail;
pub mod markdown;
pub mod plan;
pub mod progress;

pub use load::{FailingOnBoth, Report, Row, SizeDelta};

/// Every record of a run, read into the report every format renders, with
/// what the series fixed judged from its rows.
pub fn load(results: &crate::store::Results, run: crate::model::RunSummary) -> Report {
    let mut r = load::load(results, run);
    r.fixed = fixed::fixed(&r.cells);
    r.summary.fixed = r.fixed.len();
    r.failing_on_both = fixed::failing_on_both(&r.cells);
    r
}
pub use markdown::markdown;

/// `1.5 GiB`.
pub fn human_bytes(b: u64) -> String {
    let mut v = b as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 {
            return format!("{v:.1} {unit}");
        }
        v /= 1024.0;
    }
    format!("{v:.1} TiB")
}

/// What the cache directory holds, one line per part.
pub fn cache_text(cache: &std::path::Path, parts: &[crate::cache::Usage]) -> String {
    let mut s = format!("cache {}\n", cache.display());
    for u in parts {
        s.push_str(&format!(
            "  {:<9} {:>10}  {:>5} entries  {}\n",
            u.path.file_name().unwrap_or_default().to_string_lossy(),
            human_bytes(u.bytes),
            u.entries,
            u.what
        ));
    }
    let total: u64 = parts.iter().map(|u| u.bytes).sum();
    s.push_str(&format!("  {:<9} {:>10}\n", "total", human_bytes(total)));
    s
}

/// The report as JSON (documented by [`SCHEMA_FILE`]).
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("serializable") + "\n"
}

/// The JSON Schema of `report --format json`, relative to the repository.
pub const SCHEMA_FILE: &str = "src/report/report.schema.json";

/// The JSON Schema of [`Report`], as committed in [`SCHEMA_FILE`].
pub fn json_schema() -> String {
    let s = schemars::schema_for!(Report);
    serde_json::to_string_pretty(&s).expect("serializable") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Stage;
    use crate::kconfig::Verdict;
    use crate::measure::{Layout, Sections};
    use crate::model::{BuildData, CellEntry, ConfigureData, MeasureData, RunSummary, Status};
    use crate::model::{Diagnostic, Record};
    use crate::series::SeriesInfo;
    use crate::store::Results;

    fn record(cell: &str, tree: &str, stage: Stage, status: Status) -> Record {
        Record {
            status,
            ..Record::new(cell, tree, stage, "c")
        }
    }

    /// A finished run "r1" of `cells` with `regressions`.
    fn run_summary(
        cells: Vec<CellEntry>,
        regressions: Vec<crate::model::Regression>,
    ) -> RunSummary {
        RunSummary {
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
                cover_subject_line: None,
                cover_message_id: None,
                base_commit: None,
                patches: vec![],
            },
            structs: vec!["vm_area_struct".into()],
            cells,
            regressions,
            interrupted: false,
            trees: vec!["base".into(), "patched".into()],
            first_bad: Default::default(),
            shard: None,
            shard_weights: None,
            dealt: vec![],
            configs: vec![],
            base_source: String::new(),
        }
    }

    /// A base kernel that oopses and panics is fixed on patched only when
    /// the patched kernel booted to its marker: a console cut short says
    /// nothing of the reports that did not come.
    #[test]
    fn fixed_on_patched_needs_a_patched_boot_that_finished() {
        use crate::model::BootOutcome;
        let dir = tempfile::tempdir().unwrap();
        let res = Results::open(dir.path());
        let run = run_summary(
            vec![CellEntry {
                id: "riscv-smp-nommu".into(),
                arch: "riscv".into(),
                smp: "smp".into(),
                mmu: "nommu".into(),
                selected: true,
            }],
            vec![],
        );
        let boot = |tree: &str, outcome: BootOutcome, console: &str| {
            let status = if outcome == BootOutcome::Booted {
                Status::Ok
            } else {
                Status::Failed
            };
            let mut b = record("riscv-smp-nommu", tree, Stage::Boot, status);
            let mut data = crate::model::BootData::not_run(outcome, String::new());
            data.reason = None;
            data.splats = crate::boot::splat::parse(console);
            if outcome == BootOutcome::Panic {
                data.panic = Some("Kernel panic - not syncing: Fatal exception".into());
            }
            b.boot = Some(data);
            res.write_record("r1", &b).unwrap();
        };
        let oops = include_str!("../../tests/fixtures/console/riscv-nommu-oops.log");
        boot("base", BootOutcome::Panic, oops);
        boot("patched", BootOutcome::Silent, "");
        assert_eq!(load(&res, run.clone()).fixed, vec![]);
        boot("patched", BootOutcome::Booted, "");
        let rep = load(&res, run);
        let text: Vec<String> = rep.fixed.iter().map(|f| f.to_string()).collect();
        assert_eq!(rep.summary.fixed, 3, "{text:#?}");
        assert_eq!(
            text[0],
            "riscv-smp-nommu: base does not boot (panic: Kernel panic - not syncing: \
             Fatal exception), patched does"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("buggy .next") && t.contains("(10 times)")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|t| t.contains("Oops - load access fault")
                && t.ends_with("the patched kernel does not")),
            "{text:#?}"
        );
    }

    /// Selftests that fail on both trees are named in the summary: "no
    /// regression" alone would hide them. One that fails on patched only
    /// is a regression, not one of them.
    #[test]
    fn selftests_failing_on_both_trees_are_named() {
        use crate::model::BootOutcome;
        use crate::selftests::{summarize, EndStatus};
        let dir = tempfile::tempdir().unwrap();
        let res = Results::open(dir.path());
        let run = run_summary(
            vec![CellEntry {
                id: "arm-up-mmu".into(),
                arch: "arm".into(),
                smp: "up".into(),
                mmu: "mmu".into(),
                selected: true,
            }],
            vec![],
        );
        let fail = "TAP version 13\n1..1\nnot ok 1 t\n";
        let pass = "TAP version 13\n1..1\nok 1 t\n";
        // guard-regions fails on both, with one more failing subtest on
        // patched: a regression, not one of "both".
        let one = "TAP version 13\n1..2\nnot ok 1 a\nok 2 b\n";
        let two = "TAP version 13\n1..2\nnot ok 1 a\nnot ok 2 b\n";
        for (tree, merge, guard) in [("base", pass, one), ("patched", fail, two)] {
            let mut b = record("arm-up-mmu", tree, Stage::Boot, Status::Ok);
            let mut data = crate::model::BootData::not_run(BootOutcome::Booted, String::new());
            data.reason = None;
            data.selftests = vec![
                summarize("mremap_test", fail, EndStatus::Exited(1)),
                summarize("merge", merge, EndStatus::Exited(0)),
                summarize("uffd-unit-tests:poison", pass, EndStatus::Signalled(11)),
                summarize("guard-regions", guard, EndStatus::Exited(1)),
            ];
            b.boot = Some(data);
            res.write_record("r1", &b).unwrap();
        }
        let rep = load(&res, run);
        assert_eq!(rep.failing_on_both.len(), 1);
        assert_eq!(rep.failing_on_both[0].cell, "arm-up-mmu");
        assert_eq!(
            rep.failing_on_both[0].tests_text(),
            "mremap_test (FAIL), uffd-unit-tests:poison (ERROR)"
        );
        // The JSON carries it too, with each tree's verdict.
        let j: serde_json::Value = serde_json::from_str(&json(&rep)).unwrap();
        assert_eq!(
            j["failing_on_both"][0]["tests"][1],
            serde_json::json!({"name": "uffd-unit-tests:poison", "base": "error", "patched": "error"})
        );
        assert!(markdown(&rep).contains(
            "- selftests that fail on both trees (not regressions; see \"Kernel selftests \
             in the guests\"): arm-up-mmu mremap_test (FAIL), uffd-unit-tests:poison (ERROR)\n"
        ));
    }

    /// A selftest that a signal kills on base and that passes on patched
    /// is a fix (arm's uffd poison test: SIGSEGV instead of SIGBUS); one
    /// that timed out, or that SIGKILL (the OOM killer's too) ended, is not.
    #[test]
    fn a_selftest_that_crashes_on_base_only_is_fixed() {
        use crate::model::BootOutcome;
        use crate::selftests::{summarize, EndStatus};
        let dir = tempfile::tempdir().unwrap();
        let res = Results::open(dir.path());
        let run = run_summary(
            vec![CellEntry {
                id: "arm-up-mmu".into(),
                arch: "arm".into(),
                smp: "up".into(),
                mmu: "mmu".into(),
                selected: true,
            }],
            vec![],
        );
        let plan = "TAP version 13\n1..5\n";
        let pass = "TAP version 13\n1..1\nok 1 t\n";
        for tree in ["base", "patched"] {
            let mut b = record("arm-up-mmu", tree, Stage::Boot, Status::Ok);
            let mut data = crate::model::BootData::not_run(BootOutcome::Booted, String::new());
            data.reason = None;
            data.selftests = if tree == "base" {
                vec![
                    summarize("poison", plan, EndStatus::Signalled(11)),
                    summarize("stress", plan, EndStatus::TimedOut(180)),
                    summarize("oom", plan, EndStatus::Signalled(9)),
                ]
            } else {
                ["poison", "stress", "oom"]
                    .iter()
                    .map(|n| summarize(n, pass, EndStatus::Exited(0)))
                    .collect()
            };
            b.boot = Some(data);
            res.write_record("r1", &b).unwrap();
        }
        let rep = load(&res, run);
        let text: Vec<String> = rep.fixed.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            text,
            ["arm-up-mmu: selftest poison: killed by signal 11 on base, passes on patched"]
        );
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
        let mut run = run_summary(
            vec![
                cell("x86-up-mmu", true),
                cell("x86-up-nommu", true),
                cell("arm-up-mmu", false),
            ],
            vec![crate::model::Regression::new(
                "x86-up-mmu",
                crate::model::RegressionKind::NewWarnings,
                "1 new warning(s)",
            )],
        );
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
                ccache: (tree == "patched").then_some(crate::model::CcacheStats {
                    hits: 3,
                    misses: 1,
                    uncacheable: 2,
                }),
                structs_only: false,
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

        // A second feasible cell whose patched build failed in a series
        // file, with a request Kconfig dropped on both cells.
        let mut c = record("arm-up-mmu", "patched", Stage::Configure, Status::Ok);
        let dropped = crate::kconfig::Dropped {
            symbol: "PER_VMA_LOCK_STATS".into(),
            requested: "y".into(),
            got: "n".into(),
            from: "configs/base.config:29".into(),
            why: "depends on PER_VMA_LOCK".into(),
        };
        c.configure = Some(ConfigureData {
            fragments: vec![],
            verdict: Verdict {
                feasible: true,
                reason: None,
                warnings: vec![dropped.clone()],
                requested: 3,
                tracked: Default::default(),
            },
            config_sha256: "x".into(),
        });
        res.write_record("r1", &c).unwrap();
        let mut c = res
            .read_record("r1", "x86-up-mmu", "patched", Stage::Configure)
            .unwrap();
        c.configure.as_mut().unwrap().verdict.warnings = vec![dropped];
        res.write_record("r1", &c).unwrap();
        let mut b = record("arm-up-mmu", "patched", Stage::Build, Status::Failed);
        b.build = Some(BuildData {
            outcome: "exit status 2".into(),
            jobs: 2,
            warnings: vec![],
            errors: vec![Diagnostic {
                file: "net/ipv4/tcp.c".into(),
                line: 7,
                kind: "error".into(),
                text: "use of undeclared identifier 'x'".into(),
            }],
            new_warnings: vec![],
            compiled: vec![],
            not_compiled: vec!["net/ipv4/tcp.c".into(), "mm/a.c".into()],
            tail: vec![],
            ccache: None,
            structs_only: false,
        });
        res.write_record("r1", &b).unwrap();
        run.cells[2].selected = true;
        // Base's console complains 3 times alike, patched's not at all.
        for (tree, console) in [
            (
                "base",
                "seq_file: buggy .next function m_next did not update position index\n".repeat(3),
            ),
            ("patched", String::new()),
        ] {
            let mut b = record("x86-up-mmu", tree, Stage::Boot, Status::Ok);
            let mut data =
                crate::model::BootData::not_run(crate::model::BootOutcome::Booted, String::new());
            data.reason = None;
            data.splats = crate::boot::splat::parse(&console);
            b.boot = Some(data);
            res.write_record("r1", &b).unwrap();
        }

        let rep = load(&res, run.clone());
        assert!(rep.complete);
        let md = markdown(&rep);
        for want in [
            "| x86-up-mmu **REGRESSION** | PER_VMA_LOCK n -> undefined | ok / ok | 1 | 1 of 2 | +8 B | booted / booted | - / - |",
            "| arm-up-mmu | - | - / FAIL (exit 2) | 0 | - | - | - / - | - / - |",
            "- cells: 3 selected of 3, 2 feasible, 1 refused by Kconfig",
            "- cost: **x86-up-mmu vm_area_struct +8 B** (160 -> 168)",
            "- x86-up-nommu: CONFIG_MMU=n requested, got y: x86 always has it",
            "| x86-up-mmu | 160 -> 168 (+8 B) |",
            "| x86-up-mmu | - | 3/4 (75%) |",
            "x86-up-mmu: new warning: mm/a.c:3: unused",
            // The failed build quotes its error and names its log.
            "arm-up-mmu patched: FAIL (exit 2) after 0 s; log `",
            "arm-up-mmu/patched/build.log`\n\n```\nnet/ipv4/tcp.c:7: error: use of undeclared identifier 'x'\n```",
            // One line per dropped request, with every cell it hit.
            "- dropped CONFIG_PER_VMA_LOCK_STATS=y (configs/base.config:29): got n, depends on PER_VMA_LOCK; on x86-up-mmu, arm-up-mmu",
            // Alike reports are one line, counted.
            "- x86-up-mmu: base kernel reports seq-file: seq_file: buggy .next function m_next did not update position index (console line, 3 times from line 1; base)",
            // ... and, gone on patched, a fix of the series.
            "- fixed on patched (base fails, patched does not): 1\n",
            "## Fixed on patched\n",
            "- x86-up-mmu: the base kernel reports seq-file: seq_file: buggy .next function m_next did not update position index (3 times); the patched kernel does not\n",
        ] {
            assert!(md.contains(want), "{want}\n---\n{md}");
        }
        // The summary and regressions come before the table.
        assert!(md.find("## Regressions").unwrap() < md.find("## Cells").unwrap());
        // tcp.c failed to compile on arm: tried, so neither "not compiled"
        // anywhere nor in arm's notes.
        assert!(!md.contains("no selected cell compiled"), "{md}");
        assert!(!md.contains("arm-up-mmu: series files"), "{md}");
        assert!(md.contains(
            "x86-up-mmu: series files this configuration does not compile: net/ipv4/tcp.c"
        ));
        assert!(!md.contains("not selected"), "{md}");

        let js: serde_json::Value = serde_json::from_str(&json(&rep)).unwrap();
        assert_eq!(js["schema"], load::REPORT_SCHEMA);
        assert_eq!(js["cells"].as_array().unwrap().len(), 3);
        let x86 = &js["cells"][0];
        assert_eq!(x86["structs"][0]["patched"], 168);
        assert_eq!(x86["build"]["patched"]["status"], "ok");
        assert_eq!(x86["tracked"]["PER_VMA_LOCK"]["patched"], "undefined");
        assert_eq!(x86["smp"], "up");
        assert_eq!(js["cells"][2]["build"]["patched"]["status"], "failed");
        assert_eq!(js["cells"][2]["build"]["patched"]["exit_status"], 2);
        assert_eq!(
            js["cells"][2]["coverage"]["failed"],
            serde_json::json!(["net/ipv4/tcp.c"])
        );
        assert_eq!(js["run"]["regressions"][0]["kind"], "new-warnings");
        assert_eq!(js["summary"]["struct_growth"][0]["delta"], 8);

        // --timing: one row per cell and tree, the stages in order, cached
        // replays marked.
        let t = markdown::timing_only(&rep);
        assert!(
            t.contains("| x86-up-mmu | base | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 | 2 |"),
            "{t}"
        );
        assert!(
            t.contains("| arm-up-mmu | patched | 0.0 | 0.0 | - | - | 0.0 | 2 |"),
            "{t}"
        );

        // --weights: seconds per cell as a weights file that `run --shard
        // --weights` reads back.
        let w = dir.path().join("w.toml");
        std::fs::write(&w, plan::weights_toml(&rep)).unwrap();
        let w = crate::shard::Weights::load(&w).unwrap();
        assert_eq!(
            w.secs.keys().collect::<Vec<_>>(),
            ["arm-up-mmu", "x86-up-mmu", "x86-up-nommu"]
        );

        // --structs-only: the build column says so, never "ok".
        let mut b = res
            .read_record("r1", "x86-up-mmu", "patched", Stage::Build)
            .unwrap();
        b.build.as_mut().unwrap().structs_only = true;
        res.write_record("r1", &b).unwrap();
        let md = markdown(&load(&res, run.clone()));
        assert!(md.contains("| ok / probe only | - | - |"), "{md}");

        // An unfinished run says so first.
        run.finished = None;
        let rep = load(&res, run);
        assert!(!rep.complete);
        assert!(markdown(&rep).contains("**This run is not finished"));
    }

    /// `report --format json` is documented by the committed JSON Schema:
    /// regenerate it with VMAMATRIX_BLESS=1 when the report changes.
    #[test]
    fn json_schema_is_committed_and_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_FILE);
        let now = json_schema();
        if std::env::var_os("VMAMATRIX_BLESS").is_some() {
            std::fs::write(&path, &now).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == now,
            "{SCHEMA_FILE} is stale: run VMAMATRIX_BLESS=1 cargo test --lib json_schema"
        );
    }
}
