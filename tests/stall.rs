//! A guest that stalls, on the real QEMU: a riscv virt machine held at its
//! reset vector (-S) never writes to its console, so the boot watcher
//! declares it silent and asks QEMU's monitor where its CPUs are. Every
//! sample must find the reset vector, outside the kernel's text.

use std::path::Path;
use std::time::Duration;
use vmamatrix::boot::{self, stall};
use vmamatrix::model::BootOutcome;

#[test]
fn a_silent_guest_is_sampled_through_the_monitor() {
    let d = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "-M",
        "virt",
        "-cpu",
        "rv64",
        "-smp",
        "2",
        "-m",
        "128M",
        "-S",
        "-nographic",
        "-monitor",
        "none",
        "-no-reboot",
    ]
    .map(String::from)
    .to_vec();
    let map =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stall/riscv-up-mmu-System.map");
    let limits = boot::Limits {
        total: Duration::from_secs(600),
        silence: Duration::from_secs(2),
    };
    let log = d.path().join("console.log");
    let b = boot::boot("qemu-system-riscv64", &args, &log, limits, Some(&map));
    assert_eq!(b.outcome, BootOutcome::Silent, "{:?}", b.reason);
    let why = b.reason.unwrap();
    let want = format!(
        "CPU#0 in 0x1000 (outside the kernel's text) {n}/{n}; \
         CPU#1 in 0x1000 (outside the kernel's text) {n}/{n} (PC in {n} samples",
        n = stall::SAMPLES
    );
    assert!(why.contains(&want), "{why}");
    let listing = std::fs::read_to_string(d.path().join("pc-samples.txt")).unwrap();
    assert_eq!(listing.lines().count(), 2 * stall::SAMPLES, "{listing}");
    assert!(
        listing
            .lines()
            .all(|l| l.contains(" 0x0000000000001000 0x1000")),
        "{listing}"
    );
    let regs = std::fs::read_to_string(d.path().join("registers.txt")).unwrap();
    assert!(regs.contains("CPU#1") && regs.contains(" pc "), "{regs}");
}
