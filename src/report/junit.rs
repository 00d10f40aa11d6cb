//! `report --format junit`: JUnit XML as GitLab and Jenkins ingest it,
//! shaped like nextest's (quick-junit): `<testsuites>` with one
//! `<testsuite>` per selected cell (the cell id), one `<testcase>` per tree
//! and stage ("base/build", "patched/boot", "patched/selftest/NAME", ...),
//! a suite "host" for tools/testing/vma on the host and a suite "checks"
//! for the per-patch checks. Every regression of the run is a `<failure>`
//! of the case it is about (or of a case of its own when no case is).
//!
//! The per-stage outcomes ([`tree_cases`]) are shared with the KCIDB
//! renderer, so both formats judge a stage the same way.

use super::load::{BootView, BuildStatus, BuildView, Report, Row};
use crate::model::{BootOutcome, Regression, RegressionKind};
use crate::selftests::tap::Verdict as TapVerdict;

/// How many compiler errors, subtests or report frames a case quotes.
const QUOTED: usize = 20;

/// The outcome of one case, in the words KCIDB uses (JUnit has pass,
/// failure, error and skipped; a miss is a skip there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Ran and found the tested code correct.
    Pass,
    /// Ran and found the tested code faulty.
    Fail,
    /// Did not complete (timeout, killed, QEMU failed): the code's status
    /// is unknown.
    Error,
    /// Not applicable here (Kconfig refuses the cell, cannot boot here).
    Skip,
    /// Should have run and did not (no record: not reached).
    Miss,
}

/// One stage of one tree of one cell, or one check.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    /// "build", "boot", "guest-vma-tests", "workload", "selftest/NAME".
    pub stage: String,
    pub verdict: Verdict,
    /// One line: why it failed, erred or was skipped.
    pub message: String,
    /// The relevant text: compiler errors, kernel reports, failed subtests.
    pub text: String,
    /// What the stage produced besides (log paths, counts).
    pub out: String,
    pub secs: Option<f64>,
    /// The log of the stage, relative to the run directory.
    pub log: Option<String>,
    /// Regressions of the run about this case.
    pub regressions: Vec<Regression>,
}

impl Case {
    fn new(stage: impl Into<String>, verdict: Verdict) -> Case {
        Case {
            stage: stage.into(),
            verdict,
            message: String::new(),
            text: String::new(),
            out: String::new(),
            secs: None,
            log: None,
            regressions: vec![],
        }
    }

    fn msg(mut self, m: impl Into<String>) -> Case {
        self.message = m.into();
        self
    }
}

fn build_case(row: &Row, b: &Option<BuildView>) -> Case {
    let Some(b) = b else {
        return if row.feasible == Some(false) {
            Case::new("build", Verdict::Skip).msg(format!(
                "Kconfig refuses this cell: {}",
                row.reason.as_deref().unwrap_or("no reason recorded")
            ))
        } else {
            Case::new("build", Verdict::Miss)
                .msg("no build record: Kconfig failed, or the run did not get here")
        };
    };
    let mut c = match b.status {
        BuildStatus::Ok => Case::new("build", Verdict::Pass),
        BuildStatus::ProbeOnly => Case::new("build", Verdict::Pass)
            .msg("probe only (--structs-only): no kernel image was built"),
        BuildStatus::Failed => Case::new("build", Verdict::Fail).msg(format!(
            "make failed{}{}",
            b.exit_status
                .map(|c| format!(" (exit status {c})"))
                .unwrap_or_default(),
            match b.errors.len() {
                0 => String::new(),
                n => format!(": {n} compiler error(s)"),
            }
        )),
        BuildStatus::TimedOut => Case::new("build", Verdict::Error).msg("the build timed out"),
        BuildStatus::Killed => Case::new("build", Verdict::Error)
            .msg("make or a compiler was killed, or the run was interrupted"),
    };
    let mut text: Vec<String> = b
        .errors
        .iter()
        .take(QUOTED)
        .map(|e| format!("{}:{}: {}: {}", e.file, e.line, e.kind, e.text))
        .collect();
    if b.errors.len() > QUOTED {
        text.push(format!(
            "... {} more error(s) in the log",
            b.errors.len() - QUOTED
        ));
    }
    if b.errors.is_empty() && c.verdict != Verdict::Pass {
        text.extend(b.tail.iter().cloned());
    }
    c.text = text.join("\n");
    let mut out = vec![format!("log: {}", b.log)];
    out.push(format!(
        "warnings: {}, new against base: {}",
        b.warnings,
        b.new_warnings.len()
    ));
    for w in &b.new_warnings {
        out.push(format!("new warning: {}:{}: {}", w.file, w.line, w.text));
    }
    if b.cached {
        out.push("replayed from the result cache".into());
    }
    out.extend(b.commands.iter().map(|c| format!("$ {c}")));
    c.out = out.join("\n");
    c.secs = Some(b.secs);
    c.log = Some(b.log.clone());
    c
}

fn boot_cases(b: &BootView) -> Vec<Case> {
    let mut v = Vec::new();
    let why = |what: &str| match b.panic.as_ref().or(b.reason.as_ref()) {
        Some(r) if !r.is_empty() => format!("{what}: {r}"),
        _ => what.to_string(),
    };
    let mut boot = match b.outcome {
        BootOutcome::Booted => Case::new("boot", Verdict::Pass),
        BootOutcome::NotBootable => Case::new("boot", Verdict::Skip).msg(why("not bootable here")),
        BootOutcome::QemuFailed => Case::new("boot", Verdict::Error).msg(why("QEMU failed")),
        BootOutcome::Panic => Case::new("boot", Verdict::Fail).msg(why("kernel panic")),
        BootOutcome::Timeout => {
            Case::new("boot", Verdict::Fail).msg(why("no result marker in time"))
        }
        BootOutcome::Silent => Case::new("boot", Verdict::Fail).msg(why("the console fell silent")),
    };
    let mut text = Vec::new();
    for s in &b.splats {
        text.push(format!("{}: {} (console line {})", s.kind, s.title, s.line));
        for f in s.frames.iter().take(QUOTED) {
            text.push(format!("    {f}"));
        }
    }
    let child_failed = b.exec_child.is_some_and(|c| c != 0);
    if boot.verdict == Verdict::Pass && (!b.splats.is_empty() || child_failed) {
        let mut why = Vec::new();
        if !b.splats.is_empty() {
            why.push(format!("the kernel reports {} problem(s)", b.splats.len()));
        }
        if child_failed {
            why.push("/init's exec-and-exit child failed".to_string());
        }
        boot = boot.msg(why.join("; "));
        boot.verdict = Verdict::Fail;
    }
    boot.text = text.join("\n");
    let mut out = Vec::new();
    if !b.console.is_empty() {
        out.push(format!("console: {}", b.console));
        boot.log = Some(b.console.clone());
    }
    if !b.qemu.is_empty() {
        out.push(format!("$ {}", b.qemu));
    }
    boot.out = out.join("\n");
    boot.secs = b.secs_to_marker;
    v.push(boot);

    match (b.vma_tests, &b.vma_tests_note) {
        (Some(t), _) => {
            let mut c = if t.all_passed() {
                Case::new("guest-vma-tests", Verdict::Pass)
            } else {
                Case::new("guest-vma-tests", Verdict::Fail).msg(format!(
                    "{} of {} failed ({} passed)",
                    t.failed, t.run, t.passed
                ))
            };
            c.out = format!("run {}, passed {}, failed {}", t.run, t.passed, t.failed);
            c.log = boot_log(b);
            v.push(c);
        }
        (None, Some(note)) => v.push(Case::new("guest-vma-tests", Verdict::Skip).msg(note)),
        (None, None) => {}
    }

    if let Some(w) = &b.workload {
        let mut c = if w.clean() {
            Case::new("workload", Verdict::Pass)
        } else if !w.finished {
            Case::new("workload", Verdict::Fail).msg("the workload did not finish")
        } else if w.failed > 0 {
            Case::new("workload", Verdict::Fail)
                .msg(format!("{} of {} operations failed", w.failed, w.total))
        } else if w.exit != Some(0) {
            Case::new("workload", Verdict::Fail).msg(match w.exit {
                Some(e) => format!("the workload exited with status {e}"),
                None => "the workload has no exit status".into(),
            })
        } else {
            Case::new("workload", Verdict::Fail).msg("the workload did no operation")
        };
        c.text = w
            .fails
            .iter()
            .take(QUOTED)
            .chain(&w.vmas)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        let mut out: Vec<String> = w
            .ops
            .iter()
            .map(|o| format!("{}: {} operations, {} failed", o.kind, o.ops, o.failed))
            .collect();
        if let Some(d) = b.vma_lock {
            out.push(format!(
                "vma_lock success +{} abort +{} retry +{} miss +{}",
                d.success, d.abort, d.retry, d.miss
            ));
        }
        out.extend(w.notes.iter().cloned());
        c.out = out.join("\n");
        c.log = boot_log(b);
        v.push(c);
    }

    for t in &b.selftests {
        let stage = format!("selftest/{}", t.name);
        let mut c = match t.verdict() {
            TapVerdict::Pass => Case::new(stage, Verdict::Pass),
            TapVerdict::Fail => Case::new(stage, Verdict::Fail).msg(t.summary()),
            TapVerdict::Skip => Case::new(stage, Verdict::Skip)
                .msg(t.skipped_reason.clone().unwrap_or_else(|| t.summary())),
            TapVerdict::Error => Case::new(stage, Verdict::Error).msg(t.summary()),
        };
        let mut text: Vec<String> = t
            .failed
            .iter()
            .take(QUOTED)
            .map(|f| match t.failed_why.get(f) {
                Some(why) => format!("not ok: {f} ({why})"),
                None => format!("not ok: {f}"),
            })
            .collect();
        if t.failed.len() > QUOTED {
            text.push(format!("... {} more", t.failed.len() - QUOTED));
        }
        if let Some(b) = &t.bail_out {
            text.push(format!("Bail out! {b}"));
        }
        c.text = text.join("\n");
        c.out = t.summary();
        c.log = boot_log(b);
        v.push(c);
    }
    v
}

fn boot_log(b: &BootView) -> Option<String> {
    (!b.console.is_empty()).then(|| b.console.clone())
}

/// The cases of one tree ("base" or "patched") of one selected cell, in
/// stage order: build, then what the boot record holds. The regressions
/// of the run about them are attached by [`suites`].
pub(crate) fn tree_cases(row: &Row, tree: &str) -> Vec<Case> {
    let (build, boot) = if tree == "base" {
        (&row.build.base, &row.boot.base)
    } else {
        (&row.build.patched, &row.boot.patched)
    };
    let mut v = vec![build_case(row, build)];
    if let Some(b) = boot {
        v.extend(boot_cases(b));
    }
    v
}

/// One JUnit test suite.
pub(crate) struct Suite {
    pub name: String,
    pub properties: Vec<(String, String)>,
    /// `(name, case)`; the name is "tree/stage" in a cell's suite.
    pub cases: Vec<(String, Case)>,
}

fn cell_suite(row: &Row) -> Suite {
    let mut cases = Vec::new();
    for tree in ["base", "patched"] {
        for c in tree_cases(row, tree) {
            cases.push((format!("{tree}/{}", c.stage), c));
        }
    }
    Suite {
        name: row.id.clone(),
        properties: vec![
            ("arch".into(), row.arch.clone()),
            ("smp".into(), row.smp.clone()),
            ("mmu".into(), row.mmu.clone()),
        ],
        cases,
    }
}

fn host_suite(r: &Report) -> Suite {
    let mut cases = Vec::new();
    for (tree, t) in r.host_vma_tests.named() {
        let Some(t) = t else { continue };
        let mut c = if t.all_passed() {
            Case::new("vma-tests", Verdict::Pass)
        } else {
            Case::new("vma-tests", Verdict::Fail).msg(format!(
                "{} of {} failed ({} passed)",
                t.failed, t.run, t.passed
            ))
        };
        c.out = format!("log: host/{tree}/vmatest.log");
        c.log = Some(format!("host/{tree}/vmatest.log"));
        cases.push((format!("{tree}/vma-tests"), c));
    }
    Suite {
        name: "host".into(),
        properties: vec![],
        cases,
    }
}

fn checks_suite(r: &Report) -> Suite {
    let mut cases = Vec::new();
    let Some(ch) = &r.checks else {
        return Suite {
            name: "checks".into(),
            properties: vec![],
            cases,
        };
    };
    for p in &ch.patches {
        let name = |what: &str| format!("patch-{}/{what}", p.number);
        let subject = format!("patch {}: {}", p.number, p.subject);
        let mut c = match &p.checkpatch {
            None => Case::new("checkpatch", Verdict::Error)
                .msg(format!("checkpatch did not run: {}", p.notes.join("; "))),
            Some(cp) if cp.errors + cp.warnings + cp.checks > 0 => {
                let mut c = Case::new("checkpatch", Verdict::Fail).msg(format!(
                    "{} error(s), {} warning(s), {} check(s)",
                    cp.errors, cp.warnings, cp.checks
                ));
                c.text = cp.messages.join("\n");
                c
            }
            Some(_) => Case::new("checkpatch", Verdict::Pass),
        };
        c.out = format!(
            "{subject}\n{}",
            p.checkpatch
                .as_ref()
                .map(|cp| format!("$ {}", cp.command))
                .unwrap_or_default()
        );
        cases.push((name("checkpatch"), c));
        for (what, found) in [("sign-off", &p.dco), ("whitespace", &p.whitespace)] {
            let mut c = if found.is_empty() {
                Case::new(what, Verdict::Pass)
            } else {
                let mut c =
                    Case::new(what, Verdict::Fail).msg(format!("{} problem(s)", found.len()));
                c.text = found.join("\n");
                c
            };
            c.out = subject.clone();
            cases.push((name(what), c));
        }
    }
    let mut c = if ch.kernel_doc_new.is_empty() {
        Case::new("kernel-doc", Verdict::Pass)
    } else {
        let mut c = Case::new("kernel-doc", Verdict::Fail).msg(format!(
            "{} new kernel-doc warning(s) in the touched files",
            ch.kernel_doc_new.len()
        ));
        c.text = ch.kernel_doc_new.join("\n");
        c
    };
    c.out = format!("$ {}", ch.kernel_doc_command);
    cases.push(("kernel-doc".into(), c));
    Suite {
        name: "checks".into(),
        properties: vec![],
        cases,
    }
}

/// The case a regression is about: `(suite, case name)`, or None when the
/// run has no such case (it then gets a case of its own).
fn regression_case(reg: &Regression, suites: &[Suite]) -> Option<(usize, usize)> {
    let suite = suites.iter().position(|s| {
        s.name == reg.subject
            || (s.name == "checks"
                && (reg.subject.starts_with("patch ") || reg.subject == "series"))
    })?;
    let cases = &suites[suite].cases;
    let find = |name: &str| cases.iter().position(|(n, _)| n == name);
    let kind = match reg.kind {
        RegressionKind::Other => old_kind(&reg.text),
        k => k,
    };
    let case = match kind {
        RegressionKind::HostVmaTests => find("patched/vma-tests"),
        RegressionKind::Infeasible | RegressionKind::Kconfig => find("patched/build"),
        RegressionKind::Build | RegressionKind::NewWarnings => find("patched/build"),
        RegressionKind::Boot | RegressionKind::Splat | RegressionKind::Exec => find("patched/boot"),
        RegressionKind::GuestVmaTests => find("patched/guest-vma-tests"),
        RegressionKind::Workload | RegressionKind::VmaLock => find("patched/workload"),
        RegressionKind::Selftest => {
            // "selftest NAME: ..." or "selftest NAME / SUBTEST".
            let rest = reg.text.strip_prefix("selftest ")?;
            let name = rest.split([':', ' ']).next()?;
            find(&format!("patched/selftest/{name}"))
        }
        RegressionKind::Check if reg.subject == "series" => find("kernel-doc"),
        RegressionKind::Check => {
            let n = reg.subject.strip_prefix("patch ")?;
            let prefix = format!("patch-{n}/");
            // The failing checks of that patch, else its checkpatch.
            cases
                .iter()
                .position(|(name, c)| name.starts_with(&prefix) && c.verdict != Verdict::Pass)
                .or_else(|| find(&format!("{prefix}checkpatch")))
        }
        RegressionKind::Other => None,
    }?;
    Some((suite, case))
}

/// The kind of a regression an older run.json kept only as text, from the
/// sentences `regress.rs` writes.
fn old_kind(text: &str) -> RegressionKind {
    use RegressionKind as K;
    let starts = |p: &str| text.starts_with(p);
    if starts("tools/testing/vma passes on base") {
        K::HostVmaTests
    } else if starts("configuration became infeasible") {
        K::Infeasible
    } else if starts("Kconfig fails") {
        K::Kconfig
    } else if starts("patched build fails") {
        K::Build
    } else if text.ends_with("new warning(s)") {
        K::NewWarnings
    } else if starts("base boots, patched does not") {
        K::Boot
    } else if starts("guest vma tests") {
        K::GuestVmaTests
    } else if starts("the patched kernel reports") {
        K::Splat
    } else if starts("exec/exit") {
        K::Exec
    } else if starts("selftest ") {
        K::Selftest
    } else if starts("guest workload") {
        K::Workload
    } else if starts("no page fault of the patched guest") {
        K::VmaLock
    } else {
        K::Other
    }
}

/// The suites of the report: the selected cells, host, checks, with the
/// run's regressions attached to their cases.
pub(crate) fn suites(r: &Report) -> Vec<Suite> {
    let mut suites: Vec<Suite> = r
        .cells
        .iter()
        .filter(|c| c.selected)
        .map(cell_suite)
        .collect();
    suites.push(host_suite(r));
    suites.push(checks_suite(r));
    for reg in r.regressions() {
        match regression_case(reg, &suites) {
            Some((s, c)) => suites[s].cases[c].1.regressions.push(reg.clone()),
            None => {
                // A case of its own, in the subject's suite when there is
                // one, else in a suite "regressions".
                let s = match suites.iter().position(|s| s.name == reg.subject) {
                    Some(s) => s,
                    None => match suites.iter().position(|s| s.name == "regressions") {
                        Some(s) => s,
                        None => {
                            suites.push(Suite {
                                name: "regressions".into(),
                                properties: vec![],
                                cases: vec![],
                            });
                            suites.len() - 1
                        }
                    },
                };
                let kind = serde_json::to_value(reg.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "other".into());
                let mut c = Case::new(format!("regression/{kind}"), Verdict::Fail);
                c.regressions.push(reg.clone());
                let n = suites[s]
                    .cases
                    .iter()
                    .filter(|(n, _)| n.starts_with(&format!("regression/{kind}")))
                    .count();
                let name = match n {
                    0 => format!("regression/{kind}"),
                    n => format!("regression/{kind}/{}", n + 1),
                };
                suites[s].cases.push((name, c));
            }
        }
    }
    // A regression is a failure whatever the stage said.
    for s in &mut suites {
        for (_, c) in &mut s.cases {
            if c.regressions.is_empty() {
                continue;
            }
            let regs: Vec<String> = c
                .regressions
                .iter()
                .map(|r| format!("REGRESSION: {}", r.text))
                .collect();
            c.message = if c.verdict == Verdict::Fail && !c.message.is_empty() {
                format!("{}; {}", regs.join("; "), c.message)
            } else {
                regs.join("; ")
            };
            c.text = if c.text.is_empty() {
                regs.join("\n")
            } else {
                format!("{}\n{}", regs.join("\n"), c.text)
            };
            c.verdict = Verdict::Fail;
        }
    }
    suites
}

/// `s` with what XML 1.0 cannot hold replaced (control characters other
/// than tab, newline and carriage return), and `&`, `<`, `>` escaped; in
/// an attribute also quotes and the whitespace a parser would normalize.
pub fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                // Not representable in XML 1.0, even as a reference.
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn attr(name: &str, value: &str) -> String {
    format!(" {name}=\"{}\"", escape(value, true))
}

fn secs(t: f64) -> String {
    format!("{:.3}", t.max(0.0))
}

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    time: f64,
}

impl Counts {
    fn of<'a>(cases: impl Iterator<Item = &'a Case>) -> Counts {
        let mut n = Counts::default();
        for c in cases {
            n.tests += 1;
            match c.verdict {
                Verdict::Pass => {}
                Verdict::Fail => n.failures += 1,
                Verdict::Error => n.errors += 1,
                Verdict::Skip | Verdict::Miss => n.skipped += 1,
            }
            n.time += c.secs.unwrap_or(0.0);
        }
        n
    }

    fn attrs(&self) -> String {
        format!(
            "{}{}{}{}{}",
            attr("tests", &self.tests.to_string()),
            attr("failures", &self.failures.to_string()),
            attr("errors", &self.errors.to_string()),
            attr("skipped", &self.skipped.to_string()),
            attr("time", &secs(self.time)),
        )
    }
}

/// The JUnit XML of the report.
pub fn junit(r: &Report) -> String {
    let suites = suites(r);
    let all = Counts::of(suites.iter().flat_map(|s| s.cases.iter().map(|(_, c)| c)));
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites{}{}{}>\n",
        attr("name", &format!("vmamatrix {}", r.run.run_id)),
        all.attrs(),
        attr("timestamp", &r.run.started),
    ));
    for s in &suites {
        let n = Counts::of(s.cases.iter().map(|(_, c)| c));
        x.push_str(&format!(
            "    <testsuite{}{}{}>\n",
            attr("name", &s.name),
            n.attrs(),
            attr("timestamp", &r.run.started),
        ));
        if !s.properties.is_empty() {
            x.push_str("        <properties>\n");
            for (k, v) in &s.properties {
                x.push_str(&format!(
                    "            <property{}{}/>\n",
                    attr("name", k),
                    attr("value", v)
                ));
            }
            x.push_str("        </properties>\n");
        }
        for (name, c) in &s.cases {
            x.push_str(&format!(
                "        <testcase{}{}",
                attr("name", name),
                attr("classname", &s.name)
            ));
            if let Some(t) = c.secs {
                x.push_str(&attr("time", &secs(t)));
            }
            x.push('>');
            let body = |tag: &str, ty: &str| {
                let head = format!(
                    "<{tag}{}{}",
                    attr("message", &c.message),
                    if ty.is_empty() {
                        String::new()
                    } else {
                        attr("type", ty)
                    }
                );
                if c.text.is_empty() {
                    format!("{head}/>")
                } else {
                    format!("{head}>{}</{tag}>", escape(&c.text, false))
                }
            };
            match c.verdict {
                Verdict::Pass => {}
                Verdict::Fail => x.push_str(&body(
                    "failure",
                    if c.regressions.is_empty() {
                        "failure"
                    } else {
                        "regression"
                    },
                )),
                Verdict::Error => x.push_str(&body("error", "error")),
                Verdict::Skip | Verdict::Miss => {
                    x.push_str(&format!("<skipped{}/>", attr("message", &c.message)))
                }
            }
            let mut out = c.out.clone();
            if c.verdict == Verdict::Pass && !c.message.is_empty() {
                out = format!("{}\n{out}", c.message);
            }
            if !out.trim().is_empty() {
                x.push_str(&format!(
                    "<system-out>{}</system-out>",
                    escape(out.trim(), false)
                ));
            }
            x.push_str("</testcase>\n");
        }
        x.push_str("    </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// A report in memory for the renderers' unit tests: one cell booted on
/// both trees whose patched boot has a kernel warning (a regression kept
/// as text by an older run.json), one cell Kconfig refuses.
#[cfg(test)]
pub(crate) fn fixture() -> Report {
    use super::load::{Summary, TestCounts, Trees};
    use crate::model::{CellEntry, RunSummary};
    let view = |secs| BuildView {
        status: BuildStatus::Ok,
        exit_status: Some(0),
        secs,
        cached: false,
        warnings: 0,
        new_warnings: vec![],
        errors: vec![],
        tail: vec![],
        log: "x86-up-mmu/base/build.log".into(),
        commands: vec![],
        ccache: None,
    };
    let boot = |splat: bool| BootView {
        outcome: BootOutcome::Booted,
        secs_to_marker: Some(3.0),
        cached: false,
        reason: None,
        panic: None,
        console: String::new(),
        vma_tests: Some(TestCounts {
            run: 2,
            passed: 2,
            failed: 0,
        }),
        vma_tests_note: None,
        exec_child: Some(0),
        splats: if splat {
            vec![crate::boot::splat::Splat {
                kind: crate::boot::splat::SplatKind::Warning,
                title: "WARNING: mm/vma.c:1 at f+0x1/0x2".into(),
                location: None,
                function: Some("f".into()),
                frames: vec!["f".into(), "g".into()],
                line: 9,
            }]
        } else {
            vec![]
        },
        workload: None,
        vma_lock: None,
        selftests: vec![],
        qemu: String::new(),
    };
    let row = |id: &str, feasible: bool| Row {
        id: id.into(),
        arch: "x86".into(),
        smp: "up".into(),
        mmu: id.rsplit('-').next().unwrap().into(),
        selected: true,
        feasible: Some(feasible),
        reason: (!feasible).then(|| "x86 always has an MMU".into()),
        dropped: vec![],
        tracked: Default::default(),
        build: if feasible {
            Trees {
                base: Some(view(10.0)),
                patched: Some(view(12.5)),
            }
        } else {
            Trees::default()
        },
        boot: if feasible {
            Trees {
                base: Some(boot(false)),
                patched: Some(boot(true)),
            }
        } else {
            Trees::default()
        },
        layouts: Trees::default(),
        coverage: None,
        sections: vec![],
        structs: vec![],
        regression: feasible,
    };
    let cells = vec![row("x86-up-mmu", true), row("x86-up-nommu", false)];
    let run = RunSummary {
        schema: 1,
        run_id: "r1".into(),
        vmamatrix: "0".into(),
        started: "2026-01-01T00:00:00Z".into(),
        finished: Some("2026-01-01T00:10:00Z".into()),
        kernel: "/k/linux".into(),
        base: "a".repeat(40),
        patched: "b".repeat(40),
        toolchain: vec!["LLVM=-19".into()],
        matrix: None,
        series: crate::series::SeriesInfo {
            path: "p".into(),
            hash: "h".into(),
            cover_subject: None,
            cover_subject_line: None,
            cover_message_id: None,
            base_commit: None,
            patches: vec![],
        },
        structs: vec![],
        cells: cells
            .iter()
            .map(|c| CellEntry {
                id: c.id.clone(),
                arch: c.arch.clone(),
                smp: c.smp.clone(),
                mmu: c.mmu.clone(),
                selected: true,
            })
            .collect(),
        regressions: serde_json::from_str(
            r#"["x86-up-mmu: the patched kernel reports warning: WARNING: mm/vma.c:1 (in f)",
                "series: something new & <odd>"]"#,
        )
        .unwrap(),
        interrupted: false,
        trees: vec!["base".into(), "patched".into()],
        first_bad: Default::default(),
        shard: None,
        shard_weights: None,
        dealt: vec![],
        base_source: String::new(),
        configs: vec![],
    };
    Report {
        timing: vec![],
        fixed: vec![],
        failing_on_both: vec![],
        schema: 2,
        run,
        complete: true,
        summary: Summary::default(),
        cells,
        host_vma_tests: Trees::default(),
        not_compiled_anywhere: vec![],
        per_patch: vec![],
        checks: None,
        run_dir: "/nonexistent/r1".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_xml_cannot_hold() {
        assert_eq!(
            escape("a<b>&\"c\"'\n\t\u{1}", true),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;&#10;&#9;\\x01"
        );
        assert_eq!(escape("a<b>&\"c\"\n\t", false), "a&lt;b&gt;&amp;\"c\"\n\t");
    }

    #[test]
    fn cases_counts_and_regressions() {
        let r = fixture();
        let x = junit(&r);
        // Two cells, host (empty), checks (no checks ran), and a suite for
        // the regression that names no case.
        assert_eq!(x.matches("<testsuite ").count(), 5, "{x}");
        // x86-up-mmu: 2 x (build, boot, vma tests); nommu: 2 builds;
        // "series": one case of its own.
        assert!(x.contains(
            "<testsuites name=\"vmamatrix r1\" tests=\"9\" failures=\"2\" errors=\"0\" skipped=\"2\""
        ), "{x}");
        assert!(
            x.contains("<testcase name=\"base/build\" classname=\"x86-up-mmu\" time=\"10.000\">")
        );
        // The old text-only regression is found a case: the patched boot.
        assert!(x.contains(
            "<testcase name=\"patched/boot\" classname=\"x86-up-mmu\" time=\"3.000\"><failure message=\"REGRESSION: the patched kernel reports warning: WARNING: mm/vma.c:1 (in f); the kernel reports 1 problem(s)\" type=\"regression\">"
        ), "{x}");
        assert!(x.contains(
            "warning: WARNING: mm/vma.c:1 at f+0x1/0x2 (console line 9)\n    f\n    g</failure>"
        ));
        assert!(x.contains(
            "<testcase name=\"regression/other\" classname=\"regressions\"><failure message=\"REGRESSION: something new &amp; &lt;odd&gt;\""
        ), "{x}");
        assert!(x.contains(
            "<testcase name=\"patched/build\" classname=\"x86-up-nommu\"><skipped message=\"Kconfig refuses this cell: x86 always has an MMU\"/>"
        ));
        // The base boot's warning-free run passes.
        assert!(
            x.contains(
                "<testcase name=\"base/boot\" classname=\"x86-up-mmu\" time=\"3.000\"></testcase>"
            ),
            "{x}"
        );
    }
}
