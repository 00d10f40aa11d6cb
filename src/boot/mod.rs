//! Boot stage: build a static nolibc /init for the cell's architecture from
//! the kernel tree itself, pack it into a newc initramfs, boot the cell's
//! image under QEMU with the recipe from the arch table, and watch the
//! serial console for vmamatrix's markers, panics and silence.

pub mod console;
pub mod cpio;
pub mod fdt;
pub mod flat;
pub mod initramfs;
pub mod run;
pub mod shim;
pub mod splat;
pub mod stall;
pub mod workload;

use crate::arch::Arch;
use crate::matrix::{Cell, Smp};
use crate::model::{BootData, BootOutcome};
use crate::proc::{self, Outcome};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What decides a boot's outcome besides the kernel image: the source of
/// this vmamatrix (/init, the workload, the console reader, the FLAT
/// converter, the QEMU command line), the arch's recipe and the workload's
/// duration.
pub fn boot_key(facts: &Arch, workload_secs: u32) -> String {
    use sha2::{Digest, Sha256};
    let text = format!(
        "{}\n{}\n{workload_secs}",
        env!("VMAMATRIX_SOURCE_ID"),
        serde_json::to_string(facts).unwrap_or_default()
    );
    crate::series::hex(&Sha256::digest(text.as_bytes()))[..16].to_string()
}

/// Limits for one boot.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub total: Duration,
    pub silence: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            total: Duration::from_secs(120),
            silence: Duration::from_secs(60),
        }
    }
}

/// Why a cell cannot boot at all, if it cannot.
pub fn not_bootable(arch: &Arch) -> Option<String> {
    if let Some(r) = &arch.boot_skip {
        return Some(r.clone());
    }
    if arch.qemu.is_none() || arch.image.is_none() {
        return Some("no QEMU recipe for this architecture".into());
    }
    if arch.loader.is_some() && arch.dtb.is_none() {
        return Some("a shim boot (loader) needs a dtb in the recipe".into());
    }
    None
}

/// The kernel command line of a cell.
pub fn cmdline(arch: &Arch) -> String {
    let mut c = format!(
        "console={} panic=-1 rdinit=/init",
        arch.console.as_deref().unwrap_or("ttyS0")
    );
    if let Some(extra) = &arch.append {
        c.push(' ');
        c.push_str(extra);
    }
    c
}

/// How the kernel and its initramfs reach the guest.
#[derive(Debug, Clone, Copy)]
pub enum Media<'a> {
    /// QEMU's Linux loader: -kernel, -initrd and -append.
    Kernel { image: &'a Path, initrd: &'a Path },
    /// Raw files placed with -device loader: a shim boot, whose command
    /// line and initramfs address are in the dtb (`shim::prepare`).
    Placed(&'a [shim::Placed]),
}

/// The QEMU command line for a cell.
pub fn qemu_args(arch: &Arch, cell: &Cell, media: Media) -> Vec<String> {
    let mut a = vec![];
    if let Some(m) = &arch.machine {
        a.extend(["-M".to_string(), m.clone()]);
    }
    if let Some(c) = &arch.cpu {
        a.extend(["-cpu".to_string(), c.clone()]);
    }
    if let Some(f) = &arch.firmware {
        a.extend(["-bios".to_string(), f.clone()]);
    }
    let smp = if cell.smp == Smp::Smp { 2 } else { 1 };
    a.extend([
        "-m".to_string(),
        arch.memory.clone().unwrap_or_else(|| "512M".into()),
        "-smp".into(),
        smp.to_string(),
        "-nographic".into(),
        "-monitor".into(),
        "none".into(),
        "-no-reboot".into(),
    ]);
    match media {
        Media::Kernel { image, initrd } => a.extend([
            "-kernel".into(),
            image.display().to_string(),
            "-initrd".into(),
            initrd.display().to_string(),
            "-append".into(),
            cmdline(arch),
        ]),
        Media::Placed(files) => {
            for p in files {
                // QEMU's option syntax doubles a comma inside a value.
                let file = p.file.display().to_string().replace(',', ",,");
                a.extend([
                    "-device".into(),
                    format!("loader,file={file},addr={:#x},force-raw=on", p.addr),
                ]);
            }
        }
    }
    a
}

/// The last non-empty console line, without its timestamp's padding.
fn last_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// Boot and watch the console (saved to `log`) until the result marker, a
/// panic, silence, the time limit, or QEMU's exit. A guest that stalls is
/// asked for its registers first, several times (the first answer saved
/// beside `log` as registers.txt, every PC in pc-samples.txt), and the
/// record says where its CPUs were, named with `symbols` (the image's
/// System.map text symbols) when given.
pub fn boot(
    qemu: &str,
    args: &[String],
    log: &Path,
    limits: Limits,
    symbols: Option<&Path>,
) -> BootData {
    static SOCKETS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    // A short path: unix socket names are limited to 108 bytes.
    let sock = std::env::temp_dir().join(format!(
        "vmamatrix-{}-{}.mon",
        std::process::id(),
        SOCKETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let args = stall::with_monitor(args, &sock);
    let line = proc::shell_line(qemu, &args);
    let _ = std::fs::remove_file(log);
    let regs_file = log.with_file_name("registers.txt");
    let pcs_file = log.with_file_name("pc-samples.txt");
    let _ = std::fs::remove_file(&regs_file);
    let _ = std::fs::remove_file(&pcs_file);
    let start = Instant::now();
    let mut seen: Option<console::Console> = None;
    let mut marker_at = None;
    let mut samples = Vec::new();
    // When the stall was declared and how much console there was then: the
    // record's figures are not those of the sampling after it.
    let mut stalled_at: Option<(f64, u64)> = None;
    let mut cmd = Command::new(qemu);
    cmd.args(&args);
    let watch = |text: &str| {
        let c = console::Console::markers(text);
        let done = c.finished();
        if c.result.is_some() && marker_at.is_none() {
            marker_at = Some(start.elapsed().as_secs_f64());
        }
        seen = Some(c);
        done
    };
    let res = proc::run_watched_then(cmd, log, limits.total, limits.silence, watch, || {
        let len = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        stalled_at = Some((start.elapsed().as_secs_f64(), len));
        samples = stall::sample(&sock, stall::SAMPLES, stall::GAP);
    });
    let _ = std::fs::remove_file(&sock);
    let where_ = match samples.first() {
        Some(first) => {
            let _ = crate::store::write_atomic(&regs_file, first.as_bytes());
            let syms = symbols
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|m| stall::Symbols::parse(&m));
            let _ = crate::store::write_atomic(
                &pcs_file,
                stall::listing(&samples, syms.as_ref()).as_bytes(),
            );
            match stall::summary(&samples, syms.as_ref()) {
                Some(s) => {
                    format!("; where the guest was: {s}; in pc-samples.txt and registers.txt")
                }
                None => "; QEMU's registers are in registers.txt".into(),
            }
        }
        None => String::new(),
    };
    let bytes = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let upto = stalled_at.map_or(bytes.len(), |s| (s.1 as usize).min(bytes.len()));
    let stalled_text = String::from_utf8_lossy(&bytes[..upto]);
    // The splats are read once, from the whole console.
    let c = console::Console::read(&text);
    drop(seen);
    let outcome = match (&res, &c) {
        (_, c) if c.result.is_some() => BootOutcome::Booted,
        (_, c) if c.panic.is_some() => BootOutcome::Panic,
        (Ok(proc::Watched::Silent), _) => BootOutcome::Silent,
        (Ok(proc::Watched::Done(Outcome::TimedOut)), _) => BootOutcome::Timeout,
        _ => BootOutcome::QemuFailed,
    };
    BootData {
        outcome,
        secs_to_marker: marker_at,
        panic: c.panic.clone(),
        exit_status: c.result,
        tests: c.tests,
        guest_tests_note: None,
        key: String::new(),
        child: c.child,
        warnings: c.warnings.clone(),
        splats: c.splats.clone(),
        workload: workload::parse(&text),
        selftests: crate::selftests::parse_console(&text),
        transient: None,
        reason: match &res {
            Err(e) => Some(format!("cannot start {qemu}: {e}")),
            Ok(proc::Watched::Done(o)) if outcome == BootOutcome::QemuFailed => {
                Some(format!("QEMU ended ({o}) without a result marker"))
            }
            _ if matches!(outcome, BootOutcome::Silent | BootOutcome::Timeout) => Some(format!(
                "{} after {:.0} s; the console's last line: {:?}{where_}",
                if outcome == BootOutcome::Silent {
                    format!("no console output for {} s", limits.silence.as_secs())
                } else {
                    format!("no result marker within {} s", limits.total.as_secs())
                },
                stalled_at.map_or_else(|| start.elapsed().as_secs_f64(), |s| s.0),
                last_line(&stalled_text)
            )),
            _ => None,
        },
        qemu: line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Mmu;

    #[test]
    fn last_console_line_names_where_a_silent_guest_stopped() {
        let t = "[    1.0] Run /init\r\n[    2.5] workload: start\r\n\r\n  \n";
        assert_eq!(last_line(t), "[    2.5] workload: start");
        assert_eq!(last_line(""), "");
    }

    #[test]
    fn qemu_command_from_recipe() {
        let t = crate::arch::builtin();
        let cell = Cell {
            arch: "riscv".into(),
            smp: Smp::Smp,
            mmu: Mmu::Mmu,
        };
        let a = qemu_args(
            &t["riscv"],
            &cell,
            Media::Kernel {
                image: Path::new("/b/Image"),
                initrd: Path::new("/b/i.cpio"),
            },
        );
        let s = a.join(" ");
        assert!(
            s.starts_with("-M virt -cpu rv64 -bios default -m 512M -smp 2 -nographic"),
            "{s}"
        );
        assert!(
            s.ends_with("-append console=ttyS0 panic=-1 rdinit=/init"),
            "{s}"
        );
    }

    #[test]
    fn arm_nommu_boots_through_the_shim() {
        let t = crate::arch::builtin();
        let facts = crate::arch::for_cell(&t, "arm", "up", "nommu");
        assert_eq!(not_bootable(&facts), None);
        assert_eq!(
            cmdline(&facts),
            "console=ttyMPS0 panic=-1 rdinit=/init earlycon"
        );
        let cell = Cell {
            arch: "arm".into(),
            smp: Smp::Up,
            mmu: Mmu::Nommu,
        };
        let placed = [
            shim::Placed {
                file: "/r/boot-image".into(),
                addr: 0x2100_8000,
            },
            shim::Placed {
                file: "/r,x/boot.dtb".into(),
                addr: 0x2000_0000,
            },
            shim::Placed {
                file: "/r/boot-shim.bin".into(),
                addr: 0,
            },
        ];
        let s = qemu_args(&facts, &cell, Media::Placed(&placed)).join(" ");
        assert_eq!(
            s,
            "-M mps2-an385 -cpu cortex-m3 -m 16M -smp 1 -nographic -monitor none -no-reboot \
             -device loader,file=/r/boot-image,addr=0x21008000,force-raw=on \
             -device loader,file=/r,,x/boot.dtb,addr=0x20000000,force-raw=on \
             -device loader,file=/r/boot-shim.bin,addr=0x0,force-raw=on"
        );
        // A loader recipe without a dtb cannot boot.
        let no_dtb = crate::arch::Arch { dtb: None, ..facts };
        assert!(not_bootable(&no_dtb).unwrap().contains("dtb"));
    }
}
