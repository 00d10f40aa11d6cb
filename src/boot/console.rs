//! Reading a guest's serial console: vmamatrix's markers, kernel panics,
//! the vma test summary line, and kernel splats (`splat`).

use super::splat::{self, Splat};

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
    /// Kernel warnings, BUGs and oopses, one line each: the title of each
    /// splat in `splats`, in the same order.
    pub warnings: Vec<String>,
    /// Kernel warnings, BUGs, oopses and debug reports, one per report.
    pub splats: Vec<Splat>,
}

impl Console {
    /// Read the whole console text: markers and splats.
    pub fn read(text: &str) -> Console {
        let mut c = Console::markers(text);
        c.splats = splat::parse(text);
        c.warnings = c.splats.iter().map(|s| s.title.clone()).collect();
        c
    }

    /// Only the markers and panics: cheap enough to run on every chunk of
    /// a console that is still growing.
    pub fn markers(text: &str) -> Console {
        let mut c = Console::default();
        // Only whole lines: a marker cut off mid-line by a read is read
        // again, complete, with the next chunk.
        let whole = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        for line in whole.lines() {
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
        assert!(c.splats.is_empty() && c.warnings.is_empty());
    }

    #[test]
    fn nothing_yet() {
        let c = Console::read("Booting Linux...\n");
        assert!(!c.finished());
        assert_eq!(parse_tests("x tests run"), None);
    }

    #[test]
    fn markers_of_real_looking_boots() {
        let clean = Console::read(include_str!(
            "../../tests/fixtures/console/x86-boot-clean.log"
        ));
        assert!(clean.started && clean.finished());
        assert_eq!(
            (clean.result, clean.child, clean.panic),
            (Some(0), Some(0), None)
        );
        assert_eq!(clean.tests, Some((26, 26, 0)));
        assert!(clean.splats.is_empty() && clean.warnings.is_empty());
        let warned = Console::read(include_str!("../../tests/fixtures/console/x86-warning.log"));
        assert_eq!((warned.result, warned.tests), (Some(0), Some((26, 26, 0))));
        assert_eq!(warned.warnings, [warned.splats[0].title.clone()]);
        let s390 = Console::read(include_str!("../../tests/fixtures/console/s390-bug.log"));
        assert_eq!(
            s390.panic.as_deref(),
            Some("Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b")
        );
        // The cheap reader used while a console grows sees the same markers.
        let m = Console::markers(include_str!("../../tests/fixtures/console/x86-warning.log"));
        assert_eq!((m.result, m.tests), (warned.result, warned.tests));
        assert!(m.splats.is_empty());
        // A result marker not yet followed by its newline is not read.
        assert_eq!(Console::markers("VMAMATRIX-RESULT").result, None);
        assert_eq!(Console::markers("VMAMATRIX-RESULT 0\n").result, Some(0));
    }
}
