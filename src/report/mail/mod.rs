//! `report --format mail`: a plain-text reply to the series' thread, in the
//! manner of the 0-day robot's mails (kernel test robot): what was tested, a
//! table of the cells under 80 columns, the new compiler errors, warnings
//! and kernel reports prefixed with `>> `, the regressions, the commands that
//! reproduce them, the struct size changes and the per-patch checks.
//!
//! The message is RFC 5322 (headers, a blank line, the body), which
//! `git send-email` takes as a file; with `--mbox` it is one mbox message
//! (a `From ` separator line, body lines starting with "From " escaped as
//! ">From ") for `mutt -f` or `git send-email`. Every line is at most 80
//! columns except the quoted compiler and kernel lines (`>> `) and shell
//! words too long to break, as in 0-day's mails.

mod envelope;

use super::load::{BootView, BuildStatus, BuildView, Report, Row};
use crate::model::BootOutcome;
pub use envelope::{
    angle, asctime, message_id, rfc2822, sender, MailOptions, Message, MSGID_DOMAIN,
    PLACEHOLDER_FROM,
};
use envelope::{assemble, headers};

/// Lines are wrapped to this many columns.
const WIDTH: usize = 78;
/// The longest line the body may have (quoted kernel lines aside).
pub const MAX_COLUMNS: usize = 80;
/// Compiler errors quoted per failed build.
const QUOTED_ERRORS: usize = 10;
/// Frames quoted per kernel report.
const QUOTED_FRAMES: usize = 5;

/// The mail of a run.
pub fn mail(r: &Report, o: &MailOptions) -> Message {
    let mut notes = Vec::new();
    let (headers, to_name) = headers(r, o, &mut notes);
    let body = body(r, to_name.as_deref());
    if !r.complete {
        notes.push(
            "the run is not finished: the mail says so, and its cells without results prove nothing"
                .into(),
        );
    }
    let text = assemble(&headers, &body, o);
    Message { text, notes }
}

/// The body: greeting, verdict, what was tested, the table, the findings,
/// regressions, reproduction, struct sizes, per-patch checks, signature.
fn body(r: &Report, to_name: Option<&str>) -> String {
    let mut s = String::new();
    let first = to_name
        .and_then(|n| n.split_whitespace().next())
        .filter(|w| w.chars().any(char::is_alphabetic));
    match first {
        Some(n) => s.push_str(&format!("Hi {n},\n\n")),
        None => s.push_str("Hello,\n\n"),
    }
    s.push_str(&verdict(r));
    s.push_str(&tested(r));
    s.push_str(&table(r));
    s.push_str(&findings(r));
    s.push_str(&regressions(r));
    s.push_str(&fixed(r));
    s.push_str(&failing_on_both(r));
    s.push_str(&reproduce(r));
    s.push_str(&struct_sizes(r));
    s.push_str(&checks(r));
    s.push_str(&format!("\n-- \nvmamatrix {}\n", r.run.vmamatrix));
    s
}

fn selected_feasible(r: &Report) -> Vec<&Row> {
    r.cells
        .iter()
        .filter(|c| c.selected && c.feasible != Some(false))
        .collect()
}

fn regressed_cells(r: &Report) -> Vec<&Row> {
    r.cells.iter().filter(|c| c.regression).collect()
}

/// The first paragraph: what the run found, in one sentence or two.
fn verdict(r: &Report) -> String {
    let n = r.summary.selected;
    let cells = format!("{n} configuration{}", if n == 1 { "" } else { "s" });
    let structs_only = selected_feasible(r).iter().any(|c| {
        c.build
            .patched
            .as_ref()
            .is_some_and(|b| b.status == BuildStatus::ProbeOnly)
    });
    let what = if structs_only {
        "compiled the struct probe of"
    } else {
        "built and booted"
    };
    let mut p = Vec::new();
    if !r.complete {
        p.push(format!(
            "This run is {}: cells without results were not reached, so this \
             is a partial report and proves nothing about them.",
            if r.run.interrupted {
                "interrupted"
            } else {
                "not finished"
            }
        ));
    }
    let regs = r.regressions();
    if regs.is_empty() {
        p.push(format!(
            "vmamatrix {what} this series, base and patched, on {cells} \
             (arch x SMP/UP x MMU/NOMMU) and found no regression: in no cell \
             does the patched tree build, boot or test worse than base."
        ));
    } else {
        let where_: Vec<&str> = regressed_cells(r).iter().map(|c| c.id.as_str()).collect();
        let other = regs
            .iter()
            .filter(|g| !r.cells.iter().any(|c| c.id == g.subject))
            .count();
        let mut place = String::new();
        if !where_.is_empty() {
            place = format!(" in {}", where_.join(", "));
        }
        if other > 0 {
            place.push_str(&format!(
                "{}{other} outside the cells (host tests, patch checks)",
                if where_.is_empty() { " " } else { ", and " }
            ));
        }
        p.push(format!(
            "vmamatrix {what} this series, base and patched, on {cells} \
             (arch x SMP/UP x MMU/NOMMU) and found {} regression{}{place}: \
             the patched kernel is worse than base there. Details below.",
            regs.len(),
            if regs.len() == 1 { "" } else { "s" },
        ));
    }
    p.iter()
        .map(|para| wrap(para, "", ""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `/a/b/../c` as `/a/c`, for display only.
fn tidy(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "." => {}
            ".." if parts.last().is_some_and(|p| !p.is_empty() && *p != "..") => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    parts.join("/")
}

/// What was tested: series, base and why, toolchain, matrix, fragments.
fn tested(r: &Report) -> String {
    let run = &r.run;
    let series = &run.series;
    let m = &r.summary;
    let mut rows: Vec<(&str, String)> = Vec::new();
    let subject = series
        .cover_subject
        .clone()
        .or_else(|| series.patches.first().map(|p| p.subject.clone()))
        .unwrap_or_else(|| series.path.clone());
    rows.push((
        "series",
        format!(
            "\"{subject}\" ({} patch{})",
            series.patches.len(),
            if series.patches.len() == 1 { "" } else { "es" }
        ),
    ));
    rows.push((
        "base",
        if run.base_source.is_empty() {
            run.base.clone()
        } else {
            format!("{} ({})", run.base, run.base_source)
        },
    ));
    rows.push(("patched", format!("{} (base + the series)", run.patched)));
    if let Some(b) = &series.base_commit {
        if b != &run.base {
            rows.push((
                "note",
                format!(
                    "the series' base-commit trailer is {b}, not the base \
                     tested"
                ),
            ));
        }
    }
    rows.push(("toolchain", run.toolchain.join(" ")));
    rows.push((
        "matrix",
        format!(
            "{} of {} cells selected, {} feasible, {} refused by Kconfig{}",
            m.selected,
            m.cells,
            m.feasible,
            m.infeasible,
            match run.shard {
                Some((k, n)) => format!(" (shard {k} of {n})"),
                None => String::new(),
            }
        ),
    ));
    match run.configs.as_slice() {
        [] => {}
        [one] => rows.push(("configs", tidy(one))),
        [base, overlays @ ..] => rows.push((
            "configs",
            format!(
                "{} with the overlay{} {}: sizes and boots are of kernels with \
                 those options, not production figures",
                tidy(base),
                if overlays.len() == 1 { "" } else { "s" },
                overlays
                    .iter()
                    .map(|o| tidy(o))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
    let host: Vec<String> = r
        .host_vma_tests
        .named()
        .iter()
        .filter_map(|(t, c)| {
            c.map(|c| {
                if c.all_passed() {
                    format!("{t} {} of {} passed", c.passed, c.run)
                } else {
                    format!("{t} {} of {} FAILED", c.failed, c.run)
                }
            })
        })
        .collect();
    if !host.is_empty() {
        rows.push(("host", format!("tools/testing/vma: {}", host.join(", "))));
    }
    rows.push((
        "run",
        format!(
            "{}, vmamatrix {}, finished {}",
            run.run_id,
            run.vmamatrix,
            run.finished.as_deref().unwrap_or("never")
        ),
    ));
    if !r.not_compiled_anywhere.is_empty() {
        rows.push((
            "not built",
            format!(
                "no selected cell compiled {}: nothing here proves they build",
                r.not_compiled_anywhere.join(", ")
            ),
        ));
    }
    let mut s = String::from("\nWhat was tested:\n\n");
    for (k, v) in rows {
        let head = format!("  {k:<10} ");
        s.push_str(&wrap(&v, &head, &" ".repeat(head.len())));
    }
    s
}

/// One build in a table cell: ok, probe, FAIL, t/o, kill, -.
fn build_word(b: &Option<BuildView>) -> &'static str {
    match b.as_ref().map(|b| b.status) {
        None => "-",
        Some(BuildStatus::Ok) => "ok",
        Some(BuildStatus::ProbeOnly) => "probe",
        Some(BuildStatus::Failed) => "FAIL",
        Some(BuildStatus::TimedOut) => "t/o",
        Some(BuildStatus::Killed) => "kill",
    }
}

/// One boot in a table cell: ok, panic, t/o, hang, qemu, n/a, -.
fn boot_word(b: &Option<BootView>) -> &'static str {
    match b.as_ref().map(|b| b.outcome) {
        None => "-",
        Some(BootOutcome::Booted) => "ok",
        Some(BootOutcome::Panic) => "PANIC",
        Some(BootOutcome::Timeout) => "t/o",
        Some(BootOutcome::Silent) => "hang",
        Some(BootOutcome::QemuFailed) => "qemu",
        Some(BootOutcome::NotBootable) => "n/a",
    }
}

fn vma_word(b: &Option<BootView>) -> &'static str {
    match b.as_ref().and_then(|b| b.vma_tests) {
        None => "-",
        Some(t) if t.all_passed() => "ok",
        Some(_) => "FAIL",
    }
}

fn reports_word(b: &Option<BootView>) -> String {
    match b {
        Some(b) if b.outcome != BootOutcome::NotBootable && !b.console.is_empty() => {
            b.splats.len().to_string()
        }
        _ => "-".into(),
    }
}

/// The selected feasible cells, one row each, under 80 columns: struct
/// columns that do not fit are left to the struct size section.
fn table(r: &Report) -> String {
    let rows = selected_feasible(r);
    if rows.is_empty() {
        return "\nNo feasible cell was selected.\n".into();
    }
    let mut head: Vec<String> = ["cell", "build", "boot", "warn", "reports", "vma"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut cols: Vec<Vec<String>> = rows
        .iter()
        .map(|c| {
            let new_w = match &c.build.patched {
                Some(b) if b.status == BuildStatus::Ok => b.new_warnings.len().to_string(),
                _ => "-".into(),
            };
            vec![
                c.id.clone(),
                format!(
                    "{}/{}",
                    build_word(&c.build.base),
                    build_word(&c.build.patched)
                ),
                format!("{}/{}", boot_word(&c.boot.base), boot_word(&c.boot.patched)),
                new_w,
                format!(
                    "{}/{}",
                    reports_word(&c.boot.base),
                    reports_word(&c.boot.patched)
                ),
                format!("{}/{}", vma_word(&c.boot.base), vma_word(&c.boot.patched)),
            ]
        })
        .collect();
    let widths = |head: &[String], cols: &[Vec<String>]| -> Vec<usize> {
        (0..head.len())
            .map(|i| {
                cols.iter()
                    .map(|c| c[i].chars().count())
                    .chain([head[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    };
    // Two columns of marker, two spaces between columns.
    let total = |w: &[usize]| 2 + w.iter().sum::<usize>() + 2 * (w.len() - 1);
    // Struct columns as far as they fit, those that changed size first;
    // a column is headed by the struct's name without "_struct".
    let delta = |row: &Row, k: usize| match row.structs.get(k).and_then(|d| d.delta()) {
        Some(0) => "0".to_string(),
        Some(x) => format!("{x:+}"),
        None => "-".to_string(),
    };
    let with = |head: &mut Vec<String>, cols: &mut Vec<Vec<String>>, k: usize| {
        head.push(short_struct(&r.run.structs[k]).to_string());
        for (row, c) in rows.iter().zip(cols.iter_mut()) {
            c.push(delta(row, k));
        }
    };
    let changed = |k: usize| {
        rows.iter().any(|c| {
            c.structs
                .get(k)
                .and_then(|d| d.delta())
                .is_some_and(|d| d != 0)
        })
    };
    let mut order: Vec<usize> = (0..r.run.structs.len()).collect();
    order.sort_by_key(|&k| !changed(k));
    let mut shown: Vec<usize> = Vec::new();
    for k in order {
        let mut candidate = shown.clone();
        candidate.push(k);
        candidate.sort();
        let (mut h2, mut c2) = (head.clone(), cols.clone());
        for &k in &candidate {
            with(&mut h2, &mut c2, k);
        }
        if total(&widths(&h2, &c2)) <= WIDTH {
            shown = candidate;
        }
    }
    for &k in &shown {
        with(&mut head, &mut cols, k);
    }
    let left_out: Vec<&str> = (0..r.run.structs.len())
        .filter(|k| !shown.contains(k))
        .map(|k| r.run.structs[k].as_str())
        .collect();
    let w = widths(&head, &cols);
    let line = |mark: &str, cells: &[String]| -> String {
        let mut l = mark.to_string();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(&format!("{c:<width$}", width = w[i]));
        }
        l.trim_end().to_string() + "\n"
    };
    let mut s = String::from("\nResults (base/patched):\n\n");
    s.push_str(&line("  ", &head));
    for (row, c) in rows.iter().zip(&cols) {
        s.push_str(&line(if row.regression { "* " } else { "  " }, c));
    }
    let mut legend = String::new();
    if rows.iter().any(|c| c.regression) {
        legend.push_str("* the series regressed this cell. ");
    }
    legend.push_str(
        "build, boot: ok, FAIL, t/o (timed \
         out), kill(ed), hang (console silent), PANIC, qemu (QEMU failed), n/a \
         (not bootable here). warn: compiler warnings of the patched build \
         that base does not have. reports: the kernel's own reports (WARNING, \
         BUG, lockdep, KASAN, ...) on the console. vma: tools/testing/vma in \
         the guest.",
    );
    if !shown.is_empty() {
        let names = |f: fn(&str) -> &str| {
            shown
                .iter()
                .map(|&k| f(&r.run.structs[k]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        legend.push_str(&format!(
            " {}: size change of struct {} in bytes, patched minus base.",
            names(short_struct),
            names(|s| s)
        ));
    }
    if !left_out.is_empty() {
        legend.push_str(&format!(
            " No room for the size changes of {}: see below.",
            left_out.join(", ")
        ));
    }
    s.push('\n');
    s.push_str(&wrap(&legend, "", ""));
    let rest = r.summary.selected - rows.len();
    if rest > 0 {
        let ids: Vec<&str> = r
            .cells
            .iter()
            .filter(|c| c.selected && c.feasible == Some(false))
            .map(|c| c.id.as_str())
            .collect();
        s.push('\n');
        s.push_str(&wrap(
            &format!("Refused by Kconfig ({rest}): {}.", ids.join(", ")),
            "",
            "",
        ));
    }
    s
}

/// `vm_area` of `vm_area_struct`: a table header.
fn short_struct(name: &str) -> &str {
    name.strip_suffix("_struct")
        .filter(|s| !s.is_empty())
        .unwrap_or(name)
}

/// The new compiler errors and warnings and the kernel's new reports,
/// 0-day style: new ones prefixed by `>> `.
fn findings(r: &Report) -> String {
    let mut s = String::new();
    for row in r.cells.iter().filter(|c| c.selected) {
        let mut block = String::new();
        if let Some(b) = &row.build.patched {
            if matches!(
                b.status,
                BuildStatus::Failed | BuildStatus::TimedOut | BuildStatus::Killed
            ) {
                let base_errors: Vec<_> = row
                    .build
                    .base
                    .as_ref()
                    .map(|b| b.errors.iter().map(|e| e.key()).collect())
                    .unwrap_or_default();
                block.push_str(&wrap(
                    &format!(
                        "The patched build failed ({}):",
                        match (b.status, b.exit_status) {
                            (BuildStatus::TimedOut, _) => "timed out".to_string(),
                            (BuildStatus::Killed, _) => "killed".to_string(),
                            (_, Some(c)) => format!("make exited with status {c}"),
                            _ => "make failed".to_string(),
                        }
                    ),
                    "",
                    "",
                ));
                for e in b.errors.iter().take(QUOTED_ERRORS) {
                    let new = !base_errors.contains(&e.key());
                    block.push_str(&format!(
                        "{}{}:{}: {}: {}\n",
                        if new { ">> " } else { "   " },
                        e.file,
                        e.line,
                        e.kind,
                        e.text
                    ));
                }
                if b.errors.len() > QUOTED_ERRORS {
                    block.push_str(&format!(
                        "   ... and {} more error(s) in the build log\n",
                        b.errors.len() - QUOTED_ERRORS
                    ));
                }
                if b.errors.is_empty() {
                    block.push_str("The log ends with:\n");
                    for l in &b.tail {
                        block.push_str(&format!("   {l}\n"));
                    }
                }
            }
            if !b.new_warnings.is_empty() {
                block.push_str("New compiler warnings of the patched build:\n");
                for w in &b.new_warnings {
                    block.push_str(&format!(
                        ">> {}:{}: {}: {}\n",
                        w.file, w.line, w.kind, w.text
                    ));
                }
            }
        }
        block.push_str(&boot_findings(row));
        if !block.is_empty() {
            s.push_str(&format!("\n{}:\n\n{block}", row.id));
        }
    }
    if s.is_empty() {
        return "\nNo new compiler error or warning, and no new kernel report.\n".into();
    }
    format!(
        "\nNew errors and warnings (new ones prefixed by >>):\n{}",
        s
    )
}

/// A patched boot that failed where base did not, and the patched kernel's
/// reports (new ones, by key, prefixed by `>> `), each once with its first
/// frames.
fn boot_findings(row: &Row) -> String {
    let Some(b) = &row.boot.patched else {
        return String::new();
    };
    let mut s = String::new();
    let base_ok = row
        .boot
        .base
        .as_ref()
        .is_some_and(|b| b.outcome == BootOutcome::Booted);
    if base_ok && !matches!(b.outcome, BootOutcome::Booted | BootOutcome::NotBootable) {
        let how = match b.outcome {
            BootOutcome::Panic => "panicked",
            BootOutcome::Timeout => "timed out before /init's result",
            BootOutcome::Silent => "went silent (hung) before /init's result",
            _ => "failed in QEMU",
        };
        s.push_str(&wrap(
            &format!("Base boots; the patched kernel {how}."),
            "",
            "",
        ));
        if let Some(p) = &b.panic {
            s.push_str(&format!(">> {p}\n"));
        } else if let Some(why) = &b.reason {
            s.push_str(&wrap(why, "   ", "   "));
        }
    }
    if let Some(w) = &b.workload {
        let base_failed = row
            .boot
            .base
            .as_ref()
            .and_then(|b| b.workload.as_ref())
            .map(|w| w.fails.clone())
            .unwrap_or_default();
        let new: Vec<&String> = w
            .fails
            .iter()
            .filter(|f| !base_failed.contains(f))
            .collect();
        if !new.is_empty() {
            s.push_str("The guest VMA workload failed:\n");
            for f in new {
                s.push_str(&format!(">> {f}\n"));
            }
            if !w.vmas.is_empty() {
                s.push_str("The VMAs around its region after the failure:\n");
                for v in &w.vmas {
                    s.push_str(&format!(">> {v}\n"));
                }
            }
        }
    }
    if !b.splats.is_empty() {
        let base_keys: Vec<String> = row
            .boot
            .base
            .as_ref()
            .map(|b| b.splats.iter().map(|s| s.key()).collect())
            .unwrap_or_default();
        s.push_str(&wrap(
            &format!(
                "The patched kernel's reports on the console ({}):",
                b.console
            ),
            "",
            "",
        ));
        let mut seen: Vec<&str> = Vec::new();
        for sp in &b.splats {
            if seen.contains(&sp.title.as_str()) {
                continue;
            }
            seen.push(&sp.title);
            let times = b.splats.iter().filter(|x| x.title == sp.title).count();
            let new = !base_keys.contains(&sp.key());
            s.push_str(&format!(
                "{}{}\n",
                if new { ">> " } else { "   " },
                sp.title
            ));
            let frames: Vec<&str> = sp
                .frames
                .iter()
                .take(QUOTED_FRAMES)
                .map(String::as_str)
                .collect();
            if !frames.is_empty() {
                s.push_str("   Call Trace:\n");
                for f in frames {
                    s.push_str(&format!("    {f}\n"));
                }
            }
            let mut where_ = format!("   ({} report, console line {}", sp.kind, sp.line);
            if times > 1 {
                where_.push_str(&format!("; {times} times"));
            }
            where_.push_str(")\n");
            s.push_str(&where_);
        }
    }
    s
}

fn regressions(r: &Report) -> String {
    let regs = r.regressions();
    if regs.is_empty() {
        return "\nRegressions: none.\n".into();
    }
    let mut s = format!(
        "\nRegressions ({}, patched worse than base):\n\n",
        regs.len()
    );
    // The same sentence twice (two reports alike) is said once.
    let mut said: Vec<String> = Vec::new();
    for g in regs {
        let text = g.to_string();
        if said.contains(&text) {
            continue;
        }
        let times = regs.iter().filter(|x| x.to_string() == text).count();
        let line = if times > 1 {
            format!("{text} ({times} times)")
        } else {
            text.clone()
        };
        s.push_str(&wrap(&line, "  - ", "    "));
        said.push(text);
    }
    s
}

/// What base does wrong and patched does not; nothing when there is none.
fn fixed(r: &Report) -> String {
    if r.fixed.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "\nFixed on patched ({}, base fails and patched does not, in this run;\na race on base may not recur):\n\n",
        r.fixed.len()
    );
    for f in &r.fixed {
        s.push_str(&wrap(&f.to_string(), "  - ", "    "));
    }
    s
}

/// Selftests that fail on both trees: neither a regression nor a fix, and
/// hidden by "no regression" without this; nothing when there is none.
fn failing_on_both(r: &Report) -> String {
    let both = &r.failing_on_both;
    if both.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nSelftests that fail on both trees (not regressions):\n\n");
    for f in both {
        s.push_str(&wrap(
            &format!("{}: {}", f.cell, f.tests_text()),
            "  - ",
            "    ",
        ));
    }
    s
}

/// The words of a shell line, split at spaces outside quotes, so that the
/// line can be continued with `\` between them and stay the same command.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                cur.push(c);
                escaped = true;
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, ' ') => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// A shell command as lines of at most 78 columns where its words allow,
/// continued with ` \`.
fn shell(cmd: &str, indent: &str) -> String {
    let cont = format!("{indent}    ");
    let mut lines: Vec<String> = Vec::new();
    let mut prefix = indent;
    let mut line = String::new();
    // An option and its value stay on one line (`-C dir`, `--only cells`)
    // where the line has room for both.
    let mut units: Vec<String> = Vec::new();
    for w in shell_words(cmd) {
        match units.last_mut() {
            Some(last)
                if last.starts_with('-')
                    && !last.contains(' ')
                    && !last.contains('=')
                    && !w.starts_with('-')
                    && cont.len() + last.len() + 1 + w.len() + 2 <= WIDTH =>
            {
                last.push(' ');
                last.push_str(&w);
            }
            _ => units.push(w),
        }
    }
    for w in units {
        let len = prefix.len() + line.chars().count() + 1 + w.chars().count();
        // Room for the " \" that continues the line.
        if !line.is_empty() && len + 2 > WIDTH {
            lines.push(format!("{prefix}{line}"));
            line.clear();
            prefix = &cont;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&w);
    }
    lines.push(format!("{prefix}{line}"));
    lines.join(" \\\n") + "\n"
}

/// The vmamatrix command that reruns the regressed cells (or all selected
/// ones), and the commands the run ran for them.
fn reproduce(r: &Report) -> String {
    let run = &r.run;
    let regressed = regressed_cells(r);
    let cells: Vec<&Row> = if regressed.is_empty() {
        r.cells.iter().filter(|c| c.selected).collect()
    } else {
        regressed
    };
    let mut args: Vec<String> = vec!["run".into()];
    if let Some(m) = &run.matrix {
        args.extend(["--matrix".into(), m.clone()]);
    }
    for (flag, v) in [
        ("--kernel", &run.kernel),
        ("--series", &run.series.path),
        ("--base", &run.base),
    ] {
        args.extend([flag.to_string(), v.clone()]);
    }
    if run.trees.len() > 2 {
        args.push("--per-patch".into());
    }
    if cells.iter().any(|c| {
        c.build
            .patched
            .as_ref()
            .is_some_and(|b| b.status == BuildStatus::ProbeOnly)
    }) {
        args.push("--structs-only".into());
    }
    if !cells.is_empty() && cells.len() < r.cells.len() {
        let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        args.extend(["--only".into(), ids.join(",")]);
    }
    let cmd = crate::proc::shell_line("vmamatrix", &args);
    let mut s = String::from("\nTo reproduce:\n\n");
    s.push_str(&wrap(
        "Rerun the cells with vmamatrix (the paths are those of the machine \
         that ran the tests):",
        "",
        "",
    ));
    s.push('\n');
    s.push_str(&shell(&cmd, "  "));
    if regressed_cells(r).is_empty() {
        return s;
    }
    s.push('\n');
    s.push_str(&wrap(
        "The commands as the run ran them for the regressed cells, patched \
         tree (the .config of each is kept in the run's directory):",
        "",
        "",
    ));
    for row in cells {
        let build: Vec<String> = row
            .build
            .patched
            .as_ref()
            .map(|b| b.commands.clone())
            .unwrap_or_default();
        s.push_str(&format!(
            "\n  # {}: .config is {}/patched/config\n",
            row.id, row.id
        ));
        for c in &build {
            s.push_str(&shell(c, "  "));
        }
        use crate::model::RegressionKind as K;
        let boot_regressed = r.regressions().iter().any(|g| {
            g.subject == row.id
                && !matches!(
                    g.kind,
                    K::Build | K::NewWarnings | K::Kconfig | K::Infeasible
                )
        });
        if let Some(b) = row.boot.patched.as_ref().filter(|_| boot_regressed) {
            if !b.qemu.is_empty() {
                s.push_str(&format!("  # {}: boot\n", row.id));
                s.push_str(&shell(&b.qemu, "  "));
            }
        }
    }
    s
}

fn struct_sizes(r: &Report) -> String {
    let g = &r.summary.struct_growth;
    let measured: Vec<&Row> = r
        .cells
        .iter()
        .filter(|c| c.selected && c.structs.iter().any(|d| d.delta().is_some()))
        .collect();
    if measured.is_empty() {
        return String::new();
    }
    if g.is_empty() {
        return format!(
            "\nStruct sizes: no change in {} ({} cell{} measured).\n",
            r.run.structs.join(", "),
            measured.len(),
            if measured.len() == 1 { "" } else { "s" }
        );
    }
    let cw = g.iter().map(|x| x.cell.len()).max().unwrap_or(4);
    let sw = g.iter().map(|x| x.name.len()).max().unwrap_or(6);
    let mut s = String::from("\nStruct size changes (bytes, base -> patched):\n\n");
    for x in g {
        s.push_str(&format!(
            "  {:<cw$}  {:<sw$}  {} -> {} ({:+})\n",
            x.cell, x.name, x.base, x.patched, x.delta
        ));
    }
    let grown = g
        .iter()
        .map(|x| &x.cell)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if measured.len() > grown {
        s.push_str(&format!(
            "  No change in the other {} measured cell(s).\n",
            measured.len() - grown
        ));
    }
    s
}

fn checks(r: &Report) -> String {
    let Some(c) = &r.checks else {
        return String::new();
    };
    let n = r.run.series.patches.len().max(c.patches.len());
    let mut s =
        String::from("\nPer-patch checks, checkpatch.pl --strict errors/warnings/checks:\n\n");
    for p in &c.patches {
        let cp = match &p.checkpatch {
            Some(cp) => format!("{}/{}/{}", cp.errors, cp.warnings, cp.checks),
            None => "not run".into(),
        };
        let head = format!("  {:>5}  {cp:<7}  ", format!("{}/{n}", p.number));
        let room = MAX_COLUMNS.saturating_sub(head.chars().count()).max(20);
        let subject = if p.subject.chars().count() > room {
            p.subject.chars().take(room - 3).collect::<String>() + "..."
        } else {
            p.subject.clone()
        };
        s.push_str(&format!("{head}{subject}\n"));
    }
    let mut msgs = String::new();
    for p in &c.patches {
        let cp = p.checkpatch.clone().unwrap_or_default();
        for m in cp
            .messages
            .iter()
            .chain(&p.dco)
            .chain(&p.whitespace)
            .chain(&p.notes)
        {
            msgs.push_str(&wrap(&format!("patch {}: {m}", p.number), "  - ", "    "));
        }
    }
    s.push('\n');
    if c.patches.iter().all(|p| p.dco.is_empty()) {
        s.push_str("Every patch has its author's Signed-off-by.\n");
    }
    if c.patches.iter().all(|p| p.whitespace.is_empty()) {
        s.push_str("No patch adds whitespace errors.\n");
    }
    if !msgs.is_empty() {
        s.push_str("\nWhat the checks said:\n\n");
        s.push_str(&msgs);
    }
    if c.kernel_doc_new.is_empty() {
        s.push_str("\nkernel-doc -Wall on the touched files: no new warnings.\n");
    } else {
        s.push_str("\nkernel-doc -Wall on the touched files, new warnings:\n\n");
        for w in &c.kernel_doc_new {
            s.push_str(&format!(">> {w}\n"));
        }
    }
    s
}

/// `text` wrapped at 78 columns, the first line after `first`, the others
/// after `rest`; a word longer than a line stays whole.
fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for w in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + w.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(w);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::envelope::*;
    use super::*;
    use crate::boot::splat::{Splat, SplatKind};
    use crate::checks::{Checkpatch, PatchChecks, SeriesChecks};
    use crate::events::Stage;
    use crate::kconfig::Verdict;
    use crate::measure::Layout;
    use crate::model::{
        BootData, BuildData, CellEntry, ConfigureData, Diagnostic, MeasureData, Record, Regression,
        RegressionKind, RunSummary, Status,
    };
    use crate::series::{PatchInfo, SeriesInfo};
    use crate::store::Results;
    use std::path::Path;

    const COVER_ID: &str = "cover.1781234567.git.ann@example.org";

    fn splat(title: &str, file: &str, func: &str, line: usize) -> Splat {
        Splat {
            kind: SplatKind::Warning,
            title: title.into(),
            location: Some(file.into()),
            function: Some(func.into()),
            frames: vec![func.into(), "exit_mmap".into(), "mmput".into()],
            line,
        }
    }

    fn diag(file: &str, line: u32, kind: &str, text: &str) -> Diagnostic {
        Diagnostic {
            file: file.into(),
            line,
            kind: kind.into(),
            text: text.into(),
        }
    }

    /// A run of four selected cells: x86 adds a warning and grows
    /// vm_area_struct, riscv's patched kernel warns and hangs, arm's
    /// patched build fails, loongarch (the longest cell id) is refused.
    fn fixture(dir: &Path) -> Report {
        let res = Results::open(dir);
        let cells = [
            ("x86-smp-mmu", true),
            ("riscv-up-nommu", true),
            ("arm-up-mmu", true),
            ("loongarch-smp-nommu", true),
            ("s390-smp-mmu", false),
        ];
        let patch = |n: usize, author: &str, subject: &str| PatchInfo {
            number: n,
            subject: subject.into(),
            subject_line: format!("[PATCH {n}/2] {subject}"),
            author: author.into(),
            files: vec!["mm/vma.c".into()],
            commit: None,
            message_id: Some(format!("patch{n}@example.org")),
        };
        let run = RunSummary {
            schema: 1,
            run_id: "20260101-000000".into(),
            vmamatrix: "0.1.0 (abc)".into(),
            started: "2026-01-01T00:00:00Z".into(),
            finished: Some("2026-01-01T01:00:00Z".into()),
            kernel: "/src/linux".into(),
            base: "b".repeat(40),
            patched: "p".repeat(40),
            toolchain: vec!["LLVM=-19".into()],
            matrix: Some("/w/matrix.toml".into()),
            series: SeriesInfo {
                path: "/w/patches".into(),
                hash: "0123456789abcdef".repeat(4),
                cover_subject: Some("mm: unconditional per-VMA locks".into()),
                cover_subject_line: None,
                cover_message_id: Some(COVER_ID.into()),
                base_commit: Some("b".repeat(40)),
                patches: vec![
                    patch(1, "Ann Lee <ann@example.org>", "mm: make it so"),
                    patch(2, "Bo Ström <bo@example.org>", "binder: use it"),
                    patch(3, "Ann Lee <ann@example.org>", "tcp: use it too"),
                ],
            },
            structs: vec!["vm_area_struct".into(), "mm_struct".into()],
            cells: cells
                .iter()
                .map(|(id, selected)| {
                    let p: Vec<&str> = id.split('-').collect();
                    CellEntry {
                        id: id.to_string(),
                        arch: p[0].into(),
                        smp: p[1].into(),
                        mmu: p[2].into(),
                        selected: *selected,
                    }
                })
                .collect(),
            regressions: vec![
                Regression::new(
                    "x86-smp-mmu",
                    RegressionKind::NewWarnings,
                    "1 new warning(s)",
                ),
                Regression::new(
                    "riscv-up-nommu",
                    RegressionKind::Boot,
                    "base boots, patched does not",
                ),
                Regression::new(
                    "riscv-up-nommu",
                    RegressionKind::Splat,
                    "the patched kernel reports warning: WARNING: mm/vma.c:12 at vma_merge",
                ),
                Regression::new(
                    "riscv-up-nommu",
                    RegressionKind::Splat,
                    "the patched kernel reports warning: WARNING: mm/vma.c:12 at vma_merge",
                ),
                Regression::new(
                    "arm-up-mmu",
                    RegressionKind::Build,
                    "base builds, patched fails",
                ),
            ],
            interrupted: false,
            trees: vec!["base".into(), "patched".into()],
            first_bad: Default::default(),
            shard: None,
            shard_weights: None,
            dealt: vec![],
            base_source: "the series' base-commit trailer".into(),
            configs: vec!["/w/configs".into(), "/w/overlays/debug".into()],
        };
        let make = |cell: &str| {
            format!(
                "KBUILD_BUILD_TIMESTAMP=vmamatrix make -C /cache/work/0123/src \
                 O=/cache/work/0123/build/{cell} ARCH=x86 LLVM=-19 -j2 bzImage"
            )
        };
        for (cell, _) in cells.iter().filter(|c| c.1) {
            for tree in ["base", "patched"] {
                let feasible = !cell.starts_with("loongarch");
                let mut c = Record::new(cell, tree, Stage::Configure, "c");
                c.status = if feasible {
                    Status::Ok
                } else {
                    Status::Infeasible
                };
                c.configure = Some(ConfigureData {
                    fragments: vec![],
                    verdict: Verdict {
                        feasible,
                        reason: (!feasible).then(|| "CONFIG_MMU=n: loongarch has an MMU".into()),
                        warnings: vec![],
                        requested: 3,
                        tracked: Default::default(),
                    },
                    config_sha256: "x".into(),
                });
                res.write_record(&run.run_id, &c).unwrap();
                if !feasible {
                    continue;
                }
                let failed = *cell == "arm-up-mmu" && tree == "patched";
                let mut b = Record::new(cell, tree, Stage::Build, "c");
                b.status = if failed { Status::Failed } else { Status::Ok };
                b.commands = vec![make(cell)];
                let io = diag("include/asm-generic/io.h", 1209, "warning", "null pointer");
                let mut warnings = vec![io];
                let mut new_warnings = vec![];
                if *cell == "x86-smp-mmu" && tree == "patched" {
                    let w = diag(
                        "mm/vma.c",
                        40,
                        "warning",
                        "unused variable 'vma' [-Wunused-variable]",
                    );
                    warnings.push(w.clone());
                    new_warnings.push(w);
                }
                b.build = Some(BuildData {
                    outcome: if failed {
                        "exit status 2"
                    } else {
                        "exit status 0"
                    }
                    .into(),
                    jobs: 2,
                    warnings,
                    errors: if failed {
                        vec![
                            diag("net/ipv4/tcp.c", 7, "error", "use of undeclared identifier 'vma_start_read_unlocked'; did you mean 'vma_start_read'? this line is long as compilers make them"),
                            diag("net/ipv4/tcp.c", 9, "error", "too few arguments"),
                        ]
                    } else {
                        vec![]
                    },
                    new_warnings,
                    compiled: vec![],
                    not_compiled: vec![],
                    tail: vec![],
                    ccache: None,
                    structs_only: false,
                });
                res.write_record(&run.run_id, &b).unwrap();
                if failed {
                    continue;
                }
                let grow = u64::from(*cell == "x86-smp-mmu" && tree == "patched") * 8;
                let mut m = Record::new(cell, tree, Stage::Measure, "c");
                m.measure = Some(MeasureData {
                    image: Some(1),
                    vmlinux: None,
                    structs: vec![
                        Layout {
                            name: "vm_area_struct".into(),
                            size: 160 + grow,
                            members: vec![],
                            holes: vec![],
                            padding: 0,
                        },
                        Layout {
                            name: "mm_struct".into(),
                            size: 1000,
                            members: vec![],
                            holes: vec![],
                            padding: 0,
                        },
                    ],
                    errors: vec![],
                });
                res.write_record(&run.run_id, &m).unwrap();
                let hang = *cell == "riscv-up-nommu" && tree == "patched";
                let mut boot = BootData::not_run(
                    if hang {
                        BootOutcome::Silent
                    } else {
                        BootOutcome::Booted
                    },
                    String::new(),
                );
                boot.reason = hang.then(|| "no console output for 60 s".into());
                boot.qemu = format!("qemu-system-x86_64 -kernel {cell}/{tree}/boot-image -append 'console=ttyS0 panic=-1'");
                boot.secs_to_marker = (!hang).then_some(1.5);
                boot.tests = (!hang).then_some((26, 26, 0));
                let old = splat(
                    "WARNING: lib/old.c:3 at old_func+0x1/0x2, CPU#0: swapper/1",
                    "lib/old.c:3",
                    "old_func",
                    20,
                );
                if *cell == "riscv-up-nommu" {
                    boot.splats.push(old);
                }
                if hang {
                    let new = splat(
                        "WARNING: mm/vma.c:12 at vma_merge+0x1/0x2, CPU#0: workload/19",
                        "mm/vma.c:12",
                        "vma_merge",
                        76,
                    );
                    boot.splats.push(new.clone());
                    boot.splats.push(Splat { line: 90, ..new });
                }
                let mut r = Record::new(cell, tree, Stage::Boot, "c");
                r.boot = Some(boot);
                res.write_record(&run.run_id, &r).unwrap();
            }
        }
        let checks = SeriesChecks {
            patches: vec![
                PatchChecks {
                    number: 1,
                    subject: "mm: make it so".into(),
                    checkpatch: Some(Checkpatch {
                        errors: 0,
                        warnings: 1,
                        checks: 0,
                        messages: vec![
                            "mm/vma.c:3: WARNING:LONG_LINE: line length of 101 exceeds 100 columns"
                                .into(),
                        ],
                        command: "checkpatch.pl".into(),
                    }),
                    dco: vec![],
                    whitespace: vec![],
                    notes: vec![],
                },
                PatchChecks {
                    number: 2,
                    subject:
                        "binder: use it, with a subject long enough that it has to be cut short"
                            .into(),
                    checkpatch: Some(Checkpatch::default()),
                    dco: vec!["no Signed-off-by of the author Bo Ström <bo@example.org>".into()],
                    whitespace: vec![],
                    notes: vec![],
                },
            ],
            kernel_doc_new: vec![],
            kernel_doc_command: String::new(),
        };
        crate::store::write_json(
            &res.run_dir(&run.run_id).join("checks/checks.json"),
            &checks,
        )
        .unwrap();
        crate::report::load(&res, run)
    }

    fn opts(mbox: bool) -> MailOptions {
        MailOptions {
            from: Some("Tess Ter <tess@example.net>".into()),
            date: 1_795_677_199,
            mbox,
        }
    }

    /// Split a message into its headers (unfolded) and body.
    fn split(text: &str) -> (Vec<(String, String)>, &str) {
        let (head, body) = text.split_once("\n\n").unwrap();
        let mut hs: Vec<(String, String)> = Vec::new();
        for l in head.lines() {
            if l.starts_with(' ') || l.starts_with('\t') {
                hs.last_mut().unwrap().1.push_str(l);
            } else {
                let (k, v) = l.split_once(": ").unwrap();
                hs.push((k.into(), v.into()));
            }
        }
        (hs, body)
    }

    #[test]
    fn headers_thread_the_reply_under_the_cover_letter() {
        let dir = tempfile::tempdir().unwrap();
        let r = fixture(dir.path());
        let m = mail(&r, &opts(false));
        assert!(m.notes.is_empty(), "{:?}", m.notes);
        let (h, _) = split(&m.text);
        let get = |k: &str| -> String {
            let v: Vec<&String> = h.iter().filter(|(n, _)| n == k).map(|(_, v)| v).collect();
            assert_eq!(v.len(), 1, "{k} once in {h:?}");
            v[0].clone()
        };
        assert_eq!(get("From"), "Tess Ter <tess@example.net>");
        assert_eq!(get("To"), "Ann Lee <ann@example.org>");
        assert_eq!(get("Cc"), "Bo =?UTF-8?Q?Str=C3=B6m?= <bo@example.org>");
        assert_eq!(get("Subject"), "Re: mm: unconditional per-VMA locks");
        assert_eq!(get("In-Reply-To"), format!("<{COVER_ID}>"));
        assert_eq!(get("References"), format!("<{COVER_ID}>"));
        assert_eq!(get("Date"), "Thu, 26 Nov 2026 07:13:19 +0000");
        assert_eq!(
            get("Message-ID"),
            "<vmamatrix-20260101-000000-0123456789ab@vmamatrix.invalid>"
        );
        assert_eq!(get("MIME-Version"), "1.0");
        assert_eq!(get("Content-Type"), "text/plain; charset=utf-8");
        assert_eq!(get("Content-Transfer-Encoding"), "8bit");
        // Brackets exactly once, whatever the record held.
        let mut r2 = r.clone();
        r2.run.series.cover_message_id = Some(format!("<{COVER_ID}>"));
        assert!(mail(&r2, &opts(false))
            .text
            .contains(&format!("\nIn-Reply-To: <{COVER_ID}>\n")));
        // No cover letter: patch 1's subject and Message-ID.
        r2.run.series.cover_subject = None;
        r2.run.series.cover_message_id = None;
        let t = mail(&r2, &opts(false)).text;
        assert!(
            t.contains("\nSubject: Re: [PATCH 1/2] mm: make it so\n"),
            "{t}"
        );
        assert!(t.contains("\nIn-Reply-To: <patch1@example.org>\n"), "{t}");
        // Nothing to reply to, no sender: the notes say so.
        for p in &mut r2.run.series.patches {
            p.message_id = None;
        }
        let m = mail(
            &r2,
            &MailOptions {
                from: None,
                ..opts(false)
            },
        );
        assert!(!m.text.contains("In-Reply-To"));
        assert!(m.text.starts_with(&format!("From: {PLACEHOLDER_FROM}\n")));
        assert_eq!(m.notes.len(), 2, "{:?}", m.notes);
        assert!(m.notes[0].contains("VMAMATRIX_FROM"));
        assert!(m.notes[1].contains("--in-reply-to"));
    }

    #[test]
    fn body_quotes_errors_and_splats_and_lists_regressions() {
        let dir = tempfile::tempdir().unwrap();
        let r = fixture(dir.path());
        let text = mail(&r, &opts(false)).text;
        let (_, body) = split(&text);
        for l in body.lines() {
            assert!(
                l.chars().count() <= MAX_COLUMNS || l.starts_with(">> "),
                "{} columns: {l}",
                l.chars().count()
            );
            assert!(
                !l.contains('|') && !l.contains("**") && !l.contains('`'),
                "markdown: {l}"
            );
        }
        for want in [
            "Hi Ann,\n",
            "found 5 regressions in x86-smp-mmu,\nriscv-up-nommu, arm-up-mmu: the patched",
            // What was tested.
            "  base       bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb (the series' base-commit",
            "  series     \"mm: unconditional per-VMA locks\" (3 patches)\n",
            "  toolchain  LLVM=-19\n",
            "  matrix     4 of 5 cells selected, 3 feasible, 1 refused by Kconfig\n",
            "  configs    /w/configs with the overlay /w/overlays/debug:",
            // The table: the refused cell out of it, struct columns in.
            "  cell            build    boot     warn  reports  vma    vm_area  mm\n\
             * x86-smp-mmu     ok/ok    ok/ok    1     0/0      ok/ok  +8       0\n\
             * riscv-up-nommu  ok/ok    ok/hang  0     1/3      ok/-   0        0\n\
             * arm-up-mmu      ok/FAIL  ok/-     -     0/-      ok/-   -        -\n",
            "vm_area, mm: size change of\nstruct vm_area_struct, mm_struct in bytes",
            "\n\nRefused by Kconfig (1): loongarch-smp-nommu.\n",
            // The failed build's errors, new ones marked.
            "arm-up-mmu:\n\nThe patched build failed (make exited with status 2):\n\
             >> net/ipv4/tcp.c:7: error: use of undeclared identifier",
            ">> net/ipv4/tcp.c:9: error: too few arguments\n",
            // The new warning.
            ">> mm/vma.c:40: warning: unused variable 'vma' [-Wunused-variable]\n",
            // The hang and the new splat, once, with its frames; the old
            // one without >>.
            "Base boots; the patched kernel went silent (hung) before /init's result.\n\
             \x20  no console output for 60 s\n",
            ">> WARNING: mm/vma.c:12 at vma_merge+0x1/0x2, CPU#0: workload/19\n\
             \x20  Call Trace:\n    vma_merge\n    exit_mmap\n    mmput\n\
             \x20  (warning report, console line 76; 2 times)\n",
            "\n   WARNING: lib/old.c:3 at old_func+0x1/0x2, CPU#0: swapper/1\n",
            // Regressions, the repeated one once.
            "Regressions (5, patched worse than base):\n\n  - x86-smp-mmu: 1 new warning(s)\n",
            "  - riscv-up-nommu: the patched kernel reports warning: WARNING: mm/vma.c:12\n    at vma_merge (2 times)\n",
            "  - arm-up-mmu: base builds, patched fails\n",
            // Reproduce: vmamatrix, then the commands as run.
            "  vmamatrix run --matrix /w/matrix.toml --kernel /src/linux \\\n\
             \x20     --series /w/patches --base bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb \\\n\
             \x20     --only x86-smp-mmu,riscv-up-nommu,arm-up-mmu\n",
            "  KBUILD_BUILD_TIMESTAMP=vmamatrix make -C /cache/work/0123/src \\\n\
             \x20     O=/cache/work/0123/build/arm-up-mmu ARCH=x86 LLVM=-19 -j2 bzImage\n",
            "  # riscv-up-nommu: boot\n  qemu-system-x86_64 -kernel",
            "bzImage\n\n  # riscv-up-nommu: .config",
            // Struct sizes and checks.
            "  x86-smp-mmu  vm_area_struct  160 -> 168 (+8)\n",
            "  No change in the other 1 measured cell(s).\n",
            "    1/3  0/1/0    mm: make it so\n",
            "    2/3  0/0/0    binder: use it, with a subject long enough that it has to b...\n",
            "  - patch 1: mm/vma.c:3: WARNING:LONG_LINE: line length of 101 exceeds 100\n",
            "  - patch 2: no Signed-off-by of the author Bo Ström <bo@example.org>\n",
            "No patch adds whitespace errors.\n",
            "\n-- \nvmamatrix 0.1.0 (abc)\n",
        ] {
            assert!(body.contains(want), "missing {want:?} in\n{body}");
        }
        assert!(!body.contains("s390"), "an unselected cell: {body}");
        // Findings come before the regressions, which come before the
        // reproducer.
        let at = |s: &str| body.find(s).unwrap();
        assert!(at("Results (base/patched)") < at("New errors and warnings"));
        assert!(at("New errors and warnings") < at("Regressions (5"));
        assert!(at("Regressions (5") < at("To reproduce"));
        assert!(at("To reproduce") < at("Struct size changes"));
        assert!(at("Struct size changes") < at("Per-patch checks"));
    }

    #[test]
    fn parses_back_with_mailparse() {
        let dir = tempfile::tempdir().unwrap();
        let r = fixture(dir.path());
        for mbox in [false, true] {
            let text = mail(&r, &opts(mbox)).text;
            let raw = if mbox {
                let (sep, rest) = text.split_once('\n').unwrap();
                assert_eq!(
                    sep,
                    "From vmamatrix@vmamatrix.invalid Thu Nov 26 07:13:19 2026"
                );
                assert!(rest.ends_with("\n\n"));
                rest
            } else {
                text.as_str()
            };
            let m = mailparse::parse_mail(raw.as_bytes()).unwrap();
            use mailparse::MailHeaderMap;
            let h = &m.headers;
            assert_eq!(
                h.get_first_value("Subject").unwrap(),
                "Re: mm: unconditional per-VMA locks"
            );
            assert_eq!(
                h.get_first_value("In-Reply-To").unwrap(),
                format!("<{COVER_ID}>")
            );
            assert_eq!(
                h.get_first_value("Cc").unwrap(),
                "Bo Ström <bo@example.org>"
            );
            assert_eq!(m.ctype.mimetype, "text/plain");
            assert_eq!(m.ctype.charset, "utf-8");
            let body = m.get_body().unwrap();
            assert!(body.contains("Bo Ström <bo@example.org>"), "{body}");
            assert!(body.starts_with("Hi Ann,"));
        }
    }

    #[test]
    fn mbox_escapes_from_lines_only_in_mbox() {
        let o = opts(true);
        let t = assemble("Subject: x\n", "From here on\nFromage\n>From kept\n", &o);
        assert_eq!(
            t,
            "From vmamatrix@vmamatrix.invalid Thu Nov 26 07:13:19 2026\n\
             Subject: x\n\n>From here on\nFromage\n>From kept\n\n"
        );
        let t = assemble("Subject: x\n", "From here on\n", &opts(false));
        assert_eq!(t, "Subject: x\n\nFrom here on\n");
    }

    #[test]
    fn says_plainly_when_nothing_regressed_or_the_run_is_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = fixture(dir.path());
        r.run.regressions.clear();
        for c in &mut r.cells {
            c.regression = false;
        }
        let t = mail(&r, &opts(false)).text;
        assert!(t.contains("and found no regression: in no cell"), "{t}");
        assert!(!t.contains("* the series regressed"), "{t}");
        assert!(t.contains("\nRegressions: none.\n"), "{t}");
        // Without a regression the reproducer reruns every selected cell.
        assert!(t.contains("--only"), "{t}");
        assert!(!t.contains("The commands as the run ran them"), "{t}");
        r.complete = false;
        r.run.interrupted = true;
        let m = mail(&r, &opts(false));
        assert!(m
            .text
            .contains("\nThis run is interrupted: cells without results"));
        assert!(m.notes.iter().any(|n| n.contains("not finished")));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc2822(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        // 2026-11-26T07:13:19Z
        let t = 1_795_677_199;
        assert_eq!(rfc2822(t), "Thu, 26 Nov 2026 07:13:19 +0000");
        assert_eq!(asctime(t), "Thu Nov 26 07:13:19 2026");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(
            crate::series::mail::parse_date(&rfc2822(t)),
            Some((t, 0)),
            "our Date parses back"
        );
    }

    #[test]
    fn addresses_and_words() {
        assert_eq!(address("Ann Lee <a@b.org>"), "Ann Lee <a@b.org>");
        assert_eq!(address("a@b.org"), "a@b.org");
        assert_eq!(address("Lee, Ann <a@b.org>"), "\"Lee, Ann\" <a@b.org>");
        assert_eq!(address("J. \"Q\" <a@b>"), "\"J. \\\"Q\\\"\" <a@b>");
        assert_eq!(address("\"Lee, Ann\" <a@b>"), "\"Lee, Ann\" <a@b>");
        assert_eq!(split_address("\"A \\\"B\\\"\" <a@b>").0, "A \"B\"");
        assert_eq!(
            address("Zoë Ändersson <z@b>"),
            "=?UTF-8?Q?Zo=C3=AB_=C3=84ndersson?= <z@b>"
        );
        assert_eq!(angle("<x@y>"), "<x@y>");
        assert_eq!(angle("x@y"), "<x@y>");
        assert_eq!(angle(" <<x@y>> "), "<x@y>");
        let long = format!("Re: mm: {}", "é".repeat(40));
        let enc = encode_words(&long);
        assert!(enc.starts_with("Re: mm: =?UTF-8?Q?"), "{enc}");
        assert!(enc.split(' ').all(|w| w.len() <= 75), "{enc}");
        let h = header("Subject", &enc);
        assert!(h.lines().all(|l| l.len() <= 78), "{h}");
        let back = mailparse::parse_header(h.as_bytes()).unwrap().0;
        assert_eq!(back.get_value(), long);
    }

    #[test]
    fn shell_lines_wrap_between_words_only() {
        let cmd = "KBUILD_BUILD_TIMESTAMP=vmamatrix make -C /some/where/src \
                   O=/some/where/build/riscv-up-nommu ARCH=riscv LLVM=-19 \
                   '-DX=\"a b\"' -j2 Image";
        let out = shell(cmd, "  ");
        assert!(out.lines().all(|l| l.len() <= 80), "{out}");
        assert!(out.lines().count() > 1, "{out}");
        let joined = out.replace(" \\\n      ", " ");
        assert_eq!(joined.trim(), cmd);
        assert_eq!(
            shell_words("a 'b c' \"d e\" f\\ g"),
            vec!["a", "'b c'", "\"d e\"", "f\\ g"]
        );
    }

    #[test]
    fn wrapping_and_paths() {
        let w = wrap(&"word ".repeat(40), "  - ", "    ");
        assert!(w.lines().all(|l| l.len() <= WIDTH));
        assert!(w.starts_with("  - word"));
        assert!(w.lines().nth(1).unwrap().starts_with("    word"));
        assert_eq!(tidy("/w/m/tests/fixtures/../../configs"), "/w/m/configs");
        assert_eq!(tidy("../x/./y"), "../x/y");
    }
}
