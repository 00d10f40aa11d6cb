//! Kernel splats on a console: warnings, BUGs, oopses, lockdep, KASAN,
//! UBSAN, ... reports, each grouped into one [`Splat`] with its kind, title,
//! location, function and top frames, and a key that survives addresses,
//! CPUs, PIDs and line shifts (so base and patched boots can be compared).
//!
//! The formats are those printed by Linux 7.3 (kernel/panic.c `__warn`,
//! lib/bug.c `__report_bug`, kernel/locking/lockdep.c, kernel/sched/core.c
//! `__might_resched`, mm/debug.c `dump_vma`/`dump_mm`/`dump_page`,
//! mm/kasan/report.c, lib/ubsan.c, kernel/hung_task.c, kernel/rcu/tree_stall.h,
//! kernel/watchdog.c, kernel/workqueue.c and the x86, arm64, riscv and s390
//! oops and stack dumpers), plus the older `WARNING: CPU: 0 PID: 1 at ...`
//! warning line of kernels before the `WARNING: file:line at func, CPU#n`
//! form.

use serde::{Deserialize, Serialize};

/// Every splat in a console text, in order.
pub fn parse(text: &str) -> Vec<Splat> {
    Parser::default().run(text)
}

/// What kind of report a [`Splat`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SplatKind {
    /// `WARN*()`: "WARNING: mm/x.c:12 at func+0x1/0x2, CPU#0: comm/pid"
    /// (7.3) or "WARNING: CPU: 0 PID: 1 at mm/x.c:12 func+0x1/0x2" (older).
    Warning,
    /// `BUG()` ("kernel BUG at mm/x.c:12!", with the oops that follows it)
    /// and other "BUG: ..." reports (bad page state, KFENCE, ...).
    Bug,
    /// A kernel fault without a `BUG()`: "BUG: unable to handle page fault",
    /// "Unable to handle kernel NULL pointer dereference", "Oops: general
    /// protection fault", "Internal error: Oops: ...".
    Oops,
    /// A lockdep report: "WARNING: possible circular locking dependency
    /// detected", "[ BUG: Invalid wait context ]", ...
    Lockdep,
    /// "WARNING: suspicious RCU usage" (lockdep's RCU checker).
    SuspiciousRcu,
    /// "BUG: sleeping function called from invalid context at file:line",
    /// "BUG: scheduling while atomic", "BUG: assuming atomic context".
    MightSleep,
    /// `VM_BUG_ON_VMA/MM/PAGE/FOLIO`: a dump_vma()/dump_mm()/dump_page()
    /// dump followed by "kernel BUG at ...".
    VmBug,
    /// `VM_WARN_ON*_VMA/MM/FOLIO`, `VM_WARN_ON_VMG`: such a dump followed by
    /// a WARNING.
    VmWarn,
    /// "BUG: KASAN: slab-use-after-free in func+0x1/0x2".
    Kasan,
    /// "UBSAN: array-index-out-of-bounds in mm/x.c:12:5".
    Ubsan,
    /// "INFO: task comm:pid blocked for more than N seconds."
    Hung,
    /// "rcu: INFO: rcu_sched self-detected stall on CPU", "... detected
    /// stalls on CPUs/tasks:".
    RcuStall,
    /// "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!", hard LOCKUP,
    /// "BUG: workqueue lockup - pool ...".
    Lockup,
    /// fs/seq_file.c's one-line complaint about a seq_file iterator: "buggy
    /// .next function m_next did not update position index" (no trace; a
    /// /proc reader sees a record twice or loops).
    SeqFile,
}

impl SplatKind {
    /// The kebab-case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            SplatKind::Warning => "warning",
            SplatKind::Bug => "bug",
            SplatKind::Oops => "oops",
            SplatKind::Lockdep => "lockdep",
            SplatKind::SuspiciousRcu => "suspicious-rcu",
            SplatKind::MightSleep => "might-sleep",
            SplatKind::VmBug => "vm-bug",
            SplatKind::VmWarn => "vm-warn",
            SplatKind::Kasan => "kasan",
            SplatKind::Ubsan => "ubsan",
            SplatKind::Hung => "hung",
            SplatKind::RcuStall => "rcu-stall",
            SplatKind::Lockup => "lockup",
            SplatKind::SeqFile => "seq-file",
        }
    }
}

impl std::fmt::Display for SplatKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One kernel report on the console, all its lines grouped: from "cut here"
/// (or a dump_vma() dump before it, or the "=====" line of a lockdep or KASAN
/// report, or the title line) to "---[ end trace", the closing "=====", the
/// end of its stack dump, or the next report, marker or panic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Splat {
    pub kind: SplatKind,
    /// The report's title line without the console timestamp: the WARNING,
    /// "kernel BUG at", "BUG: ...", lockdep "WARNING: ..." line (not "cut
    /// here" or "=====").
    pub title: String,
    /// `file:line` (UBSAN: `file:line:column`) the report names.
    #[serde(default)]
    pub location: Option<String>,
    /// The function the report is about, without `+0x.../0x...`: the
    /// WARNING's or KASAN's function, the faulting function of an oops
    /// (RIP/pc/epc/PSW), the function taking the lock in a lockdep report,
    /// else the top stack frame.
    #[serde(default)]
    pub function: Option<String>,
    /// Up to 8 top frames of the report's first call trace, function names
    /// only: no offsets, no modules, no unreliable ("? ", s390 "(...)")
    /// frames, no frames of the reporting machinery (dump_stack_lvl, __warn,
    /// lockdep's and KASAN's own functions, ...).
    #[serde(default)]
    pub frames: Vec<String>,
    /// 1-based line number in the console log where the report starts.
    pub line: usize,
}

impl Splat {
    /// A stable identity for comparing boots: the kind, the kind of problem
    /// from the title where the kind alone does not say it (lockdep's report
    /// type, KASAN's and UBSAN's bug type, ...), the file (without the line
    /// number, which a patch to that file shifts) and the function (without
    /// compiler suffixes such as `.isra.0`), joined by `|`. No addresses,
    /// PIDs, CPU numbers or line numbers; a report with none of these keeps
    /// its title with every number replaced by `N`.
    pub fn key(&self) -> String {
        let mut parts = vec![self.kind.as_str().to_string()];
        if let Some(d) = detail(self.kind, &self.title) {
            parts.push(d);
        }
        if let Some(l) = &self.location {
            parts.push(l.split(':').next().unwrap_or(l).to_string());
        }
        if let Some(f) = &self.function {
            parts.push(base_name(f).to_string());
        }
        if parts.len() == 1 {
            parts.push(normalize(&self.title));
        }
        parts.join("|")
    }
}

/// The kind of problem named by a title, for kinds whose title says more
/// than the kind: "possible circular locking dependency detected",
/// "slab-use-after-free", "soft lockup", ... None for WARNING and
/// "kernel BUG at" titles, which only name a place.
fn detail(kind: SplatKind, title: &str) -> Option<String> {
    if matches!(
        kind,
        SplatKind::Warning | SplatKind::VmWarn | SplatKind::SeqFile
    ) || title.starts_with("kernel BUG at")
    {
        return None;
    }
    let mut t = title.trim();
    for p in ["watchdog: ", "rcu: "] {
        t = t.strip_prefix(p).unwrap_or(t);
    }
    for p in [
        "[ BUG: ",
        "WARNING: ",
        "BUG: ",
        "INFO: ",
        "UBSAN: ",
        "Oops: ",
        "Oops - ",
        "Internal error: ",
    ] {
        if let Some(r) = t.strip_prefix(p) {
            t = r;
            break;
        }
    }
    for p in ["KASAN: ", "KFENCE: ", "KMSAN: ", "KCSAN: "] {
        t = t.strip_prefix(p).unwrap_or(t);
    }
    let cut = [
        " in ",
        " at ",
        ":",
        ",",
        " - ",
        "!",
        " ]",
        " [",
        "(",
        " for more",
    ]
    .iter()
    .filter_map(|s| t.find(s))
    .min()
    .unwrap_or(t.len());
    let d = normalize(t[..cut].trim());
    (!d.is_empty()).then_some(d)
}

/// `foo.isra.0` -> `foo`.
fn base_name(f: &str) -> &str {
    f.split('.').next().unwrap_or(f)
}

/// Numbers, hex values and addresses replaced by `N`: "CPU#1 stuck for
/// 22s! [init:1]" -> "CPU#N stuck for Ns! [init:N]". Identifiers with
/// digits (ext4, rcu_sched) stay.
fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if !(c.is_ascii_alphanumeric() || c == '_') {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        let hex = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_hexdigit());
        if let Some(h) = word.strip_prefix("0x") {
            if hex(h) {
                out.push('N');
                continue;
            }
        }
        if c.is_ascii_digit() {
            if hex(word) {
                out.push('N');
            } else {
                let d = word.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
                out.push('N');
                out.push_str(&word[d..]);
            }
        } else if word.len() >= 8 && hex(word) && word.bytes().any(|b| b.is_ascii_digit()) {
            out.push('N');
        } else {
            out.push_str(word);
        }
    }
    out
}

/// The console line without its printk prefix: `[    1.234567] `, with
/// CONFIG_PRINTK_CALLER `[    1.234567][    T1] `, or a syslog `<4>`.
fn message(line: &str) -> &str {
    let mut s = line.trim_end();
    if let Some(r) = s.strip_prefix('<') {
        if let Some(i) = r.find('>') {
            if i > 0 && r[..i].bytes().all(|b| b.is_ascii_digit()) {
                s = &r[i + 1..];
            }
        }
    }
    let mut stripped = false;
    for is_field in [is_time as fn(&str) -> bool, is_caller] {
        if let Some(r) = s.strip_prefix('[') {
            if let Some(i) = r.find(']') {
                if is_field(r[..i].trim_start()) {
                    s = &r[i + 1..];
                    stripped = true;
                }
            }
        }
    }
    if stripped {
        s.strip_prefix(' ').unwrap_or(s)
    } else {
        s
    }
}

/// "1.234567"
fn is_time(s: &str) -> bool {
    let Some((a, b)) = s.split_once('.') else {
        return false;
    };
    !a.is_empty()
        && !b.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit())
        && b.bytes().all(|c| c.is_ascii_digit())
}

/// "T1", "C0"
fn is_caller(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some('T' | 'C'))
        && !c.as_str().is_empty()
        && c.as_str().bytes().all(|b| b.is_ascii_digit())
}

/// The "=====" line around lockdep and KASAN reports.
fn is_rule(t: &str) -> bool {
    t.len() >= 16 && t.bytes().all(|b| b == b'=')
}

/// Lines after which no report goes on: vmamatrix's own markers (every
/// one starts with `VMAMATRIX-`) and panics.
fn is_terminator(t: &str) -> bool {
    t.contains("VMAMATRIX-")
        || t.contains("Kernel panic - not syncing")
        || t.contains("---[ end Kernel panic")
}

/// "mm/mmap.c:12", "mm/x.c:12:5" (trailing "!", "," or ":" dropped).
fn as_location(tok: &str) -> Option<String> {
    let tok = tok.trim_end_matches(['!', ',', ';', ':', ')']);
    let (file, nums) = tok.split_once(':')?;
    let ok_file = file.contains('.')
        && !file.starts_with('.')
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b));
    let ok_nums = nums
        .split(':')
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    (ok_file && ok_nums).then(|| tok.to_string())
}

fn find_location(s: &str) -> Option<String> {
    s.split_whitespace().find_map(as_location)
}

/// The function of a `%pS` symbol: "lock_vma_under_rcu+0xda/0x100" ->
/// "lock_vma_under_rcu". None for raw addresses.
fn sym(s: &str) -> Option<String> {
    let tok = s.split_whitespace().next()?;
    let tok = tok.trim_start_matches('(');
    let (name, off) = tok.split_once('+')?;
    (off.starts_with("0x") && is_ident(name)).then(|| name.to_string())
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$')
}

/// The function after " in " in "BUG: KASAN: slab-use-after-free in f+0x1/0x2".
fn sym_after_in(t: &str) -> Option<String> {
    sym(&t[t.find(" in ")? + 4..])
}

/// A stack frame line of any of the supported architectures:
/// x86 " lock_vma_under_rcu+0xda/0x100 [mod]" or " ? f+0x1/0x2",
/// arm64 " f+0x1/0x2 (P)", riscv "[<ffffffff80012345>] f+0x1/0x2",
/// s390 " [<000000000012abcd>] f+0x1/0x2 " or " ([<...>] f+0x1/0x2)",
/// powerpc "[c000000002a0fb60] [c000000000a7e0a8] f+0x1/0x2 (unreliable)".
/// Some(None): a frame not to keep (unreliable, or no symbol).
fn parse_frame(t: &str) -> Option<Option<String>> {
    let mut s = t.trim();
    let mut reliable = true;
    if let Some(r) = s.strip_prefix("? ") {
        s = r;
        reliable = false;
    }
    if s.starts_with("([<") && s.ends_with(')') {
        s = &s[1..s.len() - 1];
        reliable = false;
    }
    while let Some(r) = s.strip_prefix('[') {
        let end = r.find(']')?;
        let inner = r[..end].trim_start_matches('<').trim_end_matches('>');
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        s = r[end + 1..].trim_start();
    }
    let tok = s.split_whitespace().next()?;
    let mut rest = s[tok.len()..].trim();
    if rest == "(unreliable)" {
        reliable = false;
        rest = "";
    }
    if rest.ends_with(')') {
        let open = rest.rfind('(')?;
        if rest.len() - open > 6 {
            return None;
        }
        rest = rest[..open].trim();
    }
    let module = rest.starts_with('[') && rest.ends_with(']');
    if !(rest.is_empty() || module) {
        return None;
    }
    if let Some(h) = tok.strip_prefix("0x") {
        return (!h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())).then_some(None);
    }
    let name = sym(tok)?;
    Some(reliable.then_some(name))
}

/// x86 stack section markers: <TASK>, </TASK>, <IRQ>, <NMI>, <#DF>, ...
fn is_stack_marker(t: &str) -> bool {
    t.len() > 2
        && t.starts_with('<')
        && t.ends_with('>')
        && t[1..t.len() - 1]
            .trim_start_matches('/')
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'#' || b == b'_')
}

/// The faulting function from a register dump: x86 "RIP: 0010:f+0x1/0x2",
/// arm64 "pc : f+0x1/0x2", riscv "epc : f+0x1/0x2", s390 "Krnl PSW : ...
/// (f+0x1/0x2)", powerpc "NIP [c0000000001234] f+0x1/0x2".
fn register_function(t: &str) -> Option<String> {
    if let Some(r) = t.strip_prefix("RIP: ").or_else(|| t.strip_prefix("EIP: ")) {
        let r = r.split_once(':').map_or(r, |x| x.1);
        return sym(r);
    }
    if let Some(r) = t.strip_prefix("pc : ").or_else(|| t.strip_prefix("epc : ")) {
        return sym(r);
    }
    if t.starts_with("Krnl PSW : ") {
        return sym(&t[t.find('(')? + 1..]);
    }
    if let Some(r) = t.strip_prefix("NIP ") {
        return sym(&r[r.find(']')? + 1..]);
    }
    None
}

/// Frames of the reporting machinery, not of the code reported on.
fn is_report_frame(f: &str) -> bool {
    const EXACT: &[&str] = &[
        "dump_stack",
        "dump_stack_lvl",
        "__dump_stack",
        "show_stack",
        "show_regs",
        "show_trace_log_lvl",
        "dump_backtrace",
        "__warn",
        "warn_slowpath_fmt",
        "__warn_printk",
        "report_bug",
        "report_bug_entry",
        "__report_bug",
        "print_report",
        "print_address_description",
        "ubsan_epilogue",
        "__might_resched",
        "__might_sleep",
        "__might_fault",
        "__cant_sleep",
        "__cant_migrate",
        "__schedule_bug",
        "schedule_debug",
        "lockdep_rcu_suspicious",
        "print_circular_bug",
        "check_noncircular",
        "check_prev_add",
        "check_prevs_add",
        "validate_chain",
        "__lock_acquire",
        "print_deadlock_bug",
        "check_deadlock",
        "print_usage_bug",
        "valid_state",
        "mark_lock",
        "mark_lock_irq",
        "mark_usage",
        "print_bad_irq_dependency",
        "check_irq_usage",
        "print_irq_inversion_bug",
        "check_usage_backwards",
        "check_usage_forwards",
        "print_lock_invalid_wait_context",
        "check_wait_context",
        "print_unlock_imbalance_bug",
        "print_lock_nested_lock_not_held",
        "print_lock_contention_bug",
        "print_freed_lock_bug",
        "print_held_locks_bug",
        "print_collision",
        "lockdep_sys_exit",
        "debug_check_no_locks_freed",
        "debug_check_no_locks_held",
        "bad_page",
    ];
    const PREFIX: &[&str] = &[
        "kasan_",
        "__kasan_",
        "__asan_",
        "__hwasan_",
        "__ubsan_handle_",
        "kfence_report",
        "kmsan_report",
    ];
    let f = base_name(f);
    EXACT.contains(&f) || PREFIX.iter().any(|p| f.starts_with(p))
}

/// lockdep's report titles (kernel/locking/lockdep.c), after "WARNING: ".
const LOCKDEP: &[&str] = &[
    "possible circular locking dependency detected",
    "possible recursive locking detected",
    "inconsistent lock state",
    "possible irq lock inversion dependency detected",
    "chain_key collision",
    "Nested lock was not taken",
    "bad unlock balance detected!",
    "bad contention detected!",
    "held lock freed!",
    "lock held when returning to user space!",
];

/// How a report ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// "---[ end trace ...]---" (warnings, BUG(), oopses, UBSAN).
    Trace,
    /// After its first stack dump (lockdep, might_sleep, hung task, ...).
    Stack,
    /// At the closing "=====" line (KASAN, KFENCE, KMSAN, KCSAN).
    Rule,
    /// The title line is the whole report.
    Line,
}

#[derive(Debug, Clone)]
struct Title {
    kind: SplatKind,
    text: String,
    location: Option<String>,
    function: Option<String>,
    end: End,
}

impl Title {
    fn new(kind: SplatKind, t: &str, end: End) -> Title {
        Title {
            kind,
            text: t.to_string(),
            location: None,
            function: None,
            end,
        }
    }
}

enum Class {
    CutHere,
    EndTrace,
    /// A line that starts a report.
    Title(Title),
    /// An oops header: part of the open report (a BUG's oops), else starts one.
    Oops(Title),
}

/// The location and function of a WARNING line, in its 7.3
/// ("WARNING: mm/x.c:12 at f+0x1/0x2, CPU#0: init/1", "WARNING: at
/// f+0x1/0x2, CPU#0: init/1"), older ("WARNING: CPU: 0 PID: 1 at mm/x.c:12
/// f+0x1/0x2") and oldest ("WARNING: at mm/x.c:12 f+0x1/0x2()") forms.
fn parse_warning(t: &str) -> Option<(Option<String>, Option<String>)> {
    let rest = t.strip_prefix("WARNING: ")?;
    if let Some(i) = rest.find(", CPU#") {
        let head = &rest[..i];
        if let Some(s) = head.strip_prefix("at ") {
            return Some((None, sym(s)));
        }
        let (loc, s) = head.split_once(" at ")?;
        return Some((Some(as_location(loc)?), sym(s)));
    }
    let after = if let Some(r) = rest.strip_prefix("CPU: ") {
        if !r.contains(" PID: ") {
            return None;
        }
        r.split_once(" at ")?.1
    } else {
        rest.strip_prefix("at ")?
    };
    let mut toks = after.split_whitespace();
    let first = toks.next()?;
    match as_location(first) {
        Some(loc) => Some((Some(loc), toks.next().and_then(sym))),
        None => Some((None, Some(sym(first)?))),
    }
}

fn is_lockdep_title(t: &str) -> bool {
    if t.starts_with("[ BUG: ") {
        return true;
    }
    let Some(r) = t.strip_prefix("WARNING: ") else {
        return false;
    };
    LOCKDEP.iter().any(|p| r.starts_with(p))
        || r.ends_with(" still has locks held!")
        || (r.contains("-safe -> ") && r.ends_with("-unsafe lock order detected"))
}

/// What a console message (prefix stripped, trimmed) starts, if anything.
/// `after_rule`: the line before was a "=====" line.
fn classify(t: &str, after_rule: bool) -> Option<Class> {
    use SplatKind::*;
    if t.contains("------------[ cut here ]------------") {
        return Some(Class::CutHere);
    }
    if t.starts_with("---[ end trace") {
        return Some(Class::EndTrace);
    }
    let title = |kind, end| Some(Class::Title(Title::new(kind, t, end)));
    if t.starts_with("WARNING: suspicious RCU usage") {
        return title(SuspiciousRcu, End::Stack);
    }
    if is_lockdep_title(t) {
        return title(Lockdep, End::Stack);
    }
    if let Some((location, function)) = parse_warning(t) {
        let mut ti = Title::new(Warning, t, End::Trace);
        ti.location = location;
        ti.function = function;
        return Some(Class::Title(ti));
    }
    if after_rule && t.starts_with("WARNING: ") {
        return title(Lockdep, End::Stack);
    }
    if let Some(r) = t.strip_prefix("kernel BUG at ") {
        let mut ti = Title::new(Bug, t, End::Trace);
        ti.location = r.split_whitespace().next().and_then(as_location);
        if ti.location.is_none() {
            ti.function = sym(r);
        }
        return Some(Class::Title(ti));
    }
    if t.starts_with("BUG: KASAN: ") {
        let mut ti = Title::new(Kasan, t, End::Rule);
        ti.function = sym_after_in(t);
        return Some(Class::Title(ti));
    }
    if ["BUG: KFENCE: ", "BUG: KMSAN: ", "BUG: KCSAN: "]
        .iter()
        .any(|p| t.starts_with(p))
    {
        let mut ti = Title::new(Bug, t, End::Rule);
        ti.function = sym_after_in(t);
        return Some(Class::Title(ti));
    }
    if t.starts_with("UBSAN: ") {
        let mut ti = Title::new(Ubsan, t, End::Trace);
        ti.location = find_location(t);
        if ti.location.is_none() {
            ti.function = t.find(" at ").and_then(|i| sym(&t[i + 4..]));
        }
        return Some(Class::Title(ti));
    }
    if [
        "BUG: sleeping function called from invalid context",
        "BUG: assuming atomic context",
        "BUG: assuming non migratable context",
        "BUG: scheduling while atomic",
    ]
    .iter()
    .any(|p| t.starts_with(p))
    {
        let mut ti = Title::new(MightSleep, t, End::Stack);
        ti.location = find_location(t);
        return Some(Class::Title(ti));
    }
    if t.starts_with("BUG: unable to handle page fault")
        || t.starts_with("BUG: kernel NULL pointer dereference")
    {
        return Some(Class::Oops(Title::new(Oops, t, End::Trace)));
    }
    if t.contains("BUG: soft lockup")
        || t.contains("Watchdog detected hard LOCKUP")
        || t.starts_with("BUG: workqueue lockup")
    {
        return title(Lockup, End::Stack);
    }
    let r = t.strip_prefix("rcu: ").unwrap_or(t);
    let stall = [
        " self-detected stall",
        " detected stalls on CPUs",
        " detected expedited stalls on CPUs",
    ];
    if r.starts_with("INFO: ") && stall.iter().any(|s| r.contains(s)) {
        return title(RcuStall, End::Stack);
    }
    if t.starts_with("INFO: task ") && t.contains(" blocked") && t.contains(" for more than ") {
        return title(Hung, End::Stack);
    }
    if t.starts_with("BUG: ") {
        let mut ti = Title::new(Bug, t, if after_rule { End::Rule } else { End::Stack });
        ti.function = sym_after_in(t);
        return Some(Class::Title(ti));
    }
    // "seq_file: buggy .next function m_next did not update position
    // index" (the prefix is pr_fmt's, absent in older kernels).
    let seq = t.strip_prefix("seq_file: ").unwrap_or(t);
    if let Some(r) = seq.strip_prefix("buggy .next function ") {
        if r.contains("did not update position index") {
            let mut ti = Title::new(SeqFile, t, End::Line);
            ti.function = r
                .split_whitespace()
                .next()
                .filter(|f| is_ident(f))
                .map(str::to_string);
            return Some(Class::Title(ti));
        }
    }
    // x86 "Oops: invalid opcode: 0000 [#1] SMP NOPTI", arm64 "Internal
    // error: Oops - BUG: 00000000f2000800 [#1]  SMP", riscv "Oops [#1]",
    // "Oops - load access fault [#1]", "Kernel BUG [#1]", s390 "Oops: 0004
    // ilc:3 [#1]SMP".
    let oops_header = [
        "Oops: ",
        "Oops [#",
        "Oops - ",
        "Kernel BUG [#",
        "Internal error: ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
        && t.contains("[#");
    if oops_header || t.starts_with("Unable to handle kernel ") {
        return Some(Class::Oops(Title::new(Oops, t, End::Trace)));
    }
    None
}

/// The start of a dump_vma(), dump_mm(), dump_page() or dump_vmg() dump
/// (mm/debug.c), printed before the BUG() or WARN() of VM_BUG_ON_VMA() and
/// friends.
fn is_vm_dump(t: &str) -> bool {
    let hex_word = |w: Option<&str>| {
        w.is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let mut w = t.split_whitespace();
    match w.next() {
        Some("vma") => hex_word(w.next()) && w.next() == Some("start"),
        Some("mm") => hex_word(w.next()) && w.next() == Some("task_size"),
        Some("vmg") => hex_word(w.next()),
        Some("page:") => w.next().is_some_and(|x| x.starts_with("refcount:")),
        Some(x) => x.starts_with("page:") && t.contains(" is uninitialized and poisoned"),
        None => false,
    }
}

/// Lines a VM dump may precede its BUG or WARNING by.
const DUMP_WINDOW: usize = 64;
/// Lines a report that ends with its stack dump may run without one
/// (lockdep's reports print their dependency chains first).
const STACK_WINDOW: usize = 80;
const LOCKDEP_WINDOW: usize = 1000;
/// Frames kept per report.
const FRAMES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trace {
    NotStarted,
    /// "Call Trace:" seen.
    Header,
    /// In an x86 trace (<TASK> ... </TASK>).
    X86,
    /// In a trace of one frame per line (arm64, riscv, s390, ...).
    Plain,
    Done,
}

#[derive(Debug)]
struct Open {
    start: usize,
    cut_here: bool,
    dump: bool,
    title: Option<Title>,
    /// First line of a cut-here block before its title (a WARN() message).
    message: Option<String>,
    end: End,
    trace: Trace,
    /// The last line was riscv's "status: ... badaddr: ... cause: ..."
    /// register line, after which its regs trace follows without a header.
    riscv_regs: bool,
    frames: Vec<String>,
    reg_fn: Option<String>,
    lock_at: Option<String>,
    location: Option<String>,
}

impl Open {
    fn kind(&self) -> SplatKind {
        self.title.as_ref().map_or(SplatKind::Warning, |t| t.kind)
    }

    /// Take in a line of the report.
    fn feed(&mut self, t: &str) {
        match self.trace {
            Trace::NotStarted => {
                if t == "Call Trace:" || t == "Call trace:" {
                    self.trace = Trace::Header;
                } else if self.riscv_regs && t.starts_with("[<") {
                    if let Some(f) = parse_frame(t) {
                        self.push(f);
                        self.trace = Trace::Plain;
                    }
                }
            }
            Trace::Header => {
                if is_stack_marker(t) {
                    self.trace = Trace::X86;
                } else if let Some(f) = parse_frame(t) {
                    self.push(f);
                    self.trace = Trace::Plain;
                }
            }
            Trace::X86 => {
                if t == "</TASK>" {
                    self.trace = Trace::Done;
                } else if let Some(f) = parse_frame(t) {
                    self.push(f);
                }
            }
            Trace::Plain => {
                if let Some(f) = parse_frame(t) {
                    self.push(f);
                }
            }
            Trace::Done => {}
        }
        self.riscv_regs = t.starts_with("status: ") && t.contains(" badaddr: ");
        if self.reg_fn.is_none() {
            self.reg_fn = register_function(t);
        }
        let kind = self.kind();
        if kind == SplatKind::Lockdep && self.lock_at.is_none() {
            if let Some(i) = t.find(", at: ") {
                self.lock_at = sym(&t[i + 6..]);
            }
        }
        if kind == SplatKind::SuspiciousRcu && self.location.is_none() {
            self.location = t.split_whitespace().next().and_then(as_location);
        }
        if self.cut_here && self.title.is_none() && self.message.is_none() && !t.is_empty() {
            self.message = Some(t.to_string());
        }
    }

    fn push(&mut self, f: Option<String>) {
        if let Some(f) = f {
            if !is_report_frame(&f) && self.frames.len() < FRAMES {
                self.frames.push(f);
            }
        }
    }

    /// Whether a line that is not a frame ends the trace being read.
    fn trace_ends_at(&self, t: &str) -> bool {
        match self.trace {
            Trace::Header => !is_stack_marker(t) && parse_frame(t).is_none(),
            Trace::Plain => parse_frame(t).is_none(),
            _ => false,
        }
    }

    fn finish(self) -> Splat {
        let mut kind = self.kind();
        if self.dump {
            kind = match kind {
                SplatKind::Bug => SplatKind::VmBug,
                SplatKind::Warning => SplatKind::VmWarn,
                k => k,
            };
        }
        let (text, location, function) = match self.title {
            Some(t) => (t.text, t.location, t.function),
            None => (
                self.message
                    .unwrap_or_else(|| "------------[ cut here ]------------".to_string()),
                None,
                None,
            ),
        };
        let location = location.or(self.location);
        let top = self.frames.first().cloned();
        let function = function.or(match kind {
            SplatKind::Lockdep => self.lock_at.or(top),
            SplatKind::Warning
            | SplatKind::VmWarn
            | SplatKind::Bug
            | SplatKind::VmBug
            | SplatKind::Oops => self.reg_fn.or(top),
            SplatKind::MightSleep
            | SplatKind::SuspiciousRcu
            | SplatKind::Ubsan
            | SplatKind::Kasan => top,
            SplatKind::Hung | SplatKind::RcuStall | SplatKind::Lockup | SplatKind::SeqFile => None,
        });
        Splat {
            kind,
            title: text,
            location,
            function,
            frames: self.frames,
            line: self.start + 1,
        }
    }
}

#[derive(Default)]
struct Parser {
    out: Vec<Splat>,
    open: Option<Open>,
    /// Line of a "=====" line just seen (a lockdep or KASAN report's start).
    rule: Option<usize>,
    /// Line where a VM dump started with no report open.
    dump: Option<usize>,
}

impl Parser {
    fn close(&mut self) {
        if let Some(o) = self.open.take() {
            self.out.push(o.finish());
        }
    }

    fn begin(&mut self, idx: usize, title: Option<Title>, cut_here: bool) {
        self.close();
        let mut start = idx;
        let mut dump = false;
        let bug_or_warn = title.as_ref().is_none_or(|t| {
            t.kind == SplatKind::Warning
                || (t.kind == SplatKind::Bug && t.text.starts_with("kernel BUG at"))
        });
        if let Some(d) = self.dump.take() {
            if bug_or_warn && idx - d <= DUMP_WINDOW {
                start = d;
                dump = true;
            }
        }
        let end = title.as_ref().map_or(End::Trace, |t| t.end);
        self.open = Some(Open {
            start,
            cut_here,
            dump,
            title,
            message: None,
            end,
            trace: Trace::NotStarted,
            riscv_regs: false,
            frames: vec![],
            reg_fn: None,
            lock_at: None,
            location: None,
        });
    }

    fn run(mut self, text: &str) -> Vec<Splat> {
        for (idx, line) in text.lines().enumerate() {
            let t = message(line.trim_end_matches('\r')).trim();
            self.line(idx, t);
        }
        self.close();
        self.out
    }

    fn line(&mut self, idx: usize, t: &str) {
        if is_terminator(t) {
            self.close();
            self.rule = None;
            self.dump = None;
            return;
        }
        if let Some(o) = &mut self.open {
            if o.trace_ends_at(t) {
                o.trace = Trace::Done;
                if o.end == End::Stack {
                    self.close();
                }
            }
        }
        let after_rule = self.rule.take();
        if is_rule(t) {
            if self.open.as_ref().is_some_and(|o| o.end == End::Rule) {
                self.close();
            } else {
                self.rule = Some(idx);
            }
            return;
        }
        match classify(t, after_rule.is_some()) {
            Some(Class::CutHere) => self.begin(idx, None, true),
            Some(Class::EndTrace) => {
                if let Some(o) = &mut self.open {
                    o.feed(t);
                    self.close();
                }
            }
            Some(Class::Title(ti)) => {
                if let Some(o) = &mut self.open {
                    if o.cut_here
                        && o.title.is_none()
                        && matches!(
                            ti.kind,
                            SplatKind::Warning | SplatKind::Bug | SplatKind::Ubsan
                        )
                        && ti.end == End::Trace
                    {
                        o.end = ti.end;
                        o.title = Some(ti);
                        return;
                    }
                }
                if ti.end == End::Line {
                    self.begin(idx, Some(ti), false);
                    self.close();
                    return;
                }
                match after_rule {
                    Some(r) => {
                        self.dump = None;
                        self.begin(idx, Some(ti), false);
                        if let Some(o) = &mut self.open {
                            o.start = r;
                        }
                    }
                    None => self.begin(idx, Some(ti), false),
                }
            }
            Some(Class::Oops(ti)) => match &mut self.open {
                Some(o) => o.feed(t),
                None => self.begin(idx, Some(ti), false),
            },
            None => match &mut self.open {
                Some(o) => o.feed(t),
                None => {
                    if is_vm_dump(t) && self.dump.is_none_or(|d| idx - d > DUMP_WINDOW) {
                        self.dump = Some(idx);
                    }
                }
            },
        }
        if let Some(o) = &self.open {
            let window = match o.kind() {
                SplatKind::Lockdep | SplatKind::SuspiciousRcu => LOCKDEP_WINDOW,
                _ => STACK_WINDOW,
            };
            let stack_done = o.end == End::Stack
                && (o.trace == Trace::Done
                    || (o.trace == Trace::NotStarted && idx - o.start > window));
            if stack_done {
                self.close();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the tests read of a console.
    struct Read {
        splats: Vec<Splat>,
    }

    fn read(text: &str) -> Read {
        Read {
            splats: parse(text),
        }
    }

    const CLEAN: &str = include_str!("../../tests/fixtures/console/x86-boot-clean.log");
    const X86_WARNING: &str = include_str!("../../tests/fixtures/console/x86-warning.log");
    const X86_LOCKDEP: &str = include_str!("../../tests/fixtures/console/x86-lockdep.log");
    const X86_MIGHT_SLEEP: &str = include_str!("../../tests/fixtures/console/x86-might-sleep.log");
    const X86_VM_BUG: &str = include_str!("../../tests/fixtures/console/x86-vm-bug.log");
    const X86_KASAN: &str = include_str!("../../tests/fixtures/console/x86-kasan.log");
    const ARM64_WARNING: &str = include_str!("../../tests/fixtures/console/arm64-warning.log");
    const ARM64_RCU: &str = include_str!("../../tests/fixtures/console/arm64-suspicious-rcu.log");
    const ARM64_OOPS: &str = include_str!("../../tests/fixtures/console/arm64-oops.log");
    const RISCV_VM_WARN: &str = include_str!("../../tests/fixtures/console/riscv-vm-warn.log");
    /// The base kernel of arm-up-nommu (mps2-an385) under the debug overlay,
    /// whose /proc/<pid>/maps iterator on NOMMU complains while the guest
    /// workload reads it (the series fixes m_next()).
    const ARM_NOMMU_SEQ_FILE: &str =
        include_str!("../../tests/fixtures/console/arm-nommu-seq-file.log");
    const S390_BUG: &str = include_str!("../../tests/fixtures/console/s390-bug.log");
    /// The base kernel of riscv-smp-nommu: the workload's /proc/self/maps
    /// reader met a VMA that do_mremap() had left in the maple tree after
    /// munmap() freed it (the series' patch 1 fixes that).
    const RISCV_NOMMU_OOPS: &str =
        include_str!("../../tests/fixtures/console/riscv-nommu-oops.log");

    fn one(text: &str) -> Splat {
        let s = parse(text);
        assert_eq!(s.len(), 1, "{s:#?}");
        s[0].clone()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clean_boot_has_no_splats() {
        let c = read(CLEAN);
        assert!(c.splats.is_empty(), "{:#?}", c.splats);
    }

    #[test]
    fn lines_that_are_not_splats() {
        let c = read(
            "[    0.1] RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks, data leaks possible!\n\
             [    0.2] WARNING: Flushing system-wide workqueues will be prohibited in near future.\n\
             [    0.3] Oops, the test printed a word\n\
             [    0.3] Oops: the test printed another\n\
             [    0.4] vma-test: expected BUG: none\n\
             [    0.5] ... MAX_LOCK_DEPTH:          48\n\
             [    0.6] ==================================================================\n\
             [    0.7] vma ffff888004b1e2a0 start 00007f3a1c000000 end 00007f3a1c221000 mm ffff888004a3c000\n\
             [    0.8]        lock_acquire+0xd1/0x2e0\n",
        );
        assert!(c.splats.is_empty(), "{:#?}", c.splats);
    }

    #[test]
    fn seq_file_complaints_are_one_line_reports() {
        let c = read(ARM_NOMMU_SEQ_FILE);
        let want = ARM_NOMMU_SEQ_FILE.matches("buggy .next function").count();
        assert!(want >= 3);
        assert_eq!(c.splats.len(), want, "{:#?}", c.splats);
        for s in &c.splats {
            assert_eq!(s.kind, SplatKind::SeqFile);
            assert_eq!(s.function.as_deref(), Some("m_next"));
            assert_eq!(s.key(), "seq-file|m_next");
            assert!(s.frames.is_empty());
        }
        assert_eq!(c.splats[0].line, 64);
        // Older kernels print it without pr_fmt's prefix; the next line is
        // not part of it.
        let c = read("[ 1.0] buggy .next function foo_next did not update position index\n[ 1.1] WARNING: CPU: 0 PID: 1 at mm/x.c:12 f+0x1/0x2\n");
        assert_eq!(c.splats.len(), 2, "{:#?}", c.splats);
        assert_eq!(c.splats[0].function.as_deref(), Some("foo_next"));
        assert_eq!(c.splats[1].kind, SplatKind::Warning);
    }

    #[test]
    fn x86_cut_here_warning() {
        let s = one(X86_WARNING);
        assert_eq!(s.kind, SplatKind::Warning);
        assert_eq!(
            s.title,
            "WARNING: mm/mmap_lock.c:338 at lock_vma_under_rcu+0xda/0x100, CPU#0: init/1"
        );
        assert_eq!(s.location.as_deref(), Some("mm/mmap_lock.c:338"));
        assert_eq!(s.function.as_deref(), Some("lock_vma_under_rcu"));
        // "? " frames skipped; the user-mode registers inside <TASK> too.
        assert_eq!(
            s.frames,
            strs(&["do_user_addr_fault", "exc_page_fault", "asm_exc_page_fault"])
        );
        assert_eq!(s.line, 5);
        assert_eq!(s.key(), "warning|mm/mmap_lock.c|lock_vma_under_rcu");
    }

    #[test]
    fn warning_key_ignores_addresses_cpus_pids_and_lines() {
        let base = one(X86_WARNING);
        let moved = X86_WARNING
            .replace("CPU#0: init/1", "CPU#1: vma-test/93")
            .replace(
                "CPU: 0 UID: 0 PID: 1 Comm: init",
                "CPU: 1 UID: 0 PID: 93 Comm: vma-test",
            )
            .replace("0xda/0x100", "0xe6/0x10c")
            .replace("0x1c6/0x6a0", "0x1d2/0x6b0")
            .replace("ffff888004b1e2a0", "ffff888005c2f3b0")
            .replace("mm/mmap_lock.c:338", "mm/mmap_lock.c:341")
            .replace("[    0.9", "[   12.3");
        let patched = one(&moved);
        assert_ne!(base, patched);
        assert_eq!(base.key(), patched.key());
        // Another function, or another kind, is another splat.
        let other = one(&X86_WARNING.replace("lock_vma_under_rcu", "lock_next_vma"));
        assert_ne!(base.key(), other.key());
        // The same WARN_ON on arm64 has the same key.
        assert_eq!(base.key(), one(ARM64_WARNING).key());
        // Two in a row: two splats.
        let c = read(&format!("{X86_WARNING}{moved}"));
        assert_eq!(c.splats.len(), 2);
        assert_eq!(c.splats[0].key(), c.splats[1].key());
        assert_eq!(c.splats[1].line, X86_WARNING.lines().count() + 5);
    }

    #[test]
    fn older_warning_forms() {
        let s = one("[    1.000000] ------------[ cut here ]------------\n\
             [    1.000001] WARNING: CPU: 0 PID: 1 at mm/mmap.c:12 foo+0x1/0x2\n\
             [    1.000002] Modules linked in:\n\
             [    1.000003] CPU: 0 PID: 1 Comm: init Not tainted 6.6.0 #1\n\
             [    1.000004] RIP: 0010:foo+0x1/0x2\n\
             [    1.000005] Call Trace:\n\
             [    1.000006]  <TASK>\n\
             [    1.000007]  ? __warn+0x81/0x130\n\
             [    1.000008]  bar+0x10/0x20\n\
             [    1.000009]  </TASK>\n\
             [    1.000010] ---[ end trace 0000000000000000 ]---\n");
        assert_eq!(s.kind, SplatKind::Warning);
        assert_eq!(
            s.title,
            "WARNING: CPU: 0 PID: 1 at mm/mmap.c:12 foo+0x1/0x2"
        );
        assert_eq!(s.location.as_deref(), Some("mm/mmap.c:12"));
        assert_eq!(s.function.as_deref(), Some("foo"));
        assert_eq!(s.frames, strs(&["bar"]));
        assert_eq!(s.line, 1);
        assert_eq!(s.key(), "warning|mm/mmap.c|foo");
        // The same warning in 7.3's form has the same key.
        let new = one("WARNING: mm/mmap.c:12 at foo+0x1/0x2, CPU#3: init/1\n");
        assert_eq!(s.key(), new.key());
        // 7.3 without a file, and the oldest form.
        let s = one("WARNING: at foo+0x1/0x2, CPU#0: swapper/0/1\n");
        assert_eq!((s.location, s.function.as_deref()), (None, Some("foo")));
        let s = one("WARNING: at mm/mmap.c:12 foo+0x1/0x2()\n");
        assert_eq!(s.location.as_deref(), Some("mm/mmap.c:12"));
        assert_eq!(s.function.as_deref(), Some("foo"));
    }

    #[test]
    fn refcount_warning_is_one_warning() {
        // x86 WARN(): the message comes between "cut here" and WARNING.
        let s = one("------------[ cut here ]------------\n\
             refcount_t: underflow; use-after-free.\n\
             WARNING: lib/refcount.c:28 at refcount_warn_saturate+0xba/0x110, CPU#0: init/1\n\
             Modules linked in:\n\
             RIP: 0010:refcount_warn_saturate+0xba/0x110\n\
             Call Trace:\n <TASK>\n vma_refcount_put+0x4e/0x60\n </TASK>\n\
             ---[ end trace 0000000000000000 ]---\n");
        assert_eq!(s.kind, SplatKind::Warning);
        assert_eq!(s.location.as_deref(), Some("lib/refcount.c:28"));
        assert_eq!(s.frames, strs(&["vma_refcount_put"]));
        // A cut-here block whose WARNING line is lost keeps its message.
        let s =
            one("------------[ cut here ]------------\nrefcount_t: underflow; use-after-free.\n");
        assert_eq!(s.kind, SplatKind::Warning);
        assert_eq!(s.title, "refcount_t: underflow; use-after-free.");
    }

    #[test]
    fn lockdep_circular_dependency() {
        let s = one(X86_LOCKDEP);
        assert_eq!(s.kind, SplatKind::Lockdep);
        assert_eq!(
            s.title,
            "WARNING: possible circular locking dependency detected"
        );
        assert_eq!(s.line, 3);
        assert_eq!(s.location, None);
        assert_eq!(s.function.as_deref(), Some("lock_mm_and_find_vma"));
        // From the "stack backtrace:" dump, not the dependency chain's traces.
        assert_eq!(
            s.frames,
            strs(&[
                "lock_acquire",
                "down_read",
                "lock_mm_and_find_vma",
                "do_user_addr_fault",
                "exc_page_fault",
                "asm_exc_page_fault"
            ])
        );
        assert_eq!(
            s.key(),
            "lockdep|possible circular locking dependency detected|lock_mm_and_find_vma"
        );
        let s = one(
            "\n=============================\n[ BUG: Invalid wait context ]\n7.3.4 #1 Not tainted\n\
             -----------------------------\ninit/1 is trying to lock:\n\
             ffff888004a3c0d8 (&mm->mmap_lock){++++}-{4:4}, at: lock_mm_and_find_vma+0x2e/0x2d0\n\
             other info that might help us debug this:\ncontext-{2:2}\n\
             locks held by init/1: 0, last CPU#0\nstack backtrace:\n\
             CPU: 0 UID: 0 PID: 1 Comm: init Not tainted 7.3.4 #1 PREEMPT(voluntary) \n\
             Call Trace:\n <TASK>\n dump_stack_lvl+0x77/0xb0\n __lock_acquire+0x13c2/0x1d60\n\
             lock_acquire+0xd1/0x2e0\n down_read+0x4a/0x170\n </TASK>\n",
        );
        assert_eq!(s.kind, SplatKind::Lockdep);
        assert_eq!(s.key(), "lockdep|Invalid wait context|lock_mm_and_find_vma");
        assert_eq!(s.line, 2);
    }

    #[test]
    fn might_sleep() {
        let s = one(X86_MIGHT_SLEEP);
        assert_eq!(s.kind, SplatKind::MightSleep);
        assert_eq!(
            s.title,
            "BUG: sleeping function called from invalid context at mm/memory.c:2107"
        );
        assert_eq!(s.location.as_deref(), Some("mm/memory.c:2107"));
        assert_eq!(s.function.as_deref(), Some("zap_pte_range"));
        // The "Preemption disabled at:" [<...>] line is not the trace; 8 frames.
        assert_eq!(
            s.frames,
            strs(&[
                "zap_pte_range",
                "zap_pmd_range.isra.0",
                "unmap_page_range",
                "unmap_vmas",
                "exit_mmap",
                "__mmput",
                "exit_mm",
                "do_exit"
            ])
        );
        assert_eq!(
            s.key(),
            "might-sleep|sleeping function called from invalid context|mm/memory.c|zap_pte_range"
        );
    }

    #[test]
    fn suspicious_rcu_usage() {
        let s = one(ARM64_RCU);
        assert_eq!(s.kind, SplatKind::SuspiciousRcu);
        assert_eq!(s.title, "WARNING: suspicious RCU usage");
        assert_eq!(s.line, 3);
        assert_eq!(s.location.as_deref(), Some("mm/mmap_lock.c:218"));
        assert_eq!(s.function.as_deref(), Some("lock_vma_under_rcu"));
        assert_eq!(
            s.frames,
            strs(&[
                "lock_vma_under_rcu",
                "do_page_fault",
                "do_translation_fault",
                "do_mem_abort",
                "el0_da",
                "el0t_64_sync_handler",
                "el0t_64_sync"
            ])
        );
        // An rcu_dereference_check() one, x86, with timestamps.
        let s = one(
            "[    2.1] \n[    2.1] =============================\n[    2.1] WARNING: suspicious RCU usage\n\
             [    2.1] 7.3.4 #1 Tainted: G        W          \n[    2.1] -----------------------------\n\
             [    2.1] include/linux/rcupdate.h:409 suspicious rcu_dereference_check() usage!\n\
             [    2.1] stack backtrace:\n[    2.1] Call Trace:\n[    2.1]  <TASK>\n\
             [    2.1]  dump_stack_lvl+0x77/0xb0\n[    2.1]  lockdep_rcu_suspicious+0x15a/0x1b0\n\
             [    2.1]  mas_walk+0x1a1/0x1c0\n[    2.1]  </TASK>\n",
        );
        assert_eq!(s.location.as_deref(), Some("include/linux/rcupdate.h:409"));
        assert_eq!(
            s.key(),
            "suspicious-rcu|suspicious RCU usage|include/linux/rcupdate.h|mas_walk"
        );
    }

    #[test]
    fn vm_bug_on_vma_with_its_oops_is_one_splat() {
        let s = one(X86_VM_BUG);
        assert_eq!(s.kind, SplatKind::VmBug);
        assert_eq!(s.title, "kernel BUG at mm/memory.c:1479!");
        assert_eq!(s.line, 2, "starts at the dump_vma() lines");
        assert_eq!(s.location.as_deref(), Some("mm/memory.c:1479"));
        assert_eq!(s.function.as_deref(), Some("copy_page_range"));
        assert_eq!(
            s.frames,
            strs(&[
                "dup_mmap",
                "copy_process",
                "kernel_clone",
                "__do_sys_clone",
                "do_syscall_64",
                "entry_SYSCALL_64_after_hwframe"
            ])
        );
        assert_eq!(s.key(), "vm-bug|mm/memory.c|copy_page_range");
        // Without the dump: a plain BUG, still one splat with its oops.
        let plain: String = X86_VM_BUG
            .lines()
            .filter(|l| !l.contains("[    1.228571]"))
            .map(|l| format!("{l}\n"))
            .collect();
        let s = one(&plain);
        assert_eq!((s.kind, s.line), (SplatKind::Bug, 2));
        assert_eq!(s.key(), "bug|mm/memory.c|copy_page_range");
    }

    #[test]
    fn kasan_report() {
        let s = one(X86_KASAN);
        assert_eq!(s.kind, SplatKind::Kasan);
        assert_eq!(
            s.title,
            "BUG: KASAN: slab-use-after-free in lock_vma_under_rcu+0x2f1/0x3a0"
        );
        assert_eq!(s.line, 2);
        assert_eq!(s.function.as_deref(), Some("lock_vma_under_rcu"));
        assert_eq!(
            s.frames,
            strs(&[
                "lock_vma_under_rcu",
                "do_user_addr_fault",
                "exc_page_fault",
                "asm_exc_page_fault"
            ])
        );
        assert_eq!(s.key(), "kasan|slab-use-after-free|lock_vma_under_rcu");
    }

    #[test]
    fn riscv_vm_warn_on_once_vma() {
        let s = one(RISCV_VM_WARN);
        assert_eq!(s.kind, SplatKind::VmWarn);
        assert_eq!(s.line, 2);
        assert_eq!(s.location.as_deref(), Some("mm/interval_tree.c:36"));
        assert_eq!(
            s.function.as_deref(),
            Some("vma_interval_tree_insert_after")
        );
        // riscv's regs trace has no "Call Trace:" header.
        assert_eq!(
            s.frames,
            strs(&[
                "vma_interval_tree_insert_after",
                "dup_mmap",
                "copy_process",
                "kernel_clone",
                "__do_sys_clone",
                "__riscv_sys_clone",
                "do_trap_ecall_u",
                "handle_exception"
            ])
        );
        assert_eq!(
            s.key(),
            "vm-warn|mm/interval_tree.c|vma_interval_tree_insert_after"
        );
    }

    #[test]
    fn riscv_oops_with_a_cause() {
        let s = parse(RISCV_NOMMU_OOPS);
        let seq = s.iter().filter(|s| s.kind == SplatKind::SeqFile).count();
        assert_eq!(seq, 10, "{s:#?}");
        let oops: Vec<&Splat> = s.iter().filter(|s| s.kind == SplatKind::Oops).collect();
        assert_eq!(oops.len(), 1, "{s:#?}");
        assert_eq!(oops[0].title, "Oops - load access fault [#1]");
        assert_eq!(oops[0].function.as_deref(), Some("show_map"));
        assert_eq!(oops[0].frames[0], "show_map");
        assert_eq!(oops[0].frames[1], "seq_read_iter");
    }

    #[test]
    fn arm64_warning_and_oops() {
        let s = one(ARM64_WARNING);
        assert_eq!((s.kind, s.line), (SplatKind::Warning, 2));
        assert_eq!(s.frames.len(), 7);
        assert_eq!(s.frames[0], "lock_vma_under_rcu");
        assert_eq!(s.frames[6], "el0t_64_sync");
        let s = one(ARM64_OOPS);
        assert_eq!(s.kind, SplatKind::Oops);
        assert_eq!(s.line, 2);
        assert_eq!(
            s.title,
            "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008"
        );
        assert_eq!(s.function.as_deref(), Some("vma_merge_existing_range"));
        assert_eq!(s.frames.len(), 8);
        assert_eq!(s.frames[7], "el0_svc_common.constprop.0");
        assert_eq!(
            s.key(),
            "oops|Unable to handle kernel NULL pointer dereference|vma_merge_existing_range"
        );
    }

    #[test]
    fn s390_bug_then_panic() {
        let s = one(S390_BUG);
        assert_eq!((s.kind, s.line), (SplatKind::Bug, 2));
        assert_eq!(s.title, "kernel BUG at mm/mmap.c:123!");
        assert_eq!(s.function.as_deref(), Some("do_brk_flags"));
        // "([<...>] ...)" frames are unreliable.
        assert_eq!(
            s.frames,
            strs(&[
                "do_brk_flags",
                "__do_sys_brk",
                "__do_syscall",
                "system_call"
            ])
        );
    }

    #[test]
    fn x86_page_fault_oops() {
        let s = one(
            "[    5.1] BUG: kernel NULL pointer dereference, address: 0000000000000008\n\
             [    5.1] #PF: supervisor read access in kernel mode\n\
             [    5.1] #PF: error_code(0x0000) - not-present page\n\
             [    5.1] PGD 0 P4D 0 \n\
             [    5.1] Oops: Oops: 0000 [#1] SMP NOPTI\n\
             [    5.1] CPU: 0 UID: 0 PID: 87 Comm: vma-test Not tainted 7.3.4 #1 PREEMPT(voluntary) \n\
             [    5.1] RIP: 0010:vma_merge_existing_range+0x64/0x5e0\n\
             [    5.1] Call Trace:\n[    5.1]  <TASK>\n[    5.1]  vma_modify+0x2b/0x110\n\
             [    5.1]  </TASK>\n[    5.1] Modules linked in:\n\
             [    5.1] ---[ end trace 0000000000000000 ]---\n\
             [    5.1] RIP: 0010:vma_merge_existing_range+0x64/0x5e0\n",
        );
        assert_eq!(s.kind, SplatKind::Oops);
        assert_eq!(
            s.key(),
            "oops|kernel NULL pointer dereference|vma_merge_existing_range"
        );
        assert_eq!(s.frames, strs(&["vma_modify"]));
    }

    #[test]
    fn other_reports() {
        let log = "\
[    9.0] ------------[ cut here ]------------
[    9.0] UBSAN: array-index-out-of-bounds in mm/vma.c:1234:15
[    9.0] index 4 is out of range for type 'unsigned long[4]'
[    9.0] CPU: 0 UID: 0 PID: 87 Comm: vma-test Not tainted 7.3.4 #1 PREEMPT(voluntary) 
[    9.0] Call Trace:
[    9.0]  <TASK>
[    9.0]  dump_stack_lvl+0x77/0xb0
[    9.0]  __ubsan_handle_out_of_bounds+0xc1/0x100
[    9.0]  vma_merge_existing_range+0x5d1/0x5e0
[    9.0]  vma_modify+0x2b/0x110
[    9.0]  </TASK>
[    9.0] ---[ end trace ]---
[  245.1] INFO: task vma-test:88 blocked for more than 122 seconds.
[  245.1]       Tainted: G        W           7.3.4 #1
[  245.1] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.
[  245.1] task:vma-test        state:D stack:0     pid:88    tgid:88    ppid:1      task_flags:0x400000 flags:0x00004000
[  245.1] Call Trace:
[  245.1]  <TASK>
[  245.1]  __schedule+0x4a1/0xf10
[  245.1]  schedule+0x27/0xd0
[  245.1]  rwsem_down_write_slowpath+0x2a4/0x8f0
[  245.1]  down_write+0x5f/0x70
[  245.1]  </TASK>
[  266.2] rcu: INFO: rcu_preempt self-detected stall on CPU
[  266.2] rcu: \t0-....: (20999 ticks this GP) idle=8f4c/1/0x4000000000000000 softirq=1433/1433 fqs=5250
[  266.2] rcu: \t(t=21000 jiffies g=2205 q=312 ncpus=2)
[  266.2] CPU: 0 UID: 0 PID: 87 Comm: vma-test Tainted: G        W           7.3.4 #1 PREEMPT(full) 
[  266.2] RIP: 0010:vma_iter_next_range+0x1a/0x40
[  266.2] Call Trace:
[  266.2]  <IRQ>
[  266.2]  rcu_sched_clock_irq+0x3bc/0xb30
[  266.2]  </IRQ>
[  266.2]  <TASK>
[  266.2]  vma_find+0x21/0x40
[  266.2]  </TASK>
[  288.3] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [vma-test:87]
[  288.3] Modules linked in:
[  288.3] CPU: 1 UID: 0 PID: 87 Comm: vma-test Tainted: G        W    L      7.3.4 #1 PREEMPT(full) 
[  288.3] RIP: 0010:vma_iter_next_range+0x1a/0x40
[  288.3] Call Trace:
[  288.3]  <IRQ>
[  288.3]  </IRQ>
[  288.3]  <TASK>
[  288.3]  vma_find+0x21/0x40
[  288.3]  </TASK>
[  300.0] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 33s!
[  300.0] Showing busy workqueues and worker pools:
[  300.1] ==================================================================
[  300.1] BUG: KFENCE: use-after-free read in vma_find+0x21/0x40
[  300.1] 
[  300.1] Use-after-free read at 0x000000009dd1c3a5 (in kfence-#12):
[  300.1]  vma_find+0x21/0x40
[  300.1] ==================================================================
[  301.0] BUG: Bad page state in process vma-test  pfn:04c3d
[  301.0] page: refcount:0 mapcount:1 mapping:0000000000000000 index:0x7f3a1c000 pfn:0x4c3d
[  301.0] page dumped because: nonzero mapcount
[  301.0] CPU: 0 UID: 0 PID: 87 Comm: vma-test Tainted: G    B   W    L      7.3.4 #1 PREEMPT(full) 
[  301.0] Call Trace:
[  301.0]  <TASK>
[  301.0]  dump_stack_lvl+0x77/0xb0
[  301.0]  bad_page+0x6b/0x100
[  301.0]  free_page_is_bad_report+0x8a/0xa0
[  301.0]  </TASK>
";
        let c = read(log);
        let got: Vec<(SplatKind, String, usize)> =
            c.splats.iter().map(|s| (s.kind, s.key(), s.line)).collect();
        use SplatKind::*;
        let want = vec![
            (
                Ubsan,
                "ubsan|array-index-out-of-bounds|mm/vma.c|vma_merge_existing_range".to_string(),
                1,
            ),
            (Hung, "hung|task vma-test".to_string(), 13),
            (
                RcuStall,
                "rcu-stall|rcu_preempt self-detected stall on CPU".to_string(),
                24,
            ),
            (Lockup, "lockup|soft lockup".to_string(), 36),
            (Lockup, "lockup|workqueue lockup".to_string(), 46),
            (Bug, "bug|use-after-free read|vma_find".to_string(), 48),
            (
                Bug,
                "bug|Bad page state|free_page_is_bad_report".to_string(),
                54,
            ),
        ];
        assert_eq!(got, want);
        assert_eq!(c.splats[0].location.as_deref(), Some("mm/vma.c:1234:15"));
        assert_eq!(
            c.splats[1].frames,
            strs(&[
                "__schedule",
                "schedule",
                "rwsem_down_write_slowpath",
                "down_write"
            ])
        );
        assert_eq!(c.splats[1].function, None);
    }

    #[test]
    fn crlf_caller_ids_and_syslog_prefixes() {
        let want = read(X86_LOCKDEP).splats;
        let crlf = X86_LOCKDEP.replace('\n', "\r\n");
        assert_eq!(read(&crlf).splats, want);
        let caller = X86_LOCKDEP.replace("] ", "][     T1] ");
        assert_eq!(read(&caller).splats, want);
        let syslog: String = X86_LOCKDEP.lines().map(|l| format!("<4>{l}\n")).collect();
        assert_eq!(read(&syslog).splats, want);
        let bare: String = X86_LOCKDEP
            .lines()
            .map(|l| format!("{}\n", message(l)))
            .collect();
        assert_eq!(read(&bare).splats, want);
    }

    #[test]
    fn serde_kebab_case_round_trip() {
        let s = one(X86_VM_BUG);
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains(r#""kind":"vm-bug""#), "{j}");
        assert_eq!(serde_json::from_str::<Splat>(&j).unwrap(), s);
        let k: SplatKind = serde_json::from_str(r#""suspicious-rcu""#).unwrap();
        assert_eq!(k, SplatKind::SuspiciousRcu);
        assert_eq!(
            serde_json::to_string(&SplatKind::RcuStall).unwrap(),
            format!("\"{}\"", SplatKind::RcuStall)
        );
        // Older records without frames still read.
        let s: Splat =
            serde_json::from_str(r#"{"kind":"warning","title":"WARNING: x","line":3}"#).unwrap();
        assert!(s.frames.is_empty() && s.location.is_none());
    }

    #[test]
    fn normalize_numbers() {
        assert_eq!(
            normalize("soft lockup - CPU#1 stuck for 22s! [init:1] ffff888004a3c0d8 0x1f ext4"),
            "soft lockup - CPU#N stuck for Ns! [init:N] N N ext4"
        );
    }
}
