//! `vmamatrix doctor`: is this machine ready to run the matrix?
//!
//! One line per check: the LLVM toolchain the matrix names, the host tools
//! of the kernel build and of the per-patch checks, QEMU for each arch of
//! the matrix, the guest test compilers (a static link with the target's
//! libc and liburcu, exactly as the guest tests are linked), the kernel
//! tree and its base revision, and free disk space in the cache. A missing
//! piece is named with the command that installs it.
//!
//! The per-arch facts come from the matrix's arch table (QEMU binary, guest
//! compiler and flags); what is Debian's, not the arch's (which package
//! carries which program, multiarch names), is in the tables below. They
//! are not in src/arches.toml: every field there is part of each boot's
//! cache key, and packaging decides nothing about a boot.
//!
//! Presentation only (build.rs's PRESENTATION), like init.rs.

mod distcc;

pub use distcc::{distcc, icecc};

use crate::matrix::{Cell, Matrix, Mmu};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Exit code of `doctor` when something required is missing.
pub const EXIT_MISSING: i32 = crate::error::exit::MISSING;

/// Free space below which the cache gets a warning: a full run keeps a
/// source tree and 14 build directories (README, BENCHMARKS.md), and up to
/// three configurations of a cell keep their own.
pub const MIN_FREE_GIB: u64 = 20;

/// Debian package of each QEMU system emulator (QEMU 10 is in
/// bookworm-backports).
const QEMU_PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("qemu-system-i386", "qemu-system-x86"),
    ("qemu-system-arm", "qemu-system-arm"),
    ("qemu-system-aarch64", "qemu-system-arm"),
    ("qemu-system-ppc", "qemu-system-ppc"),
    ("qemu-system-ppc64", "qemu-system-ppc"),
    ("qemu-system-s390x", "qemu-system-s390x"),
    ("qemu-system-riscv64", "qemu-system-misc"),
    ("qemu-system-loongarch64", "qemu-system-misc"),
];

/// Debian's architecture name for a GNU triple (multiarch), which names
/// the cross packages: gcc-<triple>, libc6-dev-<arch>-cross,
/// liburcu-dev:<arch>.
const DEBIAN_ARCHES: &[(&str, &str)] = &[
    ("x86_64-linux-gnu", "amd64"),
    ("aarch64-linux-gnu", "arm64"),
    ("arm-linux-gnueabihf", "armhf"),
    ("powerpc64le-linux-gnu", "ppc64el"),
    ("s390x-linux-gnu", "s390x"),
    ("riscv64-linux-gnu", "riscv64"),
    ("loongarch64-linux-gnu", "loong64"),
];

/// Host programs and headers: (program, or header under /usr/include;
/// Debian package; what needs it).
const HOST: &[(&str, &str, &str)] = &[
    ("make", "make", "every build"),
    (
        "gcc",
        "gcc",
        "the kernel's host programs, tools/testing/vma on the host",
    ),
    ("bc", "bc", "the kernel build"),
    ("bison", "bison", "Kconfig"),
    ("flex", "flex", "Kconfig"),
    ("perl", "perl", "the kernel build, checkpatch.pl"),
    ("python3", "python3", "kernel-doc"),
    ("git", "git", "doctor's check of the kernel tree"),
    ("gelf.h", "libelf-dev", "objtool"),
    (
        "openssl/opensslv.h",
        "libssl-dev",
        "the kernel's certificate tools",
    ),
];

/// Tools the machine can do without: (program, package, what it is for).
const OPTIONAL: &[(&str, &str, &str)] = &[
    ("ccache", "ccache", "only for `run --ccache`"),
    (
        "pahole",
        "dwarves",
        "only for the test suite, which compares struct sizes with it",
    ),
];

/// LLVM programs a kernel build with `LLVM=` runs, and the Debian package
/// (before its `-<version>` suffix) that has each.
const LLVM_TOOLS: &[(&str, &str)] = &[
    ("clang", "clang"),
    ("ld.lld", "lld"),
    ("llvm-ar", "llvm"),
    ("llvm-nm", "llvm"),
    ("llvm-objcopy", "llvm"),
    ("llvm-objdump", "llvm"),
    ("llvm-readelf", "llvm"),
    ("llvm-strip", "llvm"),
];

/// A test program linked as the guest tests are: static, with liburcu.
const URCU_PROGRAM: &str = "#include <urcu.h>\n\
    int main(void)\n{\n\trcu_register_thread();\n\tsynchronize_rcu();\n\
    \trcu_unregister_thread();\n\treturn 0;\n}\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// Not needed by every run, or only a risk (disk space).
    Warn,
    Missing,
}

/// One line of the doctor's answer.
#[derive(Debug, Clone)]
pub struct Check {
    pub level: Level,
    pub what: String,
    pub detail: String,
    /// The command that fixes it.
    pub fix: Option<String>,
}

impl Check {
    fn ok(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            level: Level::Ok,
            what: what.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    fn missing(
        what: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            level: Level::Missing,
            what: what.into(),
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn line(&self) -> String {
        let level = match self.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Missing => "MISSING",
        };
        let fix = self
            .fix
            .as_deref()
            .map(|f| format!("; fix: {f}"))
            .unwrap_or_default();
        format!("{level:<8} {}: {}{fix}", self.what, self.detail)
    }
}

/// The program `name` on PATH (or `name` itself when it has a slash).
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `apt-get install` of `packages`, from bookworm-backports when `backports`.
fn apt(packages: &[String], backports: bool) -> String {
    let t = if backports {
        "-t bookworm-backports "
    } else {
        ""
    };
    format!("apt-get install {t}{}", packages.join(" "))
}

/// The LLVM programs of a toolchain (`LLVM=-19`, `LLVM=1`, `LLVM=/opt/llvm/bin/`)
/// and programs named by `CC=`, `LD=`, `HOSTCC=`... (their first word).
pub fn toolchain(words: &[String]) -> Vec<Check> {
    let mut out = Vec::new();
    let llvm = words.iter().find_map(|w| w.strip_prefix("LLVM="));
    match llvm {
        None => out.push(Check {
            level: Level::Warn,
            what: "toolchain".into(),
            detail: format!(
                "{:?} has no LLVM=; only LLVM toolchains are checked",
                words.join(" ")
            ),
            fix: None,
        }),
        Some(v) => {
            let (prefix, suffix) = if let Some(s) = v.strip_prefix('-') {
                (String::new(), format!("-{s}"))
            } else if v.ends_with('/') {
                (v.to_string(), String::new())
            } else {
                (String::new(), String::new())
            };
            // One line per Debian package: clang-19, lld-19, llvm-19.
            let mut packages: Vec<&str> = LLVM_TOOLS.iter().map(|t| t.1).collect();
            packages.dedup();
            for pkg in packages {
                let progs: Vec<String> = LLVM_TOOLS
                    .iter()
                    .filter(|t| t.1 == pkg)
                    .map(|t| format!("{prefix}{}{suffix}", t.0))
                    .collect();
                let absent: Vec<&String> = progs.iter().filter(|p| which(p).is_none()).collect();
                let what = format!("toolchain LLVM={v}: {pkg}");
                if absent.is_empty() {
                    out.push(Check::ok(what, progs.join(", ")));
                } else {
                    let fix = if prefix.is_empty() {
                        apt(&[format!("{pkg}{suffix}")], false)
                    } else {
                        format!("install LLVM under {prefix}, or change `toolchain` in matrix.toml")
                    };
                    let absent: Vec<&str> = absent.iter().map(|s| s.as_str()).collect();
                    out.push(Check::missing(
                        what,
                        format!("{} not found", absent.join(", ")),
                        fix,
                    ));
                }
            }
        }
    }
    for w in words {
        let Some((key, value)) = w.split_once('=') else {
            continue;
        };
        if key == "LLVM" || !matches!(key, "CC" | "LD" | "HOSTCC" | "HOSTCXX" | "AR" | "NM") {
            continue;
        }
        let Some(prog) = value.split_whitespace().next() else {
            continue;
        };
        let what = format!("toolchain {key}=");
        match which(prog) {
            Some(p) => out.push(Check::ok(what, p.display().to_string())),
            None => out.push(Check::missing(
                what,
                format!("{prog} not found"),
                format!("install {prog}, or change `toolchain` in matrix.toml"),
            )),
        }
    }
    out
}

/// Host programs and headers of the kernel build and the checks.
pub fn host() -> Vec<Check> {
    let mut out = Vec::new();
    for (name, pkg, why) in HOST {
        let what = format!("host {name}");
        let found = if name.ends_with(".h") {
            let p = Path::new("/usr/include").join(name);
            p.is_file().then_some(p)
        } else {
            which(name)
        };
        out.push(match found {
            Some(p) => Check::ok(what, format!("{} ({why})", p.display())),
            None => Check::missing(
                what,
                format!("not found ({why})"),
                apt(&[pkg.to_string()], false),
            ),
        });
    }
    out.push(match link("gcc", "", false) {
        Ok(()) => Check::ok(
            "host liburcu",
            "gcc links -lurcu (tools/testing/vma on the host)",
        ),
        Err(e) => Check::missing(
            "host liburcu",
            format!("gcc cannot link -lurcu (tools/testing/vma on the host): {e}"),
            apt(&["liburcu-dev".into()], false),
        ),
    });
    for (name, pkg, why) in OPTIONAL {
        out.push(match which(name) {
            Some(p) => Check::ok(format!("host {name}"), format!("{} ({why})", p.display())),
            None => Check {
                level: Level::Warn,
                what: format!("host {name}"),
                detail: format!("not found ({why})"),
                fix: Some(apt(&[pkg.to_string()], false)),
            },
        });
    }
    out
}

/// Compile and link [`URCU_PROGRAM`] with the compiler string `cc` and
/// `flags`, statically when `static_`; the compiler's first error otherwise.
fn link(cc: &str, flags: &str, static_: bool) -> Result<(), String> {
    let words = shlex::split(cc).ok_or_else(|| format!("cannot split {cc:?}"))?;
    let (prog, args) = words.split_first().ok_or("empty compiler")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let src = dir.path().join("urcu.c");
    std::fs::write(&src, URCU_PROGRAM).map_err(|e| e.to_string())?;
    let mut c = Command::new(prog);
    c.args(args)
        .args(flags.split_whitespace())
        .arg(&src)
        .arg("-o")
        .arg(dir.path().join("urcu"));
    if static_ {
        c.arg("-static");
    }
    c.args(["-lurcu", "-lpthread"]);
    let o = c.output().map_err(|e| format!("{prog}: {e}"))?;
    if o.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&o.stderr);
    let first = err
        .lines()
        .find(|l| l.contains("error") || l.contains("cannot find"))
        .or_else(|| err.lines().next())
        .unwrap_or("failed")
        .trim()
        .to_string();
    Err(first)
}

/// The cells of `arch` in the matrix.
fn cells_of<'a>(m: &'a Matrix, arch: &'a str) -> impl Iterator<Item = Cell> + 'a {
    m.cells().into_iter().filter(move |c| c.arch == arch)
}

/// QEMU for one arch of the matrix: the emulator of its bootable cells.
pub fn qemu(m: &Matrix, arch: &str) -> Check {
    let what = format!("qemu {arch}");
    let mut binaries: Vec<String> = Vec::new();
    let mut skipped = Vec::new();
    for cell in cells_of(m, arch) {
        let f = m.facts(&cell);
        match (&f.boot_skip, &f.qemu) {
            (Some(why), _) => skipped.push(format!("{cell}: {why}")),
            (None, None) => skipped.push(format!("{cell}: no QEMU recipe")),
            (None, Some(q)) if !binaries.contains(q) => binaries.push(q.clone()),
            _ => {}
        }
    }
    if binaries.is_empty() {
        return Check::ok(what, format!("nothing to boot ({})", skipped.join("; ")));
    }
    let mut found = Vec::new();
    let mut absent = Vec::new();
    for b in &binaries {
        match which(b) {
            Some(_) => found.push(format!("{b} ({})", version(b))),
            None => absent.push(b.clone()),
        }
    }
    if absent.is_empty() {
        return Check::ok(what, found.join(", "));
    }
    let mut packages: Vec<String> = absent
        .iter()
        .map(|b| {
            QEMU_PACKAGES
                .iter()
                .find(|(bin, _)| bin == b)
                .map_or_else(|| b.clone(), |(_, p)| p.to_string())
        })
        .collect();
    packages.dedup();
    Check::missing(
        what,
        format!("{} not found", absent.join(", ")),
        apt(&packages, true),
    )
}

/// The first line of `prog --version`, without "emulator version".
fn version(prog: &str) -> String {
    Command::new(prog)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout).lines().next().map(|l| {
                // "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2...)"
                let l = l.replace("QEMU emulator version", "QEMU");
                l.split(" (").next().unwrap_or(&l).trim().to_string()
            })
        })
        .unwrap_or_else(|| "no version".into())
}

/// The guest tests of one arch: its cross compiler links a static program
/// with the target's libc and liburcu, with the arch table's flags.
pub fn guest(m: &Matrix, arch: &str, cache: &Path) -> Check {
    let what = format!("guest tests {arch}");
    // The MMU cells' facts: NOMMU guests never run these tests.
    let cell = cells_of(m, arch)
        .find(|c| c.mmu == Mmu::Mmu)
        .or_else(|| cells_of(m, arch).next());
    let Some(cell) = cell else {
        return Check::ok(what, "no cell");
    };
    let f = m.facts(&cell);
    let cc = match (&f.vmatest_skip, &f.vmatest_cc) {
        (Some(why), _) => return Check::ok(what, format!("not run ({why})")),
        (None, None) => return Check::ok(what, "not run (no vmatest_cc in the arch table)"),
        (None, Some(cc)) => cc.clone(),
    };
    let raw_flags = f.vmatest_cflags.clone().unwrap_or_default();
    let flags = raw_flags.replace("{cache}", &cache.display().to_string());
    match link(&cc, &flags, true) {
        Ok(()) => Check::ok(what, format!("{cc} links a static program with liburcu")),
        Err(e) => Check::missing(
            what,
            format!("{cc} cannot link a static program with liburcu: {e}"),
            guest_fix(&cc, &f.triple.clone().unwrap_or_default(), &raw_flags),
        ),
    }
}

/// The command that installs a guest compiler, its libc and liburcu.
fn guest_fix(cc: &str, triple: &str, flags: &str) -> String {
    // A target liburcu unpacked into the cache ({cache}/sysroot/...), as
    // scripts/setup.sh does for riscv64 (bookworm has no riscv64 port).
    if flags.contains("{cache}") {
        return "scripts/setup.sh --packages (in a vmamatrix checkout; it unpacks the \
                target liburcu into the cache)"
            .into();
    }
    let prog = cc.split_whitespace().next().unwrap_or(cc);
    let gnu = prog.strip_suffix("-gcc").unwrap_or(triple);
    let Some((_, debarch)) = DEBIAN_ARCHES.iter().find(|(t, _)| *t == gnu) else {
        return "scripts/setup.sh --packages (in a vmamatrix checkout)".into();
    };
    // The machine's own arch: the plain packages, no multiarch.
    let native = DEBIAN_ARCHES
        .iter()
        .find(|(t, _)| t.starts_with(&format!("{}-", std::env::consts::ARCH)))
        .map(|(_, a)| *a);
    if native == Some(*debarch) {
        return apt(
            &["gcc".into(), "libc6-dev".into(), "liburcu-dev".into()],
            false,
        );
    }
    let mut packages = vec![];
    if prog.ends_with("-gcc") {
        packages.push(format!("gcc-{gnu}"));
    }
    packages.push(format!("libc6-dev-{debarch}-cross"));
    packages.push(format!("liburcu-dev:{debarch}"));
    format!(
        "dpkg --add-architecture {debarch} && apt-get update && {}",
        apt(&packages, false)
    )
}

/// The kernel tree: a git repository in which the base revision resolves.
pub fn kernel(tree: &Path, why: &str, base: &str) -> Check {
    let what = "kernel tree".to_string();
    let here = format!("{} ({why})", tree.display());
    if !tree.exists() {
        return Check::missing(
            what,
            format!("{here} not found"),
            "scripts/setup.sh (makes ~/.cache/vmamatrix/linux), or run from a kernel tree, \
             or pass --kernel PATH",
        );
    }
    if which("git").is_none() {
        return Check::missing(
            what,
            format!("{here}: cannot check it, git not found"),
            apt(&["git".into()], false),
        );
    }
    let git = |args: &[&str]| -> Option<String> {
        let o = Command::new("git")
            .arg("-C")
            .arg(tree)
            .args(args)
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if git(&["rev-parse", "--git-dir"]).is_none() {
        return Check::missing(
            what,
            format!("{here} is not a git repository"),
            format!(
                "cd {} && git init && git add -A && git commit -m base",
                tree.display()
            ),
        );
    }
    match git(&[
        "log",
        "-1",
        "--format=%h %s",
        &format!("{base}^{{commit}}"),
        "--",
    ]) {
        Some(c) => Check::ok(what, format!("{here}: base {base:?} is {c}")),
        None => Check::missing(
            what,
            format!("{here}: base revision {base:?} not found"),
            format!(
                "git -C {} fetch the base, or pass --base REV (or set `base` in matrix.toml)",
                tree.display()
            ),
        ),
    }
}

/// Bytes available to an unprivileged user on the file system of `path`
/// (or of its nearest existing ancestor).
pub fn free_bytes(path: &Path) -> Option<(PathBuf, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let dir = path.ancestors().find(|d| d.exists())?.to_path_buf();
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a valid statvfs buffer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((dir, st.f_bavail as u64 * st.f_frsize as u64))
}

/// Free space in the cache, which holds the source tree and every build
/// directory.
pub fn disk(cache: &Path) -> Check {
    let what = "disk";
    let Some((dir, bytes)) = free_bytes(cache) else {
        return Check {
            level: Level::Warn,
            what: what.into(),
            detail: format!("cannot read the free space of {}", cache.display()),
            fix: None,
        };
    };
    let gib = bytes as f64 / (1u64 << 30) as f64;
    let detail = format!("{gib:.1} GiB free in {}", dir.display());
    if bytes < MIN_FREE_GIB << 30 {
        Check {
            level: Level::Warn,
            what: what.into(),
            detail: format!("{detail}, less than the {MIN_FREE_GIB} GiB a full run wants"),
            fix: Some("vmamatrix cache --prune, or set VMAMATRIX_CACHE to a larger disk".into()),
        }
    } else {
        Check::ok(what, detail)
    }
}

/// Every check for matrix `m`, whose kernel tree was chosen because `why`.
pub fn checks(m: &Matrix, kernel_why: &str, cache: &Path) -> Vec<Check> {
    let mut out = toolchain(&m.toolchain);
    out.extend(distcc(&m.toolchain));
    out.extend(icecc(&m.toolchain));
    out.extend(host());
    for a in &m.arches {
        out.push(qemu(m, a));
        out.push(guest(m, a, cache));
    }
    out.push(kernel(&m.kernel, kernel_why, &m.base));
    out.push(disk(cache));
    out
}

/// The doctor's answer: its lines, a summary, and the exit code.
pub fn report(checks: &[Check]) -> (String, i32) {
    let mut s = String::new();
    for c in checks {
        s.push_str(&c.line());
        s.push('\n');
    }
    let missing = checks.iter().filter(|c| c.level == Level::Missing).count();
    let warn = checks.iter().filter(|c| c.level == Level::Warn).count();
    s.push_str(&format!(
        "{} checks: {missing} missing, {warn} warnings\n",
        checks.len()
    ));
    let code = if missing == 0 {
        crate::error::exit::OK
    } else {
        EXIT_MISSING
    };
    (s, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;

    #[test]
    fn exit_code_is_not_one_of_the_others() {
        for c in [
            exit::OK,
            exit::REGRESSION,
            exit::USAGE,
            exit::SETUP,
            exit::SERIES,
            exit::INCOMPLETE,
            exit::INTERRUPTED,
        ] {
            assert_ne!(EXIT_MISSING, c);
        }
    }

    #[test]
    fn toolchain_names_the_llvm_programs_and_packages() {
        let cs = toolchain(&["LLVM=-999".into()]);
        assert_eq!(cs.len(), 3, "{cs:?}");
        assert!(cs.iter().all(|c| c.level == Level::Missing));
        assert_eq!(cs[0].fix.as_deref(), Some("apt-get install clang-999"));
        assert_eq!(cs[1].fix.as_deref(), Some("apt-get install lld-999"));
        assert!(cs[1].detail.contains("ld.lld-999"), "{}", cs[1].detail);
        assert_eq!(cs[2].fix.as_deref(), Some("apt-get install llvm-999"));
        assert!(
            cs[2].detail.contains("llvm-objcopy-999"),
            "{}",
            cs[2].detail
        );
        let cs = toolchain(&[
            "LLVM=/nowhere/bin/".into(),
            "CC=distcc-nowhere clang".into(),
        ]);
        assert!(cs[0].detail.contains("/nowhere/bin/clang"), "{:?}", cs[0]);
        let cc = cs.iter().find(|c| c.what == "toolchain CC=").unwrap();
        assert_eq!(cc.level, Level::Missing);
        assert!(cc.detail.contains("distcc-nowhere"));
        assert_eq!(toolchain(&[]).first().unwrap().level, Level::Warn);
    }

    #[test]
    fn guest_fix_names_debian_cross_packages() {
        assert_eq!(
            guest_fix("aarch64-linux-gnu-gcc", "aarch64-linux-gnu", ""),
            "dpkg --add-architecture arm64 && apt-get update && apt-get install \
             gcc-aarch64-linux-gnu libc6-dev-arm64-cross liburcu-dev:arm64"
        );
        assert!(
            guest_fix("arm-linux-gnueabihf-gcc", "arm-linux-gnueabihf", "")
                .contains("liburcu-dev:armhf")
        );
        assert!(guest_fix(
            "clang-19 --target=riscv64-linux-gnu",
            "riscv64-linux-gnu",
            "-I{cache}/x"
        )
        .starts_with("scripts/setup.sh --packages"));
    }

    #[test]
    fn qemu_packages_cover_the_arch_table() {
        for (name, a) in crate::arch::builtin() {
            if let Some(q) = &a.qemu {
                assert!(
                    QEMU_PACKAGES.iter().any(|(b, _)| b == q),
                    "{name}: {q} has no package in QEMU_PACKAGES"
                );
            }
            if let (Some(t), None) = (&a.triple, &a.vmatest_skip) {
                assert!(
                    DEBIAN_ARCHES.iter().any(|(x, _)| x == t),
                    "{name}: {t} has no Debian arch"
                );
            }
        }
    }

    #[test]
    fn a_missing_kernel_tree_and_a_bad_base_are_named() {
        let d = tempfile::tempdir().unwrap();
        let c = kernel(&d.path().join("linux"), "--kernel", "HEAD");
        assert_eq!(c.level, Level::Missing);
        assert!(
            c.line().contains("not found; fix: scripts/setup.sh"),
            "{}",
            c.line()
        );
        let c = kernel(d.path(), "--kernel", "HEAD");
        assert!(c.detail.contains("not a git repository"), "{}", c.line());
    }

    #[test]
    fn disk_space_of_an_existing_ancestor() {
        let d = tempfile::tempdir().unwrap();
        let (dir, bytes) = free_bytes(&d.path().join("not/yet")).unwrap();
        assert_eq!(dir, d.path());
        assert!(bytes > 0);
    }

    #[test]
    fn report_counts_and_exit_code() {
        let ok = Check::ok("a", "fine");
        let (s, code) = report(std::slice::from_ref(&ok));
        assert_eq!(code, 0);
        assert_eq!(s, "ok       a: fine\n1 checks: 0 missing, 0 warnings\n");
        let bad = Check::missing("b", "gone", "apt-get install b");
        let (s, code) = report(&[ok, bad]);
        assert_eq!(code, EXIT_MISSING);
        assert!(
            s.contains("MISSING  b: gone; fix: apt-get install b\n"),
            "{s}"
        );
    }
}
