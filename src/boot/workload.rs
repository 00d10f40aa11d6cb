//! Reading the guest workload's report (src/boot/workload.c) off the
//! console: its markers, one line each.

use crate::model::{VmaLockStats, WorkloadData, WorkloadOp};

pub const START: &str = "VMAMATRIX-WORKLOAD-START";
pub const OP: &str = "VMAMATRIX-WORKLOAD-OP";
pub const END: &str = "VMAMATRIX-WORKLOAD-END";
pub const FAIL: &str = "VMAMATRIX-WORKLOAD-FAIL";
pub const NOTE: &str = "VMAMATRIX-WORKLOAD-NOTE";
pub const EXIT: &str = "VMAMATRIX-WORKLOAD-EXIT";
pub const VMA: &str = "VMAMATRIX-WORKLOAD-VMA";
pub const BEFORE: &str = "VMAMATRIX-VMSTAT-BEFORE";
pub const AFTER: &str = "VMAMATRIX-VMSTAT-AFTER";

/// `key=N` of a marker line.
fn field(rest: &str, key: &str) -> Option<u64> {
    rest.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

fn stats(rest: &str) -> Option<VmaLockStats> {
    Some(VmaLockStats {
        success: field(rest, "vma_lock_success")?,
        abort: field(rest, "vma_lock_abort")?,
        retry: field(rest, "vma_lock_retry")?,
        miss: field(rest, "vma_lock_miss")?,
    })
}

/// The workload's report in a console text; None when it never started.
pub fn parse(text: &str) -> Option<WorkloadData> {
    let mut w: Option<WorkloadData> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some(at) = line.find("VMAMATRIX-") else {
            continue;
        };
        let line = &line[at..];
        let (marker, rest) = line.split_once(' ').unwrap_or((line, ""));
        if marker == START {
            w = Some(WorkloadData {
                mode: rest.trim().to_string(),
                ..Default::default()
            });
            continue;
        }
        let Some(d) = w.as_mut() else { continue };
        match marker {
            BEFORE => d.before = stats(rest),
            AFTER => d.after = stats(rest),
            OP => {
                let kind = rest.split_whitespace().next().unwrap_or_default();
                d.ops.push(WorkloadOp {
                    kind: kind.to_string(),
                    ops: field(rest, "ops").unwrap_or(0),
                    failed: field(rest, "failed").unwrap_or(0),
                });
            }
            END => {
                d.finished = true;
                d.total = field(rest, "ops").unwrap_or(0);
                d.failed = field(rest, "failed").unwrap_or(0);
            }
            FAIL => d.fails.push(rest.trim().to_string()),
            NOTE => d.notes.push(rest.trim().to_string()),
            VMA => d.vmas.push(rest.trim().to_string()),
            EXIT => d.exit = rest.trim().parse().ok(),
            _ => {}
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_markers_between_kernel_lines() {
        let text = "[    1.2] Run /init as init process\r
VMAMATRIX-WORKLOAD-START mmu
VMAMATRIX-VMSTAT-BEFORE vma_lock_success=10 vma_lock_abort=0 vma_lock_retry=1 vma_lock_miss=2
VMAMATRIX-WORKLOAD-OP touch ops=227104 failed=0
[    3.4] random: crng init done
VMAMATRIX-WORKLOAD-OP mremap ops=4476 failed=1
VMAMATRIX-WORKLOAD-FAIL mremap contents 0
VMAMATRIX-WORKLOAD-VMA 7f0000000000-7f0000004000 rw-p 00000000 00:00 0 
VMAMATRIX-VMSTAT-AFTER vma_lock_success=5010 vma_lock_abort=3 vma_lock_retry=1 vma_lock_miss=9
VMAMATRIX-WORKLOAD-END ops=231580 failed=1
VMAMATRIX-WORKLOAD-EXIT 1
VMAMATRIX-RESULT 0
";
        let w = parse(text).unwrap();
        assert_eq!(w.mode, "mmu");
        assert_eq!(w.ops.len(), 2);
        assert_eq!(w.ops[1].failed, 1);
        assert_eq!((w.total, w.failed, w.exit), (231580, 1, Some(1)));
        assert_eq!(w.fails, ["mremap contents 0"]);
        assert_eq!(w.vmas, ["7f0000000000-7f0000004000 rw-p 00000000 00:00 0"]);
        let d = w.lock_delta().unwrap();
        assert_eq!((d.success, d.abort, d.retry, d.miss), (5000, 3, 0, 7));
        assert!(!w.clean());
    }

    #[test]
    fn absent_counters_and_an_unfinished_run() {
        let text = "VMAMATRIX-WORKLOAD-START nommu
VMAMATRIX-VMSTAT-BEFORE absent
VMAMATRIX-WORKLOAD-OP clone ops=4 failed=0
";
        let w = parse(text).unwrap();
        assert_eq!(w.before, None);
        assert_eq!(w.lock_delta(), None);
        assert!(!w.finished && !w.clean());
        assert_eq!(parse("VMAMATRIX-RESULT 0\n"), None);
    }
}
