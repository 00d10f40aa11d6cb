//! `vmamatrix merge` combines shard runs into one run.

mod common;

use vmamatrix::events::Stage;
use vmamatrix::series::SeriesInfo;
use vmamatrix::store::{self, CellEntry, Record, Results, RunSummary, Status};

fn run(
    root: &std::path::Path,
    id: &str,
    selected: &[&str],
    shard: (usize, usize),
) -> std::path::PathBuf {
    let res = Results::open(root);
    let ids = ["x86-smp-mmu", "x86-up-mmu", "riscv-up-nommu"];
    let s = RunSummary {
        schema: store::SCHEMA,
        run_id: id.into(),
        vmamatrix: "0".into(),
        started: format!("2026-01-0{}T00:00:00Z", shard.0),
        finished: Some("2026-01-09T00:00:00Z".into()),
        kernel: "/k".into(),
        base: "b".into(),
        patched: "p".into(),
        toolchain: vec!["LLVM=-19".into()],
        matrix: None,
        series: SeriesInfo {
            path: "s".into(),
            hash: "h".repeat(64),
            cover_subject: None,
            cover_subject_line: None,
            cover_message_id: None,
            base_commit: None,
            patches: vec![],
        },
        structs: vec![],
        cells: ids
            .iter()
            .map(|i| CellEntry {
                id: i.to_string(),
                arch: i.split('-').next().unwrap().into(),
                smp: i.split('-').nth(1).unwrap().into(),
                mmu: i.split('-').nth(2).unwrap().into(),
                selected: selected.contains(i),
            })
            .collect(),
        regressions: vec![],
        interrupted: false,
        trees: vec!["base".into(), "patched".into()],
        first_bad: Default::default(),
        shard: Some(shard),
        shard_weights: None,
        dealt: vec![],
        configs: vec!["configs".into()],
        base_source: String::new(),
    };
    for c in selected {
        for (tree, st) in [("base", Status::Ok), ("patched", Status::Failed)] {
            let r = Record {
                status: st,
                ..Record::new(c, tree, Stage::Build, "x")
            };
            res.write_record(id, &r).unwrap();
        }
    }
    store::write_json(&root.join(id).join("run.json"), &s).unwrap();
    root.join(id)
}

/// `vmamatrix merge A B --results OUT`.
fn merge(a: &std::path::Path, b: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    std::process::Command::new(common::bin())
        .arg("merge")
        .arg(a)
        .arg(b)
        .arg("--results")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn merged_shards_make_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", &["x86-smp-mmu", "riscv-up-nommu"], (1, 2));
    let b = run(dir.path(), "b", &["x86-up-mmu"], (2, 2));
    let out = dir.path().join("merged");
    let o = merge(&a, &b, &out);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "regressions found: {stdout} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (_, s) = Results::open(&out).find_run(None).unwrap();
    assert!(s.cells.iter().all(|c| c.selected));
    assert_eq!(s.shard, None);
    assert_eq!(s.started, "2026-01-01T00:00:00Z");
    assert_eq!(s.regressions.len(), 3, "{:?}", s.regressions);
    assert!(out
        .join(&s.run_id)
        .join("x86-up-mmu/patched/build.json")
        .is_file());
    assert!(stdout.contains("| x86-up-mmu **REGRESSION** |"), "{stdout}");
    // `report` of the merged run prints what `merge` printed.
    let rep = std::process::Command::new(common::bin())
        .args(["report", "--results"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(rep.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&rep.stdout), stdout);

    // A run of another series is refused.
    let c = run(dir.path(), "c", &["x86-up-mmu"], (2, 2));
    let mut other: RunSummary = store::read_json(&c.join("run.json")).unwrap();
    other.series.hash = "z".repeat(64);
    store::write_json(&c.join("run.json"), &other).unwrap();
    let o = merge(&a, &c, &out);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a shard of the same run"));

    // Nor one under a debug overlay: other kernels.
    let d = run(dir.path(), "d", &["x86-up-mmu"], (2, 2));
    let mut overlay: RunSummary = store::read_json(&d.join("run.json")).unwrap();
    overlay.configs = vec!["configs/.".into(), "configs/debug".into()];
    store::write_json(&d.join("run.json"), &overlay).unwrap();
    let o = merge(&a, &d, &out);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("configs/. + configs/debug") && err.contains("not the same kernels"),
        "{err}"
    );

    // The same fragments from another place (the built-in matrix's live
    // in each cache), or a run too old to say: one kind of kernel.
    let f = run(dir.path(), "f", &["x86-up-mmu"], (2, 2));
    let mut elsewhere: RunSummary = store::read_json(&f.join("run.json")).unwrap();
    elsewhere.configs = vec!["/root/.cache/vmamatrix-shard-2/defaults/0123/configs".into()];
    store::write_json(&f.join("run.json"), &elsewhere).unwrap();
    let o = merge(&a, &f, &dir.path().join("merged3"));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    elsewhere.configs = vec![];
    store::write_json(&f.join("run.json"), &elsewhere).unwrap();
    let o = merge(&a, &f, &dir.path().join("merged4"));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Runs of two vmamatrix versions: the merged run names both.
    let e = run(dir.path(), "e", &["x86-up-mmu"], (2, 2));
    let mut newer: RunSummary = store::read_json(&e.join("run.json")).unwrap();
    newer.vmamatrix = "1".into();
    store::write_json(&e.join("run.json"), &newer).unwrap();
    let out2 = dir.path().join("merged2");
    let o = merge(&a, &e, &out2);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (_, s) = Results::open(&out2).find_run(None).unwrap();
    assert_eq!(s.vmamatrix, "0, 1");
}

#[test]
fn a_failed_merge_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", &["x86-smp-mmu", "x86-up-mmu"], (1, 2));
    let b = run(dir.path(), "b", &["x86-up-mmu"], (2, 2));
    let out = dir.path().join("merged");
    let o = merge(&a, &b, &out);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cell x86-up-mmu is in more than one run"),
        "{err}"
    );
    let left: Vec<String> = std::fs::read_dir(&out)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "debris after a failed merge: {left:?}");
}

/// A run that did not finish (a shard killed half-way) is reported as
/// such, with exit 5, never as a finished run with empty cells: by
/// `report`, and by `merge` of it with a finished shard.
#[test]
fn an_unfinished_run_is_reported_as_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", &["x86-smp-mmu", "riscv-up-nommu"], (1, 2));
    let b = run(dir.path(), "b", &["x86-up-mmu"], (2, 2));
    let mut s: RunSummary = store::read_json(&b.join("run.json")).unwrap();
    s.finished = None;
    store::write_json(&b.join("run.json"), &s).unwrap();
    let o = std::process::Command::new(common::bin())
        .arg("report")
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("**This run is not finished"), "{md}");
    let o = std::process::Command::new(common::bin())
        .args(["report", "--format", "json"])
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["complete"], false);

    let out = dir.path().join("merged");
    let o = merge(&a, &b, &out);
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("**This run is not finished"));
}

/// Shards made with `--shard K/N` merge only as all N of one deal: a
/// missing shard, a shard given twice, another N or other weights would
/// leave cells out of the merged run without a word, so each is refused
/// (exit 3) and nothing is written.
#[test]
fn merge_refuses_an_incomplete_or_mixed_set_of_shards() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let refused = |a: &std::path::Path, b: &std::path::Path, want: &str| {
        let o = merge(a, b, &out);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.contains(want), "{want:?} not in {err}");
        assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    };
    let a = run(dir.path(), "a", &["x86-smp-mmu"], (1, 3));
    let b = run(dir.path(), "b", &["x86-up-mmu"], (2, 3));
    refused(&a, &b, "shard(s) 3 of 3 missing");
    let c = run(dir.path(), "c", &["x86-up-mmu"], (1, 3));
    refused(&a, &c, "are both shard 1 of 3");
    let d = run(dir.path(), "d", &["x86-up-mmu"], (2, 2));
    refused(&a, &d, "is shard 2 of 2 but");
    // Two shards of 2 dealt by different weights files.
    let e = run(dir.path(), "e", &["x86-smp-mmu"], (1, 2));
    let mut s: RunSummary = store::read_json(&d.join("run.json")).unwrap();
    s.shard_weights = Some("0123456789abcdef".into());
    store::write_json(&d.join("run.json"), &s).unwrap();
    refused(&e, &d, "by weights 0123456789abcdef");
    // Both shards dealt three cells, but neither ran riscv-up-nommu.
    let f = run(dir.path(), "f", &["x86-up-mmu"], (2, 2));
    let all = ["x86-smp-mmu", "x86-up-mmu", "riscv-up-nommu"]
        .map(String::from)
        .to_vec();
    for r in [&e, &f] {
        let mut s: RunSummary = store::read_json(&r.join("run.json")).unwrap();
        s.dealt = all.clone();
        store::write_json(&r.join("run.json"), &s).unwrap();
    }
    refused(&e, &f, "cell(s) riscv-up-nommu dealt but in no shard");
    // ... and shards that dealt different cells do not make one run.
    let mut s: RunSummary = store::read_json(&f.join("run.json")).unwrap();
    s.dealt.pop();
    store::write_json(&f.join("run.json"), &s).unwrap();
    refused(&e, &f, "dealt other cells than");
}
