//! Helpers shared by the integration tests: a tiny kernel-like git repo with
//! a small series, built with the git command line.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Linux tree the real-kernel tests use: $VMAMATRIX_KERNEL, or the one
/// scripts/setup.sh makes in the cache.
pub fn kernel() -> PathBuf {
    let k = std::env::var_os("VMAMATRIX_KERNEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| vmamatrix::matrix::cache_dir().join("linux"));
    assert!(
        k.join("Makefile").is_file(),
        "no kernel tree at {} (run scripts/setup.sh or set VMAMATRIX_KERNEL)",
        k.display()
    );
    k
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Test Author",
            "-c",
            "user.email=test@example.org",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "Wed, 10 Jun 2026 19:04:34 -0700")
        .env("GIT_COMMITTER_DATE", "Wed, 10 Jun 2026 19:04:34 -0700")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A repo at its base commit plus a format-patch directory of 2 patches
/// (with cover letter) that apply to it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub repo: PathBuf,
    pub series: PathBuf,
    pub base: String,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("linux");
    std::fs::create_dir_all(repo.join("mm")).unwrap();
    std::fs::write(repo.join("Makefile"), "all:\n").unwrap();
    std::fs::write(repo.join("mm/vma.c"), "int a;\nint b;\nint c;\n").unwrap();
    std::fs::write(repo.join("mm/vma.h"), "struct vma { int x; };\n").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    std::fs::write(repo.join("mm/vma.c"), "int a;\nint b2;\nint c;\n").unwrap();
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-am",
            "mm: rename b\n\nBecause.\n\nSigned-off-by: Test Author <test@example.org>",
        ],
    );
    std::fs::write(repo.join("mm/vma.h"), "struct vma { int x; long y; };\n").unwrap();
    std::fs::write(repo.join("mm/new.c"), "int n;\n").unwrap();
    git(&repo, &["add", "."]);
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "mm: grow struct vma\n\nSigned-off-by: Test Author <test@example.org>",
        ],
    );
    let series = dir.path().join("series");
    git(
        &repo,
        &[
            "format-patch",
            "-q",
            "--cover-letter",
            "-o",
            series.to_str().unwrap(),
            &base,
        ],
    );
    // The user's tree stays at the base, on a branch of its own, with a
    // dirty working tree and a staged change vmamatrix must not touch.
    git(&repo, &["reset", "-q", "--hard", &base]);
    git(&repo, &["checkout", "-q", "-b", "work"]);
    std::fs::write(repo.join("mm/vma.c"), "int a;\nint b;\nint c;\n// dirty\n").unwrap();
    std::fs::write(repo.join("staged.txt"), "staged\n").unwrap();
    git(&repo, &["add", "staged.txt"]);
    Fixture {
        dir,
        repo,
        series,
        base,
    }
}

/// Every byte of the user's repository state that must not change:
/// working tree files, index, HEAD, refs, packed-refs, stash, config.
pub fn snapshot(repo: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![repo.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(repo).unwrap().to_string_lossy().into_owned();
            // Objects may be added by nobody either; include them too.
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vmamatrix"))
}
