//! `report --format kcidb`: the run as KCIDB I/O data (schema v5.3, the
//! latest that kcidb-io knows), which KernelCI's database takes with
//! `kcidb-submit`. One checkout per tree (base: the base commit; patched:
//! the base commit plus the series as a patchset), one build per selected
//! cell and tree (config_name is the cell id), and under each build a test
//! per stage the guest ran: "boot", "vma.guest", "vma.workload",
//! "selftests.NAME". A stage's status comes from the same judgement as the
//! JUnit cases ([`super::junit::tree_cases`]).
//!
//! KCIDB requires every URL to be absolute: logs are `file://` URLs into
//! the run directory unless `VMAMATRIX_KCIDB_LOG_URL` names a base URL that
//! serves the run directory. The origin (the prefix of every id) is
//! `vmamatrix`, or `VMAMATRIX_KCIDB_ORIGIN`.

use super::junit::{tree_cases, Case, Verdict};
use super::load::{Report, Row};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The schema version written: KCIDB I/O v5.3.
pub const VERSION: (u32, u32) = (5, 3);

/// KCIDB's log excerpts are at most this many characters.
const EXCERPT: usize = 16384;

/// Where the output goes and under which name.
#[derive(Debug, Clone)]
pub struct Options {
    /// The CI system's name: `[a-z0-9_]+`, the prefix of every id.
    pub origin: String,
    /// Base URL the run directory is served at (ends without '/'); None:
    /// `file://` URLs of the run directory on this machine.
    pub log_url: Option<String>,
    /// The tree's widely known name (`tree_name`), when known.
    pub tree_name: Option<String>,
}

impl Options {
    /// From the environment: `VMAMATRIX_KCIDB_ORIGIN` (default
    /// "vmamatrix"), `VMAMATRIX_KCIDB_LOG_URL`, `VMAMATRIX_KCIDB_TREE`.
    pub fn from_env() -> Result<Options, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let origin = var("VMAMATRIX_KCIDB_ORIGIN").unwrap_or_else(|| "vmamatrix".into());
        if !origin
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            || origin.is_empty()
        {
            return Err(format!(
                "VMAMATRIX_KCIDB_ORIGIN={origin:?}: a KCIDB origin is lower-case letters, digits and '_'"
            ));
        }
        let log_url = var("VMAMATRIX_KCIDB_LOG_URL").map(|u| u.trim_end_matches('/').to_string());
        if let Some(u) = &log_url {
            if !u.contains("://") {
                return Err(format!(
                    "VMAMATRIX_KCIDB_LOG_URL={u:?}: KCIDB takes absolute URLs only"
                ));
            }
        }
        Ok(Options {
            origin,
            log_url,
            tree_name: var("VMAMATRIX_KCIDB_TREE"),
        })
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            origin: "vmamatrix".into(),
            log_url: None,
            tree_name: None,
        }
    }
}

/// A path as the path of a URL: RFC 3986 unreserved characters and '/'
/// kept, every other byte percent-encoded.
fn url_path(p: &str) -> String {
    let mut s = String::new();
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// A test path segment: `[a-zA-Z0-9_-]+`.
fn segment(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if v.is_empty() {
        "_".into()
    } else {
        v
    }
}

/// At most [`EXCERPT`] characters (the last ones: a log's end says most).
fn excerpt(s: &str) -> String {
    let n = s.chars().count();
    let s: String = s.chars().skip(n.saturating_sub(EXCERPT)).collect();
    s.replace('\0', "")
}

/// `clang 19` from `LLVM=-19`, `clang` from `LLVM=1`, else the `CC=` or
/// the toolchain as written.
fn compiler(toolchain: &[String]) -> String {
    for t in toolchain {
        if let Some(v) = t.strip_prefix("LLVM=") {
            return match v.strip_prefix('-') {
                Some(ver) => format!("clang {ver}"),
                None if v.starts_with('/') => format!("clang ({v})"),
                None => "clang".into(),
            };
        }
    }
    for t in toolchain {
        if let Some(cc) = t.strip_prefix("CC=") {
            return cc.to_string();
        }
    }
    toolchain.join(" ")
}

fn is_sha1(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn status(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
        Verdict::Skip => "SKIP",
        Verdict::Miss => "MISS",
    }
}

/// The KCIDB path of a stage of [`tree_cases`].
fn test_path(stage: &str) -> String {
    match stage {
        "boot" => "boot".into(),
        "guest-vma-tests" => "vma.guest".into(),
        "workload" => "vma.workload".into(),
        s => match s.strip_prefix("selftest/") {
            Some(name) => format!("selftests.{}", segment(name)),
            None => segment(s),
        },
    }
}

struct Ctx<'a> {
    r: &'a Report,
    o: &'a Options,
}

impl Ctx<'_> {
    fn id(&self, parts: &[&str]) -> String {
        format!(
            "{}:{}:{}",
            self.o.origin,
            self.r.run.run_id,
            parts.join(":")
        )
    }

    /// A path relative to the run directory as an absolute URL.
    fn url(&self, rel: &str) -> String {
        match &self.o.log_url {
            Some(base) => format!("{base}/{}", url_path(rel)),
            None => {
                let abs = std::path::absolute(self.r.path(rel)).unwrap_or(self.r.path(rel));
                format!("file://{}", url_path(&abs.to_string_lossy()))
            }
        }
    }

    fn exists(&self, rel: &str) -> bool {
        self.r.path(rel).exists()
    }

    /// The series' patches as the per-patch checks wrote them
    /// (`checks/patch-N.patch`), when every one is there: the patchset's
    /// files and KCIDB's patchset hash (sha256 of the newline-terminated
    /// sha256s of the files, in order).
    fn patchset(&self) -> Option<(Vec<Value>, String)> {
        let n = self.r.run.series.patches.len();
        if n == 0 {
            return None;
        }
        let mut files = Vec::new();
        let mut sums = String::new();
        for p in &self.r.run.series.patches {
            let rel = format!("checks/patch-{}.patch", p.number);
            let data = std::fs::read(self.r.path(&rel)).ok()?;
            sums.push_str(&crate::series::hex(&Sha256::digest(&data)));
            sums.push('\n');
            files.push(json!({"name": format!("patch-{}.patch", p.number), "url": self.url(&rel)}));
        }
        Some((files, crate::series::hex(&Sha256::digest(sums.as_bytes()))))
    }

    fn checkouts(&self) -> Vec<Value> {
        let run = &self.r.run;
        let tree_name = self.o.tree_name.clone().or_else(|| {
            std::path::Path::new(&run.kernel)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        });
        let subject = run
            .series
            .cover_subject
            .clone()
            .or_else(|| run.series.patches.first().map(|p| p.subject.clone()))
            .unwrap_or_else(|| run.series.path.clone());
        let mut out = Vec::new();
        for tree in ["base", "patched"] {
            let mut c = Map::new();
            c.insert("id".into(), json!(self.id(&[tree])));
            c.insert("origin".into(), json!(self.o.origin));
            if let Some(t) = &tree_name {
                c.insert("tree_name".into(), json!(t));
            }
            // KCIDB's commit is the base of the checkout; the series is its
            // patchset.
            if is_sha1(&run.base) {
                c.insert("git_commit_hash".into(), json!(run.base));
            }
            c.insert("start_time".into(), json!(run.started));
            if let Some(f) = run.finished.as_ref().filter(|_| self.r.complete) {
                c.insert("origin_builds_finish_time".into(), json!(f));
                c.insert("origin_tests_finish_time".into(), json!(f));
            }
            c.insert("valid".into(), json!(true));
            let mut misc = Map::new();
            misc.insert("vmamatrix".into(), json!(run.vmamatrix));
            misc.insert("tree".into(), json!(tree));
            misc.insert("kernel".into(), json!(run.kernel));
            if !run.base_source.is_empty() {
                misc.insert("base_source".into(), json!(run.base_source));
            }
            let host = self.r.host_vma_tests.get(usize::from(tree == "patched"));
            if let Some(h) = host {
                misc.insert("host_vma_tests".into(), json!(h));
            }
            if tree == "base" {
                c.insert("patchset_hash".into(), json!(""));
                c.insert("comment".into(), json!(format!("base of {subject}")));
            } else {
                if let Some((files, hash)) = self.patchset() {
                    c.insert("patchset_files".into(), Value::Array(files));
                    c.insert("patchset_hash".into(), json!(hash));
                }
                if let Some(m) = &run.series.cover_message_id {
                    let m = m.trim().trim_start_matches('<').trim_end_matches('>');
                    if m.contains('@') {
                        c.insert("message_id".into(), json!(m));
                    }
                }
                c.insert("comment".into(), json!(subject));
                misc.insert("applied_commit".into(), json!(run.patched));
                misc.insert("series_sha256".into(), json!(run.series.hash));
                misc.insert(
                    "patches".into(),
                    json!(run
                        .series
                        .patches
                        .iter()
                        .map(|p| json!({"number": p.number, "subject": p.subject, "author": p.author}))
                        .collect::<Vec<_>>()),
                );
                if let Some(ch) = &self.r.checks {
                    misc.insert(
                        "checks".into(),
                        json!(ch
                            .patches
                            .iter()
                            .map(|p| json!({
                                "patch": p.number,
                                "checkpatch": p.checkpatch.as_ref().map(|c| json!({
                                    "errors": c.errors, "warnings": c.warnings, "checks": c.checks
                                })),
                                "sign_off_problems": p.dco.len(),
                                "whitespace_errors": p.whitespace.len(),
                            }))
                            .collect::<Vec<_>>()),
                    );
                    misc.insert(
                        "kernel_doc_new_warnings".into(),
                        json!(ch.kernel_doc_new.len()),
                    );
                }
            }
            c.insert("misc".into(), Value::Object(misc));
            out.push(Value::Object(c));
        }
        out
    }

    fn build(&self, row: &Row, tree: &str, build: &Case) -> Value {
        let run = &self.r.run;
        let mut b = Map::new();
        b.insert("id".into(), json!(self.id(&[&row.id, tree])));
        b.insert("checkout_id".into(), json!(self.id(&[tree])));
        b.insert("origin".into(), json!(self.o.origin));
        b.insert(
            "architecture".into(),
            json!(segment(&row.arch).replace('-', "_").to_lowercase()),
        );
        b.insert("compiler".into(), json!(compiler(&run.toolchain)));
        b.insert("config_name".into(), json!(row.id));
        b.insert("status".into(), json!(status(build.verdict)));
        let mut comment = format!("{} {} {}, {tree}", row.arch, row.smp, row.mmu);
        if !build.message.is_empty() {
            comment.push_str(&format!(": {}", build.message));
        }
        b.insert("comment".into(), json!(comment));
        let view = if tree == "base" {
            &row.build.base
        } else {
            &row.build.patched
        };
        if let Some(v) = view {
            b.insert("duration".into(), json!(v.secs));
            if !v.commands.is_empty() {
                b.insert("command".into(), json!(v.commands.join("\n")));
            }
            if self.exists(&v.log) {
                b.insert("log_url".into(), json!(self.url(&v.log)));
            }
            let config = format!("{}/{tree}/config", row.id);
            if self.exists(&config) {
                b.insert("config_url".into(), json!(self.url(&config)));
            }
        }
        if !build.text.is_empty() {
            b.insert("log_excerpt".into(), json!(excerpt(&build.text)));
        }
        let mut misc = Map::new();
        misc.insert("smp".into(), json!(row.smp));
        misc.insert("mmu".into(), json!(row.mmu));
        misc.insert("tree".into(), json!(tree));
        if let Some(v) = view {
            misc.insert("build_status".into(), json!(v.status));
            misc.insert("warnings".into(), json!(v.warnings));
            misc.insert("new_warnings".into(), json!(v.new_warnings));
            misc.insert("cached".into(), json!(v.cached));
        }
        if row.feasible == Some(false) {
            misc.insert(
                "infeasible".into(),
                json!(row.reason.as_deref().unwrap_or("refused by Kconfig")),
            );
        }
        let sizes: Map<String, Value> = row
            .structs
            .iter()
            .filter_map(|d| {
                let v = if tree == "base" { d.base } else { d.patched };
                Some((d.name.clone(), json!(v?)))
            })
            .collect();
        if !sizes.is_empty() {
            misc.insert("struct_sizes".into(), Value::Object(sizes));
        }
        if tree == "patched" {
            let regs: Vec<Value> = run
                .regressions
                .iter()
                .filter(|g| g.subject == row.id)
                .map(|g| json!({"kind": g.kind, "text": g.text}))
                .collect();
            if !regs.is_empty() {
                misc.insert("regressions".into(), Value::Array(regs));
            }
        }
        b.insert("misc".into(), Value::Object(misc));
        Value::Object(b)
    }

    /// `nth`: how many tests of this build had the same path before (a
    /// selftest that ran twice), so every id stays unique.
    fn test(&self, row: &Row, tree: &str, c: &Case, nth: usize) -> Value {
        let path = test_path(&c.stage);
        let mut t = Map::new();
        let id = match nth {
            0 => self.id(&[&row.id, tree, &path]),
            n => self.id(&[&row.id, tree, &path, &(n + 1).to_string()]),
        };
        t.insert("id".into(), json!(id));
        t.insert("build_id".into(), json!(self.id(&[&row.id, tree])));
        t.insert("origin".into(), json!(self.o.origin));
        t.insert("path".into(), json!(path));
        t.insert("status".into(), json!(status(c.verdict)));
        if let Some(s) = c.secs {
            t.insert("duration".into(), json!(s));
        }
        if !c.message.is_empty() {
            t.insert("comment".into(), json!(c.message.replace('\0', "")));
        }
        if let Some(log) = c.log.as_ref().filter(|l| self.exists(l)) {
            t.insert("log_url".into(), json!(self.url(log)));
        }
        if !c.text.is_empty() {
            t.insert("log_excerpt".into(), json!(excerpt(&c.text)));
        }
        t.insert(
            "environment".into(),
            json!({"comment": format!("QEMU, {} {} {}", row.arch, row.smp, row.mmu)}),
        );
        if !c.out.is_empty() {
            t.insert("misc".into(), json!({"details": c.out}));
        }
        Value::Object(t)
    }
}

/// The KCIDB I/O JSON of the report.
pub fn kcidb(r: &Report, o: &Options) -> String {
    let cx = Ctx { r, o };
    let mut builds = Vec::new();
    let mut tests = Vec::new();
    for row in r.cells.iter().filter(|c| c.selected) {
        for tree in ["base", "patched"] {
            let cases = tree_cases(row, tree);
            let (build, rest) = cases.split_first().expect("a build case first");
            builds.push(cx.build(row, tree, build));
            let mut seen: Vec<String> = Vec::new();
            for c in rest {
                let path = test_path(&c.stage);
                let nth = seen.iter().filter(|p| **p == path).count();
                tests.push(cx.test(row, tree, c, nth));
                seen.push(path);
            }
        }
    }
    let v = json!({
        "version": {"major": VERSION.0, "minor": VERSION.1},
        "checkouts": cx.checkouts(),
        "builds": builds,
        "tests": tests,
    });
    serde_json::to_string_pretty(&v).expect("serializable") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(compiler(&["LLVM=-19".into()]), "clang 19");
        assert_eq!(compiler(&["LLVM=1".into()]), "clang");
        assert_eq!(compiler(&["CC=gcc-12".into()]), "gcc-12");
        assert_eq!(url_path("/a b/c%d"), "/a%20b/c%25d");
        assert_eq!(segment("vma tests/x"), "vma_tests_x");
        assert_eq!(
            test_path("selftest/proc-maps-race"),
            "selftests.proc-maps-race"
        );
        assert_eq!(test_path("guest-vma-tests"), "vma.guest");
        assert!(is_sha1(&"a".repeat(40)) && !is_sha1(&"g".repeat(40)));
        assert_eq!(excerpt(&"x".repeat(EXCERPT + 5)).len(), EXCERPT);
    }

    #[test]
    fn objects_ids_and_statuses() {
        let r = super::super::junit::fixture();
        let o = Options {
            origin: "ci".into(),
            log_url: Some("https://ci.example.org/runs".into()),
            tree_name: Some("mm-unstable".into()),
        };
        let v: Value = serde_json::from_str(&kcidb(&r, &o)).unwrap();
        assert_eq!(v["version"], json!({"major": 5, "minor": 3}));
        let co = v["checkouts"].as_array().unwrap();
        assert_eq!(co.len(), 2);
        assert_eq!(co[0]["id"], "ci:r1:base");
        assert_eq!(co[1]["tree_name"], "mm-unstable");
        assert_eq!(co[1]["git_commit_hash"], "a".repeat(40));
        // No checks/patch-N.patch in the run: no patchset hash is claimed.
        assert!(co[1].get("patchset_hash").is_none());
        let b = v["builds"].as_array().unwrap();
        let st: Vec<(&str, &str)> = b
            .iter()
            .map(|b| (b["id"].as_str().unwrap(), b["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            st,
            [
                ("ci:r1:x86-up-mmu:base", "PASS"),
                ("ci:r1:x86-up-mmu:patched", "PASS"),
                ("ci:r1:x86-up-nommu:base", "SKIP"),
                ("ci:r1:x86-up-nommu:patched", "SKIP")
            ]
        );
        // Logs that do not exist are not linked.
        assert!(b[0].get("log_url").is_none());
        let t: Vec<(&str, &str)> = v["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].as_str().unwrap(), t["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            t,
            [
                ("ci:r1:x86-up-mmu:base:boot", "PASS"),
                ("ci:r1:x86-up-mmu:base:vma.guest", "PASS"),
                ("ci:r1:x86-up-mmu:patched:boot", "FAIL"),
                ("ci:r1:x86-up-mmu:patched:vma.guest", "PASS")
            ]
        );
    }
}
