//! The initramfs of a boot: a static nolibc /init and the VMA workload,
//! built from the kernel tree's own tools/include/nolibc with the cell's
//! clang (FLAT binaries for NOMMU), and the guest's test payloads (the vma
//! tests, the selftests), packed as a newc archive.

use super::{cpio, flat};
use crate::arch::Arch;
use crate::proc;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const INIT_C: &str = include_str!("init.c");
const WORKLOAD_C: &str = include_str!("workload.c");

/// The clang command that builds /init for `triple` from `src`'s nolibc.
pub fn init_command(
    clang: &str,
    triple: &str,
    src: &Path,
    headers: &Path,
    c: &Path,
    out: &Path,
) -> Vec<String> {
    vec![
        clang.to_string(),
        format!("--target={triple}"),
        "-nostdlib".into(),
        "-static".into(),
        "-Os".into(),
        "-ffreestanding".into(),
        "-fno-builtin".into(),
        "-fno-stack-protector".into(),
        "-fno-asynchronous-unwind-tables".into(),
        "-fuse-ld=lld".into(),
        format!("--ld-path={}", lld_for(clang)),
        "-include".into(),
        src.join("tools/include/nolibc/nolibc.h")
            .display()
            .to_string(),
        "-I".into(),
        src.join("tools/include/nolibc").display().to_string(),
        "-I".into(),
        headers.join("include").display().to_string(),
        "-o".into(),
        out.display().to_string(),
        c.display().to_string(),
    ]
}

/// `clang-19` -> `ld.lld-19`.
fn lld_for(clang: &str) -> String {
    match clang.strip_prefix("clang") {
        Some(suffix) => format!("ld.lld{suffix}"),
        None => "ld.lld".into(),
    }
}

/// The clang binary implied by make's `LLVM=` variable.
pub fn clang_from_toolchain(toolchain: &[String]) -> String {
    for t in toolchain {
        if let Some(v) = t.strip_prefix("LLVM=") {
            if let Some(suffix) = v.strip_prefix('-') {
                return format!("clang-{suffix}");
            }
            if v.ends_with('/') {
                return format!("{v}clang");
            }
        }
    }
    "clang".into()
}

/// What goes into an initramfs besides /init.
#[derive(Debug, Clone, Copy)]
pub struct Payloads<'a> {
    /// The guest vma tests, as /vma.
    pub vma: Option<&'a Path>,
    /// Seconds the VMA workload runs (as /workload); None: no workload.
    pub workload_secs: Option<u32>,
    /// Build the workload for a NOMMU kernel.
    pub nommu: bool,
    /// Kernel selftests built for the guest: in the initramfs with their
    /// list, `/selftests.list`, which /init runs.
    pub selftests: Option<&'a crate::selftests::GuestBuild>,
}

/// `/selftests.list`: `<name> <timeout> /<binary> [ENV ...] -- [arg ...]`
/// for each chosen test that built, and the binaries to pack.
fn selftest_list(b: &crate::selftests::GuestBuild) -> (String, Vec<(String, PathBuf)>) {
    let mut list = String::new();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (name, path) in &b.built {
        let Some(t) = crate::selftests::chosen(name) else {
            continue;
        };
        list.push_str(&format!(
            "{name} {} /{} {} -- {}\n",
            t.timeout_secs,
            t.binary,
            t.env.join(" "),
            t.args.join(" ")
        ));
        if !files.iter().any(|(b, _)| b == t.binary) {
            files.push((t.binary.to_string(), path.clone()));
        }
    }
    (list, files)
}

/// Compile one nolibc program of vmamatrix (`source`, named `name`) for the
/// arch, converting it to FLAT where the arch needs it; returns the binary
/// and the commands that made it.
#[allow(clippy::too_many_arguments)]
fn nolibc_program(
    clang: &str,
    facts: &Arch,
    src: &Path,
    headers: &Path,
    dir: &Path,
    log: &Path,
    (name, source): (&str, &str),
    defines: &[String],
    flat_stack: u32,
) -> Result<(Vec<u8>, Vec<String>), String> {
    let triple = facts
        .triple
        .as_deref()
        .ok_or("no clang triple for this arch")?;
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, source).map_err(|e| format!("{}: {e}", c.display()))?;
    let exe = dir.join(name);
    let mut args = init_command(clang, triple, src, headers, &c, &exe);
    let flat = facts.flat.unwrap_or(false);
    let mut extra: Vec<String> = facts
        .init_cflags
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    extra.extend(defines.iter().cloned());
    if flat {
        // Keep relocations for the FLAT converter; page-align segments so the
        // data segment starts on a FLAT data boundary.
        extra.push("-Wl,--emit-relocs".into());
        extra.push("-Wl,-z,separate-loadable-segments".into());
    }
    let at = args.len() - 3;
    args.splice(at..at, extra);
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    let o = proc::run_logged(cmd, log, Duration::from_secs(120))
        .map_err(|e| format!("{clang}: {e}"))?;
    if !o.success() {
        return Err(format!(
            "building /{name} failed ({o}); see {}",
            log.display()
        ));
    }
    let mut bin = std::fs::read(&exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    let mut cmds = vec![proc::shell_line(&args[0], &args[1..])];
    if flat {
        bin = flat::elf_to_flat(&bin, flat_stack, facts.flat_data_gap.unwrap_or(0))
            .map_err(|e| format!("FLAT conversion of /{name}: {e}"))?;
        cmds.push(format!(
            "vmamatrix: ELF -> FLAT conversion of /{name} (src/boot/flat.rs)"
        ));
    }
    Ok((bin, cmds))
}

/// Build the initramfs for a cell into `dir`; returns its path and the
/// commands run. `headers` must hold `make headers_install` output.
pub fn build_initramfs(
    clang: &str,
    facts: &Arch,
    src: &Path,
    headers: &Path,
    payloads: Payloads,
    dir: &Path,
    log: &Path,
) -> Result<(PathBuf, Vec<String>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut defines = vec![];
    if payloads.vma.is_some() {
        defines.push("-DVMAMATRIX_PAYLOAD".to_string());
    }
    if let Some(secs) = payloads.workload_secs {
        defines.push(format!("-DVMAMATRIX_WORKLOAD_SECS=\"{secs}\""));
    }
    let build = |prog, defines: &[String], stack| {
        nolibc_program(clang, facts, src, headers, dir, log, prog, defines, stack)
    };
    let (init, mut cmds) = build(("init", INIT_C), &defines, 16384)?;
    let workload = match payloads.workload_secs {
        Some(_) => {
            let nommu = if payloads.nommu {
                vec!["-DVMAMATRIX_NOMMU".to_string()]
            } else {
                vec![]
            };
            let (bin, c) = build(("workload", WORKLOAD_C), &nommu, 65536)?;
            cmds.extend(c);
            Some(bin)
        }
        None => None,
    };
    let payload = payloads.vma;
    let mut entries = vec![
        cpio::Entry::Dir {
            path: "dev".into(),
            mode: 0o755,
        },
        cpio::Entry::CharDev {
            path: "dev/console".into(),
            mode: 0o600,
            major: 5,
            minor: 1,
        },
        cpio::Entry::Dir {
            path: "proc".into(),
            mode: 0o755,
        },
        cpio::Entry::File {
            path: "init".into(),
            mode: 0o755,
            data: init,
        },
    ];
    if let Some(data) = workload {
        entries.push(cpio::Entry::File {
            path: "workload".into(),
            mode: 0o755,
            data,
        });
    }
    if let Some(b) = payloads.selftests {
        let (list, files) = selftest_list(b);
        for (name, path) in files {
            let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            entries.push(cpio::Entry::File {
                path: name,
                mode: 0o755,
                data,
            });
        }
        entries.push(cpio::Entry::File {
            path: "selftests.list".into(),
            mode: 0o644,
            data: list.into_bytes(),
        });
    }
    if let Some(p) = payload {
        let data = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        entries.push(cpio::Entry::File {
            path: "vma".into(),
            mode: 0o755,
            data,
        });
    }
    let archive = cpio::write(&entries);
    let out = dir.join("initramfs.cpio");
    crate::store::write_atomic(&out, &archive).map_err(|e| e.to_string())?;
    Ok((out, cmds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compilers_from_the_toolchain() {
        assert_eq!(clang_from_toolchain(&["LLVM=-19".into()]), "clang-19");
        assert_eq!(lld_for("clang-19"), "ld.lld-19");
    }
}
