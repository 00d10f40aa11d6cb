//! Build stage: run make out of tree with full logs, and read the compiler
//! diagnostics (`file:line[:col]: warning|error: text`) out of the log.

pub mod run;

use crate::error::{Error, Result};
use crate::model::{CcacheStats, Diagnostic};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Parse diagnostics from a build log. `src` prefixes (absolute source
/// directory, `../`) are stripped so paths are relative to the kernel tree.
pub fn parse_diagnostics(log: &str, src_prefixes: &[String]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for line in log.lines() {
        if let Some(d) = parse_line(line, src_prefixes) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

fn parse_line(line: &str, prefixes: &[String]) -> Option<Diagnostic> {
    for kind in ["warning", "error"] {
        let pat = format!(": {kind}: ");
        let Some(i) = line.find(&pat) else { continue };
        let loc = &line[..i];
        let text = line[i + pat.len()..].trim().to_string();
        // file:line:col or file:line
        let fields: Vec<&str> = loc.rsplitn(3, ':').collect();
        let num = |s: &str| s.parse::<u32>().ok();
        let (file, lineno) = match fields.as_slice() {
            [c, l, f] if num(c).is_some() && num(l).is_some() => (f.to_string(), num(l)?),
            [l, rest @ ..] if num(l).is_some() && !rest.is_empty() => {
                let mut r: Vec<&str> = rest.to_vec();
                r.reverse();
                (r.join(":"), num(l)?)
            }
            _ => continue,
        };
        let file = file.trim();
        if file.is_empty() || file.contains(' ') {
            continue;
        }
        let mut f = file.to_string();
        for p in prefixes {
            if let Some(r) = f.strip_prefix(p.as_str()) {
                f = r.trim_start_matches('/').to_string();
            }
        }
        while let Some(r) = f.strip_prefix("../") {
            f = r.to_string();
        }
        return Some(Diagnostic {
            file: f,
            line: lineno,
            kind: kind.to_string(),
            text,
        });
    }
    None
}

/// Diagnostics of `patched` that `base` did not have (as a multiset keyed by
/// file, kind and text, so moved lines do not count as new).
pub fn new_diagnostics(base: &[Diagnostic], patched: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for d in base {
        *seen.entry(d.key()).or_default() += 1;
    }
    let mut out = Vec::new();
    for d in patched {
        match seen.get_mut(&d.key()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(d.clone()),
        }
    }
    out
}

/// Both multisets at once: `a`, plus what `b` has more of.
pub fn max_merge(a: &[Diagnostic], b: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut out = a.to_vec();
    out.extend(new_diagnostics(a, b));
    out
}

/// The warnings a build directory has printed, per commit built in it.
///
/// An incremental build prints the warnings of the objects it recompiled
/// only, so one build's log is not the warnings of its tree: a base build
/// in a directory where base is already built prints none, and the patched
/// build after it would call every warning of a recompiled object new. The
/// memory keeps, per commit, everything builds of that commit with the same
/// `.config` printed in this directory (a build with another `.config`
/// starts the entry afresh), and the base side of the new-warning diff is
/// the base record plus this memory. The file lives beside the build
/// directory, not in it, so a replay from the record cache still finds it
/// after the directory was pruned.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WarningMemory {
    commits: BTreeMap<String, Remembered>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Remembered {
    config: String,
    warnings: Vec<Diagnostic>,
}

impl WarningMemory {
    /// Read the memory file (`Prepared::warning_memory`); a missing or
    /// unreadable file is an empty memory.
    pub fn load(file: &Path) -> Self {
        crate::store::read_json(file).unwrap_or_default()
    }

    /// Add what a build of `commit` with `.config` hash `config` printed.
    pub fn remember(&mut self, commit: &str, config: &str, printed: &[Diagnostic]) {
        let e = self.commits.entry(commit.to_string()).or_default();
        if e.config != config {
            *e = Remembered {
                config: config.to_string(),
                warnings: vec![],
            };
        }
        e.warnings = max_merge(&e.warnings, printed);
    }

    /// Everything remembered for `commit`.
    pub fn recall(&self, commit: &str) -> &[Diagnostic] {
        self.commits.get(commit).map_or(&[], |e| &e.warnings)
    }

    pub fn save(&self, file: &Path) -> Result<()> {
        crate::store::write_json(file, self)
    }
}

/// The C compiler kbuild uses with these toolchain variables: `CC=` when
/// given, else clang as `LLVM=` names it (`1`, `-19`, or a `dir/` prefix).
pub fn compiler(toolchain: &[String]) -> Result<String> {
    let var = |k: &str| {
        toolchain
            .iter()
            .rev()
            .find_map(|t| t.strip_prefix(k).map(str::to_string))
    };
    if let Some(cc) = var("CC=") {
        return Ok(cc);
    }
    match var("LLVM=") {
        Some(v) if v == "1" => Ok("clang".into()),
        Some(v) if v.ends_with('/') => Ok(format!("{v}clang")),
        Some(v) if v.starts_with('-') => Ok(format!("clang{v}")),
        _ => Err(Error::Setup(format!(
            "--ccache: cannot tell the C compiler from toolchain {:?}; add CC=... to it",
            toolchain.join(" ")
        ))),
    }
}

/// The wrapper vmamatrix puts in front of distcc or icecc
/// (`kbuild-wrap.sh` beside this file; it says what it changes and why).
pub const KBUILD_WRAP: &str = include_str!("kbuild-wrap.sh");

/// Whether a compiler command (`CC=` value, `CCACHE_PREFIX`) runs distcc:
/// its first word is `distcc` or a path to it.
pub fn runs_distcc(command: &str) -> bool {
    first_program(command) == Some("distcc")
}

/// Whether a compiler command runs icecream's `icecc`.
pub fn runs_icecc(command: &str) -> bool {
    first_program(command) == Some("icecc")
}

fn first_program(command: &str) -> Option<&str> {
    command
        .split_whitespace()
        .next()
        .and_then(|w| Path::new(w).file_name())
        .and_then(|n| n.to_str())
}

/// Whether a compiler command runs a wrapper that `KBUILD_WRAP` knows
/// (distcc or icecc).
pub fn runs_remote_wrapper(command: &str) -> bool {
    runs_distcc(command) || runs_icecc(command)
}

/// The wrapper as a file, `<cache>/bin/kbuild-wrap-<digest>`: named by its
/// content and written whole (executable, then renamed into place), so a
/// make that runs it never sees half of it.
pub fn kbuild_wrap(cache: &Path) -> Result<std::path::PathBuf> {
    use sha2::{Digest, Sha256};
    let digest = crate::series::hex(&Sha256::digest(KBUILD_WRAP.as_bytes()));
    let path = cache
        .join("bin")
        .join(format!("kbuild-wrap-{}", &digest[..12]));
    if !path.is_file() {
        crate::store::write_atomic_mode(&path, KBUILD_WRAP.as_bytes(), 0o777)?;
    }
    Ok(path)
}

/// Count a ccache stats log (`CCACHE_STATSLOG`): one `# file` line per
/// compiler call, then its counters.
pub fn ccache_stats(log: &str) -> CcacheStats {
    let mut st = CcacheStats::default();
    let mut count = |counters: &[&str]| {
        if counters
            .iter()
            .any(|c| *c == "direct_cache_hit" || *c == "preprocessed_cache_hit")
        {
            st.hits += 1;
        } else if counters.contains(&"cache_miss") {
            st.misses += 1;
        } else {
            st.uncacheable += 1;
        }
    };
    let mut cur: Option<Vec<&str>> = None;
    for line in log.lines() {
        if line.starts_with("# ") {
            if let Some(c) = cur.take() {
                count(&c);
            }
            cur = Some(Vec::new());
        } else if let Some(c) = cur.as_mut() {
            c.push(line.trim());
        }
    }
    if let Some(c) = cur {
        count(&c);
    }
    st
}

/// Which of the series' files were compiled into the kernel of `build`:
/// each C file's object, and a Rust file's crate object under rust/, as a
/// member of vmlinux.a, the thin archive kbuild links vmlinux from and
/// rewrites at every link. An object file alone proves nothing: one a
/// build of another configuration left in the build directory stays
/// there (a build directory per configuration makes that rarer: an edited
/// fragment is a new directory). Without vmlinux.a (no link), the
/// object's presence is all there is. Parts of a composite object and modules count as not
/// compiled: the warning errs on the side of saying too little was built.
pub fn coverage(touched: &[String], build: &Path) -> (Vec<String>, Vec<String>) {
    let members = builtin_objects(build);
    let mut compiled = Vec::new();
    let mut missing = Vec::new();
    for f in touched {
        if f.starts_with("tools/") || f.starts_with("scripts/") {
            continue;
        }
        let Some(obj) = object_of(f) else {
            continue;
        };
        let built = match &members {
            Some(m) => m.contains(&obj),
            None => build.join(&obj).exists(),
        };
        if built {
            compiled.push(f.clone());
        } else {
            missing.push(f.clone());
        }
    }
    (compiled, missing)
}

/// The object a source file is built into, relative to the build
/// directory; None for files that are not built into an object of their
/// own that this can name (headers, host and proc-macro crates).
fn object_of(f: &str) -> Option<String> {
    // rust/helpers/helpers.c #includes the other helpers.
    if f.starts_with("rust/helpers/") && f.ends_with(".c") {
        return Some("rust/helpers/helpers.o".into());
    }
    if let Some(stem) = f.strip_suffix(".c") {
        return Some(format!("{stem}.o"));
    }
    // rustc builds the kernel crate as one object (CONFIG_RUST only).
    if f.starts_with("rust/kernel/") && f.ends_with(".rs") {
        return Some("rust/kernel.o".into());
    }
    None
}

/// The members of `build`/vmlinux.a (paths relative to the build
/// directory), or None when there is no such archive.
fn builtin_objects(build: &Path) -> Option<std::collections::HashSet<String>> {
    let data = std::fs::read(build.join("vmlinux.a")).ok()?;
    let archive = object::read::archive::ArchiveFile::parse(&*data).ok()?;
    let mut out = std::collections::HashSet::new();
    for m in archive.members() {
        let m = m.ok()?;
        out.insert(String::from_utf8_lossy(m.name()).into_owned());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<Diagnostic> {
        parse_line(s, &["/cache/src".to_string()])
    }

    /// A GNU thin archive of `members`, as kbuild's vmlinux.a (names in
    /// the `//` table, each member header with no data after it).
    fn thin_archive(members: &[&str]) -> Vec<u8> {
        let mut names = String::new();
        let mut headers = Vec::new();
        for m in members {
            headers.push(format!(
                "/{:<15}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                names.len(),
                0,
                0,
                0,
                644,
                0
            ));
            names.push_str(&format!("{m}/\n"));
        }
        let mut out = format!("!<thin>\n//{:46}{:<10}`\n", "", names.len()).into_bytes();
        out.extend_from_slice(names.as_bytes());
        if names.len() % 2 == 1 {
            out.push(b'\n');
        }
        for h in headers {
            out.extend_from_slice(h.as_bytes());
        }
        out
    }

    /// Compiled means linked in: a member of vmlinux.a, whatever object
    /// files an earlier configuration left behind. The series' Rust files
    /// under rust/kernel/ by the kernel crate's object, rust/helpers/ by
    /// helpers.o; tools/ and headers are not kernel objects.
    #[test]
    fn coverage_is_what_vmlinux_a_links() {
        let b = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(b.path().join("kernel/bpf")).unwrap();
        // Left by a build of another configuration: not linked now.
        std::fs::write(b.path().join("kernel/bpf/stackmap.o"), "").unwrap();
        std::fs::write(
            b.path().join("vmlinux.a"),
            thin_archive(&["init/main.o", "mm/memory.o", "rust/helpers/helpers.o"]),
        )
        .unwrap();
        let touched: Vec<String> = [
            "mm/memory.c",
            "kernel/bpf/stackmap.c",
            "rust/kernel/mm.rs",
            "rust/helpers/mm.c",
            "rust/macros/lib.rs",
            "include/linux/mm.h",
            "tools/testing/vma/vma.c",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            coverage(&touched, b.path()),
            (
                vec!["mm/memory.c".to_string(), "rust/helpers/mm.c".to_string()],
                vec![
                    "kernel/bpf/stackmap.c".to_string(),
                    "rust/kernel/mm.rs".to_string()
                ]
            )
        );
    }

    /// What a real build directory's vmlinux.a says of some files:
    /// VMAMATRIX_BUILD_DIR=<dir> cargo test --lib
    /// build::tests::show_coverage -- --ignored --nocapture
    #[test]
    #[ignore]
    fn show_coverage() {
        let Ok(dir) = std::env::var("VMAMATRIX_BUILD_DIR") else {
            return;
        };
        let touched: Vec<String> = ["mm/memory.c", "mm/nommu.c", "kernel/bpf/stackmap.c"]
            .map(String::from)
            .to_vec();
        println!(
            "{} members",
            builtin_objects(Path::new(&dir)).unwrap().len()
        );
        println!("{:?}", coverage(&touched, Path::new(&dir)));
    }

    #[test]
    fn warning_lines() {
        let w = d("/cache/src/mm/vma.c:12:5: warning: unused variable 'x' [-Wunused-variable]")
            .unwrap();
        assert_eq!(
            (w.file.as_str(), w.line, w.kind.as_str()),
            ("mm/vma.c", 12, "warning")
        );
        assert_eq!(w.text, "unused variable 'x' [-Wunused-variable]");
        let e = d("../mm/memory.c:7: error: expected ';'").unwrap();
        assert_eq!(
            (e.file.as_str(), e.line, e.kind.as_str()),
            ("mm/memory.c", 7, "error")
        );
        let l = d("ld.lld-19: warning: lld uses blx instruction").is_none();
        assert!(l);
        assert!(d("  CC      mm/vma.o").is_none());
        assert!(d("make[2]: *** [scripts/Makefile.build:287: mm/vma.o] Error 1").is_none());
    }

    #[test]
    fn incremental_base_build_does_not_make_old_warnings_new() {
        let w = |file: &str, line| Diagnostic {
            file: file.into(),
            line,
            kind: "warning".into(),
            text: "null pointer arithmetic".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        // A full base build prints the header warning twice (two objects
        // include it), a later base build in the same directory nothing.
        let mut m = WarningMemory::load(&dir.path().join("w.json"));
        m.remember("base", "cfg1", &[w("io.h", 1209), w("io.h", 1209)]);
        m.save(&dir.path().join("w.json")).unwrap();
        let mut m = WarningMemory::load(&dir.path().join("w.json"));
        m.remember("base", "cfg1", &[]);
        let base = max_merge(&[], m.recall("base"));
        // The patched build recompiles one of those objects, and adds one.
        let patched = [w("io.h", 1210), w("mm/mmap.c", 7)];
        assert_eq!(new_diagnostics(&base, &patched), [w("mm/mmap.c", 7)]);
        // Another .config starts afresh; another commit is its own entry.
        m.remember("base", "cfg2", &[w("a.c", 1)]);
        assert_eq!(m.recall("base"), [w("a.c", 1)]);
        assert!(m.recall("patched").is_empty());
        assert_eq!(
            max_merge(&[w("a.c", 1)], &[w("a.c", 2), w("a.c", 3)]).len(),
            2
        );
    }

    #[test]
    fn new_warnings_ignore_line_moves() {
        let log_a = "a.c:1:1: warning: x\na.c:9:1: warning: y\n";
        let log_b =
            "a.c:3:1: warning: x\na.c:9:1: warning: y\na.c:10:1: warning: y\nb.c:2:2: warning: z\n";
        let a = parse_diagnostics(log_a, &[]);
        let b = parse_diagnostics(log_b, &[]);
        let n: Vec<_> = new_diagnostics(&a, &b)
            .iter()
            .map(|d| (d.file.clone(), d.line))
            .collect();
        assert_eq!(n, [("a.c".to_string(), 10), ("b.c".to_string(), 2)]);
    }

    #[test]
    fn coverage_checks_objects() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("mm")).unwrap();
        std::fs::write(dir.path().join("mm/vma.o"), b"").unwrap();
        let touched = vec![
            "mm/vma.c".into(),
            "net/ipv4/tcp.c".into(),
            "include/linux/mm.h".into(),
        ];
        let (c, m) = coverage(&touched, dir.path());
        assert_eq!(c, ["mm/vma.c"]);
        assert_eq!(m, ["net/ipv4/tcp.c"]);
    }

    #[test]
    fn compiler_from_toolchain() {
        let t = |v: &[&str]| compiler(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(t(&["LLVM=-19"]).unwrap(), "clang-19");
        assert_eq!(t(&["LLVM=1"]).unwrap(), "clang");
        assert_eq!(t(&["LLVM=/opt/llvm/bin/"]).unwrap(), "/opt/llvm/bin/clang");
        assert_eq!(
            t(&["LLVM=-19", "CC=clang-19 -Qunused"]).unwrap(),
            "clang-19 -Qunused"
        );
        let e = t(&["CROSS_COMPILE=x-"]).unwrap_err().to_string();
        assert!(
            e.contains("--ccache") && e.contains("CROSS_COMPILE=x-"),
            "{e}"
        );
    }

    #[test]
    fn distcc_commands() {
        assert!(runs_distcc("distcc clang-19"));
        assert!(runs_distcc("/usr/bin/distcc clang-19"));
        assert!(!runs_distcc("clang-19"));
        assert!(!runs_distcc("icecc clang-19"));
        assert!(!runs_distcc("distccd"));
        assert!(!runs_distcc(""));
        assert!(runs_icecc("icecc clang-19"));
        assert!(runs_icecc("/usr/bin/icecc"));
        assert!(!runs_icecc("distcc clang-19"));
    }

    /// The wrapper as written into the cache, run in front of stand-ins for
    /// distcc and icecc that print their environment and arguments.
    #[test]
    fn kbuild_wrapper() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let w = kbuild_wrap(dir.path()).unwrap();
        // A second call finds the file by its digest and leaves it alone
        // (a build may be running it).
        let written = std::fs::metadata(&w).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(kbuild_wrap(dir.path()).unwrap(), w);
        assert_eq!(
            std::fs::metadata(&w).unwrap().modified().unwrap(),
            written,
            "same content, same file, not written again"
        );
        let mode = std::fs::metadata(&w).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{mode:o}");
        let fake = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(
                &p,
                "#!/bin/sh\necho \"NRC=${DISTCC_NO_REWRITE_CROSS-unset}\"\nprintf '%s\\n' \"$@\"\n",
            )
            .unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let (distcc, icecc) = (fake("distcc"), fake("icecc"));
        let run = |wrapper: &Path, args: &[&str]| {
            let o = std::process::Command::new(&w)
                .arg(wrapper)
                .args(args)
                .env_remove("DISTCC_NO_REWRITE_CROSS")
                .output()
                .unwrap();
            assert!(o.status.success());
            String::from_utf8(o.stdout).unwrap()
        };
        let kbuild = [
            "clang-19",
            "-Wp,-MMD,mm/.init-mm.o.d",
            "--target=aarch64-linux-gnu",
            "-fmacro-prefix-map=/s r c/=",
            "-c",
            "a.c",
        ];
        assert_eq!(
            run(&distcc, &kbuild),
            "NRC=1\nclang-19\n-Wp,-MMD,mm/.init-mm.o.d\n--target=aarch64-linux-gnu\n\
             -Xclang\n-fmacro-prefix-map=/s r c/=\n-c\na.c\n"
        );
        assert_eq!(
            run(
                &distcc,
                &["/usr/lib/llvm-19/bin/clang", "-fmacro-prefix-map=/s/="]
            ),
            "NRC=1\n/usr/lib/llvm-19/bin/clang\n-Xclang\n-fmacro-prefix-map=/s/=\n"
        );
        // distcc with gcc: nothing changes.
        assert_eq!(
            run(&distcc, &["gcc", "-fmacro-prefix-map=/s/=", "-c", "a.c"]),
            "NRC=unset\ngcc\n-fmacro-prefix-map=/s/=\n-c\na.c\n"
        );
        assert_eq!(
            run(&icecc, &kbuild),
            "NRC=unset\nclang-19\n-MMD\n-MF\nmm/.init-mm.o.d\n--target=aarch64-linux-gnu\n\
             -fmacro-prefix-map=/s r c/=\n-c\na.c\n"
        );
        assert_eq!(
            run(&icecc, &["clang-19", "-Wp,-MD,a.d", "-Wp,-MMD,x,y"]),
            "NRC=unset\nclang-19\n-MD\n-MF\na.d\n-Wp,-MMD,x,y\n"
        );
    }

    /// The format ccache 4.7 writes (seen with Debian 12's ccache).
    #[test]
    fn ccache_stats_log() {
        let log = "# a.c\ncache_miss\ndirect_cache_miss\nlocal_storage_miss\n\
                   # a.c\ndirect_cache_hit\nlocal_storage_hit\n\
                   # b.c\npreprocessed_cache_hit\n\
                   # c.S\ncalled_for_preprocessing\n";
        let st = ccache_stats(log);
        assert_eq!((st.hits, st.misses, st.uncacheable), (2, 1, 1));
        assert_eq!(st.hit_rate().map(|r| r.round()), Some(67.0));
        assert_eq!(ccache_stats("").hit_rate(), None);
    }
}
