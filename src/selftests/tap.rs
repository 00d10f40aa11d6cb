//! Reading kselftest output (TAP 13 as tools/testing/selftests/kselftest.h
//! and kselftest_harness.h print it) from a guest console, and comparing
//! base with patched.
//!
//! The guest's /init prints, for each test binary it runs:
//!
//! ```text
//! VMAMATRIX-SELFTEST-START <name>
//! ...the test's stdout and stderr...
//! VMAMATRIX-SELFTEST-END <name> <status>
//! ```
//!
//! `<status>` is the exit code (`0`..`255`) when the test exited,
//! `signal:<N>` when a signal killed it, `timeout:<S>` when the runner
//! killed it after its limit of S seconds. A START with no END (the guest
//! panicked, hung or was killed) is recorded as incomplete. Markers are
//! found anywhere in a line: kernel messages may share the console.
//!
//! Inside, the lines that count (each may end in `\r`):
//!
//! ```text
//! 1..N                          plan; `1..0 # SKIP reason`: nothing to run
//! ok N desc                     pass (`ok N desc #  msg` too)
//! ok N desc # SKIP reason       skip (also `ok N # SKIP desc`)
//! ok N # XFAIL desc             expected failure
//! ok N # XPASS desc             unexpected pass
//! not ok N desc                 fail
//! not ok N # error desc         error
//! Bail out! reason              the (sub)process gave up
//! # Totals: pass:N fail:N xfail:N xpass:N skip:N error:N
//! ```
//!
//! A harness test that bails out inside its forked child prints `Bail out!`
//! and the child's own (zero) totals before the parent's `not ok`, so only
//! a Totals line after the last result, counting at least as many results
//! as there are result lines, is the binary's; the result lines are counted
//! otherwise. Exit codes follow kselftest.h:
//! 0 pass, 1 fail, 2 xfail, 3 xpass, 4 skip.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Printed by the guest before a test: `VMAMATRIX-SELFTEST-START <name>`.
pub const START_MARKER: &str = "VMAMATRIX-SELFTEST-START";
/// Printed by the guest after a test:
/// `VMAMATRIX-SELFTEST-END <name> <exit code | signal:N | timeout:S>`.
pub const END_MARKER: &str = "VMAMATRIX-SELFTEST-END";

/// kselftest exit codes.
pub const KSFT_PASS: i32 = 0;
pub const KSFT_FAIL: i32 = 1;
pub const KSFT_XFAIL: i32 = 2;
pub const KSFT_XPASS: i32 = 3;
pub const KSFT_SKIP: i32 = 4;

/// The result of one TAP line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TapResult {
    Pass,
    Fail,
    Skip,
    Xfail,
    Xpass,
    Error,
}

/// One `ok`/`not ok` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestResult {
    pub number: u32,
    /// The description: the subtest's name.
    pub name: String,
    pub result: TapResult,
    /// The text after a SKIP/XFAIL/XPASS/error directive or `#  `.
    pub reason: Option<String>,
}

/// The counts of kselftest's `# Totals:` line.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Totals {
    pub pass: u32,
    pub fail: u32,
    pub xfail: u32,
    pub xpass: u32,
    pub skip: u32,
    pub error: u32,
}

impl Totals {
    /// All results counted.
    pub fn sum(&self) -> u32 {
        self.pass + self.fail + self.xfail + self.xpass + self.skip + self.error
    }
}

/// How a test binary ended, from its end marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, schemars::JsonSchema)]
pub enum EndStatus {
    Exited(i32),
    Signalled(i32),
    TimedOut(u32),
    /// No end marker: the guest stopped during the test.
    Missing,
}

impl EndStatus {
    /// Parse the `<status>` word of an end marker.
    pub fn parse(word: &str) -> Option<EndStatus> {
        if let Some(n) = word.strip_prefix("signal:") {
            return n.parse().ok().map(EndStatus::Signalled);
        }
        if let Some(s) = word.strip_prefix("timeout:") {
            return s.parse().ok().map(EndStatus::TimedOut);
        }
        if word == "timeout" {
            return Some(EndStatus::TimedOut(0));
        }
        word.parse().ok().map(EndStatus::Exited)
    }
}

/// One test binary's run in a guest, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SelftestRun {
    pub name: String,
    /// Exit code; None when it did not exit (signal, timeout, no end marker).
    pub exit: Option<i32>,
    pub pass: u32,
    pub fail: u32,
    pub skip: u32,
    pub xfail: u32,
    pub xpass: u32,
    pub error: u32,
    /// The plan (`1..N`), when printed.
    #[serde(default)]
    pub planned: Option<u32>,
    /// Subtests that failed (`not ok`, including `# error`).
    pub failed: Vec<String>,
    /// What the test printed about a failed subtest: its first `# ` line
    /// after the result before it (kselftest's ksft_print_msg, the
    /// harness's `Expected ...`), harness status lines aside. By subtest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_why: BTreeMap<String, String>,
    /// Subtests that passed (`ok` without a directive, XFAIL and XPASS
    /// too): what a later failure is compared against.
    #[serde(default)]
    pub passed: Vec<String>,
    /// Subtests skipped (`ok ... # SKIP`).
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Why the whole binary skipped (`1..0 # SKIP`, exit 4), when it did.
    pub skipped_reason: Option<String>,
    /// The first `Bail out!` message, if any.
    #[serde(default)]
    pub bail_out: Option<String>,
    /// Why the run did not finish normally: signal, timeout, no end marker.
    #[serde(default)]
    pub incomplete: Option<String>,
    /// The signal that killed the test, when one did (not a timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// A test binary's overall result. Skip is not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
    /// It did not finish: killed, timed out, or the guest stopped.
    Error,
}

impl Verdict {
    /// The verdict as reports print it (failures in capitals).
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
            Verdict::Error => "ERROR",
        }
    }
}

impl SelftestRun {
    /// The test crashed: a signal of its own doing (SIGSEGV, SIGBUS,
    /// SIGABRT, ...) killed it. Not a timeout, not a guest that stopped,
    /// and not SIGKILL, which the OOM killer sends too.
    pub fn crashed(&self) -> bool {
        const SIGKILL: i32 = 9;
        self.signal.is_some_and(|s| s != SIGKILL)
    }

    /// The failed subtests, each with what the test said about it, for a
    /// report line: `not ok: name (why); name2`.
    pub fn failures(&self) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        let each: Vec<String> = self
            .failed
            .iter()
            .take(3)
            .map(|f| match self.failed_why.get(f) {
                Some(why) => format!("{f} ({why})"),
                None => f.clone(),
            })
            .collect();
        let more = self.failed.len().saturating_sub(3);
        Some(format!(
            "not ok: {}{}",
            each.join("; "),
            if more > 0 {
                format!("; {more} more")
            } else {
                String::new()
            }
        ))
    }

    /// The overall result, as kselftest's runner.sh sees it (exit 0 pass,
    /// 4 skip, anything else fail), except that a run whose subtests were
    /// all skipped is a skip, and failed subtests fail it whatever the exit.
    pub fn verdict(&self) -> Verdict {
        if self.incomplete.is_some() || self.exit.is_none() {
            return Verdict::Error;
        }
        if self.fail > 0 || self.error > 0 {
            return Verdict::Fail;
        }
        match self.exit {
            Some(KSFT_SKIP) => Verdict::Skip,
            Some(KSFT_PASS) => {
                if self.pass + self.xfail + self.xpass == 0 && self.skip > 0 {
                    Verdict::Skip
                } else {
                    Verdict::Pass
                }
            }
            _ => Verdict::Fail,
        }
    }

    /// One line for a report: verdict and counts.
    pub fn summary(&self) -> String {
        let v = self.verdict().word();
        let exit = match (self.exit, &self.incomplete) {
            (_, Some(why)) => why.clone(),
            (Some(c), None) => format!("exit {c}"),
            (None, None) => "no exit status".into(),
        };
        // A test that prints no TAP (proc-empty-vm) is judged by its exit
        // status alone: zero counts would read as "nothing passed".
        if self.planned.is_none()
            && self.pass + self.fail + self.xfail + self.xpass == 0
            && self.skip + self.error == 0
        {
            let how = match (&self.bail_out, &self.incomplete) {
                (Some(why), _) => format!("no TAP results: {why}"),
                (None, Some(_)) => "no TAP results".to_string(),
                (None, None) => "no TAP results: its exit status decides".to_string(),
            };
            return format!("{}: {v} ({exit}; {how})", self.name);
        }
        format!(
            "{}: {v} ({exit}; pass:{} fail:{} xfail:{} xpass:{} skip:{} error:{})",
            self.name, self.pass, self.fail, self.xfail, self.xpass, self.skip, self.error
        )
    }
}

/// Parse one `ok`/`not ok` line.
fn parse_result_line(line: &str) -> Option<TestResult> {
    let (ok, rest) = if let Some(r) = line.strip_prefix("not ok ") {
        (false, r)
    } else if let Some(r) = line.strip_prefix("ok ") {
        (true, r)
    } else {
        return None;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let number = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    // After the number: nothing, " desc", " # DIRECTIVE ...", " - desc".
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    let (desc, directive) = if let Some(d) = rest.strip_prefix('#') {
        ("", Some(d))
    } else if let Some(i) = rest.find(" #") {
        (&rest[..i], Some(&rest[i + 2..]))
    } else {
        (rest, None)
    };
    let desc = desc.trim_end();
    let mut result = if ok { TapResult::Pass } else { TapResult::Fail };
    let mut reason = None;
    let mut name = desc.to_string();
    if let Some(d) = directive {
        let d = d.trim_start();
        let word: String = d
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect::<String>()
            .to_ascii_uppercase();
        let after = d[word.len()..].trim().to_string();
        let kind = match (ok, word.as_str()) {
            (_, "SKIP") => Some(TapResult::Skip),
            (true, "XFAIL") | (false, "TODO") => Some(TapResult::Xfail),
            (true, "XPASS") | (true, "TODO") => Some(TapResult::Xpass),
            (false, "ERROR") => Some(TapResult::Error),
            _ => None,
        };
        match kind {
            Some(k) => {
                result = k;
                if name.is_empty() {
                    // `ok N # SKIP desc`: the text names the subtest.
                    name = after.clone();
                }
                if !after.is_empty() {
                    reason = Some(after);
                }
            }
            None => {
                // `ok N desc #  msg`: a plain result with a message.
                let msg = d.trim().to_string();
                if name.is_empty() {
                    name = msg.clone();
                }
                if !msg.is_empty() {
                    reason = Some(msg);
                }
            }
        }
    }
    Some(TestResult {
        number,
        name,
        result,
        reason,
    })
}

/// The `ok`/`not ok` results of one test binary's output, in order.
/// Nested (indented) TAP and diagnostics are ignored.
pub fn parse_tap(text: &str) -> Vec<TestResult> {
    text.lines()
        .filter_map(|l| parse_result_line(l.trim_end_matches('\r')))
        .collect()
}

/// For each failed subtest, what the test said about it: a `Bail out!`
/// between the result line before it and its `not ok`, else the first
/// diagnostic (`# ` line) there (the harness's `Expected ...` comes before
/// its "Test terminated by assertion"), else the result line's own text
/// after `#`. Left out: the harness's status lines (RUN, OK, FAIL, SKIP,
/// PASSED, FAILED, Totals, Planned, "Starting N tests") and what comes
/// before the plan or `TAP version` (a test's preamble). A message a test
/// prints after its own `not ok` goes to the next failed subtest, if that
/// one prints none: a limit of reading the order of lines.
fn failure_messages(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut first: Option<String> = None;
    let mut bail: Option<String> = None;
    let clip = |c: &str| -> String { c.chars().take(200).collect() };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(r) = parse_result_line(line) {
            if matches!(r.result, TapResult::Fail | TapResult::Error) {
                let why = bail
                    .take()
                    .or(first.take())
                    .or(r.reason.clone().filter(|x| !x.trim().is_empty()));
                if let Some(m) = why {
                    out.entry(r.name).or_insert(m);
                }
            }
            first = None;
            bail = None;
        } else if line.starts_with("1..") || line.starts_with("TAP version") {
            first = None;
            bail = None;
        } else if let Some(m) = line.strip_prefix("Bail out!") {
            bail.get_or_insert_with(|| clip(&format!("Bail out! {}", m.trim())));
        } else if let Some(c) = line.strip_prefix('#') {
            let c = c.trim();
            let status = [
                "RUN ",
                "OK ",
                "FAIL ",
                "SKIP",
                "PASSED",
                "FAILED",
                "Totals:",
                "Planned",
                "Starting ",
                "[INFO]",
            ]
            .iter()
            .any(|k| c.starts_with(k))
                || c == "OK"
                || c.is_empty();
            if !status && first.is_none() {
                first = Some(clip(c));
            }
        }
    }
    out
}

/// Parse a `# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N` line.
fn parse_totals_line(line: &str) -> Option<Totals> {
    let rest = line.strip_prefix("# Totals:")?;
    let mut t = Totals::default();
    let mut seen = 0;
    for field in rest.split_whitespace() {
        let (k, v) = field.split_once(':')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "pass" => t.pass = v,
            "fail" => t.fail = v,
            "xfail" => t.xfail = v,
            "xpass" => t.xpass = v,
            "skip" => t.skip = v,
            "error" => t.error = v,
            _ => continue,
        }
        seen += 1;
    }
    (seen > 0).then_some(t)
}

/// The binary's own `# Totals:` line: the last one, if no result line
/// follows it (a harness child's totals are followed by the parent's
/// result for that test).
pub fn totals(text: &str) -> Option<Totals> {
    let mut last = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(t) = parse_totals_line(line) {
            last = Some(t);
        } else if parse_result_line(line).is_some() {
            last = None;
        }
    }
    last
}

/// The record of one binary named `name` from its output `text` and how it
/// ended.
pub fn summarize(name: &str, text: &str, end: EndStatus) -> SelftestRun {
    let results = parse_tap(text);
    let mut run = SelftestRun {
        name: name.to_string(),
        ..Default::default()
    };
    let mut plan_skip = None;
    let mut comment_skip = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(p) = line.strip_prefix("1..") {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            run.planned = digits.parse().ok();
            if let Some((_, why)) = p.split_once("# SKIP") {
                plan_skip = Some(why.trim().to_string());
            }
        } else if let Some(m) = line.strip_prefix("Bail out!") {
            if run.bail_out.is_none() {
                run.bail_out = Some(m.trim().to_string());
            }
        } else if let Some(why) = line.strip_prefix("# SKIP") {
            comment_skip = Some(why.trim().to_string());
        }
    }
    run.failed_why = failure_messages(text);
    let mut counted = Totals::default();
    for r in &results {
        match r.result {
            TapResult::Pass => {
                counted.pass += 1;
                run.passed.push(r.name.clone());
            }
            TapResult::Xfail => {
                counted.xfail += 1;
                run.passed.push(r.name.clone());
            }
            TapResult::Xpass => {
                counted.xpass += 1;
                run.passed.push(r.name.clone());
            }
            TapResult::Skip => {
                counted.skip += 1;
                run.skipped.push(r.name.clone());
            }
            TapResult::Fail => {
                counted.fail += 1;
                run.failed.push(r.name.clone());
            }
            TapResult::Error => {
                counted.error += 1;
                run.failed.push(r.name.clone());
            }
        }
    }
    // A harness child that bails out prints its own totals (zeros) before
    // the parent's result; output cut off right after one must not read as
    // the binary's totals: those count at least every result line.
    let t = totals(text)
        .filter(|t| t.sum() >= counted.sum())
        .unwrap_or(counted);
    run.pass = t.pass;
    run.fail = t.fail;
    run.xfail = t.xfail;
    run.xpass = t.xpass;
    run.skip = t.skip;
    run.error = t.error;
    match end {
        EndStatus::Exited(c) => run.exit = Some(c),
        EndStatus::Signalled(s) => {
            run.incomplete = Some(format!("killed by signal {s}"));
            run.signal = Some(s);
        }
        EndStatus::TimedOut(0) => run.incomplete = Some("timed out".into()),
        EndStatus::TimedOut(s) => run.incomplete = Some(format!("timed out after {s} s")),
        EndStatus::Missing => {
            run.incomplete = Some("no end marker: the guest stopped during the test".into())
        }
    }
    let only_skips = run.pass + run.fail + run.xfail + run.xpass + run.error == 0;
    if run.exit == Some(KSFT_SKIP) || (only_skips && (run.skip > 0 || plan_skip.is_some())) {
        run.skipped_reason = plan_skip
            .or_else(|| {
                results
                    .iter()
                    .rev()
                    .find(|r| r.result == TapResult::Skip)
                    .and_then(|r| r.reason.clone())
            })
            .or(comment_skip)
            .or_else(|| (run.exit == Some(KSFT_SKIP)).then(|| "exit status 4 (skip)".into()));
    }
    run
}

/// Every test between markers in a guest console, in order.
pub fn parse_console(text: &str) -> Vec<SelftestRun> {
    let mut runs = Vec::new();
    // (name, output so far)
    let mut cur: Option<(String, String)> = None;
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        if let Some(i) = line.find(START_MARKER) {
            if let Some((name, out)) = cur.take() {
                runs.push(summarize(&name, &out, EndStatus::Missing));
            }
            let name = line[i + START_MARKER.len()..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            cur = Some((name, String::new()));
            continue;
        }
        if let Some(i) = line.find(END_MARKER) {
            let mut words = line[i + END_MARKER.len()..].split_whitespace();
            let name = words.next().unwrap_or("").to_string();
            let end = words
                .next()
                .and_then(EndStatus::parse)
                .unwrap_or(EndStatus::Missing);
            let out = match cur.take() {
                Some((n, mut out)) if n == name => {
                    // Output without a final newline runs into the marker.
                    out.push_str(&line[..i]);
                    out
                }
                Some((n, out)) => {
                    runs.push(summarize(&n, &out, EndStatus::Missing));
                    String::new()
                }
                None => String::new(),
            };
            runs.push(summarize(&name, &out, end));
            continue;
        }
        if let Some((_, out)) = cur.as_mut() {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some((name, out)) = cur {
        runs.push(summarize(&name, &out, EndStatus::Missing));
    }
    runs
}

/// Each test, and each subtest, that passes on base and does not on
/// patched: `"<test>: <what happened on patched>"` for a test,
/// `"<test> / <subtest>"` for a subtest that passed on base and failed on
/// patched. A test that passed on base and is skipped, or did not run, on
/// patched counts too (skip is not pass).
pub fn regressions(base: &[SelftestRun], patched: &[SelftestRun]) -> Vec<String> {
    let mut out = Vec::new();
    for b in base {
        let Some(p) = patched.iter().find(|p| p.name == b.name) else {
            if b.verdict() == Verdict::Pass {
                out.push(format!("{}: did not run on patched", b.name));
            }
            continue;
        };
        if b.verdict() == Verdict::Pass {
            match p.verdict() {
                Verdict::Pass => {}
                Verdict::Fail => out.push(format!(
                    "{}: fails on patched ({})",
                    b.name,
                    match p.exit {
                        Some(c) => format!("exit {c}, {} failed", p.fail + p.error),
                        None => "no exit status".into(),
                    }
                )),
                Verdict::Error => out.push(format!(
                    "{}: {} on patched",
                    b.name,
                    p.incomplete.as_deref().unwrap_or("no exit status")
                )),
                Verdict::Skip => out.push(format!(
                    "{}: skipped on patched ({})",
                    b.name,
                    p.skipped_reason.as_deref().unwrap_or("no reason given")
                )),
            }
        }
        let passed: BTreeSet<&str> = b.passed.iter().map(String::as_str).collect();
        let mut seen = BTreeSet::new();
        for f in &p.failed {
            if passed.contains(f.as_str()) && seen.insert(f.as_str()) {
                out.push(match p.failed_why.get(f) {
                    Some(why) => format!("{} / {f} ({why})", b.name),
                    None => format!("{} / {f}", b.name),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/selftests/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Why a subtest failed, as the test said it: the real s390-smp-mmu
    /// base run of mremap_test (v4 full run, shard 3), whose preamble
    /// mapping hit one already there, and the harness's `Expected` line.
    #[test]
    fn a_failed_subtest_keeps_what_the_test_said() {
        let text = fixture("mremap_test-s390-base.console");
        let r = summarize("mremap_test", &text, EndStatus::Exited(1));
        let name = "5MB mremap - Source 1MB-aligned, Dest 1MB-aligned with 40MB Preamble";
        assert_eq!(r.failed, [name]);
        assert_eq!(
            r.failed_why.get(name).map(String::as_str),
            Some("Failed to map dest preamble region: File exists")
        );
        assert_eq!(
            r.failures().unwrap(),
            format!("not ok: {name} (Failed to map dest preamble region: File exists)")
        );
        let m = summarize("merge", &fixture("merge.txt"), EndStatus::Exited(1));
        let why = &m.failed_why["merge.anon_and_page_offset_mismatch_memfd"];
        assert!(
            why.starts_with("merge.c:1362:anon_and_page_offset_mismatch_memfd:Expected"),
            "{why}"
        );
        // A harness child that bails out: its reason, not "basic: Test failed".
        let g = summarize(
            "guard-regions",
            &fixture("guard-regions-bail.txt"),
            EndStatus::Exited(1),
        );
        assert_eq!(
            g.failed_why["guard_regions.file.basic"],
            "Bail out! mkstemp: No such file or directory (2)"
        );
        // The first subtest: the preamble (`# Starting N tests`) is not its reason.
        let h = "TAP version 13\n1..2\n# Starting 2 tests from 1 test cases.\n\
                 #  RUN           t.a ...\n# t.c:10:a:Expected 1 (1) == 0 (0)\n\
                 # a: Test terminated by assertion\n#          FAIL  t.a\nnot ok 1 t.a\n\
                 #  RUN           t.b ...\n#            OK  t.b\nok 2 t.b\n";
        let h = summarize("t", h, EndStatus::Exited(1));
        assert_eq!(h.failed_why["t.a"], "t.c:10:a:Expected 1 (1) == 0 (0)");
        let ok = summarize(
            "mremap_dontunmap",
            &fixture("mremap_dontunmap.txt"),
            EndStatus::Exited(0),
        );
        assert!(ok.failed_why.is_empty() && ok.failures().is_none());
    }

    /// Print what a console log holds:
    /// VMAMATRIX_CONSOLE=console.log cargo test --lib
    /// selftests::tap::tests::show_console -- --ignored --nocapture
    #[test]
    #[ignore]
    fn show_console() {
        let Ok(path) = std::env::var("VMAMATRIX_CONSOLE") else {
            return;
        };
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        for r in parse_console(&text) {
            println!("{} failed: {:?}", r.summary(), r.failed);
        }
    }

    #[test]
    fn result_lines() {
        let r = parse_result_line("ok 1 proc_maps_race.maps.test_maps_tearing_from_split").unwrap();
        assert_eq!(
            (r.number, r.name.as_str(), r.result, r.reason),
            (
                1,
                "proc_maps_race.maps.test_maps_tearing_from_split",
                TapResult::Pass,
                None
            )
        );
        let r = parse_result_line(
            "ok 26 # SKIP wp-fork-pin on anon (Possibly CONFIG_GUP_TEST missing or unprivileged)",
        )
        .unwrap();
        assert_eq!(r.result, TapResult::Skip);
        assert!(r.name.starts_with("wp-fork-pin on anon"));
        let r = parse_result_line(
            "ok 19 guard_regions.anon.madvise_sequential # SKIP MADV_SEQUENTIAL meaningful only for file-backed",
        )
        .unwrap();
        assert_eq!(r.name, "guard_regions.anon.madvise_sequential");
        assert_eq!(r.result, TapResult::Skip);
        assert_eq!(
            r.reason.as_deref(),
            Some("MADV_SEQUENTIAL meaningful only for file-backed")
        );
        let r =
            parse_result_line("ok 1 # XFAIL mremap - Source and Destination Regions Overlapping")
                .unwrap();
        assert_eq!(r.result, TapResult::Xfail);
        assert_eq!(
            r.name,
            "mremap - Source and Destination Regions Overlapping"
        );
        let r = parse_result_line("not ok 3 # error cannot open /proc/self/maps\r").unwrap();
        assert_eq!(r.result, TapResult::Error);
        let r = parse_result_line("ok 7 test_seal_mmap #  PKEY not supported").unwrap();
        assert_eq!(
            (r.result, r.name.as_str()),
            (TapResult::Pass, "test_seal_mmap")
        );
        let r = parse_result_line("not ok 2 guard_regions.file.basic").unwrap();
        assert_eq!(r.result, TapResult::Fail);
        assert_eq!(parse_result_line("ok"), None);
        assert_eq!(parse_result_line("okay 1 x"), None);
        assert_eq!(parse_result_line("ok 12abc"), None);
        assert_eq!(parse_result_line("# ok 1 nested"), None);
    }

    #[test]
    fn end_status_words() {
        assert_eq!(EndStatus::parse("0"), Some(EndStatus::Exited(0)));
        assert_eq!(EndStatus::parse("4"), Some(EndStatus::Exited(4)));
        assert_eq!(
            EndStatus::parse("signal:11"),
            Some(EndStatus::Signalled(11))
        );
        assert_eq!(
            EndStatus::parse("timeout:120"),
            Some(EndStatus::TimedOut(120))
        );
        assert_eq!(EndStatus::parse("what"), None);
    }

    // Real output, from the x86-64 static builds run on a Linux 6.18 host
    // (see tests/fixtures/selftests/README.md).

    #[test]
    fn proc_maps_race_passes() {
        let text = fixture("proc-maps-race.txt");
        let r = summarize("proc-maps-race", &text, EndStatus::Exited(0));
        assert_eq!((r.pass, r.fail, r.skip, r.planned), (6, 0, 0, Some(6)));
        assert_eq!(r.passed.len(), 6);
        assert_eq!(r.verdict(), Verdict::Pass);
    }

    #[test]
    fn merge_has_one_real_failure() {
        let text = fixture("merge.txt");
        let r = summarize("merge", &text, EndStatus::Exited(1));
        assert_eq!((r.pass, r.fail, r.skip), (24, 1, 0));
        assert_eq!(r.failed, ["merge.anon_and_page_offset_mismatch_memfd"]);
        assert_eq!(r.verdict(), Verdict::Fail);
    }

    #[test]
    fn mremap_test_xfails_are_not_failures() {
        let text = fixture("mremap_test.txt");
        let r = summarize("mremap_test", &text, EndStatus::Exited(0));
        assert_eq!((r.pass, r.fail, r.xfail, r.skip), (23, 0, 3, 0));
        assert!(r
            .passed
            .contains(&"mremap - Destination Address Misaligned (1KB-aligned)".to_string()));
        assert_eq!(r.verdict(), Verdict::Pass);
    }

    #[test]
    fn uffd_skips_named_after_the_directive() {
        let text = fixture("uffd-unit-tests.txt");
        let r = summarize("uffd-unit-tests", &text, EndStatus::Exited(0));
        assert_eq!((r.pass, r.fail, r.skip), (57, 0, 57));
        assert_eq!(r.skipped.len(), 57);
        assert!(r.skipped[0].starts_with("wp-fork-pin on anon"));
        assert!(r.passed.contains(&"move on anon".to_string()));
        // Some passed: a partial skip is still a pass.
        assert_eq!(r.verdict(), Verdict::Pass);
        assert_eq!(r.skipped_reason, None);
    }

    #[test]
    fn guard_regions_with_skips() {
        let text = fixture("guard-regions.txt");
        let r = summarize("guard-regions", &text, EndStatus::Exited(0));
        assert_eq!((r.pass, r.fail, r.skip), (73, 0, 17));
        assert_eq!(r.planned, Some(90));
        assert_eq!(r.verdict(), Verdict::Pass);
    }

    #[test]
    fn harness_child_bail_outs_do_not_hide_the_totals() {
        // guard-regions run in a directory it cannot write: each file-backed
        // case's child bails out and prints its own zero totals.
        let text = fixture("guard-regions-bail.txt");
        let r = summarize("guard-regions", &text, EndStatus::Exited(1));
        assert_eq!((r.pass, r.fail, r.skip), (49, 30, 11));
        assert_eq!(r.failed.len(), 30);
        assert_eq!(r.failed[0], "guard_regions.file.basic");
        assert_eq!(
            r.bail_out.as_deref(),
            Some("mkstemp: No such file or directory (2)")
        );
        assert_eq!(r.verdict(), Verdict::Fail);
        // Cut after a child's totals: the lines count, not the child's zeros.
        let cut = text
            .find("not ok 61")
            .map(|i| &text[..i])
            .unwrap()
            .to_string();
        let r = summarize("guard-regions", &cut, EndStatus::Missing);
        assert_eq!((r.pass, r.skip, r.fail), (49, 11, 0));
        assert_eq!(r.verdict(), Verdict::Error);
    }

    #[test]
    fn skip_exit_with_reason() {
        let text = fixture("uffd-stress-skip.txt");
        let r = summarize("uffd-stress", &text, EndStatus::Exited(4));
        assert_eq!((r.pass, r.skip), (0, 1));
        assert_eq!(r.verdict(), Verdict::Skip);
        assert_eq!(
            r.skipped_reason.as_deref(),
            Some("pages_per_cpu = 0, cannot test (0 / 4096 / 2)")
        );
        // `1..0 # SKIP` before any plan (ksft_exit_skip), e.g. mseal_test
        // on a 32-bit kernel.
        let text = "TAP version 13\n1..0 # SKIP sealing not supported, check CONFIG_64BIT\n";
        let r = summarize("mseal_test", text, EndStatus::Exited(4));
        assert_eq!(r.verdict(), Verdict::Skip);
        assert_eq!(
            r.skipped_reason.as_deref(),
            Some("sealing not supported, check CONFIG_64BIT")
        );
        // No TAP at all (proc-empty-vm off x86-64 returns 4).
        let r = summarize("proc-empty-vm", "", EndStatus::Exited(4));
        assert_eq!(r.verdict(), Verdict::Skip);
        assert_eq!(r.skipped_reason.as_deref(), Some("exit status 4 (skip)"));
    }

    #[test]
    fn non_tap_tests_go_by_exit_status() {
        let r = summarize("proc-empty-vm", "", EndStatus::Exited(0));
        assert_eq!(r.verdict(), Verdict::Pass);
        assert_eq!(
            r.summary(),
            "proc-empty-vm: pass (exit 0; no TAP results: its exit status decides)"
        );
        // A TAP test that planned nothing still shows its counts.
        let r = summarize("t", "TAP version 13\n1..0\n", EndStatus::Exited(0));
        assert!(r
            .summary()
            .ends_with("pass:0 fail:0 xfail:0 xpass:0 skip:0 error:0)"));
        let r = summarize(
            "proc-empty-vm",
            "proc-empty-vm: proc-empty-vm.c:232: test_proc_pid_maps: Assertion failed.\n",
            EndStatus::Signalled(6),
        );
        assert_eq!(r.verdict(), Verdict::Error);
        assert_eq!(r.incomplete.as_deref(), Some("killed by signal 6"));
        assert_eq!(
            r.summary(),
            "proc-empty-vm: ERROR (killed by signal 6; no TAP results)"
        );
        let r = summarize("x", "", EndStatus::Exited(1));
        assert_eq!(r.verdict(), Verdict::Fail);
    }

    #[test]
    fn console_with_markers() {
        let text = fixture("console.txt");
        let runs = parse_console(&text);
        let names: Vec<_> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "proc-maps-race",
                "mremap_dontunmap",
                "mlock2-tests",
                "uffd-stress",
                "mseal_test"
            ]
        );
        let v: Vec<_> = runs.iter().map(SelftestRun::verdict).collect();
        assert_eq!(
            v,
            [
                Verdict::Pass,
                Verdict::Pass,
                Verdict::Pass,
                Verdict::Error,
                Verdict::Error
            ]
        );
        assert_eq!(runs[0].pass, 6);
        assert_eq!(runs[1].pass, 5);
        assert_eq!(runs[2].pass, 15);
        // A kernel message inside a test's output changes nothing.
        assert_eq!(runs[2].failed, Vec::<String>::new());
        assert_eq!(runs[3].incomplete.as_deref(), Some("timed out after 180 s"));
        // The guest stopped during mseal_test: no end marker.
        assert_eq!(runs[4].exit, None);
        assert!(runs[4].pass > 0);
    }

    #[test]
    fn real_guest_console() {
        let text = fixture("guest-x86-up-7.3.4.txt");
        let runs = parse_console(&text);
        let got: Vec<(&str, Verdict, u32, u32, u32)> = runs
            .iter()
            .map(|r| (r.name.as_str(), r.verdict(), r.pass, r.fail, r.skip))
            .collect();
        use Verdict::*;
        assert_eq!(
            got,
            [
                ("proc-maps-race", Pass, 6, 0, 0),
                ("proc-empty-vm", Pass, 0, 0, 0),
                ("map_fixed_noreplace", Pass, 9, 0, 0),
                ("mremap_dontunmap", Fail, 1, 0, 0),
                ("mremap_test", Fail, 22, 1, 0),
                ("mlock2-tests", Pass, 15, 0, 0),
                ("mseal_test", Fail, 83, 2, 2),
                ("merge", Fail, 22, 1, 2),
                ("guard-regions", Fail, 43, 30, 17),
                ("uffd-unit-tests:move", Skip, 0, 0, 3),
                ("uffd-unit-tests:zeropage", Skip, 0, 0, 5),
                ("uffd-unit-tests:sigbus", Skip, 0, 0, 10),
                ("uffd-unit-tests:poison", Skip, 0, 0, 5),
                ("uffd-stress", Skip, 0, 0, 1),
            ]
        );
        // No memfd_create in that kernel.
        assert_eq!(
            runs[3].bail_out.as_deref(),
            Some(
                "[FAIL]\tmremap_dontunmap_simple_shmem:134\tmemfd_create:No such file or directory"
            )
        );
        // mremap_test exits 0 although a case failed: the lines count.
        assert_eq!(runs[4].exit, Some(0));
        assert_eq!(runs[4].failed, ["mremap move multiple invalid vmas"]);
        assert_eq!(
            runs[13].skipped_reason.as_deref(),
            Some("failed to get available features (2)")
        );
        assert!(runs[8]
            .failed
            .iter()
            .all(|f| f.starts_with("guard_regions.shmem.")));
    }

    #[test]
    fn console_crlf_and_marker_mid_line() {
        let text = "junk\r\nVMAMATRIX-SELFTEST-START t1\r\nTAP version 13\r\n1..2\r\nok 1 a\r\n\
                    not ok 2 b\r\n# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0\r\n\
                    no newlineVMAMATRIX-SELFTEST-END t1 1\r\n\
                    [   3.1] random: crng init done VMAMATRIX-SELFTEST-START t2\r\n\
                    ok 1 only\r\nVMAMATRIX-SELFTEST-END t2 0\r\n";
        let runs = parse_console(text);
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].exit, runs[0].pass, runs[0].fail), (Some(1), 1, 1));
        assert_eq!(runs[0].failed, ["b"]);
        assert_eq!((runs[1].name.as_str(), runs[1].pass), ("t2", 1));
        assert_eq!(runs[1].verdict(), Verdict::Pass);
    }

    #[test]
    fn totals_line() {
        assert_eq!(
            parse_totals_line("# Totals: pass:6 fail:0 xfail:0 xpass:0 skip:0 error:0"),
            Some(Totals {
                pass: 6,
                ..Default::default()
            })
        );
        assert_eq!(parse_totals_line("# Totals: nothing"), None);
    }

    #[test]
    fn records_round_trip() {
        let text = fixture("merge.txt");
        let r = summarize("merge", &text, EndStatus::Exited(1));
        let json = serde_json::to_string(&r).unwrap();
        let back: SelftestRun = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        // Older records without the optional lists still load.
        let old = r#"{"name":"t","exit":0,"pass":1,"fail":0,"skip":0,"xfail":0,
                      "xpass":0,"error":0,"failed":[],"skipped_reason":null}"#;
        let r: SelftestRun = serde_json::from_str(old).unwrap();
        assert_eq!(r.verdict(), Verdict::Pass);
    }

    #[test]
    fn regressions_between_base_and_patched() {
        let merge_base = summarize("merge", &fixture("merge.txt"), EndStatus::Exited(1));
        // Patched: the same binary, one more subtest failing.
        let text = fixture("merge.txt").replace(
            "ok 15 merge.mremap_correct_placed_faulted",
            "not ok 15 merge.mremap_correct_placed_faulted",
        );
        let merge_patched = summarize("merge", &text, EndStatus::Exited(1));
        let race = summarize(
            "proc-maps-race",
            &fixture("proc-maps-race.txt"),
            EndStatus::Exited(0),
        );
        let race_timeout = summarize(
            "proc-maps-race",
            "TAP version 13\n1..6\nok 1 proc_maps_race.maps.test_maps_tearing_from_split\n",
            EndStatus::TimedOut(120),
        );
        let stress = summarize(
            "uffd-stress",
            &fixture("uffd-stress.txt"),
            EndStatus::Exited(0),
        );
        let stress_skip = summarize(
            "uffd-stress",
            &fixture("uffd-stress-skip.txt"),
            EndStatus::Exited(4),
        );
        let remap = summarize(
            "mremap_test",
            &fixture("mremap_test.txt"),
            EndStatus::Exited(0),
        );
        let base = vec![
            merge_base.clone(),
            race.clone(),
            stress.clone(),
            remap.clone(),
        ];
        // Same results: nothing.
        assert!(regressions(&base, &base).is_empty());
        let patched = vec![merge_patched, race_timeout, stress_skip];
        assert_eq!(
            regressions(&base, &patched),
            [
                // merge failed on base already: only the new subtest.
                "merge / merge.mremap_correct_placed_faulted",
                "proc-maps-race: timed out after 120 s on patched",
                "uffd-stress: skipped on patched (pages_per_cpu = 0, cannot test (0 / 4096 / 2))",
                "mremap_test: did not run on patched",
            ]
        );
        // A fix is not a regression.
        assert!(regressions(&patched, &base).is_empty());
        // A whole test failing names the test and its failed subtests.
        let race_fail = summarize(
            "proc-maps-race",
            &fixture("proc-maps-race.txt")
                .replace(
                    "ok 4 proc_maps_race.smaps.test_maps_tearing_from_split",
                    "not ok 4 proc_maps_race.smaps.test_maps_tearing_from_split",
                )
                .replace("pass:6 fail:0", "pass:5 fail:1"),
            EndStatus::Exited(1),
        );
        assert_eq!(
            regressions(&[race], &[race_fail]),
            [
                "proc-maps-race: fails on patched (exit 1, 1 failed)",
                "proc-maps-race / proc_maps_race.smaps.test_maps_tearing_from_split",
            ]
        );
    }
}
