//! vmamatrix as a kernel tool: made by `cargo install`, run from inside the
//! kernel tree with the matrix and configs built into it, `init` writing
//! them out, and `doctor` checking the machine.
//!
//! The plan test reads the real Linux tree (`common::kernel()`) and must
//! leave it as it was: its status and HEAD are compared before and after.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository this test belongs to.
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A vmamatrix made by `cargo install --path .` into a directory of its
/// own, once for all tests of this file. It shares the test build's
/// target directory and profile, so it compiles nothing the tests have
/// not (`--offline --locked`: nothing is resolved again either).
fn installed() -> &'static Path {
    static BIN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &BIN.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        // target/debug/vmamatrix -> target
        let target = common::bin()
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .to_path_buf();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args(["install", "--debug", "--offline", "--locked", "--path"])
            .arg(repo())
            .arg("--root")
            .arg(root.path())
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo install: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = root.path().join("bin/vmamatrix");
        assert!(bin.is_file(), "{}", bin.display());
        (root, bin)
    })
    .1
}

/// Run the installed vmamatrix in `cwd` with `cache` as its cache.
fn vmamatrix(cwd: &Path, cache: Option<&Path>, args: &[&str]) -> Output {
    let mut c = Command::new(installed());
    c.current_dir(cwd).args(args);
    if let Some(cache) = cache {
        c.env("VMAMATRIX_CACHE", cache);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// What must not change in the user's kernel tree: `git status` (without
/// refreshing the index, which would write it) and HEAD.
fn tree_state(k: &Path) -> (String, String) {
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .arg("--no-optional-locks")
            .arg("-C")
            .arg(k)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    (git(&["status", "--porcelain"]), git(&["rev-parse", "HEAD"]))
}

/// A plan's cell lines (id and verdict) and the dropped-symbol notes under
/// them: everything but the commands, which name where the configs are.
fn verdicts(plan: &str) -> Vec<String> {
    plan.lines()
        .skip_while(|l| !l.contains("cells feasible"))
        .filter(|l| !l.trim_start().starts_with('$'))
        .map(str::to_string)
        .collect()
}

#[test]
fn installed_binary_plans_from_inside_the_kernel_tree_with_its_built_in_matrix() {
    let k = common::kernel().canonicalize().unwrap();
    let before = tree_state(&k);
    // A cache of its own: a run on the shared one holds its work directory
    // and plan would wait for it.
    let cache = tempfile::tempdir().unwrap();
    let series = repo().join("patches");
    let series = series.to_str().unwrap();

    // (a) From a subdirectory of the kernel tree, with neither matrix.toml
    // nor --kernel: the tree around it, the built-in matrix and configs.
    let (code, plan, err) = text(&vmamatrix(
        &k.join("mm"),
        Some(cache.path()),
        &["plan", "--only", "arch=x86", "--series", series],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains(&format!(
            "kernel: {} (the kernel tree around the current directory)\n",
            k.display()
        )),
        "{plan}"
    );
    let defaults = cache.path().join("defaults");
    assert!(
        plan.lines().next().unwrap().starts_with(&format!(
            "matrix: the built-in matrix ({}/",
            defaults.display()
        )),
        "{plan}"
    );
    // The configure commands name the built-in configs, and they are there.
    let cat = plan
        .lines()
        .find(|l| l.trim_start().starts_with("$ cat "))
        .expect("a configure command");
    let base_config = cat
        .split_whitespace()
        .find(|w| w.ends_with("/configs/base.config"))
        .expect("configs/base.config in the command");
    assert!(base_config.starts_with(defaults.to_str().unwrap()), "{cat}");
    assert_eq!(
        std::fs::read_to_string(base_config).unwrap(),
        std::fs::read_to_string(repo().join("configs/base.config")).unwrap()
    );
    let built_in = verdicts(&plan);
    assert_eq!(built_in[0], "2 of 4 cells feasible", "{plan}");
    assert!(
        built_in
            .iter()
            .any(|l| l.starts_with("x86-up-mmu ") && l.contains("feasible (")),
        "{plan}"
    );

    // (b) `init` writes a matrix.toml that gives the same plan.
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = text(&vmamatrix(
        dir.path(),
        Some(cache.path()),
        &["init", "edit-me"],
    ));
    assert_eq!(code, 0, "{err}");
    let written = dir.path().join("edit-me/matrix.toml");
    let (code, plan2, err) = text(&vmamatrix(
        &k,
        Some(cache.path()),
        &[
            "plan",
            "--matrix",
            written.to_str().unwrap(),
            "--only",
            "arch=x86",
            "--series",
            series,
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        plan2.contains("configs/base.config") && plan2.contains("edit-me/configs/"),
        "{plan2}"
    );
    assert_eq!(verdicts(&plan2), built_in);

    // The kernel tree is as it was, and nothing was written into it.
    assert_eq!(tree_state(&k), before);
}

#[test]
fn init_writes_the_defaults_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = text(&vmamatrix(dir.path(), None, &["init"]));
    assert_eq!(code, 0, "{err}");
    // matrix.toml and every file under the checkout's configs/.
    fn count(d: &std::path::Path) -> usize {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| if p.is_dir() { count(&p) } else { 1 })
            .sum()
    }
    let n = 1 + count(&repo().join("configs"));
    assert!(out.starts_with(&format!("wrote {n} files to .")), "{out}");
    for f in [
        "matrix.toml",
        "configs/base.config",
        "configs/debug.toml",
        "configs/debug/base.config",
        "configs/rust.toml",
        "configs/rust/base.config",
    ] {
        assert_eq!(
            std::fs::read(dir.path().join(f)).unwrap(),
            std::fs::read(repo().join(f)).unwrap(),
            "{f}"
        );
    }
    let mine = dir.path().join("configs/x86.config");
    std::fs::write(&mine, "# mine\n").unwrap();
    let (code, _, err) = text(&vmamatrix(dir.path(), None, &["init", "."]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("./matrix.toml already exists"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "# mine\n");
    let (code, _, err) = text(&vmamatrix(dir.path(), None, &["init", "--force"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(&mine).unwrap(),
        std::fs::read(repo().join("configs/x86.config")).unwrap()
    );
}

#[test]
fn plan_outside_a_checkout_asks_for_a_series() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (code, _, err) = text(&vmamatrix(
        dir.path(),
        Some(&cache),
        &["plan", "--kernel", common::kernel().to_str().unwrap()],
    ));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("pass --series"), "{err}");
}

#[test]
fn doctor_finds_everything_this_machine_needs() {
    // The real cache: the riscv guests' liburcu is unpacked there.
    let dir = tempfile::tempdir().unwrap();
    let k = common::kernel();
    let (code, out, err) = text(&vmamatrix(
        dir.path(),
        None,
        &["doctor", "--kernel", k.to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{out}{err}");
    for arch in [
        "arm",
        "arm64",
        "loongarch",
        "powerpc",
        "riscv",
        "s390",
        "x86",
    ] {
        for check in ["qemu", "guest tests"] {
            let head = format!("ok       {check} {arch}: ");
            assert!(out.lines().any(|l| l.starts_with(&head)), "{head}\n{out}");
        }
    }
    assert!(out.contains("ok       kernel tree: "), "{out}");
    assert!(out.contains("toolchain LLVM=-19: clang: clang-19"), "{out}");
    assert!(!out.contains("MISSING"), "{out}");
}

#[test]
fn doctor_names_what_is_missing_and_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(installed())
        .current_dir(dir.path())
        .args(["doctor", "--kernel"])
        .arg(dir.path().join("no-linux"))
        .env("PATH", dir.path().join("empty"))
        .env("VMAMATRIX_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    let (code, out, err) = text(&out);
    assert_eq!(code, 6, "{out}{err}");
    for line in [
        "MISSING  toolchain LLVM=-19: clang: clang-19 not found; fix: apt-get install clang-19",
        "MISSING  host make: not found (every build); fix: apt-get install make",
        "MISSING  qemu s390: qemu-system-s390x not found; \
         fix: apt-get install -t bookworm-backports qemu-system-s390x",
    ] {
        assert!(out.lines().any(|l| l == line), "{line}\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("MISSING  guest tests arm64: ")
                && l.ends_with("liburcu-dev:arm64")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("MISSING  kernel tree: ") && l.contains("no-linux")),
        "{out}"
    );
}
