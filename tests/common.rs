//! Helpers shared by the integration tests: a tiny kernel-like git repo with
//! a small series, built with the git command line.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// The venv scripts/setup.sh makes; the test fails without it.
pub fn kcidb_python() -> PathBuf {
    let py = vmamatrix::matrix::cache_dir()
        .join("venv")
        .join("bin")
        .join("python");
    let ok = Command::new(&py)
        .args(["-c", "import kcidb_io"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "kcidb-io is not installed in {}: run scripts/setup.sh (it installs kcidb-io into $VMAMATRIX_CACHE/venv)",
        py.display()
    );
    py
}

/// kcidb-io's own validation of a KCIDB file; fails the test with its
/// message.
pub fn kcidb_validate(py: &Path, file: &Path, json: &str) {
    let out = Command::new(py)
        .args([
            "-c",
            "import json, sys, kcidb_io\n\
             data = json.load(open(sys.argv[1]))\n\
             kcidb_io.schema.LATEST.validate(data)\n\
             assert kcidb_io.schema.LATEST.is_compatible_exactly(data)\n\
             print(kcidb_io.schema.LATEST.major, kcidb_io.schema.LATEST.minor)",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kcidb-io rejects the output: {}\n{json}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Debian's chromium; the test fails, never skips, without it.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("VMAMATRIX_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "chromium not found: the HTML report is tested in a real browser; \
         run scripts/setup.sh (it installs Debian's chromium) or set VMAMATRIX_CHROMIUM"
    );
}

/// Headless chromium on a page with `args`, killed after 300 s (a guard against a hung browser, not a speed check: CI runs it beside kernel builds); its stdout.
pub fn browse(profile: &Path, args: &[&str], url: &str) -> String {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took more than 300 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium {args:?} {url}: {status}");
    std::fs::read_to_string(out.path()).unwrap()
}

/// A JSON report without what differs between two runs of the same work:
/// run ids and times (`run_id`, `started`, `finished` where they are
/// strings: a workload's `finished` is a result and stays), `secs`,
/// `secs_to_marker`, `cached` (anywhere in it), each of `paths` in strings
/// (replaced by its placeholder), make's `-jN`.
pub fn without_run_differences(v: &mut serde_json::Value, paths: &[(PathBuf, &str)]) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for k in ["run_id", "started", "finished"] {
                if m.get(k).is_some_and(|x| x.is_string() || x.is_null()) {
                    m.remove(k);
                }
            }
            for k in ["secs", "secs_to_marker", "cached"] {
                m.remove(k);
            }
            m.values_mut()
                .for_each(|x| without_run_differences(x, paths));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| without_run_differences(x, paths)),
        Value::String(s) => *s = normalize_text(s, paths),
        _ => {}
    }
}

/// Each of `paths` -> its placeholder, make's ` -j2` -> ` -jN`.
pub fn normalize_text(s: &str, paths: &[(PathBuf, &str)]) -> String {
    let mut s = s.to_string();
    for (p, placeholder) in paths {
        s = s.replace(&p.display().to_string(), placeholder);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find(" -j") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}
