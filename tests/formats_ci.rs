//! `report --format junit` and `--format kcidb` on a fixture run: the JUnit
//! XML parses and its counts match its content; the KCIDB JSON passes the
//! real kcidb-io's validation (installed by scripts/setup.sh).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use vmamatrix::boot::splat::{Splat, SplatKind};
use vmamatrix::checks::{Checkpatch, PatchChecks, SeriesChecks};
use vmamatrix::events::Stage;
use vmamatrix::kconfig::Verdict;
use vmamatrix::model::{BootData, BootOutcome, BuildData, ConfigureData, Diagnostic};
use vmamatrix::model::{Regression, RegressionKind, VmaTestData, WorkloadData, WorkloadOp};
use vmamatrix::selftests::SelftestRun;
use vmamatrix::series::{PatchInfo, SeriesInfo};
use vmamatrix::store::{self, CellEntry, Record, Results, RunSummary, Status};

const RUN: &str = "20260101-000000";
const CELLS: [&str; 4] = [
    "x86-up-mmu",
    "arm64-smp-mmu",
    "x86-up-nommu",
    "riscv-up-nommu",
];

fn rec(cell: &str, tree: &str, stage: Stage, status: Status) -> Record {
    Record {
        status,
        secs: 1.5,
        commands: vec!["make ARCH=x86 LLVM=-19 bzImage".into()],
        ..Record::new(cell, tree, stage, &"c".repeat(40))
    }
}

fn build(ok: bool, errors: Vec<Diagnostic>) -> BuildData {
    BuildData {
        outcome: if ok { "exit status 0" } else { "exit status 2" }.into(),
        jobs: 2,
        warnings: vec![],
        errors,
        new_warnings: vec![],
        compiled: vec![],
        not_compiled: vec![],
        tail: vec![],
        ccache: None,
        structs_only: false,
    }
}

fn configure(feasible: bool) -> ConfigureData {
    ConfigureData {
        fragments: vec![],
        verdict: Verdict {
            feasible,
            reason: (!feasible).then(|| "CONFIG_MMU=n requested, got y: x86 always has it".into()),
            warnings: vec![],
            requested: 3,
            tracked: Default::default(),
        },
        config_sha256: "x".into(),
    }
}

fn selftest(pass: bool) -> SelftestRun {
    SelftestRun {
        name: "proc-maps-race".into(),
        exit: Some(if pass { 0 } else { 1 }),
        pass: if pass { 2 } else { 1 },
        fail: if pass { 0 } else { 1 },
        passed: if pass {
            vec!["maps_tearing".into(), "vma <split> & merge".into()]
        } else {
            vec!["maps_tearing".into()]
        },
        failed: if pass {
            vec![]
        } else {
            vec!["vma <split> & merge".into()]
        },
        ..Default::default()
    }
}

fn boot(tree: &str) -> BootData {
    let patched = tree == "patched";
    BootData {
        outcome: BootOutcome::Booted,
        secs_to_marker: Some(2.25),
        tests: Some((26, 26, 0)),
        qemu: "qemu-system-x86_64 -kernel bzImage".into(),
        key: "k".into(),
        child: Some(0),
        splats: if patched {
            vec![Splat {
                kind: SplatKind::Warning,
                title: "WARNING: mm/vma.c:12 at vma_merge+0x1/0x2, CPU#0: workload/19".into(),
                location: Some("mm/vma.c:12".into()),
                function: Some("vma_merge".into()),
                frames: vec!["vma_merge".into(), "do_mmap".into()],
                line: 42,
            }]
        } else {
            vec![]
        },
        workload: Some(WorkloadData {
            mode: "mmu".into(),
            ops: vec![WorkloadOp {
                kind: "mmap".into(),
                ops: 100,
                failed: 0,
            }],
            total: 100,
            failed: 0,
            finished: true,
            exit: Some(0),
            ..Default::default()
        }),
        selftests: vec![selftest(!patched)],
        ..BootData::not_run(BootOutcome::Booted, String::new())
    }
}

/// A finished run of 4 selected cells: x86-up-mmu booted on both trees
/// (workload, vma tests, a selftest that regresses, a new kernel warning),
/// arm64-smp-mmu whose patched build fails, x86-up-nommu refused by Kconfig,
/// riscv-up-nommu built but not bootable here; host tests and checks.
fn fixture(root: &Path) -> PathBuf {
    let res = Results::open(root);
    let patches = vec![
        PatchInfo {
            number: 1,
            subject: "mm: one".into(),
            subject_line: String::new(),
            author: "A U Thor <a@example.org>".into(),
            files: vec!["mm/vma.c".into()],
            commit: None,
            message_id: None,
        },
        PatchInfo {
            number: 2,
            subject: "mm: two".into(),
            subject_line: String::new(),
            author: "A U Thor <a@example.org>".into(),
            files: vec!["mm/mmap.c".into()],
            commit: None,
            message_id: None,
        },
    ];
    let run = RunSummary {
        schema: store::SCHEMA,
        run_id: RUN.into(),
        vmamatrix: "0".into(),
        started: "2026-01-01T00:00:00Z".into(),
        finished: Some("2026-01-01T01:00:00Z".into()),
        kernel: "/src/linux".into(),
        base: "0123456789abcdef0123456789abcdef01234567".into(),
        patched: "89abcdef0123456789abcdef0123456789abcdef".into(),
        toolchain: vec!["LLVM=-19".into()],
        matrix: None,
        series: SeriesInfo {
            path: "patches".into(),
            hash: "h".repeat(64),
            cover_subject: Some("[PATCH 0/2] mm: <things> & \"more\"".into()),
            cover_subject_line: None,
            cover_message_id: Some("<cover.1@example.org>".into()),
            base_commit: None,
            patches,
        },
        structs: vec!["vm_area_struct".into()],
        cells: CELLS
            .iter()
            .map(|id| {
                let mut p = id.split('-');
                CellEntry {
                    id: id.to_string(),
                    arch: p.next().unwrap().into(),
                    smp: p.next().unwrap().into(),
                    mmu: p.next().unwrap().into(),
                    selected: true,
                }
            })
            .collect(),
        regressions: vec![
            Regression::new(
                "arm64-smp-mmu",
                RegressionKind::Build,
                "patched build fails, base builds",
            ),
            Regression::new(
                "x86-up-mmu",
                RegressionKind::Splat,
                "the patched kernel reports warning: WARNING: mm/vma.c:12 (in vma_merge)",
            ),
            Regression::new(
                "x86-up-mmu",
                RegressionKind::Selftest,
                "selftest proc-maps-race / vma <split> & merge",
            ),
        ],
        interrupted: false,
        trees: vec!["base".into(), "patched".into()],
        first_bad: Default::default(),
        shard: None,
        shard_weights: None,
        dealt: vec![],
        configs: vec![],
        base_source: "--base".into(),
    };
    for tree in ["base", "patched"] {
        for cell in ["x86-up-mmu", "arm64-smp-mmu", "riscv-up-nommu"] {
            let mut c = rec(cell, tree, Stage::Configure, Status::Ok);
            c.configure = Some(configure(true));
            res.write_record(RUN, &c).unwrap();
        }
        let mut c = rec("x86-up-nommu", tree, Stage::Configure, Status::Infeasible);
        c.configure = Some(configure(false));
        res.write_record(RUN, &c).unwrap();

        let mut b = rec("x86-up-mmu", tree, Stage::Build, Status::Ok);
        b.build = Some(build(true, vec![]));
        res.write_record(RUN, &b).unwrap();
        let mut b = rec("x86-up-mmu", tree, Stage::Boot, Status::Ok);
        b.boot = Some(boot(tree));
        res.write_record(RUN, &b).unwrap();

        let failed = tree == "patched";
        let mut b = rec(
            "arm64-smp-mmu",
            tree,
            Stage::Build,
            if failed { Status::Failed } else { Status::Ok },
        );
        b.build = Some(build(
            !failed,
            if failed {
                vec![Diagnostic {
                    file: "mm/vma.c".into(),
                    line: 7,
                    kind: "error".into(),
                    // Everything XML must escape, and a control character.
                    text: "use of undeclared identifier 'x' in <vma> && \"y\" \u{1}".into(),
                }]
            } else {
                vec![]
            },
        ));
        res.write_record(RUN, &b).unwrap();

        let mut b = rec("riscv-up-nommu", tree, Stage::Build, Status::Ok);
        b.build = Some(build(true, vec![]));
        res.write_record(RUN, &b).unwrap();
        let mut b = rec("riscv-up-nommu", tree, Stage::Boot, Status::Skipped);
        b.boot = Some(BootData::not_run(
            BootOutcome::NotBootable,
            "no QEMU recipe for riscv NOMMU here".into(),
        ));
        res.write_record(RUN, &b).unwrap();

        let dir = root.join(RUN).join("x86-up-mmu").join(tree);
        std::fs::write(dir.join("build.log"), "make\n").unwrap();
        std::fs::write(dir.join("console.log"), "Linux version\n").unwrap();
        std::fs::write(dir.join("config"), "CONFIG_MMU=y\n").unwrap();

        let mut h = rec("host", tree, Stage::VmaTest, Status::Ok);
        h.vmatest = Some(VmaTestData {
            built: true,
            tests: Some((26, 26, 0)),
            outcome: "ok".into(),
            commands: vec![],
        });
        store::write_json(
            &root.join(RUN).join("host").join(tree).join("vmatest.json"),
            &h,
        )
        .unwrap();
    }
    let checks = SeriesChecks {
        patches: vec![
            PatchChecks {
                number: 1,
                subject: "mm: one".into(),
                checkpatch: Some(Checkpatch {
                    errors: 0,
                    warnings: 1,
                    checks: 0,
                    messages: vec!["WARNING: line length of 101 exceeds 100 columns".into()],
                    command: "scripts/checkpatch.pl --strict patch-1.patch".into(),
                }),
                dco: vec![],
                whitespace: vec![],
                notes: vec![],
            },
            PatchChecks {
                number: 2,
                subject: "mm: two".into(),
                checkpatch: Some(Checkpatch::default()),
                dco: vec!["no Signed-off-by: A U Thor <a@example.org>".into()],
                whitespace: vec![],
                notes: vec![],
            },
        ],
        kernel_doc_new: vec![],
        kernel_doc_command: "scripts/kernel-doc -none -Wall mm/vma.c".into(),
    };
    let cdir = root.join(RUN).join("checks");
    store::write_json(&cdir.join("checks.json"), &checks).unwrap();
    for n in 1..=2 {
        std::fs::write(
            cdir.join(format!("patch-{n}.patch")),
            format!("Subject: [PATCH] mm: {n}\n\n---\ndiff --git a/x b/x\n"),
        )
        .unwrap();
    }
    store::write_json(&root.join(RUN).join("run.json"), &run).unwrap();
    root.to_path_buf()
}

fn report(results: &Path, format: &str) -> String {
    let out = Command::new(common::bin())
        .args(["report", "--format", format, "--results"])
        .arg(results)
        .output()
        .unwrap();
    // The run has regressions: exit 1.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Python reads the XML (a parse error fails the test) and prints, per
/// suite and for the whole, the counts its attributes claim and the counts
/// of its content, and each case's outcome.
const JUNIT_CHECK: &str = r#"
import json, sys, xml.dom.minidom as m
doc = m.parse(sys.argv[1])
root = doc.documentElement
assert root.tagName == "testsuites", root.tagName
def counts(cases):
    n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for c in cases:
        n["tests"] += 1
        for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            n[key] += len(c.getElementsByTagName(tag))
    return n
def claimed(e):
    return {k: int(e.getAttribute(k)) for k in ("tests", "failures", "errors", "skipped")}
out = {"all": [claimed(root), counts(root.getElementsByTagName("testcase"))], "suites": {}, "cases": {}}
for s in root.getElementsByTagName("testsuite"):
    out["suites"][s.getAttribute("name")] = [claimed(s), counts(s.getElementsByTagName("testcase"))]
    for c in s.getElementsByTagName("testcase"):
        assert c.getAttribute("classname") == s.getAttribute("name")
        kids = [k for k in c.childNodes if k.nodeType == k.ELEMENT_NODE and k.tagName != "system-out"]
        outcome = kids[0] if kids else None
        out["cases"][s.getAttribute("name") + " " + c.getAttribute("name")] = {
            "outcome": outcome.tagName if outcome else "pass",
            "type": outcome.getAttribute("type") if outcome else "",
            "message": outcome.getAttribute("message") if outcome else "",
            "text": "".join(t.data for t in outcome.childNodes) if outcome else "",
            "time": c.getAttribute("time"),
        }
print(json.dumps(out))
"#;

#[test]
fn junit_is_well_formed_and_counts_match_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture(dir.path());
    let xml = report(&root, "junit");
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, &xml).unwrap();
    let out = Command::new("python3")
        .args(["-c", JUNIT_CHECK])
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "not well-formed or inconsistent: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["all"][0], v["all"][1], "{xml}");
    for (name, s) in v["suites"].as_object().unwrap() {
        assert_eq!(s[0], s[1], "suite {name}");
    }
    let suites: Vec<&str> = v["suites"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for s in CELLS.iter().chain(&["host", "checks"]) {
        assert!(suites.contains(s), "{suites:?}");
    }
    let case = |k: &str| v["cases"][k].clone();
    let outcome = |k: &str| case(k)["outcome"].as_str().unwrap_or("missing").to_string();
    assert_eq!(outcome("x86-up-mmu base/build"), "pass");
    assert_eq!(case("x86-up-mmu base/build")["time"], "1.500");
    assert_eq!(outcome("x86-up-mmu base/boot"), "pass");
    assert_eq!(case("x86-up-mmu base/boot")["time"], "2.250");
    assert_eq!(outcome("x86-up-mmu base/guest-vma-tests"), "pass");
    assert_eq!(outcome("x86-up-mmu patched/workload"), "pass");
    assert_eq!(outcome("x86-up-mmu base/selftest/proc-maps-race"), "pass");
    // Regressions are failures, with their text and the evidence.
    let st = case("x86-up-mmu patched/selftest/proc-maps-race");
    assert_eq!(st["outcome"], "failure");
    assert_eq!(st["type"], "regression");
    assert!(st["text"]
        .as_str()
        .unwrap()
        .contains("not ok: vma <split> & merge"));
    let boot = case("x86-up-mmu patched/boot");
    assert_eq!(boot["type"], "regression");
    let t = boot["text"].as_str().unwrap();
    assert!(
        t.contains("WARNING: mm/vma.c:12 at vma_merge") && t.contains("    do_mmap"),
        "{t}"
    );
    let b = case("arm64-smp-mmu patched/build");
    assert_eq!(b["type"], "regression");
    assert!(b["text"]
        .as_str()
        .unwrap()
        .contains("mm/vma.c:7: error: use of undeclared identifier 'x' in <vma> && \"y\" \\x01"));
    assert_eq!(outcome("arm64-smp-mmu base/build"), "pass");
    // Refused by Kconfig, not bootable here: skipped, with the reason.
    let inf = case("x86-up-nommu patched/build");
    assert_eq!(inf["outcome"], "skipped");
    assert!(inf["message"]
        .as_str()
        .unwrap()
        .contains("x86 always has it"));
    assert_eq!(outcome("riscv-up-nommu patched/boot"), "skipped");
    assert_eq!(outcome("host patched/vma-tests"), "pass");
    assert_eq!(outcome("checks patch-1/checkpatch"), "failure");
    assert_eq!(outcome("checks patch-1/sign-off"), "pass");
    assert_eq!(outcome("checks patch-2/sign-off"), "failure");
    assert_eq!(outcome("checks kernel-doc"), "pass");
    // 4 cells: x86-up-mmu 2 x (build, boot, vma, workload, selftest),
    // arm64 2 builds, nommu 2 builds, riscv 2 x (build, boot); host 2;
    // checks 2 x 3 + 1.
    assert_eq!(v["all"][1]["tests"], 10 + 2 + 2 + 4 + 2 + 7);
    assert_eq!(v["all"][1]["failures"], 5);
    assert_eq!(v["all"][1]["skipped"], 4);
}

#[test]
fn kcidb_passes_kcidb_io_validation() {
    let py = common::kcidb_python();
    let dir = tempfile::tempdir().unwrap();
    let root = fixture(dir.path());
    let json = report(&root, "kcidb");
    let file = dir.path().join("kcidb.json");
    std::fs::write(&file, &json).unwrap();
    common::kcidb_validate(&py, &file, &json);

    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["version"]["major"], 5);
    let mut ids: Vec<String> = ["checkouts", "builds", "tests"]
        .iter()
        .flat_map(|k| v[k].as_array().unwrap())
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids
        .iter()
        .all(|i| i.starts_with(&format!("vmamatrix:{RUN}:"))));
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "ids are unique");

    let by_id = |kind: &str, id: &str| {
        v[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == format!("vmamatrix:{RUN}:{id}"))
            .unwrap_or_else(|| panic!("no {kind} {id} in {json}"))
            .clone()
    };
    let patched = by_id("checkouts", "patched");
    assert_eq!(
        patched["git_commit_hash"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(patched["message_id"], "cover.1@example.org");
    assert_eq!(patched["patchset_files"].as_array().unwrap().len(), 2);
    assert_eq!(by_id("checkouts", "base")["patchset_hash"], "");
    let b = by_id("builds", "arm64-smp-mmu:patched");
    assert_eq!(b["status"], "FAIL");
    assert_eq!(b["compiler"], "clang 19");
    assert_eq!(b["config_name"], "arm64-smp-mmu");
    assert!(b["log_excerpt"]
        .as_str()
        .unwrap()
        .contains("mm/vma.c:7: error"));
    assert_eq!(by_id("builds", "x86-up-nommu:base")["status"], "SKIP");
    let x = by_id("builds", "x86-up-mmu:patched");
    assert_eq!(x["status"], "PASS");
    assert_eq!(x["duration"], 1.5);
    assert!(x["log_url"].as_str().unwrap().starts_with("file:///"));
    assert_eq!(x["misc"]["regressions"].as_array().unwrap().len(), 2);
    for (id, status) in [
        ("x86-up-mmu:base:boot", "PASS"),
        ("x86-up-mmu:patched:boot", "FAIL"),
        ("x86-up-mmu:patched:vma.guest", "PASS"),
        ("x86-up-mmu:patched:vma.workload", "PASS"),
        ("x86-up-mmu:base:selftests.proc-maps-race", "PASS"),
        ("x86-up-mmu:patched:selftests.proc-maps-race", "FAIL"),
        ("riscv-up-nommu:patched:boot", "SKIP"),
    ] {
        let t = by_id("tests", id);
        assert_eq!(t["status"], status, "{id}");
        assert_eq!(
            t["build_id"],
            format!("vmamatrix:{RUN}:{}", id.rsplit_once(':').unwrap().0)
        );
    }

    // Another origin, by the environment; a bad one is a usage error.
    let o = Command::new(common::bin())
        .args(["report", "--format", "kcidb", "--results"])
        .arg(&root)
        .env("VMAMATRIX_KCIDB_ORIGIN", "my_ci")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"my_ci:20260101-000000:base\""));
    let o = Command::new(common::bin())
        .args(["report", "--format", "kcidb", "--results"])
        .arg(&root)
        .env("VMAMATRIX_KCIDB_ORIGIN", "My CI")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
