//! Reading a guest's serial console: vmamatrix's markers, kernel panics,
//! the vma test summary line.

/// Printed by /init when it starts.
pub const START: &str = "VMAMATRIX-INIT-START";
/// Printed by /init when done: `VMAMATRIX-RESULT <exit status>`.
pub const RESULT: &str = "VMAMATRIX-RESULT";
/// Printed by /init after its exec-and-exit child: `VMAMATRIX-CHILD <status>`.
pub const CHILD: &str = "VMAMATRIX-CHILD";

/// What the console says so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Console {
    pub started: bool,
    /// Exit status of the payload from the result marker.
    pub result: Option<i32>,
    /// The "Kernel panic - not syncing: ..." line.
    pub panic: Option<String>,
    /// `(run, passed, failed)` from "N tests run, N passed, N failed."
    pub tests: Option<(u32, u32, u32)>,
    /// Exit status of /init's exec-and-exit child (-1: it failed).
    pub child: Option<i32>,
    /// Kernel warnings, BUGs and oopses, one line each.
    pub warnings: Vec<String>,
}

impl Console {
    /// Read the whole console text seen so far.
    pub fn read(text: &str) -> Console {
        let mut c = Console::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.contains(START) {
                c.started = true;
            }
            if let Some(rest) = line.split(RESULT).nth(1) {
                c.result = rest.split_whitespace().next().and_then(|s| s.parse().ok());
                if c.result.is_none() {
                    c.result = Some(-1);
                }
            }
            if c.panic.is_none() {
                if let Some(i) = line.find("Kernel panic - not syncing") {
                    c.panic = Some(line[i..].to_string());
                }
            }
            if let Some(t) = parse_tests(line) {
                c.tests = Some(t);
            }
            if let Some(rest) = line.split(CHILD).nth(1) {
                c.child = Some(
                    rest.split_whitespace()
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(-1),
                );
            }
            for pat in ["WARNING: CPU:", "BUG:", "Oops", "Unable to handle kernel"] {
                if let Some(i) = line.find(pat) {
                    c.warnings.push(line[i..].to_string());
                    break;
                }
            }
        }
        c
    }

    /// Done: the marker or a panic has been seen.
    pub fn finished(&self) -> bool {
        self.result.is_some() || self.panic.is_some()
    }
}

/// "26 tests run, 26 passed, 0 failed." -> (26, 26, 0)
pub fn parse_tests(line: &str) -> Option<(u32, u32, u32)> {
    let i = line.find(" tests run, ")?;
    let run: u32 = line[..i].rsplit(' ').next()?.trim().parse().ok()?;
    let rest = &line[i + " tests run, ".len()..];
    let (p, rest) = rest.split_once(" passed, ")?;
    let f = rest.split(" failed").next()?;
    Some((run, p.trim().parse().ok()?, f.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_tests() {
        let c = Console::read(
            "[    0.5] Run /init as init process\r\nVMAMATRIX-INIT-START\nVMAMATRIX-CHILD 0\n[ 1.0] WARNING: CPU: 0 PID: 1 at mm/vma_init.c:150 vm_area_free+0x1/0x2\n26 tests run, 25 passed, 1 failed.\nVMAMATRIX-RESULT 1\n",
        );
        assert!(c.started && c.finished());
        assert_eq!(c.result, Some(1));
        assert_eq!(c.tests, Some((26, 25, 1)));
        assert_eq!(c.panic, None);
        assert_eq!(c.child, Some(0));
        assert_eq!(
            c.warnings,
            ["WARNING: CPU: 0 PID: 1 at mm/vma_init.c:150 vm_area_free+0x1/0x2"]
        );
        assert_eq!(Console::read("VMAMATRIX-CHILD failed\n").child, Some(-1));
    }

    #[test]
    fn panics() {
        let c = Console::read("[ 1.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n[ 1.0] ---[ end Kernel panic");
        assert_eq!(
            c.panic.as_deref(),
            Some("Kernel panic - not syncing: VFS: Unable to mount root fs")
        );
        assert!(c.finished() && !c.started);
    }

    #[test]
    fn nothing_yet() {
        let c = Console::read("Booting Linux...\n");
        assert!(!c.finished());
        assert_eq!(parse_tests("x tests run"), None);
    }
}
