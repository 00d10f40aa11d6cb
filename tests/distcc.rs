//! distcc on the real Linux 7.3.4 tree: a distccd of the test's own on
//! 127.0.0.1 (a free port, its log on stderr) and a matrix whose toolchain
//! is `LLVM=-19 CC="distcc clang-19"`, run by vmamatrix in a cache of its
//! own. What is asserted is distccd's own account against kbuild's: every
//! C compile kbuild recorded (the `.cmd` files of the build directory)
//! was compiled by the daemon (a COMPILE_OK line naming its source), the
//! daemon refused nothing (no COMPILE_ERROR), and the objects are the
//! cell's arch, not the host's.
//!
//! In every `.ci/run`: `--structs-only` of riscv-up-nommu, a cross build
//! (about a minute). Opt-in, the full-build figure of BENCHMARKS.md:
//! `VMAMATRIX_DISTCC_FULL=x86-up-mmu,riscv-up-nommu` runs each cell's base
//! tree whole (build, measure, boot) and prints the counts and wall times;
//! `VMAMATRIX_DISTCC_CACHE` names its cache (default: a temporary one) and
//! `VMAMATRIX_DISTCC_RESULTS` keeps its results (and distccd's log of
//! each run, as distccd-<cell>.log beside them). Needs distcc
//! (`scripts/setup.sh`); fails, never skips, without it.

mod common;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A distccd of the test's own, in its own process group, killed (the
/// whole group) when dropped.
struct Distccd {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Distccd {
    fn start(dir: &Path) -> Distccd {
        use std::os::unix::process::CommandExt;
        let distccd = vmamatrix::doctor::which("distccd").expect(
            "distccd not found: the distcc test needs it; run scripts/setup.sh (it installs distcc)",
        );
        // A port nobody listens on (the kernel picks it; freed for distccd).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("distccd.log");
        let child = Command::new(distccd)
            .args([
                "--daemon",
                "--no-detach",
                "--log-stderr",
                "--log-level",
                "info",
            ])
            .args([
                "--allow",
                "127.0.0.1",
                "--listen",
                "127.0.0.1",
                "--jobs",
                "2",
            ])
            .arg("--port")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut d = Distccd { child, port, log };
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(s) = d.child.try_wait().unwrap() {
                panic!("distccd exited ({s}): {}", d.log_text());
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "distccd does not listen on 127.0.0.1:{port}: {}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // That probe is a connection without a job: distccd logs it as an
        // OTHER job (protocol error) when it has read the end of it. Wait
        // for that line, so that it never falls into a run's share of the
        // log.
        while !d.log_text().contains("(dcc_job_summary)") {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "distccd logged nothing of the probe connection: {}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// DISTCC_HOSTS for this daemon: `127.0.0.1`, not `localhost`, which
    /// distcc takes as "compile here without a daemon".
    fn hosts(&self) -> String {
        format!("127.0.0.1:{}/2", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Distccd {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// The jobs distccd's log accounts for: (COMPILE_OK sources, other
/// summary lines). A summary line ends with the compiler and the source.
fn jobs(log: &str) -> (Vec<String>, Vec<String>) {
    let mut ok = Vec::new();
    let mut other = Vec::new();
    for l in log.lines().filter(|l| l.contains("(dcc_job_summary)")) {
        if l.contains(" COMPILE_OK ") {
            ok.push(l.rsplit(' ').next().unwrap().to_string());
        } else {
            other.push(l.to_string());
        }
    }
    (ok, other)
}

/// kbuild's record of the C compiles in a build directory: the source of
/// every `.cmd` file whose command is the C compiler (`CC`, which
/// vmamatrix put the distcc wrapper in front of) on a `.c` file, and the
/// kernel compiles (`-D__KERNEL__`) of a `.c` file with bare clang (none
/// expected; with `LLVM=` the host programs are compiled by clang too, as
/// HOSTCC, which is not distcc's business).
fn c_compiles(build: &Path) -> (Vec<String>, Vec<String>) {
    let mut through = Vec::new();
    let mut bare = Vec::new();
    let mut stack = vec![build.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
                continue;
            }
            if !(name.starts_with('.') && name.ends_with(".cmd")) {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let Some(cmd) = text
                .lines()
                .find_map(|l| {
                    l.split_once(" := ")
                        .filter(|(k, _)| k.starts_with("savedcmd_"))
                })
                .map(|(_, v)| v.split(';').next().unwrap_or("").to_string())
            else {
                continue;
            };
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let Some(src) = words.iter().rev().find(|w| w.ends_with(".c")) else {
                continue;
            };
            if !words.contains(&"-c") && !words.contains(&"-S") {
                continue;
            }
            let first = words.first().map_or("", |w| w.rsplit('/').next().unwrap());
            if first.starts_with("kbuild-wrap-") && words.get(1) == Some(&"distcc") {
                through.push(src.to_string());
            } else if first.starts_with("clang") && words.contains(&"-D__KERNEL__") {
                bare.push(cmd.clone());
            }
        }
    }
    through.sort();
    (through, bare)
}

/// A matrix.toml like the repository's, with the toolchain through distcc.
fn distcc_matrix(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(repo.join("matrix.toml")).unwrap();
    let mut out = String::new();
    for l in text.lines() {
        if l.starts_with("toolchain =") {
            out.push_str("toolchain = 'LLVM=-19 CC=\"distcc clang-19\"'\n");
        } else if l.starts_with("series =") {
            out.push_str(&format!(
                "series = {:?}\n",
                repo.join("patches").display().to_string()
            ));
        } else if l.starts_with("configs =") {
            out.push_str(&format!(
                "configs = {:?}\n",
                repo.join("configs").display().to_string()
            ));
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    assert!(
        out.contains("distcc clang-19"),
        "matrix.toml has no toolchain line"
    );
    let p = dir.join("matrix.toml");
    std::fs::write(&p, out).unwrap();
    p
}

/// ELF e_machine of an object file.
fn e_machine(obj: &Path) -> u16 {
    let b = std::fs::read(obj).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{}", obj.display());
    u16::from_le_bytes([b[18], b[19]])
}

/// What one run through distcc did.
struct Outcome {
    compiles: Vec<String>,
    ok: Vec<String>,
    secs: f64,
    build: PathBuf,
    results: PathBuf,
}

/// `vmamatrix run --only <cell> --trees base [extra]` through `d`, then
/// the common assertions: the run passed, kbuild's C compiles all went
/// through the distcc wrapper and every one of them is a COMPILE_OK of
/// the daemon, which refused none.
fn run_cell(d: &Distccd, cache: &Path, results: &Path, cell: &str, extra: &[&str]) -> Outcome {
    let scratch = tempfile::tempdir().unwrap();
    let matrix = distcc_matrix(scratch.path());
    let distcc_dir = scratch.path().join("distcc");
    std::fs::create_dir_all(&distcc_dir).unwrap();
    let before = d.log_text().len();
    let mut c = Command::new(common::bin());
    c.args(["run", "--only", cell, "--trees", "base", "--jobs", "2"])
        .args(extra)
        .arg("--matrix")
        .arg(&matrix)
        .arg("--kernel")
        .arg(common::kernel())
        .arg("--results")
        .arg(results)
        .env("VMAMATRIX_CACHE", cache)
        .env("DISTCC_HOSTS", d.hosts())
        // Its own backoff and lock state, apart from any other distcc use.
        .env("DISTCC_DIR", &distcc_dir)
        .env_remove("CCACHE_PREFIX");
    eprintln!("running {c:?}");
    let t = Instant::now();
    let out = c.output().unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = d.log_text()[before..].to_string();
    if std::env::var_os("VMAMATRIX_DISTCC_RESULTS").is_some() {
        std::fs::write(results.join(format!("distccd-{cell}.log")), &log).unwrap();
    }
    let (ok, refused) = jobs(&log);
    // work/<tree>/build/<cell>/<fragments key>/: the one this run used.
    let build: PathBuf = std::fs::read_dir(cache.join("work"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_dir(e.path().join("build").join(cell)).ok())
        .flat_map(|keys| keys.flatten().map(|k| k.path()))
        .filter_map(|p| {
            let used = std::fs::metadata(p.join("vmamatrix.used")).ok()?;
            Some((used.modified().unwrap(), p))
        })
        .max()
        .unwrap_or_else(|| panic!("{cell}: no build directory under {}", cache.display()))
        .1;
    let (compiles, bare) = c_compiles(&build);
    let done: BTreeSet<&String> = ok.iter().collect();
    let local: Vec<&String> = compiles.iter().filter(|s| !done.contains(s)).collect();
    eprintln!(
        "{cell}: {} C compiles recorded by kbuild, {} COMPILE_OK, {} other job summaries, \
         {} compiled elsewhere, {} kernel compiles with bare clang; {secs:.1} s",
        compiles.len(),
        ok.len(),
        refused.len(),
        local.len(),
        bare.len()
    );
    for l in &refused {
        eprintln!("  {l}");
    }
    assert!(refused.is_empty(), "distccd refused jobs: {refused:#?}");
    assert!(bare.is_empty(), "compiled without distcc: {bare:#?}");
    assert!(compiles.len() >= 4, "{compiles:?}");
    assert!(
        local.is_empty(),
        "{} of {} C compiles not compiled by distccd: {local:#?}",
        local.len(),
        compiles.len()
    );
    Outcome {
        compiles,
        ok,
        secs,
        build,
        results: results.to_path_buf(),
    }
}

/// The struct sizes vmamatrix measured for `cell` in the latest run.
fn vma_size(results: &Path, cell: &str) -> Option<u64> {
    let out = Command::new(common::bin())
        .args(["report", "--format", "json", "--results"])
        .arg(results)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == cell)
        .unwrap()
        .clone();
    let vma = &row["structs"][0];
    assert_eq!(vma["name"], "vm_area_struct", "{row}");
    vma["base"].as_u64()
}

/// EM_RISCV
const RISCV: u16 = 243;

#[test]
fn structs_only_cross_build_is_compiled_by_distccd() {
    let dir = tempfile::tempdir().unwrap();
    let d = Distccd::start(dir.path());
    let cache = dir.path().join("cache");
    let results = dir.path().join("results");
    let o = run_cell(&d, &cache, &results, "riscv-up-nommu", &["--structs-only"]);
    // The probe and the prepare-stage objects: RISC-V, not the host's arch
    // (distcc 3.4 would add `-target x86_64-pc-linux-gnu` without the wrapper).
    assert_eq!(e_machine(&o.build.join("mm/init-mm.o")), RISCV);
    assert!(vma_size(&o.results, "riscv-up-nommu").is_some_and(|s| s > 0));
    eprintln!(
        "riscv-up-nommu --structs-only: {} C compiles, {} COMPILE_OK, 0 refused, {:.1} s",
        o.compiles.len(),
        o.ok.len(),
        o.secs
    );
}

/// The full-build figure (BENCHMARKS.md): opt-in, one full base run per
/// cell of `VMAMATRIX_DISTCC_FULL`.
#[test]
fn full_builds_are_compiled_by_distccd() {
    let Ok(cells) = std::env::var("VMAMATRIX_DISTCC_FULL") else {
        eprintln!("VMAMATRIX_DISTCC_FULL is not set: the full-build figure is opt-in");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = std::env::var_os("VMAMATRIX_DISTCC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("cache"));
    let results = std::env::var_os("VMAMATRIX_DISTCC_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("results"));
    let d = Distccd::start(dir.path());
    let mut rows = Vec::new();
    for cell in cells.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let o = run_cell(&d, &cache, &results, cell, &[]);
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(results.join("latest").join(cell).join("base/build.json"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(v["status"], "ok", "{v}");
        rows.push(format!(
            "| {cell} | {} | {} | {:.1} s |",
            o.compiles.len(),
            o.ok.len(),
            o.secs
        ));
    }
    println!("| cell | C compiles (kbuild .cmd) | COMPILE_OK (distccd) | wall time of the run |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
