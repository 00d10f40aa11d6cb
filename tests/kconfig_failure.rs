//! A patch that breaks Kconfig is a result of that cell, not an error of the
//! run: on a small stand-in tree whose `make allnoconfig` copies the merged
//! fragments to `.config` (as Kconfig would when every request sticks) until
//! a patch adds `Kconfig.broken`, the patched configure fails, the run goes
//! on, the record says why, and the run ends with exit 1 and the regression.

mod common;

use serde_json::Value;
use std::process::Command;

#[test]
fn a_patch_that_breaks_kconfig_is_a_failed_cell_not_an_aborted_run() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("linux");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(
        repo.join("Makefile"),
        "allnoconfig:\n\
         \t@if [ -e $(CURDIR)/Kconfig.broken ]; then echo 'Kconfig.broken:1: syntax error'; exit 1; fi\n\
         \t@mkdir -p $(O) && cp $(KCONFIG_ALLCONFIG) $(O)/.config\n",
    )
    .unwrap();
    common::git(&repo, &["init", "-q"]);
    common::git(&repo, &["add", "."]);
    common::git(&repo, &["commit", "-q", "-m", "base"]);
    let base = common::git(&repo, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    std::fs::write(repo.join("Kconfig.broken"), "config X\n\tbool \"x\n").unwrap();
    common::git(&repo, &["add", "."]);
    common::git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "kconfig: break it\n\nSigned-off-by: Test Author <test@example.org>",
        ],
    );
    let series = dir.path().join("series");
    common::git(
        &repo,
        &["format-patch", "-q", "-o", series.to_str().unwrap(), &base],
    );
    common::git(&repo, &["reset", "-q", "--hard", &base]);
    let results = dir.path().join("results");
    let out = Command::new(common::bin())
        .args([
            "run",
            "--only",
            "x86-up-mmu,riscv-up-nommu",
            "--workload-secs",
            "0",
        ])
        .arg("--kernel")
        .arg(&repo)
        .arg("--series")
        .arg(&series)
        .arg("--results")
        .arg(&results)
        .env("VMAMATRIX_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let run = results.join("latest");
    for cell in ["x86-up-mmu", "riscv-up-nommu"] {
        let rec = |tree: &str| -> Value {
            let p = run.join(cell).join(tree).join("configure.json");
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
        };
        assert_eq!(rec("base")["status"], "ok", "{cell}");
        let p = rec("patched");
        assert_eq!(p["status"], "failed", "{cell}: {p}");
        let why = p["configure"]["verdict"]["reason"].as_str().unwrap();
        assert!(
            why.contains("Kconfig failed") && why.contains("Kconfig.broken:1"),
            "{why}"
        );
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    let regs = summary["regressions"].as_array().unwrap();
    for cell in ["x86-up-mmu", "riscv-up-nommu"] {
        assert!(
            regs.iter().any(|r| r["subject"] == cell
                && r["kind"] == "kconfig"
                && r["text"] == "Kconfig fails on patched"),
            "{regs:?}"
        );
    }
}
