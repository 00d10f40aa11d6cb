//! tools/testing/vma: the kernel's userland tests of mm/vma.c, built and run
//! on the host for each tree (they compile the tree's own mm/vma.c).

pub mod run;

use crate::boot::console::parse_tests;
use crate::model::VmaTestData;
use crate::proc::{self, Outcome};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Flags that build tools/testing/vma as a static binary for a guest: the
/// harness's own include paths and defines, without the sanitizers (which
/// cannot link statically).
const GUEST_CFLAGS: &str =
    "-I../shared -I. -I../../include -I../../arch/x86/include -I../../../lib \
     -O1 -Wall -D_LGPL_SOURCE -DNUM_VMA_FLAG_BITS=64 -DNUM_MM_FLAG_BITS=64 -static";

/// Build tools/testing/vma of the tree at `src` statically with the C
/// compiler `cc` (a cross compiler for a guest) and `extra` flags (which
/// come first, so their include directories win), and copy it to `out`.
/// Returns the command line, or why it could not be built.
pub fn build_guest(
    src: &Path,
    cc: &str,
    extra: &str,
    jobs: usize,
    out: &Path,
    log: &Path,
) -> Result<String, String> {
    let dir = src.join("tools/testing/vma");
    let args = vec![
        "-C".to_string(),
        dir.display().to_string(),
        format!("-j{jobs}"),
        format!("CC={cc}"),
        format!(
            "CFLAGS={}",
            extra
                .split_whitespace()
                .chain(GUEST_CFLAGS.split_whitespace())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ];
    let line = proc::shell_line("make", &args);
    let mut clean = Command::new("make");
    clean.arg("-C").arg(&dir).arg("clean");
    let _ = proc::run_logged(clean, log, Duration::from_secs(120));
    let mut make = Command::new("make");
    make.args(&args);
    let o =
        proc::run_logged(make, log, Duration::from_secs(900)).map_err(|e| format!("make: {e}"))?;
    let result = if o.success() {
        std::fs::create_dir_all(out.parent().unwrap()).map_err(|e| e.to_string())?;
        // Through a file beside it and a rename: `out` existing means whole.
        let tmp = out.with_extension("partial");
        std::fs::copy(dir.join("vma"), &tmp)
            .and_then(|_| std::fs::rename(&tmp, out))
            .map(|_| line)
            .map_err(|e| format!("{}: {e}", out.display()))
    } else {
        Err(format!(
            "building the guest vma tests with {cc} failed ({o}); see {}",
            log.display()
        ))
    };
    let mut clean = Command::new("make");
    clean.arg("-C").arg(&dir).arg("clean");
    let _ = proc::run_logged(clean, log, Duration::from_secs(120));
    result
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
    let clean_log = log.with_extension("clean.log");
    let _ = std::fs::remove_file(&clean_log);
    let _ = proc::run_logged(clean, &clean_log, Duration::from_secs(120));
    data.commands = commands;
    Ok(data)
}
