//! tools/testing/vma: the kernel's userland tests of mm/vma.c, built and run
//! on the host for each tree (they compile the tree's own mm/vma.c).

use crate::boot::console::parse_tests;
use crate::proc::{self, Outcome};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The result of one run of the vma tests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VmaTestData {
    pub built: bool,
    /// `(run, passed, failed)` from the summary line.
    pub tests: Option<(u32, u32, u32)>,
    pub outcome: String,
    pub commands: Vec<String>,
}

impl VmaTestData {
    pub fn passed(&self) -> bool {
        matches!(self.tests, Some((r, p, 0)) if r == p && r > 0)
    }
}

/// Build and run tools/testing/vma of the tree at `src` on the host, logging
/// to `log`; the build products are removed afterwards.
pub fn host(src: &Path, jobs: usize, log: &Path) -> std::io::Result<VmaTestData> {
    let dir = src.join("tools/testing/vma");
    let _ = std::fs::remove_file(log);
    let mut make = Command::new("make");
    make.arg("-C").arg(&dir).arg(format!("-j{jobs}"));
    let mut commands = vec![format!("make -C {} -j{jobs}", dir.display())];
    let built = proc::run_logged(make, log, Duration::from_secs(900))?;
    let mut data = VmaTestData {
        built: built.success(),
        tests: None,
        outcome: format!("build: {built}"),
        commands: vec![],
    };
    if built.success() {
        let mut run = Command::new(dir.join("vma"));
        run.current_dir(&dir);
        commands.push(format!("cd {} && ./vma", dir.display()));
        let o = proc::run_logged(run, log, Duration::from_secs(900))?;
        let text = std::fs::read_to_string(log).unwrap_or_default();
        data.tests = text.lines().rev().find_map(parse_tests);
        data.outcome = match o {
            Outcome::Exited(_) => format!("tests: {o}"),
            other => format!("tests: {other}"),
        };
    }
    let mut clean = Command::new("make");
    clean.arg("-C").arg(&dir).arg("clean");
    let _ = proc::run_logged(
        clean,
        &log.with_extension("clean.log"),
        Duration::from_secs(120),
    );
    data.commands = commands;
    Ok(data)
}
