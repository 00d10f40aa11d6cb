//! Resume after SIGKILL, on the real Linux 7.3.4 tree: a `--structs-only`
//! run of x86-up-mmu with the one-word test series, in a cache of its own,
//! is killed with SIGKILL at random moments up to 20 times, then allowed to
//! finish (the second kill is a SIGINT, Ctrl-C, which must end the run
//! with exit code 130). After every kill no process of the run survives
//! (children die with vmamatrix, PR_SET_PDEATHSIG, or are killed by its
//! SIGINT handler) and every result file is whole JSON;
//! the run that finishes reports the same +8 bytes an uninterrupted run does.
//! While a run holds the results directory a second run is refused, and a
//! run of another series on the same base reuses the base results. Last,
//! the real series in two `--shard`s, merged, equals the unsharded run.
//! Needs `scripts/setup.sh` to have run.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Setup {
    cache: tempfile::TempDir,
    results: tempfile::TempDir,
    kernel: PathBuf,
    series: PathBuf,
}

impl Setup {
    /// vmamatrix in the repository, with the test's cache.
    fn vm(&self) -> Command {
        let mut c = Command::new(common::bin());
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("VMAMATRIX_CACHE", self.cache.path());
        c
    }

    fn cmd(&self) -> Command {
        let mut c = self.vm();
        c.args(["run", "--structs-only", "--only", "x86-up-mmu"])
            .arg("--kernel")
            .arg(&self.kernel)
            .arg("--series")
            .arg(&self.series)
            .arg("--results")
            .arg(self.results.path());
        c
    }

    fn spawn(&self) -> Child {
        self.cmd()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Processes (other than zombies) whose command line mentions `needle`.
fn survivors(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        if cmd.contains(needle) && !zombie && pid != std::process::id() {
            out.push(format!("{pid}: {cmd}"));
        }
    }
    out
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_symlink() {
            continue;
        }
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// xorshift, seeded from the clock (printed, so a failure can be replayed
/// with VMAMATRIX_KILL_SEED).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing() {
    let s = Setup {
        cache: tempfile::tempdir().unwrap(),
        results: tempfile::tempdir().unwrap(),
        kernel: common::kernel(),
        series: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vma-grow"),
    };
    let seed = std::env::var("VMAMATRIX_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("VMAMATRIX_KILL_SEED={seed}");
    let mut rng = Rng(seed);
    let needle = s.cache.path().to_string_lossy().into_owned();
    let mut kills = 0;
    let mut finished_early = false;
    while kills < 20 {
        let mut child = s.spawn();
        let delay = Duration::from_millis(1500 + rng.next() % 10_500);
        let t = Instant::now();
        if kills == 0 {
            // The first run holds the results directory: a second is refused.
            std::thread::sleep(Duration::from_millis(1000));
            let out = s.cmd().output().unwrap();
            assert_eq!(out.status.code(), Some(3), "{out:?}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("another vmamatrix run is using"),
                "{out:?}"
            );
        }
        let mut done = None;
        while t.elapsed() < delay {
            if let Some(st) = child.try_wait().unwrap() {
                done = Some(st);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(st) = done {
            assert!(st.success(), "run ended by itself with {st}");
            finished_early = true;
            break;
        }
        if kills == 1 {
            // Once, Ctrl-C instead: the run stops its makes and QEMU itself
            // and exits 130.
            let st = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(st.success());
            let st = child.wait().unwrap();
            assert_eq!(st.code(), Some(130), "after SIGINT");
        } else {
            child.kill().unwrap(); // SIGKILL: no handler runs
            child.wait().unwrap();
        }
        kills += 1;
        eprintln!("kill {kills} after {:.1}s", delay.as_secs_f64());
        // make's compilers finish their one file; nothing may stay longer.
        let t = Instant::now();
        while !survivors(&needle).is_empty() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            survivors(&needle),
            Vec::<String>::new(),
            "after kill {kills}"
        );
        let mut files = Vec::new();
        json_files(s.results.path(), &mut files);
        json_files(&s.cache.path().join("records"), &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                serde_json::from_str::<Value>(&text).is_ok(),
                "half-written {}: {text:?}",
                f.display()
            );
        }
    }
    eprintln!("{kills} kills, finished early: {finished_early}");
    // The last run finishes, with the result an uninterrupted run gives.
    let out = s.cmd().output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (base_size, patched_size) = vma_sizes(&s, s.results.path());
    let base_size = base_size.unwrap();
    assert_eq!(patched_size, Some(base_size + 8));
    assert_eq!(survivors(&needle), Vec::<String>::new());

    // Another series on the same base: the base results are reused, only
    // the new patched tree is worked on.
    let other = tempfile::tempdir().unwrap();
    let out = s
        .vm()
        .args(["run", "--structs-only", "--only", "x86-up-mmu", "--kernel"])
        .arg(&s.kernel)
        .arg("--results")
        .arg(other.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let run = other.path().join("latest/x86-up-mmu");
    let cached = |tree: &str, stage: &str| -> bool {
        let text = std::fs::read_to_string(run.join(tree).join(format!("{stage}.json"))).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["cached"] == true
    };
    assert!(cached("base", "configure") && cached("base", "build") && cached("base", "measure"));
    assert!(!cached("patched", "build"));

    shards_merged_equal_the_unsharded_run(&s);
    killed_during_the_tree_switch(&s, base_size);
}

/// vm_area_struct of x86-up-mmu in the latest run of `results`, per tree.
fn vma_sizes(s: &Setup, results: &Path) -> (Option<u64>, Option<u64>) {
    let out = s
        .vm()
        .args(["report", "--format", "json"])
        .arg("--results")
        .arg(results)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "x86-up-mmu")
        .unwrap()
        .clone();
    let vma = &row["structs"][0];
    assert_eq!(vma["name"], "vm_area_struct", "{row}");
    (vma["base"].as_u64(), vma["patched"].as_u64())
}

/// A run SIGKILLed while the shared source directory is half-way from
/// base to patched (the switch slowed down by a test knob, the kill sent
/// once the switch has written its first file), then a run of base: base
/// must be measured from base's sources, not from the half-patched tree the
/// kill left (the stamp then said base with a pending patched), and a run
/// of both trees after it gives the uninterrupted result.
fn killed_during_the_tree_switch(s: &Setup, base_size: u64) {
    let results = tempfile::tempdir().unwrap();
    let run = |trees: &str| {
        let mut c = s.vm();
        c.args(["run", "--structs-only", "--only", "x86-up-mmu", "--force"])
            .args(["--trees", trees])
            .arg("--kernel")
            .arg(&s.kernel)
            .arg("--series")
            .arg(&s.series)
            .arg("--results")
            .arg(results.path());
        c
    };
    // Source at base.
    let out = run("base").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Switch to patched, killed in the pause after its first file.
    let mut child = run("patched")
        .env("VMAMATRIX_TEST_SWITCH_PAUSE_MS", "600000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(n > 0, "the run ended before switching: {seen}");
        seen.push_str(&line);
        if line.contains("source: switching to patched") {
            break;
        }
    }
    // The one file of the vma-grow series is written before the pause; the
    // stamp names both ends as long as the switch is under way.
    let stamp = s.cache.path().join("work");
    let stamp = std::fs::read_dir(&stamp)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("src.commit"))
        .find(|p| p.exists())
        .unwrap();
    let t = Instant::now();
    while std::fs::read_to_string(&stamp)
        .unwrap()
        .split_whitespace()
        .count()
        < 2
    {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the switch never began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    // The next run asks for base again: it must measure base.
    let out = run("base").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(vma_sizes(s, results.path()).0, Some(base_size));
    // And both trees after it: the uninterrupted result.
    let out = run("base,patched").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        vma_sizes(s, results.path()),
        (Some(base_size), Some(base_size + 8))
    );
}

/// `report --format json` of a run directory, cells only, without what
/// differs between two runs of the same inputs (times, cache replays).
fn report_rows(s: &Setup, run: &Path) -> Value {
    let out = s
        .vm()
        .args(["report", "--format", "json"])
        .arg(run)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut cells = serde_json::from_slice::<Value>(&out.stdout).unwrap()["cells"].clone();
    common::without_run_differences(&mut cells, &[]);
    cells
}

/// The per-VMA lock series (patches/), `--structs-only` of the two feasible
/// x86 cells in two shards (one cell each: shards deal the selected cells
/// out in matrix order), merged, must give the rows of the same run
/// unsharded. In the cache the runs above left, so only x86-smp-mmu is new
/// work.
fn shards_merged_equal_the_unsharded_run(s: &Setup) {
    let run = |extra: &[&str]| -> PathBuf {
        let results = tempfile::tempdir().unwrap().keep();
        let out = s
            .vm()
            .args(["run", "--structs-only", "--only", "x86-smp-mmu,x86-up-mmu"])
            .arg("--kernel")
            .arg(&s.kernel)
            .arg("--results")
            .arg(&results)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {out:?}");
        results.join("latest").canonicalize().unwrap()
    };
    let one = run(&["--shard", "1/2"]);
    let two = run(&["--shard", "2/2"]);
    let whole = run(&[]);
    let merged = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .arg("merge")
        .arg(&one)
        .arg(&two)
        .arg("--results")
        .arg(merged.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let selected = |run: &Path| -> Vec<String> {
        report_rows(s, run)
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["selected"] == true)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(selected(&one), ["x86-smp-mmu"]);
    assert_eq!(selected(&two), ["x86-up-mmu"]);
    let merged_rows = report_rows(s, &merged.path().join("latest"));
    let whole_rows = report_rows(s, &whole);
    let feasible = whole_rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["selected"] == true && r["feasible"] == true)
        .count();
    assert_eq!(feasible, 2, "{whole_rows}");
    assert_eq!(merged_rows, whole_rows);
    for dir in [one, two, whole] {
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
