//! README's Slurm example, run for real on a one-node Slurm cluster on this
//! machine (scripts/slurm-local.sh starts it when it is not running, and
//! stops it again afterwards): `--structs-only` of four feasible cells
//! with the real series (patches/, the default matrix.toml), once unsharded
//! and once as the array job of scripts/shards.sbatch (`sbatch --wait
//! --array=1-2 --cpus-per-task=1`, the two shards side by side on the
//! node), then `vmamatrix merge` of the two shard runs. The merged report
//! must be the unsharded one: `report --format json` and the markdown
//! below its header, equal once run ids, times, `secs`, `cached`, the
//! timing table, the paths of the caches and run directories and make's
//! `-j` (2 unsharded, 1 per shard) are taken out. The three runs each start
//! from an empty cache of their own, so all of them really build. Prints
//! the wall times and the unsharded run's `report --timing`.
//! Needs root, `scripts/setup.sh` (slurm-wlm, munge, the kernel tree).

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// The selection: four feasible cells, two per shard (matrix order:
/// arm64-smp-mmu, riscv-up-nommu, x86-smp-mmu, x86-up-mmu).
const CELLS: &str = "x86-up-mmu,x86-smp-mmu,riscv-up-nommu,arm64-smp-mmu";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The local cluster: started by this test (and so stopped by it on drop)
/// or found running.
struct Cluster {
    conf: PathBuf,
    ours: bool,
}

impl Cluster {
    fn up() -> Cluster {
        let script = root().join("scripts/slurm-local.sh");
        let running = Command::new(&script)
            .arg("status")
            .output()
            .unwrap()
            .status
            .success();
        let o = Command::new(&script).arg("start").output().unwrap();
        assert!(o.status.success(), "slurm-local.sh start: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let conf = out
            .lines()
            .find_map(|l| l.strip_prefix("export SLURM_CONF="))
            .unwrap_or_else(|| panic!("no SLURM_CONF from slurm-local.sh: {}", text(&o)));
        Cluster {
            conf: PathBuf::from(conf),
            ours: !running,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.ours {
            let _ = Command::new(root().join("scripts/slurm-local.sh"))
                .arg("stop")
                .status();
        }
    }
}

/// `report --format json` of the run at `run`, without what differs between
/// two runs of the same work: ids and times, `secs`, `cached`, the timing
/// table, the caches' and run directories' paths (`paths`), make's `-j`.
fn normalized_report(bin: &Path, run: &Path, paths: &[(PathBuf, &str)]) -> Value {
    let o = Command::new(bin)
        .args(["report", "--format", "json"])
        .arg(run)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object_mut().unwrap().remove("timing");
    common::without_run_differences(&mut v, paths);
    v
}

/// The selected cells of a run's report, and that each of them was
/// measured in both trees from a probe build of this run (`--structs-only`;
/// not replayed from a cache).
fn selected_and_built(v: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for c in v["cells"].as_array().unwrap() {
        if c["selected"] != true {
            continue;
        }
        let id = c["id"].as_str().unwrap().to_string();
        assert_eq!(c["feasible"], true, "{id}: {c}");
        for tree in ["base", "patched"] {
            let b = &c["build"][tree];
            assert_eq!(b["status"], "probe-only", "{id} {tree}: {c}");
            assert_eq!(b["cached"], false, "{id} {tree} replayed from a cache: {c}");
        }
        let vma = c["structs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "vm_area_struct")
            .unwrap_or_else(|| panic!("{id}: no vm_area_struct: {c}"));
        assert!(
            vma["base"].as_u64().unwrap() > 0 && vma["patched"].as_u64().unwrap() > 0,
            "{id}: {vma}"
        );
        ids.push(id);
    }
    ids
}

fn report_json(bin: &Path, run: &Path) -> Value {
    let o = Command::new(bin)
        .args(["report", "--format", "json"])
        .arg(run)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The array job's tasks as Slurm's jobcomp/filetxt log recorded them:
/// (task id, state, exit code, start, end).
fn jobcomp(log: &Path, array_job: &str) -> Vec<(String, String, String, String, String)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .to_string()
        };
        if field("ArrayJobId") == array_job {
            out.push((
                field("ArrayTaskId"),
                field("JobState"),
                field("ExitCode"),
                field("StartTime"),
                field("EndTime"),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn slurm_array_shards_merge_to_the_unsharded_run() {
    let kernel = common::kernel();
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    std::fs::create_dir_all(home.join(".cache")).unwrap();
    let tmp = tempfile::Builder::new()
        .prefix("vmamatrix-slurm-")
        .tempdir_in(home.join(".cache"))
        .unwrap();
    let t = tmp.path();
    // A copy of the binary: a rebuild during the run does not change it.
    let bin = t.join("vmamatrix");
    std::fs::copy(common::bin(), &bin).unwrap();

    // 1. Unsharded, in an empty cache.
    let whole_cache = t.join("cache-whole");
    let whole_results = t.join("results-whole");
    let clock = Instant::now();
    let o = Command::new(&bin)
        .current_dir(root())
        .env("VMAMATRIX_CACHE", &whole_cache)
        .args(["run", "--structs-only", "--only", CELLS, "--kernel"])
        .arg(&kernel)
        .arg("--results")
        .arg(&whole_results)
        .output()
        .unwrap();
    let whole_secs = clock.elapsed().as_secs_f64();
    assert_eq!(o.status.code(), Some(0), "unsharded run: {}", text(&o));
    let whole = whole_results.join("latest").canonicalize().unwrap();
    // What was measured is printed; no verdict depends on it.
    let timing = Command::new(&bin)
        .args(["report", "--timing"])
        .arg(&whole)
        .output()
        .unwrap();
    println!(
        "unsharded run: {whole_secs:.1} s wall\nreport --timing of the unsharded run:\n{}",
        String::from_utf8_lossy(&timing.stdout)
    );

    // 2. The same selection as the array job of scripts/shards.sbatch, each
    // shard in an empty cache of its own (<cache>-shard-K).
    let cluster = Cluster::up();
    let results = t.join("results");
    let sharded_cache = t.join("cache");
    let clock = Instant::now();
    let o = Command::new("sbatch")
        .current_dir(root())
        .env("SLURM_CONF", &cluster.conf)
        .env("VMAMATRIX", &bin)
        .env("RESULTS", &results)
        .env("VMAMATRIX_CACHE", &sharded_cache)
        .env("VMAMATRIX_KERNEL", &kernel)
        .args(["--wait", "--array=1-2", "--cpus-per-task=1"])
        .arg(format!("--output={}/slurm-%A_%a.out", t.display()))
        .args(["scripts/shards.sbatch", "--structs-only", "--only", CELLS])
        .output()
        .unwrap();
    let array_secs = clock.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let job = stdout
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string();
    let outs: Vec<String> = (1..=2)
        .map(|k| {
            std::fs::read_to_string(t.join(format!("slurm-{job}_{k}.out"))).unwrap_or_default()
        })
        .collect();
    println!("sbatch --wait of the array job {job}: {array_secs:.1} s wall");
    for out in &outs {
        for l in out.lines().filter(|l| l.starts_with("shard ")) {
            println!("{l}");
        }
    }
    assert_eq!(
        o.status.code(),
        Some(0),
        "sbatch: {}\ntask 1:\n{}\ntask 2:\n{}",
        text(&o),
        outs[0],
        outs[1]
    );
    for (k, out) in outs.iter().enumerate() {
        assert!(
            out.contains(&format!("shard {}/2: vmamatrix exited 0 after", k + 1)),
            "task {}: {out}",
            k + 1
        );
    }
    let tasks = jobcomp(&cluster.conf.with_file_name("jobcomp.log"), &job);
    assert_eq!(tasks.len(), 2, "array job {job} in jobcomp.log: {tasks:?}");
    for (task, _, _, start, end) in &tasks {
        println!("slurm (jobcomp.log): array job {job} task {task}: {start} .. {end}");
    }
    for (task, state, exit, _, _) in &tasks {
        assert_eq!(
            (state.as_str(), exit.as_str()),
            ("COMPLETED", "0:0"),
            "task {task}"
        );
    }
    drop(cluster);

    // 3. Merge, and compare.
    let shards: Vec<PathBuf> = (1..=2)
        .map(|k| {
            results
                .join(format!("shard-{k}"))
                .join("latest")
                .canonicalize()
                .unwrap()
        })
        .collect();
    let merged_results = t.join("results-merged");
    let o = Command::new(&bin)
        .arg("merge")
        .args(&shards)
        .arg("--results")
        .arg(&merged_results)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "merge: {}", text(&o));
    let merged = merged_results.join("latest").canonicalize().unwrap();

    assert_eq!(
        selected_and_built(&report_json(&bin, &shards[0])),
        ["arm64-smp-mmu", "x86-smp-mmu"]
    );
    assert_eq!(
        selected_and_built(&report_json(&bin, &shards[1])),
        ["riscv-up-nommu", "x86-up-mmu"]
    );
    assert_eq!(
        selected_and_built(&report_json(&bin, &whole)),
        [
            "arm64-smp-mmu",
            "riscv-up-nommu",
            "x86-smp-mmu",
            "x86-up-mmu"
        ]
    );
    // The caches, and the run directories (the per-patch checks name the
    // patch files in the run that made them: a shard's, in a merged run).
    let mut paths: Vec<(PathBuf, &str)> = [
        whole_cache.clone(),
        t.join("cache-shard-1"),
        t.join("cache-shard-2"),
    ]
    .into_iter()
    .map(|c| (c, "<cache>"))
    .collect();
    for run in [&whole, &merged, &shards[0], &shards[1]] {
        paths.push((run.clone(), "<run>"));
    }
    let a = normalized_report(&bin, &whole, &paths);
    let b = normalized_report(&bin, &merged, &paths);
    // The markdown says the same below its header (run id and times).
    let md = |run: &Path| -> String {
        let o = Command::new(&bin).arg("report").arg(run).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        let i = s
            .find("\n## Summary")
            .unwrap_or_else(|| panic!("no summary: {s}"));
        common::normalize_text(&s[i..], &paths)
    };
    let diff = |name: &str, a: &str, b: &str| -> String {
        if a == b {
            return String::new();
        }
        let pa = t.join(format!("unsharded.{name}"));
        let pb = t.join(format!("merged.{name}"));
        std::fs::write(&pa, a).unwrap();
        std::fs::write(&pb, b).unwrap();
        let o = Command::new("diff")
            .arg("-u")
            .arg(&pa)
            .arg(&pb)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let json = diff(
        "json",
        &serde_json::to_string_pretty(&a).unwrap(),
        &serde_json::to_string_pretty(&b).unwrap(),
    );
    let markdown = diff("md", &md(&whole), &md(&merged));
    assert!(
        json.is_empty() && markdown.is_empty(),
        "the merged report differs from the unsharded one:\n{json}\n{markdown}"
    );
}
