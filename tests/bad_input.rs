//! The bad-input table of RELIABILITY.md: every input there, run through the
//! real binary on the small fixture tree, gets its exit code and a message
//! naming what is wrong, and leaves no results behind.

mod common;

use std::path::Path;
use std::process::Command;

struct Case {
    name: &'static str,
    args: Vec<String>,
    code: i32,
    says: &'static str,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Files under `dir`, relative, sorted (empty when it does not exist).
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir(dir) {
        out.push(e.strip_prefix(dir).unwrap().display().to_string());
    }
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_bad_input_gets_its_exit_code_and_message_and_leaves_nothing() {
    let f = common::fixture();
    let root = f.dir.path();
    let results = root.join("results");
    let repo = f.repo.display().to_string();
    let series = f.series.display().to_string();
    let notgit = root.join("not-a-repo");
    std::fs::create_dir_all(&notgit).unwrap();
    let mbox = root.join("bad.mbox");
    std::fs::write(&mbox, b"From x\nSubject: no diff here\n\nhello\n").unwrap();
    let latin1 = root.join("latin1.mbox");
    std::fs::write(
        &latin1,
        b"From x\nFrom: Andr\xe9\nSubject: [PATCH] x\n\nbody\n",
    )
    .unwrap();
    let bad_toml = root.join("m.toml");
    std::fs::write(&bad_toml, "arches = [\"x86\", 3]\n").unwrap();
    let run = |extra: &[&str]| -> Vec<String> {
        let mut a = s(&["run", "--kernel", &repo, "--series", &series]);
        a.extend(s(extra));
        a
    };
    let cases = vec![
        Case {
            name: "--jobs 0",
            args: run(&["--jobs", "0"]),
            code: 2,
            says: "--jobs",
        },
        Case {
            name: "--only with an unknown key",
            args: run(&["--only", "cpu=x"]),
            code: 2,
            says: "unknown key \"cpu\"",
        },
        Case {
            name: "--only with a bare arch",
            args: run(&["--only", "x86"]),
            code: 2,
            says: "no cell \"x86\"",
        },
        Case {
            name: "--only with an unknown arch",
            args: run(&["--only", "arch=sparc"]),
            code: 2,
            says: "unknown arch \"sparc\"",
        },
        Case {
            name: "--trees naming no tree",
            args: run(&["--trees", "patch-9", "--only", "x86-up-mmu"]),
            code: 2,
            says: "no tree \"patch-9\"",
        },
        Case {
            name: "--shard out of range",
            args: run(&["--shard", "3/2"]),
            code: 2,
            says: "need 1 <= K <= N",
        },
        Case {
            name: "report with --kernel",
            args: s(&["report", "--kernel", &repo]),
            code: 2,
            says: "--kernel",
        },
        Case {
            name: "report --timing with another format",
            args: s(&["report", "--timing", "--format", "json"]),
            code: 2,
            says: "--timing prints one markdown table",
        },
        Case {
            name: "merge of a directory that is no run",
            args: s(&["merge", "/nonexistent/run"]),
            code: 3,
            says: "/nonexistent/run/run.json",
        },
        Case {
            name: "kernel tree that does not exist",
            args: s(&["run", "--kernel", "/nonexistent/linux", "--series", &series]),
            code: 3,
            says: "not found",
        },
        Case {
            name: "kernel tree that is not a git repository",
            args: s(&[
                "run",
                "--series",
                &series,
                "--kernel",
                &notgit.display().to_string(),
            ]),
            code: 3,
            says: "is not a git repository",
        },
        Case {
            name: "base revision not in the tree",
            args: run(&["--base", "v9.9"]),
            code: 3,
            says: "base revision \"v9.9\" not found",
        },
        Case {
            name: "matrix.toml with a bad value",
            args: s(&["run", "--matrix", &bad_toml.display().to_string()]),
            code: 3,
            says: "m.toml:1:",
        },
        Case {
            name: "series that does not exist",
            args: s(&["run", "--kernel", &repo, "--series", "/nonexistent/series"]),
            code: 3,
            says: "series /nonexistent/series not found",
        },
        Case {
            name: "mbox with no patch in it",
            args: s(&[
                "run",
                "--kernel",
                &repo,
                "--series",
                &mbox.display().to_string(),
            ]),
            code: 4,
            says: "bad.mbox",
        },
        Case {
            name: "mbox in Latin-1 without a diff",
            args: s(&[
                "run",
                "--kernel",
                &repo,
                "--series",
                &latin1.display().to_string(),
            ]),
            code: 4,
            says: "latin1.mbox",
        },
    ];
    for c in &cases {
        let mut args = c.args.clone();
        if args[0] == "merge" {
            // Empty: an earlier case's refused run may have made it.
            let _ = std::fs::remove_dir(&results);
        }
        if args[0] == "run" || args[0] == "merge" {
            args.extend(s(&["--results", &results.display().to_string()]));
        }
        let out = Command::new(common::bin())
            .args(&args)
            .env("VMAMATRIX_CACHE", root.join("cache"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(c.code), "{}: {err}", c.name);
        assert!(err.contains(c.says), "{}: {err}", c.name);
        assert_eq!(files(&results), Vec::<String>::new(), "{}: debris", c.name);
        if args[0] == "merge" {
            // A merge it refuses does not even make the directory.
            assert!(!results.exists(), "{}: left {}", c.name, results.display());
        }
    }
    // A results directory another run holds.
    let held = std::fs::File::open({
        std::fs::create_dir_all(&results).unwrap();
        &results
    })
    .unwrap();
    held.lock().unwrap();
    let out = Command::new(common::bin())
        .args(run(&["--only", "x86-up-mmu", "--results"]))
        .arg(&results)
        .env("VMAMATRIX_CACHE", root.join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("another vmamatrix run is using this results directory"),
        "{err}"
    );
    assert_eq!(files(&results), Vec::<String>::new());
}
