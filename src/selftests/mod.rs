//! The kernel's own selftests that exercise what the per-VMA lock series
//! changes, built statically for a guest and read back from its console.
//!
//! The series makes per-VMA locks unconditional: it deletes the mmap_lock
//! fallbacks of fs/proc/task_mmu.c (reading /proc/pid/maps, smaps and
//! PROCMAP_QUERY) and mm/userfaultfd.c (`uffd_mfill_lock`, the UFFDIO_COPY /
//! ZEROPAGE / CONTINUE / POISON path, and `uffd_move_lock`, UFFDIO_MOVE), and
//! from then on every VMA change (split, merge, mremap, mprotect, mlock,
//! mseal, madvise) write-locks the VMA on UP kernels too, where base had no
//! per-VMA lock at all. So the tests chosen ([`CHOSEN`], in run order) are:
//!
//! - `proc/proc-maps-race`: reads /proc/pid/maps and smaps (and queries
//!   PROCMAP_QUERY) while another process splits, resizes and remaps the
//!   VMAs at the page boundary: the read path the series rewrites. Each of
//!   its 6 cases loops for `DURATION` seconds (default 5); the guest runs it
//!   with `DURATION=3`, about 18 s in all.
//! - `proc/proc-empty-vm`: maps, smaps, smaps_rollup and statm of a process
//!   that has unmapped everything: the same read path with no VMA at all.
//!   x86-64 only; elsewhere it exits 4 (skip) at once.
//! - `mm/map_fixed_noreplace`: MAP_FIXED_NOREPLACE over and beside existing
//!   VMAs (mmap_region, VMA merging on insertion).
//! - `mm/mremap_dontunmap`: MREMAP_DONTUNMAP, which leaves the source VMA in
//!   place while moving its pages.
//! - `mm/mremap_test -t 4`: mremap moves and expansions of many alignments,
//!   moves across several VMAs and onto userfaultfd-armed VMAs. `-t 4`
//!   verifies 4 MiB of each region (the default, explicit here) and leaves
//!   out the 1 GiB timing cases that `-t 0` or `-t` >= 1024 add.
//! - `mm/mlock2-tests`: mlock, mlock2(MLOCK_ONFAULT), munlock and mlockall,
//!   which split and merge VMAs by flags.
//! - `mm/mseal_test`: mseal and every operation a seal forbids (mprotect,
//!   munmap, mremap, madvise across sealed and unsealed VMAs). 64-bit only:
//!   it skips itself elsewhere.
//! - `mm/merge`: VMA merge cases, checked through PROCMAP_QUERY.
//! - `mm/guard-regions`: MADV_GUARD_INSTALL/REMOVE (and MADV_DONTNEED,
//!   MADV_FREE) on anonymous, file and shmem VMAs: madvise takes the per-VMA
//!   read lock for those where the kernel has one, the mmap_lock otherwise.
//! - `mm/uffd-unit-tests`, four runs of it (`-f` picks cases by name):
//!   `move` (UFFDIO_MOVE: `uffd_move_lock`), `zeropage`, `sigbus` and
//!   `poison` (UFFDIO_ZEROPAGE, UFFDIO_COPY and UFFDIO_POISON:
//!   `uffd_mfill_lock`), the two userfaultfd lock helpers whose mmap_lock
//!   fallbacks the series deletes. Its other cases are left out for time:
//!   each case works on 32 MiB, one userfault per page, and under TCG with
//!   2 vCPUs `events` took 164 s, `events-wp` 27-109 s and `minor` 68 s
//!   (the whole binary 201 s, against 24 s with 1 vCPU; measured with
//!   Debian's 6.12 cloud kernel, no 7.3 guest kernel with userfaultfd being
//!   at hand). Without userfaultfd in the kernel all four skip.
//! - `mm/uffd-stress anon 20 16` (run_vmtests.sh's arguments): threads
//!   resolving faults with UFFDIO_COPY while others fault and read, 16
//!   bounces through all its modes: `uffd_mfill_lock` under concurrency.
//!
//! Left out, each for a reason:
//!
//! - needing libraries the cross toolchains lack: `mlock-random-test` and
//!   `memfd_secret` (libcap), `ksm_tests`, `migration` and `rmap` (libnuma),
//!   `cow` and `gup_longterm` (liburing for part of them; also THP/hugetlb);
//! - needing kernel features the lean guest does not have (allnoconfig plus
//!   configs/): hugetlb (`hugetlb-*`, `thuge-gen`, `charge_reserved_hugetlb`,
//!   `va_high_addr_switch`, `write_to_hugetlbfs`), THP (`khugepaged`,
//!   `transhuge-stress`, `split_huge_page_test`, `prctl_thp_disable`,
//!   `mkdirty`, `folio_split_race_test`, `uffd-wp-mremap`), KSM
//!   (`ksm_functional_tests`), protection keys (`protection_keys`,
//!   `pkey_sighandler_tests`), soft-dirty (`soft-dirty`), GUP_TEST
//!   (`gup_test`), HMM and page_frag (test modules), hwpoison
//!   (`memory-failure`, `hugetlb-read-hwpoison`), tmpfs plus O_TMPFILE
//!   (`proc-pid-vm`, which mounts tmpfs on /tmp);
//! - needing an unprivileged user: `on-fault-limit` (the guest runs as root);
//! - long or memory-hungry under emulation: `compaction_test`,
//!   `pagemap_ioctl` (2 s natively, hugetlb/THP cases), `map_populate`;
//! - not on a path the series changes: `madv_populate`, `process_madv`,
//!   `mrelease_test`, `droppable`, `mdwe_test`, `pfnmap`, the rest of proc/;
//! - the series' other callers need more than a bare initramfs: TCP receive
//!   zerocopy (net/tcp_mmap: two processes over a network), binder
//!   (binderfs and CONFIG_ANDROID_BINDERFS), the bpf task iterator and
//!   stackmap (libbpf, bpftool and a BPF compiler).
//!
//! [`build_guest`] builds the chosen tests with the tree's own selftest
//! Makefiles against the tree's installed uapi headers; the guest's /init
//! runs each between [`START_MARKER`] and [`END_MARKER`] lines and
//! [`parse_console`] turns the console into [`SelftestRun`] records, which
//! [`regressions`] compares. See [`tap`] for the output grammar.

pub mod tap;

pub use tap::{
    parse_console, parse_tap, regressions, summarize, totals, EndStatus, SelftestRun, TapResult,
    TestResult, Totals, Verdict, END_MARKER, START_MARKER,
};

use crate::proc::{self, Outcome};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One selftest as the guest runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selftest {
    /// The name in the markers and records (no spaces).
    pub name: &'static str,
    /// The program: its make target and its file name in the initramfs.
    /// Several entries may run one program with different arguments.
    pub binary: &'static str,
    /// Directory under tools/testing/selftests.
    pub dir: &'static str,
    /// Arguments after the program name.
    pub args: &'static [&'static str],
    /// Environment, `NAME=value` (nothing else is set).
    pub env: &'static [&'static str],
    /// Wall-clock limit in the guest under TCG emulation; the runner kills
    /// the test and reports `timeout:<S>` after it. About ten times the
    /// longest run measured under TCG (x86-64 guests, 1 and 2 vCPUs, on a
    /// loaded 2-core host), so load or a slower emulated architecture does
    /// not easily turn into a false timeout, which [`regressions`] would
    /// report.
    pub timeout_secs: u32,
    /// What it needs from the guest.
    pub needs: &'static str,
}

const fn test(
    name: &'static str,
    dir: &'static str,
    args: &'static [&'static str],
    timeout_secs: u32,
    needs: &'static str,
) -> Selftest {
    Selftest {
        name,
        binary: name,
        dir,
        args,
        env: &[],
        timeout_secs,
        needs,
    }
}

const fn uffd(
    name: &'static str,
    args: &'static [&'static str],
    timeout_secs: u32,
    needs: &'static str,
) -> Selftest {
    Selftest {
        name,
        binary: "uffd-unit-tests",
        dir: "mm",
        args,
        env: &[],
        timeout_secs,
        needs,
    }
}

/// The chosen tests, in the order the guest runs them.
pub const CHOSEN: &[Selftest] = &[
    Selftest {
        name: "proc-maps-race",
        binary: "proc-maps-race",
        dir: "proc",
        args: &[],
        env: &["DURATION=3"],
        timeout_secs: 180,
        needs: "/proc; fork, process-shared pthread mutexes; 6 cases of DURATION s each",
    },
    test(
        "proc-empty-vm",
        "proc",
        &[],
        30,
        "/proc, ptrace; x86-64 only (exit 4 elsewhere); sleeps 1 s",
    ),
    test("map_fixed_noreplace", "mm", &[], 30, "nothing beyond mmap"),
    test(
        "mremap_dontunmap",
        "mm",
        &[],
        30,
        "memfd_create (CONFIG_MEMFD_CREATE, selected by CONFIG_TMPFS), without which \
         it bails out after its first case; /proc for its maps dump on failure",
    ),
    test(
        "mremap_test",
        "mm",
        &["-t", "4"],
        60,
        "/proc/self/maps, /proc/sys/vm/mmap_min_addr, userfaultfd (one case); four \
         cases map 2 GiB of shared anonymous memory (4 MiB touched), which the default \
         overcommit heuristic refuses with less RAM: vm.overcommit_memory=1",
    ),
    test(
        "mlock2-tests",
        "mm",
        &[],
        30,
        "/proc/self/maps and smaps; root (RLIMIT_MEMLOCK)",
    ),
    test(
        "mseal_test",
        "mm",
        &[],
        30,
        "/proc/self/maps; 64-bit kernel (skips itself otherwise); two cases need \
         memfd_create",
    ),
    test(
        "merge",
        "mm",
        &[],
        30,
        "/proc (PROCMAP_QUERY), a writable current directory (creates ./foo); one case \
         needs memfd_create, one uprobes and /sys (skips without), one KSM (skips)",
    ),
    test(
        "guard-regions",
        "mm",
        &[],
        60,
        "/proc/self/pagemap, a writable current directory (mkstemp), userfaultfd, \
         pidfd; its shmem variant needs memfd_create",
    ),
    uffd(
        "uffd-unit-tests:move",
        &["-f", "move"],
        300,
        "userfaultfd with UFFD_FEATURE_MOVE; anonymous memory only (move, move-pmd, \
         move-pmd-split)",
    ),
    uffd(
        "uffd-unit-tests:zeropage",
        &["-f", "zeropage"],
        30,
        "userfaultfd; memfd_create for its shmem case, without which it exits there",
    ),
    uffd(
        "uffd-unit-tests:sigbus",
        &["-f", "sigbus"],
        60,
        "userfaultfd with UFFD_FEATURE_SIGBUS; memfd_create for the shmem cases",
    ),
    uffd(
        "uffd-unit-tests:poison",
        &["-f", "poison"],
        30,
        "userfaultfd with UFFD_FEATURE_POISON; memfd_create for the shmem case",
    ),
    test(
        "uffd-stress",
        "mm",
        &["anon", "20", "16"],
        60,
        "userfaultfd, threads (one per online CPU); 2 x 20 MiB",
    ),
];

/// The chosen test called `name`.
pub fn chosen(name: &str) -> Option<&'static Selftest> {
    CHOSEN.iter().find(|t| t.name == name)
}

/// Flags every guest test is built with, after the caller's: static (the
/// initramfs has no libc), and the 64-bit `__u64` as `unsigned long long`
/// everywhere. tools/include/uapi/linux/types.h assumes that, but powerpc64's
/// asm/types.h only agrees when `__SANE_USERSPACE_TYPES__` is defined, which
/// the mm tests that need it do themselves and proc-maps-race does not (its
/// powerpc64le build fails with conflicting types for `__s64` without it).
/// Elsewhere the define changes nothing; it is empty, as the tests that
/// define it themselves have it, so theirs is no redefinition.
pub const GUEST_CFLAGS: &str = "-static -D__SANE_USERSPACE_TYPES__=";

/// What [`build_guest`] made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestBuild {
    /// `(test name, binary)` for each [`CHOSEN`] entry whose program built,
    /// in order (entries sharing a program share its path).
    pub built: Vec<(String, PathBuf)>,
    /// `(test name, why it did not build)`.
    pub skipped: Vec<(String, String)>,
    /// Every command line run, for the record.
    pub commands: Vec<String>,
    /// The kernel ARCH the compiler targets.
    pub arch: String,
}

/// The kernel ARCH (SRCARCH) for a target triple such as
/// `aarch64-linux-gnu` or `riscv64-unknown-linux-gnu`.
pub fn srcarch_of_triple(triple: &str) -> Option<&'static str> {
    let cpu = triple.split('-').next()?;
    Some(match cpu {
        "x86_64" | "i386" | "i486" | "i586" | "i686" => "x86",
        "aarch64" | "aarch64_be" => "arm64",
        c if c.starts_with("arm") => "arm",
        c if c.starts_with("powerpc") || c.starts_with("ppc") => "powerpc",
        "s390" | "s390x" => "s390",
        "riscv64" | "riscv32" => "riscv",
        "loongarch64" | "loongarch32" => "loongarch",
        _ => return None,
    })
}

/// Split a compiler string (`clang-19 --target=... -fuse-ld=lld`) into
/// program and arguments.
fn split_cc(cc: &str) -> Result<(String, Vec<String>), String> {
    let words = shlex::split(cc).ok_or_else(|| format!("cannot split compiler {cc:?}"))?;
    let (prog, args) = words
        .split_first()
        .ok_or_else(|| "empty compiler".to_string())?;
    Ok((prog.clone(), args.to_vec()))
}

/// The target triple `cc` compiles for (`cc -dumpmachine`).
pub fn target_triple(cc: &str) -> Result<String, String> {
    let (prog, args) = split_cc(cc)?;
    let o = Command::new(&prog)
        .args(&args)
        .arg("-dumpmachine")
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if !o.status.success() {
        return Err(format!("{cc} -dumpmachine: {}", o.status));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn note(log: &Path, text: &str) {
    if let Ok(mut f) = std::fs::File::options().create(true).append(true).open(log) {
        let _ = writeln!(f, "{text}");
    }
}

fn log_len(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// The first compiler or linker error in `log` after byte `from`, as the
/// reason a test did not build.
fn first_error(log: &Path, from: u64) -> Option<String> {
    let bytes = std::fs::read(log).ok()?;
    let text = String::from_utf8_lossy(bytes.get(from as usize..)?);
    let pats = [
        "fatal error:",
        "error:",
        "undefined reference",
        "cannot find -l",
        "No rule to make target",
    ];
    pats.iter().find_map(|p| {
        text.lines()
            .find(|l| l.contains(p))
            .map(|l| l.trim().to_string())
    })
}

/// Build the [`CHOSEN`] tests of the kernel tree at `src` statically for a
/// guest, with the C compiler `cc` (a cross compiler, or `clang-19
/// --target=...`: the same strings as arches.toml `vmatest_cc`) and
/// `extra_cflags` (arches.toml `vmatest_cflags`, `{cache}` already
/// substituted; may hold -I, -L and -Wl, options).
///
/// First the tree's uapi headers are installed for the compiler's ARCH
/// (`make headers_install O=<out_dir>/headers-build
/// INSTALL_HDR_PATH=<out_dir>/headers`, as the selftests expect from `make
/// headers`; the tree must be clean, as for any O= build). Then each test is
/// one `make -C tools/testing/selftests/<dir> <out_dir>/bin/<binary>` with the
/// kernel's own selftest Makefile, `CC`, `KHDR_INCLUDES` pointing at those
/// headers and `USERCFLAGS=<extra_cflags> `[`GUEST_CFLAGS`]. A test that does not
/// build is recorded in `skipped` with the first error from `log`; the
/// others still build. Everything goes to `log`.
///
/// The mm Makefile writes local_config.mk and local_config.h_gen into the
/// tree's tools/testing/selftests/mm (its liburing probe); they are removed
/// afterwards when this call created them. Two calls must not build in one
/// tree at once.
///
/// Errors only when nothing can be built: an unknown compiler target or
/// failed header installation.
pub fn build_guest(
    src: &Path,
    cc: &str,
    extra_cflags: &str,
    out_dir: &Path,
    log: &Path,
) -> Result<GuestBuild, String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let out_dir = out_dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let src = src
        .canonicalize()
        .map_err(|e| format!("{}: {e}", src.display()))?;
    let mut build = GuestBuild::default();

    let triple = target_triple(cc)?;
    let arch = srcarch_of_triple(&triple)
        .ok_or_else(|| format!("{cc} targets {triple}: no kernel ARCH known for it"))?;
    build.arch = arch.to_string();
    note(log, &format!("# {cc} targets {triple}: ARCH={arch}"));

    // The uapi headers of this tree, as `make headers` would install them.
    let headers = out_dir.join("headers");
    let hargs = vec![
        "-C".to_string(),
        src.display().to_string(),
        format!("O={}", out_dir.join("headers-build").display()),
        format!("ARCH={arch}"),
        format!("INSTALL_HDR_PATH={}", headers.display()),
        "headers_install".to_string(),
    ];
    let line = proc::shell_line("make", &hargs);
    note(log, &format!("$ {line}"));
    build.commands.push(line);
    let mut make = Command::new("make");
    make.args(&hargs);
    let o = proc::run_logged(make, log, Duration::from_secs(600))
        .map_err(|e| format!("make headers_install: {e}"))?;
    if !o.success() {
        return Err(format!(
            "installing the uapi headers for ARCH={arch} failed ({o}); see {}",
            log.display()
        ));
    }

    let bin = out_dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let selftests = src.join("tools/testing/selftests");
    let generated: Vec<PathBuf> = ["local_config.mk", "local_config.h_gen"]
        .iter()
        .map(|f| selftests.join("mm").join(f))
        .filter(|p| !p.exists())
        .collect();
    let cflags = extra_cflags
        .split_whitespace()
        .chain(GUEST_CFLAGS.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    // Each program once; every entry that runs it gets its outcome.
    let mut made: Vec<(&str, Result<PathBuf, String>)> = Vec::new();
    for t in CHOSEN {
        if let Some((_, r)) = made.iter().find(|(b, _)| *b == t.binary) {
            match r {
                Ok(p) => build.built.push((t.name.into(), p.clone())),
                Err(why) => build.skipped.push((t.name.into(), why.clone())),
            }
            continue;
        }
        let target = bin.join(t.binary);
        let _ = std::fs::remove_file(&target);
        let args = vec![
            "-C".to_string(),
            selftests.join(t.dir).display().to_string(),
            format!("ARCH={arch}"),
            format!("CC={cc}"),
            format!("OUTPUT={}", bin.display()),
            format!(
                "KHDR_INCLUDES=-isystem {}",
                headers.join("include").display()
            ),
            format!("USERCFLAGS={cflags}"),
            target.display().to_string(),
        ];
        let line = proc::shell_line("make", &args);
        note(log, &format!("$ {line}"));
        build.commands.push(line);
        let from = log_len(log);
        let mut make = Command::new("make");
        make.args(&args);
        let result = match proc::run_logged(make, log, Duration::from_secs(300)) {
            Err(e) => Err(format!("make: {e}")),
            Ok(Outcome::Exited(0)) if target.is_file() => Ok(target),
            Ok(Outcome::Exited(0)) => {
                Err(format!("make succeeded but made no {}", target.display()))
            }
            Ok(Outcome::Interrupted) => {
                build.skipped.push((t.name.into(), "interrupted".into()));
                break;
            }
            Ok(o) => Err(first_error(log, from).unwrap_or_else(|| format!("make: {o}"))),
        };
        match &result {
            Ok(p) => build.built.push((t.name.into(), p.clone())),
            Err(why) => {
                note(log, &format!("# {} did not build: {why}", t.binary));
                build.skipped.push((t.name.into(), why.clone()));
            }
        }
        made.push((t.binary, result));
    }
    for p in generated {
        let _ = std::fs::remove_file(p);
    }
    Ok(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_to_arch() {
        assert_eq!(srcarch_of_triple("x86_64-linux-gnu"), Some("x86"));
        assert_eq!(srcarch_of_triple("aarch64-linux-gnu"), Some("arm64"));
        assert_eq!(srcarch_of_triple("arm-linux-gnueabihf"), Some("arm"));
        assert_eq!(srcarch_of_triple("powerpc64le-linux-gnu"), Some("powerpc"));
        assert_eq!(srcarch_of_triple("s390x-linux-gnu"), Some("s390"));
        assert_eq!(
            srcarch_of_triple("riscv64-unknown-linux-gnu"),
            Some("riscv")
        );
        assert_eq!(
            srcarch_of_triple("loongarch64-linux-gnu"),
            Some("loongarch")
        );
        assert_eq!(srcarch_of_triple("mips-linux-gnu"), None);
    }

    #[test]
    fn chosen_names_are_unique_and_bounded() {
        let mut names: Vec<_> = CHOSEN.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CHOSEN.len());
        assert!(CHOSEN.iter().all(|t| t.timeout_secs > 0));
        assert!(CHOSEN
            .iter()
            .all(|t| !t.name.contains(char::is_whitespace) && !t.name.is_empty()));
        // The whole set stays within a boot's budget under emulation.
        let total: u32 = CHOSEN.iter().map(|t| t.timeout_secs).sum();
        assert!(total <= 1500, "{total}");
        assert_eq!(chosen("mremap_test").unwrap().args, &["-t", "4"]);
    }

    /// Build the chosen tests of a real tree and, when they are for this
    /// host's architecture, run them here as the guest would (env, args,
    /// time limit, a scratch current directory). Needs a clean kernel tree:
    ///
    /// VMAMATRIX_SELFTESTS_TREE=/path/to/linux [VMAMATRIX_SELFTESTS_CC=...
    /// VMAMATRIX_SELFTESTS_CFLAGS=... VMAMATRIX_SELFTESTS_OUT=dir]
    /// cargo test --lib selftests::tests::build_and_run -- --ignored --nocapture
    #[test]
    #[ignore]
    fn build_and_run() {
        let Ok(tree) = std::env::var("VMAMATRIX_SELFTESTS_TREE") else {
            eprintln!("VMAMATRIX_SELFTESTS_TREE is not set");
            return;
        };
        let cc = std::env::var("VMAMATRIX_SELFTESTS_CC")
            .unwrap_or_else(|_| "x86_64-linux-gnu-gcc".into());
        let cflags = std::env::var("VMAMATRIX_SELFTESTS_CFLAGS").unwrap_or_default();
        let tmp = tempfile::tempdir().unwrap();
        let out = std::env::var("VMAMATRIX_SELFTESTS_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|_| tmp.path().join("out"));
        let log = out.with_extension("log");
        let _ = std::fs::remove_file(&log);
        let b = build_guest(Path::new(&tree), &cc, &cflags, &out, &log).unwrap();
        for (n, p) in &b.built {
            println!("built {n} {}", p.display());
        }
        for (n, why) in &b.skipped {
            println!("skipped {n}: {why}");
        }
        let host = format!("{}-linux-gnu", std::env::consts::ARCH);
        if srcarch_of_triple(&host) != Some(b.arch.as_str()) {
            return;
        }
        for (name, path) in &b.built {
            let t = chosen(name).unwrap();
            let cwd = tmp.path().join(format!("cwd-{name}"));
            std::fs::create_dir_all(&cwd).unwrap();
            let tlog = tmp.path().join(format!("{name}.out"));
            let mut c = Command::new(path);
            c.args(t.args).current_dir(&cwd).env_clear();
            for kv in t.env {
                let (k, v) = kv.split_once('=').unwrap();
                c.env(k, v);
            }
            let start = std::time::Instant::now();
            let o = proc::run_logged(c, &tlog, Duration::from_secs(t.timeout_secs.into())).unwrap();
            let secs = start.elapsed().as_secs_f64();
            let end = match o {
                Outcome::Exited(c) => EndStatus::Exited(c),
                Outcome::Signalled => EndStatus::Signalled(0),
                _ => EndStatus::TimedOut(t.timeout_secs),
            };
            let text = std::fs::read_to_string(&tlog).unwrap_or_default();
            let r = summarize(name, &text, end);
            println!("{} [{secs:.2} s] failed: {:?}", r.summary(), r.failed);
        }
    }

    #[test]
    fn first_error_names_the_missing_header() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(
            &log,
            "old: error: before\n  CC       mlock-random-test\n\
             mlock-random-test.c:8:10: fatal error: sys/capability.h: No such file or directory\n",
        )
        .unwrap();
        let from = "old: error: before\n".len() as u64;
        assert_eq!(
            first_error(&log, from).unwrap(),
            "mlock-random-test.c:8:10: fatal error: sys/capability.h: No such file or directory"
        );
    }
}
