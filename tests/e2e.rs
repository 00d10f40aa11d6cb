//! End to end on the real Linux 7.3.4 tree with the real toolchain and QEMU:
//! plan all 28 cells; run x86-up-mmu and riscv-up-nommu (default fragments
//! plus the lean overlay of tests/fixtures/lean.toml). Both base kernels
//! build under one jobserver and boot to vmamatrix's /init under QEMU (riscv
//! NOMMU with a FLAT /init), where the VMA workload runs with no failed
//! operation. riscv NOMMU patched (a test series that grows struct
//! vm_area_struct by one word) goes through the struct-size fast path. The
//! x86 patched kernel is the real series of patches/ plus a test patch that
//! warns on a path only the guest's runtime tests reach (tests/fixtures/wx-warn): it
//! builds in the same build directory, boots, its workload's page faults are
//! handled under the per-VMA lock that the series makes new on UP (the
//! vma_lock_* counters), the warning comes out as a regression of the patched
//! kernel, and the measured sizes agree with pahole. The vma tests pass on
//! the host and in the x86 guest for both trees. Then, in the build
//! directory that run left, `--per-patch` on a series whose patch 3 breaks
//! the build and patch 4 repairs it must name patch 3.
//! Needs `scripts/setup.sh` to have run.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `--matrix --kernel --series --results`, shared by run and report.
fn run_args<'a>(
    matrix: &'a Path,
    kernel: &'a Path,
    series: &'a Path,
    results: &'a Path,
) -> [&'a str; 8] {
    [
        "--matrix",
        matrix.to_str().unwrap(),
        "--kernel",
        kernel.to_str().unwrap(),
        "--series",
        series.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ]
}

/// The options of `run_args` that `report` takes: the matrix and results
/// (report refuses --kernel and --series, which it would not use).
fn report_args<'a>(common: &[&'a str]) -> Vec<&'a str> {
    common
        .chunks(2)
        .filter(|kv| kv[0] == "--matrix" || kv[0] == "--results")
        .flatten()
        .copied()
        .collect()
}

fn vmamatrix(args: &[&str]) -> (i32, String, String) {
    vmamatrix_in(None, args)
}

/// Run vmamatrix, with a cache directory of its own when `cache` is given.
fn vmamatrix_in(cache: Option<&Path>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(common::bin());
    // make's messages, which the jobserver check reads, in English.
    cmd.current_dir(root()).args(args).env("LC_ALL", "C");
    if let Some(c) = cache {
        cmd.env("VMAMATRIX_CACHE", c);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plan_classifies_all_28_cells_of_linux_7_3() {
    let k = common::kernel();
    // A cache of its own: the shared one's working directory is locked by
    // the run test beside it for its whole length, and plan would wait.
    let cache = tempfile::tempdir().unwrap();
    // With the deal of `run --shard K/3` by a weights file that names two
    // heavy cells and three light ones (the cells it does not name weigh
    // the median, light).
    let weights = cache.path().join("weights.toml");
    std::fs::write(
        &weights,
        "[weights]\n\"x86-smp-mmu\" = 1200\n\"arm64-smp-mmu\" = 1100\n\
         \"x86-up-mmu\" = 5\n\"x86-up-nommu\" = 5\n\"arm-smp-nommu\" = 5\n",
    )
    .unwrap();
    let (code, out, err) = vmamatrix_in(
        Some(cache.path()),
        &[
            "plan",
            "--format",
            "json",
            "--kernel",
            k.to_str().unwrap(),
            "--shards",
            "3",
            "--weights",
            weights.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 28);
    let w = vmamatrix::shard::Weights::load(&weights).unwrap();
    let all = vmamatrix::matrix::Matrix::load(None, &Default::default())
        .unwrap()
        .cells();
    let deal = vmamatrix::shard::deal(&all, 3, Some(&w));
    let shards = v["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 3);
    for (k, s) in shards.iter().enumerate() {
        let ids: Vec<String> = deal[k].iter().map(|c| c.id()).collect();
        assert_eq!(s["cells"], serde_json::json!(ids), "shard {}", k + 1);
        assert!(s["predicted_secs"].as_f64().unwrap() > 0.0);
    }
    // The two heavy cells go to different shards.
    let heavy = |id: &str| {
        shards
            .iter()
            .position(|s| s["cells"].as_array().unwrap().contains(&Value::from(id)))
    };
    assert_ne!(heavy("x86-smp-mmu"), heavy("arm64-smp-mmu"));
    assert_eq!(v["weights"]["digest"], Value::from(w.digest.clone()));
    let cell = |id: &str| {
        cells
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    for id in [
        "x86-smp-mmu",
        "x86-up-mmu",
        "riscv-up-nommu",
        "riscv-smp-nommu",
        "arm-up-nommu",
    ] {
        assert_eq!(cell(id)["feasible"], true, "{id}: {}", cell(id)["reason"]);
    }
    let why = cell("arm64-up-mmu")["reason"].as_str().unwrap();
    assert!(
        why.starts_with("CONFIG_SMP=n requested, got y: arch/arm64/Kconfig:"),
        "{why}"
    );
    let why = cell("x86-up-nommu")["reason"].as_str().unwrap();
    assert!(why.starts_with("CONFIG_MMU=n requested, got y:"), "{why}");
    let why = cell("arm-smp-nommu")["reason"].as_str().unwrap();
    assert!(
        why.contains("CONFIG_SMP=y requested, got n") && why.contains("MMU || ARM_MPU"),
        "{why}"
    );
    for c in cells {
        assert_eq!(
            c["feasible"].as_bool().unwrap(),
            c["reason"].is_null(),
            "{c}"
        );
        assert!(c["commands"].as_array().unwrap().len() >= 3);
    }
    // Every feasible cell's kernel has what the guests and the report need,
    // also where an arch fragment turns EXPERT on (loongarch, s390), which
    // makes allnoconfig turn off what is otherwise on by default: seen on
    // loongarch-up-mmu, whose madvise() was ENOSYS for the workload.
    for c in cells.iter().filter(|c| c["feasible"] == true) {
        let id = c["id"].as_str().unwrap();
        let config = plan_config(cache.path(), id);
        let mut want = vec![
            "KALLSYMS",
            "DEBUG_BUGVERBOSE",
            "SYSCTL",
            "POSIX_TIMERS",
            "EVENTFD",
            "FUTEX",
        ];
        if c["mmu"] == "mmu" {
            want.extend(["ADVISE_SYSCALLS", "PROC_PAGE_MONITOR", "SHMEM", "TMPFS"]);
        }
        // 32-bit arm guests run Debian's armhf glibc (32-bit time_t).
        if c["arch"] == "arm" && c["mmu"] == "mmu" {
            want.push("COMPAT_32BIT_TIME");
        }
        for sym in want {
            assert!(
                config.lines().any(|l| l == format!("CONFIG_{sym}=y")),
                "{id}: CONFIG_{sym} is not y"
            );
        }
    }
}

/// The .config `plan` resolved for a cell, in the cache it ran with
/// (`work/<tree>/build/<cell>/<fragments key>/`; the one written last).
fn plan_config(cache: &Path, id: &str) -> String {
    let mut found = Vec::new();
    for work in std::fs::read_dir(cache.join("work")).unwrap().flatten() {
        let Ok(keys) = std::fs::read_dir(work.path().join("build").join(id)) else {
            continue;
        };
        for key in keys.flatten() {
            let p = key.path().join("vmamatrix-plan/config");
            if let Ok(m) = std::fs::metadata(&p) {
                found.push((m.modified().unwrap(), p));
            }
        }
    }
    if let Some((_, p)) = found.into_iter().max() {
        return std::fs::read_to_string(p).unwrap();
    }
    panic!(
        "{id}: plan left no resolved config under {}",
        cache.display()
    )
}

fn pahole_size(obj: &Path, name: &str) -> u64 {
    let out = Command::new("pahole")
        .arg("-C")
        .arg(name)
        .arg(obj)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("/* size: "))
        .unwrap_or_else(|| panic!("pahole printed no size for {name}: {text}"));
    line.split("size: ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `report --format json` of the latest run in `results`
/// (`common` names it too), and that run's directory.
fn latest_report(common: &[&str], results: &Path) -> (Value, std::path::PathBuf) {
    latest_report_exiting(0, common, results)
}

/// `latest_report` of a run whose report exits `want` (1: regressions).
fn latest_report_exiting(
    want: i32,
    common: &[&str],
    results: &Path,
) -> (Value, std::path::PathBuf) {
    let mut args = vec!["report", "--format", "json"];
    args.extend(report_args(common));
    let (code, out, err) = vmamatrix(&args);
    assert_eq!(code, want, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    let dir = results.join(v["run"]["run_id"].as_str().unwrap());
    (v, dir)
}

/// The report row of one cell.
fn row<'a>(v: &'a Value, id: &str) -> &'a Value {
    let rows = v["cells"].as_array().unwrap();
    assert_eq!(rows.len(), 28);
    rows.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

/// Size of struct `name` in a report row, in the base (0) or patched (1)
/// column.
fn size(row: &Value, name: &str, i: usize) -> u64 {
    row["structs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {row}"))[["base", "patched"][i]]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} column {i}: {row}"))
}

/// tools/testing/vma passed on the host for `tree` in the run at `dir`.
fn host_vma_tests_passed(dir: &Path, tree: &str) {
    let host = std::fs::read_to_string(dir.join("host").join(tree).join("vmatest.json")).unwrap();
    let host: Value = serde_json::from_str(&host).unwrap();
    let t = &host["vmatest"]["tests"];
    assert!(
        t[0].as_u64().unwrap() > 0 && t[0] == t[1] && t[2] == 0,
        "{tree}: {host}"
    );
}

#[test]
fn x86_and_riscv_nommu_measure_boot_and_agree_with_pahole() {
    let k = common::kernel();
    let results = tempfile::tempdir().unwrap();
    let series = root().join("tests/fixtures/vma-grow");
    // The default fragments with the lean overlay (no networking, BPF,
    // binder): smaller kernels, the same pipeline.
    let lean = root().join("tests/fixtures/lean.toml");
    let common = run_args(&lean, &k, &series, results.path());
    let run_expecting = |want: i32, extra: &[&str], common: [&str; 8]| {
        let mut args = vec!["run"];
        args.extend(extra);
        args.extend(common);
        let (code, _out, err) = vmamatrix(&args);
        assert_eq!(code, want, "{err}");
        latest_report_exiting(want, &common, results.path())
    };
    let run = |extra: &[&str]| run_expecting(0, extra, common);

    // 1. Both cells' base kernels at once under one make jobserver of
    // --jobs slots: the real kernel build exercises it, and one cell's boot
    // or configure overlaps the other's compile. Both boot to vmamatrix's
    // /init (riscv NOMMU with a FLAT /init); the vma tests run in the x86
    // guest and on the host.
    let (v, base_dir) = run(&[
        "--only",
        "x86-up-mmu,riscv-up-nommu",
        "--trees",
        "base",
        "--force",
        "--jobserver",
    ]);
    assert_eq!(v["run"]["trees"], serde_json::json!(["base"]));
    for id in ["x86-up-mmu", "riscv-up-nommu"] {
        let r = row(&v, id);
        assert_eq!(r["build"]["base"]["status"], "ok", "{r}");
        assert_eq!(r["boot"]["base"]["outcome"], "booted", "{r}");
        assert!(
            r["boot"]["base"]["secs_to_marker"].as_f64().unwrap() > 0.0,
            "{r}"
        );
        assert!(
            r["sections"][0]["base"].as_u64().unwrap() > 1_000_000,
            "{r}"
        );
        // make found the shared jobserver: a sub-make says so at its start
        // when it cannot. The build directory lives in the shared cache, so
        // a warm one may compile nothing; the sub-make starts all the same.
        let log = std::fs::read_to_string(base_dir.join(id).join("base/build.log")).unwrap();
        assert!(!log.contains("jobserver unavailable"), "{id}");
        assert!(
            log.contains("make[1]: Entering directory"),
            "{id}: no sub-make ran:\n{log}"
        );
        // The text symbols that name a stalled guest's PCs are kept with
        // the image, moved to where the guest runs them (riscv NOMMU: the
        // RAM base).
        let syms = std::fs::read_to_string(base_dir.join(id).join("base/boot-symbols")).unwrap();
        let start = syms.lines().find(|l| l.ends_with(" T start_kernel"));
        let start = u64::from_str_radix(&start.expect(id)[..16], 16).unwrap();
        let want = if id == "riscv-up-nommu" {
            0x8000_0000
        } else {
            0xffff_ffff_8000_0000
        };
        assert!(start >= want, "{id}: start_kernel at {start:#x}");
        assert!(syms.lines().any(|l| l.ends_with(" _etext")), "{id}");
    }
    let x86_base = row(&v, "x86-up-mmu").clone();
    let t = &x86_base["boot"]["base"]["vma_tests"];
    assert!(
        t["run"].as_u64().unwrap() > 0 && t["passed"] == t["run"] && t["failed"] == 0,
        "{x86_base}"
    );
    let nommu = row(&v, "riscv-up-nommu");
    assert!(
        nommu["boot"]["base"]["vma_tests_note"]
            .to_string()
            .contains("NOMMU: tools/testing/vma needs mm/vma.c"),
        "{nommu}"
    );
    host_vma_tests_passed(&base_dir, "base");
    // The VMA workload ran in both guests (riscv as a FLAT NOMMU binary) with
    // no failed operation, and read /proc/vmstat: base UP kernels have no
    // per-VMA lock, so no vma_lock_* counters.
    for (id, mode) in [("x86-up-mmu", "mmu"), ("riscv-up-nommu", "nommu")] {
        let w = &row(&v, id)["boot"]["base"]["workload"];
        assert_eq!(w["mode"], mode, "{id}: {w}");
        assert_eq!(w["finished"], true, "{id}: {w}");
        assert_eq!(w["failed"], 0, "{id}: {w}");
        assert_eq!(w["exit"], 0, "{id}: {w}");
        assert!(w["total"].as_u64().unwrap() > 100, "{id}: {w}");
        assert!(w["before"].is_null() && w["after"].is_null(), "{id}: {w}");
        assert!(row(&v, id)["boot"]["base"]["vma_lock"].is_null(), "{id}");
    }
    // The kernel's selftests ran in the x86 guest: proc-maps-race, on the
    // /proc/pid/maps path the series rewrites, passed every case.
    let tests = row(&v, "x86-up-mmu")["boot"]["base"]["selftests"].clone();
    let race = tests
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "proc-maps-race")
        .unwrap_or_else(|| panic!("no proc-maps-race: {tests}"));
    assert!(
        race["pass"].as_u64().unwrap() > 0 && race["fail"] == 0,
        "{race}"
    );
    // The overlay directory's fragment came last and was honoured.
    let conf: Value = serde_json::from_str(
        &std::fs::read_to_string(base_dir.join("x86-up-mmu/base/configure.json")).unwrap(),
    )
    .unwrap();
    let frags = conf["configure"]["fragments"].as_array().unwrap();
    assert_eq!(frags.last().unwrap(), "lean/base.config", "{conf}");
    assert_eq!(frags[0], "configs/base.config", "{conf}");
    let config = std::fs::read_to_string(base_dir.join("x86-up-mmu/base/config")).unwrap();
    assert!(config.contains("# CONFIG_NET is not set"), "NET still on");

    // 2. riscv NOMMU patched through the struct-size fast path (no vmlinux,
    // no boot), in the build directory its base build left: the VMA grew
    // by one word there too, and no full build was made for it. It comes
    // before the x86 patched build: it takes the shared source tree to base
    // (where it still is) and then to patched; after the x86 patched build
    // that would rewrite mm_types.h twice, leave it newer than every x86
    // object, and make the per-patch run below a full rebuild.
    let (v, dir) = run(&["--only", "riscv-up-nommu", "--structs-only", "--force"]);
    let nommu = row(&v, "riscv-up-nommu");
    assert_eq!(
        size(nommu, "vm_area_struct", 1),
        size(nommu, "vm_area_struct", 0) + 8,
        "{nommu}"
    );
    assert!(
        !dir.join("riscv-up-nommu/patched/boot.json").exists(),
        "--structs-only booted"
    );

    // 3. x86 patched with the real series plus a test patch that warns on a
    // W+X mprotect (the workload asks for one, and so does the `merge`
    // selftest; /init and the vma tests do not), in the build directory
    // the base build left: it boots and passes the vma tests, the workload's
    // faults took the per-VMA lock the series makes new on UP, the warning
    // is a regression of the patched kernel (exit 1), and pahole agrees
    // with what vmamatrix read from the probe's DWARF.
    let real = tempfile::tempdir().unwrap();
    for dir in [
        root().join("patches"),
        root().join("tests/fixtures/wx-warn"),
    ] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            std::fs::copy(e.path(), real.path().join(e.file_name())).unwrap();
        }
    }
    let common3 = run_args(&lean, &k, real.path(), results.path());
    // Base comes from the cache step 1 filled (base records do not depend
    // on the series): only the patched tree is built and booted, and the
    // regressions compare it with base in one run.
    let (v, dir) = run_expecting(1, &["--only", "x86-up-mmu"], common3);
    assert_eq!(row(&v, "x86-up-mmu")["build"]["base"]["status"], "ok");
    let base_build: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("x86-up-mmu/base/build.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(base_build["cached"], true, "base rebuilt: {base_build}");
    let x86 = row(&v, "x86-up-mmu");
    assert_eq!(x86["build"]["patched"]["status"], "ok", "{x86}");
    assert_eq!(x86["boot"]["patched"]["outcome"], "booted", "{x86}");
    let t = &x86["boot"]["patched"]["vma_tests"];
    assert!(
        t["run"].as_u64().unwrap() > 0 && t["passed"] == t["run"] && t["failed"] == 0,
        "{x86}"
    );
    host_vma_tests_passed(&dir, "patched");
    let w = &x86["boot"]["patched"]["workload"];
    assert_eq!(
        (w["finished"].clone(), w["failed"].clone()),
        (true.into(), 0.into()),
        "{w}"
    );
    let took = w["after"]["success"].as_u64().unwrap() - w["before"]["success"].as_u64().unwrap();
    assert!(took > 0, "no fault under the per-VMA lock: {w}");
    assert_eq!(
        x86["boot"]["patched"]["vma_lock"]["success"].as_u64(),
        Some(took),
        "{x86}"
    );
    let regs = v["run"]["regressions"].as_array().unwrap();
    assert!(
        regs.iter()
            .any(|r| r["subject"] == "x86-up-mmu" && r["kind"] == "splat"),
        "{regs:?}"
    );
    let regressions: String = regs
        .iter()
        .map(|r| {
            format!(
                "{}: {}\n",
                r["subject"].as_str().unwrap(),
                r["text"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        regressions
            .contains("x86-up-mmu: the patched kernel reports warning: WARNING: mm/mprotect.c:"),
        "{regressions}"
    );
    let boot: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("x86-up-mmu/patched/boot.json")).unwrap(),
    )
    .unwrap();
    let splat = &boot["boot"]["splats"][0];
    assert_eq!(splat["kind"], "warning", "{boot}");
    assert!(
        splat["function"].as_str().unwrap().contains("mprotect"),
        "the report names the syscall: {splat}"
    );
    // The per-patch checks ran with the tree's own checkpatch.pl: the
    // series and the test patch are checkpatch --strict clean and signed
    // off by their authors.
    let checks: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("checks/checks.json")).unwrap())
            .unwrap();
    let patches = checks["patches"].as_array().unwrap();
    // The series in patches/ (every file but the cover letter) and the test
    // patch.
    let ours = std::fs::read_dir(root().join("patches"))
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            let n = n.to_string_lossy();
            n.ends_with(".patch") && !n.starts_with("0000-")
        })
        .count();
    assert_eq!(patches.len(), ours + 1, "{checks}");
    // This tree is Debian's source import, whose history starts at the base:
    // a Fixes: tag's commit cannot be looked up, and says so in the notes
    // instead of a checkpatch warning (patch 1 of the series has one).
    let fixes_noted = patches.iter().any(|p| {
        p["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("history starts at base"))
    });
    assert!(fixes_noted, "{checks}");
    for p in patches {
        let cp = &p["checkpatch"];
        assert!(
            cp["command"]
                .as_str()
                .unwrap()
                .contains("checkpatch.pl --strict"),
            "{p}"
        );
        assert_eq!(
            (cp["errors"].as_u64(), cp["warnings"].as_u64()),
            (Some(0), Some(0)),
            "{p}"
        );
        assert_eq!(p["dco"], serde_json::json!([]), "{p}");
    }
    formats_of_the_real_run(&dir);
    let vma = size(x86, "vm_area_struct", 1);
    let mm = size(x86, "mm_struct", 1);
    // The probe object is kept with the logs (the build directory is
    // shared with the other tests' runs of the same lean cell, which may
    // have rebuilt it for another tree by now), and the recorded command
    // wrote it there.
    let probe = dir.join("x86-up-mmu/patched/probe.o");
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("x86-up-mmu/patched/measure.json")).unwrap(),
    )
    .unwrap();
    let cmd = rec["commands"][0].as_str().unwrap();
    assert!(cmd.contains(&format!("-o {}", probe.display())), "{cmd}");
    assert_eq!(pahole_size(&probe, "vm_area_struct"), vma);
    assert_eq!(pahole_size(&probe, "mm_struct"), mm);
    assert_eq!(
        size(&x86_base, "vm_area_struct", 0),
        size(x86, "vm_area_struct", 0)
    );

    per_patch_names_the_patch_that_breaks_the_build(&k, &lean);
}

/// Every report format of the real run of step 3 (x86-up-mmu, the real
/// series and the W+X test patch: one regression, a kernel warning):
/// JUnit that parses and fails the patched boot, KCIDB that kcidb-io
/// takes, the HTML page in chromium with the cell red, and a reply that
/// threads under the series' cover letter and quotes the warning.
fn formats_of_the_real_run(dir: &Path) {
    let run = dir.to_str().unwrap();
    let report = |fmt: &str| -> String {
        let (code, out, err) = vmamatrix(&["report", run, "--format", fmt]);
        assert_eq!(code, 1, "{fmt}: {err}");
        out
    };
    let tmp = tempfile::tempdir().unwrap();

    let junit = tmp.path().join("junit.xml");
    std::fs::write(&junit, report("junit")).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m\n\
             d = m.parse(sys.argv[1])\n\
             for c in d.getElementsByTagName('testcase'):\n\
             \x20   if c.getElementsByTagName('failure'):\n\
             \x20       print(c.getAttribute('classname') + ' ' + c.getAttribute('name'))",
        ])
        .arg(&junit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let failed = String::from_utf8_lossy(&out.stdout);
    assert!(failed.contains("x86-up-mmu patched/boot"), "{failed}");

    let kcidb = tmp.path().join("kcidb.json");
    let json = report("kcidb");
    std::fs::write(&kcidb, &json).unwrap();
    common::kcidb_validate(&common::kcidb_python(), &kcidb, &json);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["builds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["config_name"] == "x86-up-mmu" && b["status"] == "PASS"),
        "{json}"
    );

    let page = dir.join("report.html");
    let (code, _, err) = vmamatrix(&[
        "report",
        run,
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    let dom = common::browse(
        &tmp.path().join("profile"),
        &["--dump-dom"],
        &format!("file://{}#cell=x86-up-mmu", page.display()),
    );
    assert_eq!(dom.matches("<a class=\"cell ").count(), 28);
    assert!(
        dom.contains("data-cell=\"x86-up-mmu\" data-outcome=\"regression\""),
        "x86-up-mmu is not shown as a regression"
    );
    assert!(
        dom.contains("mm/mprotect.c"),
        "the warning is not on the page"
    );

    let mail = report("mail");
    let cover = std::fs::read_to_string(root().join("patches/0000-cover-letter.patch")).unwrap();
    // The cover letter's subject as sent, `[PATCH vN 0/M]` included.
    let subject = cover
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap();
    assert!(subject.contains("0/"), "{subject}");
    assert!(
        mail.contains(&format!("\nSubject: Re: {subject}\n")),
        "{mail}"
    );
    let id = cover
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap();
    assert!(mail.contains(&format!("\nIn-Reply-To: {id}\n")), "{mail}");
    assert!(mail.contains(">> WARNING: mm/mprotect.c:"), "{mail}");
}

/// tests/fixtures/break-at-3: patch 1 is the vma-grow patch (so its tree is
/// the one the run above left in x86-up-mmu's build directory and every
/// later build is incremental), patch 2 builds, patch 3 misspells a member
/// in mm/mmap.c, patch 4 fixes it. The series as a whole builds; only
/// `--per-patch` sees the breakage, and must name patch 3.
fn per_patch_names_the_patch_that_breaks_the_build(k: &Path, lean: &Path) {
    let results = tempfile::tempdir().unwrap();
    let series = root().join("tests/fixtures/break-at-3");
    let common = run_args(lean, k, &series, results.path());
    // Builds only: the boots of the intermediate trees are not what this
    // checks, and each costs a guest run of the tests (CI time).
    let mut args = vec!["run", "--only", "x86-up-mmu", "--per-patch", "--no-boot"];
    args.extend(common);
    let (code, _out, err) = vmamatrix(&args);
    assert_eq!(code, 0, "{err}");

    let (v, run_dir) = latest_report(&common, results.path());
    assert_eq!(
        v["run"]["trees"],
        serde_json::json!(["base", "patch-1", "patch-2", "patch-3", "patched"])
    );
    assert_eq!(
        v["run"]["first_bad"]["x86-up-mmu"], "patch 3: build fails",
        "{}",
        v["run"]
    );
    let build = |tree: &str| -> Value {
        let p = run_dir.join("x86-up-mmu").join(tree).join("build.json");
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    };
    for tree in ["base", "patch-1", "patch-2", "patched"] {
        assert_eq!(build(tree)["status"], "ok", "{tree}: {}", build(tree));
    }
    let bad = build("patch-3");
    assert_eq!(bad["status"], "failed", "{bad}");
    assert!(
        bad["build"]["errors"].to_string().contains("vm_test_pda"),
        "{bad}"
    );
    // The markdown report says it too.
    let mut args = vec!["report"];
    args.extend(report_args(&common));
    let (_, md, _) = vmamatrix(&args);
    assert!(md.contains("patch 3: build fails"), "{md}");
}
