//! `report --format html` of a fixture run, opened in a real browser:
//! Debian's chromium, headless. The page's script runs there, so the DOM
//! it dumps is what a reader sees; the screenshot shows it renders.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use vmamatrix::events::Stage;
use vmamatrix::kconfig::Verdict;
use vmamatrix::measure::Layout;
use vmamatrix::model::{
    BootData, BuildData, ConfigureData, Diagnostic, MeasureData, Regression, RegressionKind,
};
use vmamatrix::series::SeriesInfo;
use vmamatrix::store::{self, CellEntry, Record, Results, RunSummary, Status};

const ARCHES: [&str; 7] = [
    "arm",
    "arm64",
    "loongarch",
    "powerpc",
    "riscv",
    "s390",
    "x86",
];
const SELECTED: [&str; 4] = ["x86-up-mmu", "x86-smp-mmu", "arm64-up-mmu", "x86-up-nommu"];

fn record(cell: &str, tree: &str, stage: Stage, status: Status) -> Record {
    Record {
        status,
        secs: 42.0,
        commands: vec![format!("make O=build/{cell} -j2")],
        ..Record::new(cell, tree, stage, "c0ffee")
    }
}

fn configure(res: &Results, cell: &str, tree: &str, feasible: bool) {
    let mut r = record(
        cell,
        tree,
        Stage::Configure,
        if feasible {
            Status::Ok
        } else {
            Status::Infeasible
        },
    );
    r.configure = Some(ConfigureData {
        fragments: vec![],
        verdict: Verdict {
            feasible,
            reason: (!feasible)
                .then(|| "CONFIG_MMU=n requested, got y: x86 always has an MMU".into()),
            warnings: vec![],
            requested: 3,
            tracked: [("PER_VMA_LOCK".to_string(), "y".to_string())].into(),
        },
        config_sha256: "x".into(),
    });
    res.write_record("r1", &r).unwrap();
}

fn build(res: &Results, cell: &str, tree: &str, ok: bool) {
    let mut r = record(
        cell,
        tree,
        Stage::Build,
        if ok { Status::Ok } else { Status::Failed },
    );
    r.build = Some(BuildData {
        outcome: if ok { "exit status 0" } else { "exit status 2" }.into(),
        jobs: 2,
        warnings: vec![],
        errors: if ok {
            vec![]
        } else {
            vec![Diagnostic {
                file: "mm/mmap_lock.c".into(),
                line: 97,
                kind: "error".into(),
                text: "call to undeclared function 'vma_refcount_put' & <friends>".into(),
            }]
        },
        new_warnings: vec![],
        compiled: vec!["mm/mmap_lock.c".into()],
        not_compiled: vec![],
        tail: vec![],
        ccache: None,
        structs_only: false,
    });
    res.write_record("r1", &r).unwrap();
    write(res, cell, tree, "build.log", "  CC      mm/mmap_lock.o\n");
}

fn boot(res: &Results, cell: &str, tree: &str, splat: bool) {
    let mut r = record(cell, tree, Stage::Boot, Status::Ok);
    let splats = if splat {
        serde_json::json!([{
            "kind": "warning",
            "title": "WARNING: mm/mmap_lock.c:80 at vma_start_read+0x1a/0x90, CPU#0: workload/19",
            "location": "mm/mmap_lock.c:80",
            "function": "vma_start_read",
            "frames": ["lock_vma_under_rcu", "do_user_addr_fault", "exc_page_fault"],
            "line": 212
        }])
    } else {
        serde_json::json!([])
    };
    let b: BootData = serde_json::from_value(serde_json::json!({
        "outcome": "booted",
        "secs_to_marker": 2.5,
        "panic": null,
        "exit_status": 0,
        "tests": [26, 26, 0],
        "reason": null,
        "qemu": "qemu-system-x86_64 -kernel boot-image",
        "child": 0,
        "splats": splats,
        "workload": {
            "mode": "mmu",
            "before": {"success": 10, "abort": 0, "retry": 0, "miss": 0},
            "after": {"success": 5010, "abort": 3, "retry": 0, "miss": 1},
            "ops": [{"kind": "fault", "ops": 4000, "failed": 0}],
            "total": 4000, "failed": 0, "finished": true, "exit": 0,
            "fails": [], "notes": []
        }
    }))
    .unwrap();
    r.boot = Some(b);
    res.write_record("r1", &r).unwrap();
    write(res, cell, tree, "console.log", "Linux version 7.3.4\n");
}

/// vm_area_struct: patched fills base's hole with a new member and moves
/// one; both are 80 bytes, two cache lines.
fn measure(res: &Results, cell: &str, tree: &str, patched: bool) {
    let members = if patched {
        serde_json::json!([
            {"name": "vm_start", "type": "unsigned long", "offset": 0, "size": 8},
            {"name": "vm_lock_seq", "type": "unsigned int", "offset": 8, "size": 4},
            {"name": "vm_flags_lo", "type": "unsigned int", "offset": 12, "size": 4},
            {"name": "vm_mm", "type": "struct mm_struct *", "offset": 16, "size": 8},
            {"name": "shared", "type": "struct {...}", "offset": 24, "size": 48},
            {"name": "vm_file", "type": "struct file *", "offset": 72, "size": 8}
        ])
    } else {
        serde_json::json!([
            {"name": "vm_start", "type": "unsigned long", "offset": 0, "size": 8},
            {"name": "vm_flags_lo", "type": "unsigned int", "offset": 8, "size": 4},
            {"name": "vm_mm", "type": "struct mm_struct *", "offset": 16, "size": 8},
            {"name": "shared", "type": "struct {...}", "offset": 24, "size": 48},
            {"name": "vm_file", "type": "struct file *", "offset": 72, "size": 8}
        ])
    };
    let holes = if patched {
        serde_json::json!([])
    } else {
        serde_json::json!([{"after": "vm_flags_lo", "offset": 12, "bits": 32, "in_bitfield": false}])
    };
    let l: Layout = serde_json::from_value(serde_json::json!({
        "name": "vm_area_struct", "size": 80, "members": members, "holes": holes, "padding": 0
    }))
    .unwrap();
    let mut r = record(cell, tree, Stage::Measure, Status::Ok);
    r.measure = Some(MeasureData {
        image: Some(1 << 20),
        vmlinux: None,
        structs: vec![l],
        errors: vec![],
    });
    res.write_record("r1", &r).unwrap();
}

fn write(res: &Results, cell: &str, tree: &str, name: &str, text: &str) {
    let p = res.cell_dir("r1", cell, tree).join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A finished run of the whole 28-cell matrix with four cells selected:
/// x86-up-mmu booted, with a kernel warning on patched (a regression) and
/// a struct layout that differs; x86-smp-mmu clean; arm64-up-mmu's builds
/// failed; x86-up-nommu refused by Kconfig.
fn fixture(root: &Path) -> PathBuf {
    let res = Results::open(root);
    let mut cells = Vec::new();
    for arch in ARCHES {
        for smp in ["smp", "up"] {
            for mmu in ["mmu", "nommu"] {
                let id = format!("{arch}-{smp}-{mmu}");
                cells.push(CellEntry {
                    selected: SELECTED.contains(&id.as_str()),
                    id,
                    arch: arch.into(),
                    smp: smp.into(),
                    mmu: mmu.into(),
                });
            }
        }
    }
    let s = RunSummary {
        schema: store::SCHEMA,
        run_id: "r1".into(),
        vmamatrix: "0".into(),
        started: "2026-01-01T00:00:00Z".into(),
        finished: Some("2026-01-01T01:00:00Z".into()),
        kernel: "/k".into(),
        base: "b".repeat(40),
        patched: "p".repeat(40),
        toolchain: vec!["LLVM=-19".into()],
        matrix: None,
        series: SeriesInfo {
            path: "s".into(),
            hash: "h".repeat(64),
            cover_subject: Some("mm: <script>document.title='pwned'</script> & more".into()),
            cover_subject_line: None,
            cover_message_id: None,
            base_commit: None,
            patches: vec![],
        },
        structs: vec!["vm_area_struct".into()],
        cells,
        regressions: vec![Regression::new(
            "x86-up-mmu",
            RegressionKind::Splat,
            "the patched kernel reports warning: WARNING: mm/mmap_lock.c:80 at vma_start_read",
        )],
        interrupted: false,
        trees: vec!["base".into(), "patched".into()],
        first_bad: Default::default(),
        shard: None,
        shard_weights: None,
        dealt: vec![],
        configs: vec![],
        base_source: String::new(),
    };
    for tree in ["base", "patched"] {
        let p = tree == "patched";
        for cell in ["x86-up-mmu", "x86-smp-mmu"] {
            configure(&res, cell, tree, true);
            build(&res, cell, tree, true);
            measure(&res, cell, tree, p && cell == "x86-up-mmu");
            boot(&res, cell, tree, p && cell == "x86-up-mmu");
        }
        configure(&res, "arm64-up-mmu", tree, true);
        build(&res, "arm64-up-mmu", tree, false);
        configure(&res, "x86-up-nommu", tree, false);
    }
    store::write_json(&root.join("r1").join("run.json"), &s).unwrap();
    root.join("r1")
}

/// The opening tag of the first element whose tag contains `needle`.
fn tag<'a>(dom: &'a str, needle: &str) -> &'a str {
    let i = dom
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in the DOM"));
    let start = dom[..i].rfind('<').unwrap();
    let end = i + dom[i..].find('>').unwrap();
    &dom[start..=end]
}

/// The detail section of a cell, up to the next one.
fn detail<'a>(dom: &'a str, cell: &str) -> &'a str {
    let t = tag(dom, &format!("id=\"detail-{cell}\""));
    let start = dom.find(t).unwrap();
    let rest = &dom[start + t.len()..];
    let end = rest.find("<section class=\"detail\"").unwrap_or(rest.len());
    &dom[start..start + t.len() + end]
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

#[test]
fn the_html_report_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("results");
    let run = fixture(&root);
    let page = run.join("report.html");
    let o = Command::new(common::bin())
        .args(["report", "--format", "html", "--results"])
        .arg(&root)
        .arg("r1")
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "a run with a regression: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    // Escaped, so the subject's script never runs (it would set the title).
    assert!(
        html.contains("mm: &lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; &amp; more")
    );

    let profile = dir.path().join("profile");
    let url = format!("file://{}", page.display());
    let dom = common::browse(&profile, &["--dump-dom"], &format!("{url}#cell=x86-up-mmu"));
    assert!(dom.contains("<title>vmamatrix run r1</title>"), "{dom}");

    // The grid: every cell of the matrix, coloured by its worst outcome.
    assert_eq!(dom.matches("<a class=\"cell ").count(), 28, "{dom}");
    for (cell, class) in [
        ("x86-up-mmu", "o-regression"),
        ("x86-smp-mmu", "o-ok"),
        ("arm64-up-mmu", "o-fail"),
        ("x86-up-nommu", "o-infeasible"),
        ("s390-smp-nommu", "o-unselected"),
    ] {
        let t = tag(&dom, &format!("data-cell=\"{cell}\" data-outcome"));
        assert!(
            t.contains(&format!("class=\"cell {class}\"")),
            "{cell}: {t}"
        );
    }
    assert!(dom.contains("CONFIG_MMU=n requested, got y: x86 always has an MMU"));

    // The fragment opened x86-up-mmu's details, and only those: the
    // script ran.
    assert!(tag(&dom, "data-cell=\"x86-up-mmu\" data-outcome").contains("aria-current=\"true\""));
    for s in dom.split("<section class=\"detail\"").skip(1) {
        let open = s.starts_with(" id=\"detail-x86-up-mmu\"");
        let hidden = s[..s.find('>').unwrap()].contains("hidden");
        assert_eq!(open, !hidden, "{}", &s[..s.find('>').unwrap()]);
    }
    assert!(tag(&dom, "id=\"no-detail\"").contains("hidden"));
    let x86 = detail(&dom, "x86-up-mmu");
    for want in [
        "the patched kernel reports warning: WARNING: mm/mmap_lock.c:80 at vma_start_read",
        "WARNING: mm/mmap_lock.c:80 at vma_start_read+0x1a/0x90, CPU#0: workload/19",
        "<li>lock_vma_under_rcu</li><li>do_user_addr_fault</li><li>exc_page_fault</li>",
        "26 run, 26 passed, 0 failed",
        "4000 operations, 0 failed (mmu)",
        "success +5000, abort +3, retry +0, miss +1",
        "<b>struct vm_area_struct</b>: 80 → 80 B (+0 B); added: vm_lock_seq; 1 moved or changed; holes 4 → 0 B",
        "<span class=\"tag added\">added</span>",
        "moved (was at 8)",
        "hole, 4 byte(s) after <code>vm_flags_lo</code>",
        "cache line 1 starts at byte 64",
        "crosses a cache line",
    ] {
        assert!(x86.contains(want), "{want}\n---\n{x86}");
    }
    // Its log links are relative, and point at the run's files.
    let links = hrefs(x86);
    assert_eq!(links.len(), 4, "{links:?}");
    for h in &links {
        assert!(!h.starts_with('/') && !h.contains(':'), "{h}");
        assert!(run.join(h).is_file(), "{h} does not exist");
    }
    assert!(links.contains(&"x86-up-mmu/patched/console.log".to_string()));

    // Without a fragment, the regressed cell is open; the failed build's
    // details quote its compiler error.
    let dom = common::browse(
        &profile,
        &["--dump-dom"],
        &format!("{url}#cell=arm64-up-mmu"),
    );
    let arm = detail(&dom, "arm64-up-mmu");
    assert!(!tag(arm, "id=\"detail-arm64-up-mmu\"").contains("hidden"));
    assert!(arm.contains(
        "mm/mmap_lock.c:97: error: call to undeclared function 'vma_refcount_put' &amp; &lt;friends&gt;"
    ), "{arm}");
    assert!(arm.contains("FAIL (exit 2)"));
    let dom = common::browse(&profile, &["--dump-dom"], &url);
    assert!(!tag(&dom, "id=\"detail-x86-up-mmu\"").contains("hidden"));
    assert!(tag(&dom, "id=\"detail-x86-smp-mmu\"").contains("hidden"));

    // A page written elsewhere links back into the run.
    let other = dir.path().join("www/report.html");
    let o = Command::new(common::bin())
        .args(["report", "--format", "html", "--results"])
        .arg(&root)
        .arg("r1")
        .arg("-o")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let html = std::fs::read_to_string(&other).unwrap();
    let h = hrefs(&html);
    let logs: Vec<&String> = h.iter().filter(|h| h.ends_with(".log")).collect();
    assert!(!logs.is_empty());
    for h in logs {
        assert!(h.starts_with("../results/r1/"), "{h}");
        assert!(other.parent().unwrap().join(h).is_file(), "{h}");
    }

    // It renders: a screenshot of the size asked for, with something in it.
    let png = dir.path().join("report.png");
    common::browse(
        &profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1600",
        ],
        &format!("{url}#cell=x86-up-mmu"),
    );
    let data = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&data[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&data[12..16], b"IHDR");
    let w = u32::from_be_bytes(data[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(data[20..24].try_into().unwrap());
    assert_eq!((w, h), (1280, 1600));
    assert!(
        data.len() > 50_000,
        "a {} byte screenshot is blank",
        data.len()
    );
}
