//! The HTML report of a run (`report --format html`): one self-contained
//! static page, with its style sheet and a little script inline and nothing
//! loaded from anywhere (a Content-Security-Policy says so), that works from
//! file://. It shows the summary and the regressions first, then the grid of
//! every matrix cell (arches by SMP/UP x MMU/NOMMU, coloured by the cell's
//! worst outcome); a click on a cell (or `#cell=<id>` in the address) opens
//! its details: per tree the build and the boot, the Kconfig requests it
//! dropped, links to its logs, and the measured structs' layouts side by
//! side. Every string of a record is escaped.
//!
//! Log links are relative: [`link_base`] is the path from the directory the
//! page is written to to the run directory, so a page written into the run
//! directory (`-o results/<run>/report.html`) links `x86-up-mmu/base/build.log`.

use super::html_layout::{esc, layouts};
use super::load::{BootView, BuildStatus, BuildView, Report, Row};
use super::markdown::{boot_word, build_word, bytes_delta};
use crate::model::BootOutcome;
use crate::selftests::tap::Verdict;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

/// The style sheet, inlined.
const CSS: &str = include_str!("html.css");

/// Opens the cell named by `#cell=<id>` (on load and on every hash change,
/// so a click or Enter on a grid cell opens it), `#cell=all` opens all;
/// without a fragment the cell `data-default` names is open. Without
/// JavaScript every cell's details are shown one after the other.
const JS: &str = r#"(function () {
  var details = document.getElementById('details');
  function wanted() {
    var m = /^#cell=([A-Za-z0-9_.-]*)$/.exec(location.hash);
    return m ? m[1] : details.getAttribute('data-default');
  }
  function show(scroll) {
    var id = wanted(), any = false;
    document.querySelectorAll('section.detail').forEach(function (s) {
      var on = id === 'all' || s.getAttribute('data-cell') === id;
      s.hidden = !on;
      any = any || on;
    });
    document.querySelectorAll('a.cell').forEach(function (a) {
      if (a.getAttribute('data-cell') === id) a.setAttribute('aria-current', 'true');
      else a.removeAttribute('aria-current');
    });
    document.getElementById('no-detail').hidden = any;
    if (scroll && any) details.scrollIntoView();
  }
  window.addEventListener('hashchange', function () { show(true); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') location.hash = '#cell=';
  });
  show(false);
})();"#;

/// How many compiler errors of a failed build the details quote.
const QUOTED_ERRORS: usize = 20;

/// A relative path as a URL path: bytes outside `A-Za-z0-9-._~/`
/// percent-encoded.
fn url_path(p: &str) -> String {
    let mut o = String::new();
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

/// The path from directory `from` to directory `to` ("" when they are the
/// same, else ending in `/`), for links from a page in `from` to files
/// under `to`. Both are made absolute and resolved first; when that fails,
/// `to` as given.
pub fn link_base(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| -> Option<PathBuf> {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        p.canonicalize().ok()
    };
    let (Some(from), Some(to)) = (abs(from), abs(to)) else {
        let s = to.to_string_lossy().into_owned();
        return if s.is_empty() || s.ends_with('/') {
            s
        } else {
            s + "/"
        };
    };
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        String::new()
    } else {
        parts.join("/") + "/"
    }
}

/// A cell's worst outcome, the colour of its square in the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A regression has the cell as its subject.
    Regression,
    /// A build or a boot failed (either tree).
    Failed,
    /// Built and booted, with kernel reports or failed tests in both trees.
    Findings,
    Ok,
    /// Kconfig refuses the cell.
    Infeasible,
    NotSelected,
    /// Selected, but no record (not reached, or Kconfig failed).
    Missing,
}

impl Outcome {
    pub fn class(self) -> &'static str {
        match self {
            Outcome::Regression => "o-regression",
            Outcome::Failed => "o-fail",
            Outcome::Findings => "o-findings",
            Outcome::Ok => "o-ok",
            Outcome::Infeasible => "o-infeasible",
            Outcome::NotSelected => "o-unselected",
            Outcome::Missing => "o-missing",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Outcome::Regression => "REGRESSION",
            Outcome::Failed => "FAILED",
            Outcome::Findings => "findings",
            Outcome::Ok => "ok",
            Outcome::Infeasible => "infeasible",
            Outcome::NotSelected => "not selected",
            Outcome::Missing => "no results",
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Outcome::Regression => "regression: patched is worse than base",
            Outcome::Failed => "a build or boot failed (base or patched)",
            Outcome::Findings => "built and booted, with kernel reports or failed tests",
            Outcome::Ok => "built (and booted, where it boots) cleanly",
            Outcome::Infeasible => "Kconfig refuses the configuration (the text says why)",
            Outcome::NotSelected => "not selected in this run",
            Outcome::Missing => "selected, no results (not reached, or Kconfig failed)",
        }
    }
}

fn build_failed(b: &Option<BuildView>) -> bool {
    b.as_ref()
        .is_some_and(|b| !matches!(b.status, BuildStatus::Ok | BuildStatus::ProbeOnly))
}

fn boot_failed(b: &Option<BootView>) -> bool {
    b.as_ref()
        .is_some_and(|b| !matches!(b.outcome, BootOutcome::Booted | BootOutcome::NotBootable))
}

/// What failed in a cell: "patched build FAIL (exit 2)", ...
fn failures(row: &Row) -> Vec<String> {
    let mut v = Vec::new();
    for (tree, b) in row.build.named() {
        if build_failed(b) {
            v.push(format!("{tree} build {}", build_word(b)));
        }
    }
    for (tree, b) in row.boot.named() {
        if boot_failed(b) {
            v.push(format!("{tree} boot {}", boot_word(b)));
        }
    }
    v
}

/// What a booted cell's guests found, per tree.
fn findings(row: &Row) -> Vec<String> {
    let mut v = Vec::new();
    for (tree, b) in row.boot.named() {
        let Some(b) = b else { continue };
        if !b.splats.is_empty() {
            v.push(format!("{tree}: {} kernel report(s)", b.splats.len()));
        }
        if let Some(t) = b.vma_tests.filter(|t| !t.all_passed() && t.run > 0) {
            v.push(format!(
                "{tree}: {} of {} vma tests failed",
                t.failed, t.run
            ));
        }
        if let Some(w) = b.workload.as_ref().filter(|w| w.failed > 0 || !w.finished) {
            v.push(format!(
                "{tree}: workload {} failed{}",
                w.failed,
                if w.finished { "" } else { ", unfinished" }
            ));
        }
        let bad = b
            .selftests
            .iter()
            .filter(|t| matches!(t.verdict(), Verdict::Fail | Verdict::Error))
            .count();
        if bad > 0 {
            v.push(format!("{tree}: {bad} selftest(s) failed"));
        }
        if b.exec_child.is_some_and(|c| c != 0) {
            v.push(format!("{tree}: exec child failed"));
        }
    }
    v
}

/// The worst outcome of a cell.
pub fn outcome(row: &Row) -> Outcome {
    if !row.selected {
        Outcome::NotSelected
    } else if row.regression {
        Outcome::Regression
    } else if row.feasible == Some(false) {
        Outcome::Infeasible
    } else if !failures(row).is_empty() {
        Outcome::Failed
    } else if row.build.base.is_none() && row.build.patched.is_none() {
        Outcome::Missing
    } else if !findings(row).is_empty() {
        Outcome::Findings
    } else {
        Outcome::Ok
    }
}

/// The HTML page of a run; log links are `link_base` + the log's path
/// relative to the run directory (see [`link_base`]).
pub fn html(r: &Report, link_base: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <title>vmamatrix run {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        esc(&r.run.run_id)
    );
    s.push_str(&header(r));
    s.push_str("<main>\n");
    s.push_str(&summary(r));
    s.push_str(&regressions(r));
    s.push_str(&fixed(r));
    s.push_str(&grid(r));
    s.push_str(&details(r, link_base));
    s.push_str(&checks(r));
    s.push_str(&per_patch(r));
    s.push_str("</main>\n");
    let _ = write!(
        s,
        "<footer>vmamatrix {}; every \"x / y\" and every pair of columns is base / patched.</footer>\n\
         <script>\n{JS}\n</script>\n</body>\n</html>\n",
        esc(&r.run.vmamatrix)
    );
    s
}

fn short(c: &str) -> &str {
    &c[..12.min(c.len())]
}

fn header(r: &Report) -> String {
    let run = &r.run;
    let mut s = format!("<header>\n<h1>vmamatrix run {}</h1>\n", esc(&run.run_id));
    if !r.complete {
        let _ = writeln!(
            s,
            "<p class=\"banner\">This run is {}: cells without results were not reached. \
             Resume it with the same <code>vmamatrix run</code> command; finished stages are kept.</p>",
            if run.interrupted {
                "interrupted"
            } else {
                "not finished"
            }
        );
    }
    s.push_str("<ul class=\"meta\">\n");
    let _ = write!(
        s,
        "<li>series: <b>{}</b> ({} patches, sha256 <code>{}</code>)</li>\n\
         <li>kernel <code>{}</code>, base <code>{}</code>{}, patched <code>{}</code></li>\n\
         <li>toolchain <code>{}</code>; started {}, finished {}</li>\n",
        esc(run
            .series
            .cover_subject
            .as_deref()
            .unwrap_or(&run.series.path)),
        run.series.patches.len(),
        esc(&run.series.hash[..16.min(run.series.hash.len())]),
        esc(&run.kernel),
        esc(short(&run.base)),
        if run.base_source.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(&run.base_source))
        },
        esc(short(&run.patched)),
        esc(&run.toolchain.join(" ")),
        esc(&run.started),
        esc(run.finished.as_deref().unwrap_or("(not finished)")),
    );
    if let Some((k, n)) = run.shard {
        let _ = writeln!(s, "<li>shard {k} of {n}</li>");
    }
    if run.configs.len() > 1 {
        let _ = writeln!(
            s,
            "<li>Kconfig fragments <code>{}</code> with the overlay(s) <code>{}</code>: sizes and boots \
             are of kernels with those options, not production figures.</li>",
            esc(&run.configs[0]),
            esc(&run.configs[1..].join(", "))
        );
    }
    s.push_str("</ul>\n</header>\n");
    s
}

fn cell_link(id: &str) -> String {
    format!("<a href=\"#cell={}\">{}</a>", esc(&url_path(id)), esc(id))
}

fn summary(r: &Report) -> String {
    let m = &r.summary;
    let mut s = String::from("<section id=\"summary\">\n<h2>Summary</h2>\n<ul>\n");
    let _ = write!(
        s,
        "<li>cells: {} selected of {}, {} feasible, {} refused by Kconfig</li>\n\
         <li>built: base {}, patched {} (failed: base {}, patched {})</li>\n\
         <li>booted: base {}, patched {} (failed: base {}, patched {})</li>\n\
         <li>regressions: {}</li>\n",
        m.selected,
        m.cells,
        m.feasible,
        m.infeasible,
        m.built.base,
        m.built.patched,
        m.build_failed.base,
        m.build_failed.patched,
        m.booted.base,
        m.booted.patched,
        m.boot_failed.base,
        m.boot_failed.patched,
        if m.regressions == 0 {
            "none".to_string()
        } else {
            format!("<span class=\"bad\">{}</span>", m.regressions)
        },
    );
    if m.fixed > 0 {
        let _ = writeln!(
            s,
            "<li>fixed on patched (base fails, patched does not): <a href=\"#fixed\">{}</a></li>",
            m.fixed
        );
    }
    let both = &r.failing_on_both;
    if !both.is_empty() {
        let each: Vec<String> = both
            .iter()
            .map(|f| format!("{} {}", esc(&f.cell), esc(&f.tests_text())))
            .collect();
        let _ = writeln!(
            s,
            "<li>selftests that fail on both trees (not regressions): {}</li>",
            each.join("; ")
        );
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
                    format!(
                        "{t} <span class=\"bad\">{} of {} FAILED</span>",
                        c.failed, c.run
                    )
                }
            })
        })
        .collect();
    if !host.is_empty() {
        let _ = writeln!(
            s,
            "<li>tools/testing/vma on the host: {}</li>",
            host.join(", ")
        );
    }
    let measured = r
        .cells
        .iter()
        .filter(|c| c.structs.iter().any(|d| d.delta().is_some()))
        .count();
    if m.struct_growth.is_empty() {
        if measured > 0 {
            let _ = writeln!(
                s,
                "<li>cost: no measured struct changed size ({measured} cell(s) measured)</li>"
            );
        }
    } else {
        let grown: Vec<String> = m
            .struct_growth
            .iter()
            .map(|g| {
                format!(
                    "<span class=\"growth\">{} {} {:+} B</span> ({} &rarr; {})",
                    cell_link(&g.cell),
                    esc(&g.name),
                    g.delta,
                    g.base,
                    g.patched
                )
            })
            .collect();
        let cells = m
            .struct_growth
            .iter()
            .map(|g| &g.cell)
            .collect::<BTreeSet<_>>()
            .len();
        let _ = writeln!(
            s,
            "<li>cost: {}{}</li>",
            grown.join(", "),
            match measured.saturating_sub(cells) {
                0 => String::new(),
                n => format!("; no change in the other {n} measured cell(s)"),
            }
        );
    }
    if !r.not_compiled_anywhere.is_empty() {
        let _ = writeln!(
            s,
            "<li class=\"bad\">no selected cell compiled {}: nothing in this run proves the series' changes there build</li>",
            r.not_compiled_anywhere
                .iter()
                .map(|f| format!("<code>{}</code>", esc(f)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s.push_str("</ul>\n</section>\n");
    s
}

fn regressions(r: &Report) -> String {
    finding_list(
        r,
        "regressions",
        "Regressions",
        "",
        r.regressions(),
        "regression",
    )
}

fn fixed(r: &Report) -> String {
    finding_list(
        r,
        "fixed",
        "Fixed on patched",
        "<p>What the base tree does wrong here and the patched tree does not, in this run (one observation each: a race on base may not recur).</p>\n",
        &r.fixed,
        "fixed",
    )
}

/// A section listing regressions or fixes, each naming its cell (a link)
/// and its kind.
fn finding_list(
    r: &Report,
    id: &str,
    title: &str,
    intro: &str,
    items: &[crate::model::Regression],
    class: &str,
) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut s = format!("<section id=\"{id}\">\n<h2>{title}</h2>\n{intro}<ul>\n");
    for g in items {
        let subject = if r.cells.iter().any(|c| c.id == g.subject) {
            cell_link(&g.subject)
        } else {
            esc(&g.subject)
        };
        // The kind, unless an older run.json kept only the text.
        let kind = match g.kind {
            crate::model::RegressionKind::Other => String::new(),
            k => serde_json::to_value(k)
                .ok()
                .and_then(|v| {
                    v.as_str()
                        .map(|k| format!(" <span class=\"muted\">({})</span>", esc(k)))
                })
                .unwrap_or_default(),
        };
        let _ = writeln!(
            s,
            "<li class=\"{class}\">{subject}: {}{kind}</li>",
            esc(&g.text)
        );
    }
    s.push_str("</ul>\n</section>\n");
    s
}

/// The grid's columns, in order.
const COLUMNS: [(&str, &str); 4] = [
    ("smp", "mmu"),
    ("smp", "nommu"),
    ("up", "mmu"),
    ("up", "nommu"),
];

/// The short text of a grid cell: what it is, beside its colour.
fn cell_text(row: &Row, o: Outcome) -> String {
    match o {
        Outcome::Regression => {
            // The regressions' sentences are in the details; the grid says
            // what kind.
            failures(row)
                .into_iter()
                .chain(findings(row))
                .next()
                .unwrap_or_else(|| "patched is worse than base".into())
        }
        Outcome::Failed => failures(row).join("; "),
        Outcome::Findings => findings(row).join("; "),
        Outcome::Infeasible => row
            .reason
            .clone()
            .unwrap_or_else(|| "refused by Kconfig".into()),
        Outcome::NotSelected => String::new(),
        Outcome::Missing => "no records".into(),
        Outcome::Ok => match (&row.boot.patched, &row.build.patched) {
            (Some(b), _) if b.outcome != BootOutcome::NotBootable => boot_word(&Some(b.clone())),
            (_, b @ Some(_)) => format!("build {}", build_word(b)),
            _ => String::new(),
        },
    }
}

fn grid(r: &Report) -> String {
    let mut arches: Vec<&str> = Vec::new();
    for c in &r.cells {
        if !arches.contains(&c.arch.as_str()) {
            arches.push(&c.arch);
        }
    }
    let mut s = String::from(
        "<section id=\"matrix\">\n<h2>Matrix</h2>\n\
         <p class=\"muted\">Each cell is coloured by its worst outcome over base and patched. \
         Click a cell (or Tab to it and press Enter) for its builds, boots, logs and struct layouts.</p>\n\
         <table class=\"grid\">\n<thead><tr><th></th>",
    );
    for (smp, mmu) in COLUMNS {
        let _ = write!(s, "<th>{} {}</th>", smp.to_uppercase(), mmu.to_uppercase());
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for arch in arches {
        let _ = write!(s, "<tr><th scope=\"row\">{}</th>", esc(arch));
        for (smp, mmu) in COLUMNS {
            let Some(row) = r
                .cells
                .iter()
                .find(|c| c.arch == arch && c.smp == smp && c.mmu == mmu)
            else {
                s.push_str("<td></td>");
                continue;
            };
            let o = outcome(row);
            let text = cell_text(row, o);
            let growth: Vec<String> = row
                .structs
                .iter()
                .filter(|d| d.delta().is_some_and(|x| x != 0))
                .map(|d| format!("{} {}", d.name, bytes_delta(d)))
                .collect();
            let mut title = format!("{}: {}", row.id, o.word());
            if !text.is_empty() {
                title.push_str(" - ");
                title.push_str(&text);
            }
            let _ = write!(
                s,
                "<td><a class=\"cell {}\" href=\"#cell={}\" data-cell=\"{}\" data-outcome=\"{}\" title=\"{}\">\
                 <span class=\"w\">{}</span><span class=\"t\">{}</span>{}</a></td>",
                o.class(),
                esc(&url_path(&row.id)),
                esc(&row.id),
                &o.class()[2..],
                esc(&title),
                o.word(),
                esc(&text),
                if growth.is_empty() {
                    String::new()
                } else {
                    format!("<span class=\"g\">&Delta; {}</span>", esc(&growth.join(", ")))
                }
            );
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n<ul class=\"legend\">\n");
    for o in [
        Outcome::Regression,
        Outcome::Failed,
        Outcome::Findings,
        Outcome::Ok,
        Outcome::Infeasible,
        Outcome::NotSelected,
        Outcome::Missing,
    ] {
        let _ = writeln!(
            s,
            "<li><span class=\"sw {}\"></span><b>{}</b> {}</li>",
            o.class(),
            o.word(),
            o.legend()
        );
    }
    s.push_str(
        "</ul>\n<p class=\"muted\">&Delta;: struct size change, patched minus base.</p>\n</section>\n",
    );
    s
}

/// A link to a log of the run when the file exists, else its name, muted.
fn log_link(r: &Report, base: &str, rel: &str) -> String {
    let name = Path::new(rel)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| rel.to_string());
    if !rel.is_empty() && r.path(rel).is_file() {
        format!(
            "<a class=\"log\" href=\"{}\">{}</a>",
            esc(&url_path(&format!("{base}{rel}"))),
            esc(&name)
        )
    } else {
        format!("<span class=\"muted\">{} (not kept)</span>", esc(&name))
    }
}

fn details(r: &Report, base: &str) -> String {
    // Open at first: the first cell with a regression, else the first
    // failed one, else none.
    let default = [Outcome::Regression, Outcome::Failed]
        .iter()
        .find_map(|o| r.cells.iter().find(|c| outcome(c) == *o))
        .map(|c| c.id.as_str())
        .unwrap_or("");
    let mut s = format!(
        "<section id=\"details\" data-default=\"{}\">\n<h2>Cell details</h2>\n\
         <p id=\"no-detail\" class=\"muted\">Click a cell of the matrix to see its details here \
         (<a href=\"#cell=all\">show all</a>).</p>\n",
        esc(default)
    );
    for row in &r.cells {
        s.push_str(&detail(r, row, base));
    }
    s.push_str("</section>\n");
    s
}

fn detail(r: &Report, row: &Row, base: &str) -> String {
    let o = outcome(row);
    let mut s = format!(
        "<section class=\"detail\" id=\"detail-{}\" data-cell=\"{}\">\n\
         <h3>{} <span class=\"badge {}\">{}</span></h3>\n\
         <p class=\"muted\">arch {}, {}, {}</p>\n",
        esc(&row.id),
        esc(&row.id),
        esc(&row.id),
        o.class(),
        o.word(),
        esc(&row.arch),
        esc(&row.smp.to_uppercase()),
        esc(&row.mmu.to_uppercase()),
    );
    if !row.selected {
        s.push_str("<p>Not selected in this run.</p>\n</section>\n");
        return s;
    }
    let regs: Vec<String> = r
        .regressions()
        .iter()
        .filter(|g| g.subject == row.id)
        .map(|g| format!("<li class=\"bad\">{}</li>", esc(&g.text)))
        .collect();
    if !regs.is_empty() {
        let _ = writeln!(s, "<h4>Regressions</h4>\n<ul>{}</ul>", regs.join(""));
    }
    s.push_str(&kconfig(row));
    if row.feasible == Some(false) && row.build.base.is_none() && row.build.patched.is_none() {
        s.push_str("</section>\n");
        return s;
    }
    s.push_str("<div class=\"trees\">\n");
    for (i, (tree, b)) in row.build.named().into_iter().enumerate() {
        let _ = writeln!(
            s,
            "<div class=\"tree\" data-tree=\"{tree}\">\n<h4>{tree}</h4>"
        );
        s.push_str(&build(r, base, b));
        s.push_str(&boot(r, base, row.boot.get(i)));
        s.push_str("</div>\n");
    }
    s.push_str("</div>\n");
    s.push_str(&coverage(row));
    s.push_str(&sections(row));
    s.push_str(&layouts(r, row));
    s.push_str("</section>\n");
    s
}

fn kconfig(row: &Row) -> String {
    let mut s = String::new();
    if row.feasible == Some(false) {
        let _ = writeln!(
            s,
            "<p><b>Refused by Kconfig:</b> {}</p>",
            esc(row.reason.as_deref().unwrap_or("?"))
        );
    }
    if !row.tracked.is_empty() {
        s.push_str("<h4>Kconfig</h4>\n<table class=\"data\"><tr><th>symbol</th><th>base</th><th>patched</th></tr>\n");
        for (k, t) in &row.tracked {
            let b = t.base.as_deref().unwrap_or("-");
            let p = t.patched.as_deref().unwrap_or("-");
            let _ = writeln!(
                s,
                "<tr{}><td><code>CONFIG_{}</code></td><td>{}</td><td>{}</td></tr>",
                if b != p { " class=\"changed\"" } else { "" },
                esc(k),
                esc(b),
                esc(p)
            );
        }
        s.push_str("</table>\n");
    }
    if !row.dropped.is_empty() {
        s.push_str("<h4>Kconfig requests dropped</h4>\n<ul class=\"dropped\">\n");
        for d in &row.dropped {
            let _ = writeln!(
                s,
                "<li><code>CONFIG_{}={}</code> ({}): got {}, {}</li>",
                esc(&d.symbol),
                esc(&d.requested),
                esc(&d.from),
                esc(&d.got),
                esc(&d.why)
            );
        }
        s.push_str("</ul>\n");
    }
    s
}

fn build(r: &Report, base: &str, b: &Option<BuildView>) -> String {
    let Some(v) = b else {
        return "<p class=\"muted\">No build.</p>\n".into();
    };
    let failed = build_failed(b);
    let mut s = format!(
        "<dl class=\"kv build\">\n<dt>build</dt><dd class=\"{}\">{}</dd>\n\
         <dt>time</dt><dd>{:.0} s{}</dd>\n\
         <dt>warnings</dt><dd>{} ({} new)</dd>\n\
         <dt>log</dt><dd>{}</dd>\n",
        if failed { "bad" } else { "" },
        esc(&build_word(b)),
        v.secs,
        if v.cached {
            ", replayed from the cache"
        } else {
            ""
        },
        v.warnings,
        v.new_warnings.len(),
        log_link(r, base, &v.log),
    );
    if let Some(c) = &v.ccache {
        let _ = writeln!(
            s,
            "<dt>ccache</dt><dd>{} hits of {}</dd>",
            c.hits,
            c.hits + c.misses
        );
    }
    s.push_str("</dl>\n");
    if !v.errors.is_empty() {
        s.push_str("<pre class=\"errors\">");
        for e in v.errors.iter().take(QUOTED_ERRORS) {
            let _ = writeln!(
                s,
                "{}",
                esc(&format!("{}:{}: {}: {}", e.file, e.line, e.kind, e.text))
            );
        }
        if v.errors.len() > QUOTED_ERRORS {
            let _ = writeln!(
                s,
                "... {} more error(s) in the log",
                v.errors.len() - QUOTED_ERRORS
            );
        }
        s.push_str("</pre>\n");
    } else if failed && !v.tail.is_empty() {
        let _ = writeln!(
            s,
            "<p>The log's last lines:</p>\n<pre class=\"tail\">{}</pre>",
            esc(&v.tail.join("\n"))
        );
    }
    if !v.new_warnings.is_empty() {
        s.push_str("<p>New warnings:</p>\n<pre class=\"warnings\">");
        for w in &v.new_warnings {
            let _ = writeln!(
                s,
                "{}",
                esc(&format!("{}:{}: {}: {}", w.file, w.line, w.kind, w.text))
            );
        }
        s.push_str("</pre>\n");
    }
    if !v.commands.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>commands</summary><pre>{}</pre></details>",
            esc(&v.commands.join("\n"))
        );
    }
    s
}

fn boot(r: &Report, base: &str, b: &Option<BootView>) -> String {
    let Some(v) = b else {
        return String::new();
    };
    let mut s = format!(
        "<dl class=\"kv boot\">\n<dt>boot</dt><dd class=\"{}\">{}{}</dd>\n",
        if boot_failed(b) { "bad" } else { "" },
        esc(&boot_word(b)),
        if v.cached {
            ", replayed from the cache"
        } else {
            ""
        },
    );
    if let Some(why) = v.panic.as_ref().or(v.reason.as_ref()) {
        let _ = writeln!(s, "<dt>why</dt><dd>{}</dd>", esc(why));
    }
    if !v.console.is_empty() {
        let _ = writeln!(
            s,
            "<dt>console</dt><dd>{}</dd>",
            log_link(r, base, &v.console)
        );
    }
    match (v.vma_tests, &v.vma_tests_note) {
        (Some(t), _) => {
            let _ = writeln!(
                s,
                "<dt>vma tests</dt><dd class=\"{}\">{} run, {} passed, {} failed</dd>",
                if t.all_passed() { "" } else { "bad" },
                t.run,
                t.passed,
                t.failed
            );
        }
        (None, Some(n)) => {
            let _ = writeln!(s, "<dt>vma tests</dt><dd>not run: {}</dd>", esc(n));
        }
        _ => {}
    }
    if let Some(c) = v.exec_child {
        let _ = writeln!(
            s,
            "<dt>exec child</dt><dd class=\"{}\">exit {c}</dd>",
            if c == 0 { "" } else { "bad" }
        );
    }
    if let Some(w) = &v.workload {
        let ops = if w.finished {
            w.total
        } else {
            w.ops.iter().map(|o| o.ops).sum()
        };
        let _ = writeln!(
            s,
            "<dt>workload</dt><dd class=\"{}\">{ops} operations{}, {} failed ({})</dd>",
            if w.failed > 0 || !w.finished {
                "bad"
            } else {
                ""
            },
            if w.finished { "" } else { " (unfinished)" },
            w.failed,
            esc(&w.mode)
        );
    }
    if v.workload.is_some() || v.vma_lock.is_some() {
        match v.vma_lock {
            Some(d) => {
                let _ = writeln!(
                    s,
                    "<dt>vma_lock</dt><dd>success +{}, abort +{}, retry +{}, miss +{}</dd>",
                    d.success, d.abort, d.retry, d.miss
                );
            }
            None => {
                s.push_str("<dt>vma_lock</dt><dd class=\"muted\">no per-VMA lock counters</dd>\n")
            }
        }
    }
    let _ = writeln!(
        s,
        "<dt>kernel reports</dt><dd class=\"{}\">{}</dd>",
        if v.splats.is_empty() { "" } else { "bad" },
        v.splats.len()
    );
    s.push_str("</dl>\n");
    if let Some(w) = &v.workload {
        if !w.ops.is_empty() {
            s.push_str("<details><summary>workload operations</summary>\n<table class=\"data\"><tr><th>kind</th><th class=\"num\">ops</th><th class=\"num\">failed</th></tr>\n");
            for o in &w.ops {
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    esc(&o.kind),
                    o.ops,
                    o.failed
                );
            }
            s.push_str("</table>\n</details>\n");
        }
        if !w.fails.is_empty() || !w.notes.is_empty() {
            let _ = writeln!(
                s,
                "<pre class=\"workload\">{}</pre>",
                esc(&w
                    .fails
                    .iter()
                    .chain(&w.vmas)
                    .chain(&w.notes)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n"))
            );
        }
    }
    for sp in &v.splats {
        let _ = write!(
            s,
            "<div class=\"splat\"><b>{}</b>: <code>{}</code><br><span class=\"muted\">{}{}console line {}</span>",
            esc(sp.kind.as_str()),
            esc(&sp.title),
            sp.location
                .as_ref()
                .map(|l| format!("at {}, ", esc(l)))
                .unwrap_or_default(),
            sp.function
                .as_ref()
                .map(|f| format!("in {}, ", esc(f)))
                .unwrap_or_default(),
            sp.line
        );
        if !sp.frames.is_empty() {
            s.push_str("<ol class=\"frames\">");
            for f in &sp.frames {
                let _ = write!(s, "<li>{}</li>", esc(f));
            }
            s.push_str("</ol>");
        }
        s.push_str("</div>\n");
    }
    if !v.selftests.is_empty() {
        s.push_str("<table class=\"data selftests\"><tr><th>selftest</th><th>result</th></tr>\n");
        for t in &v.selftests {
            let all = t.summary();
            let text = all.strip_prefix(&format!("{}: ", t.name)).unwrap_or(&all);
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&t.name),
                if matches!(t.verdict(), Verdict::Fail | Verdict::Error) {
                    "bad"
                } else {
                    ""
                },
                esc(text)
            );
        }
        s.push_str("</table>\n");
    }
    if !v.qemu.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>QEMU command</summary><pre>{}</pre></details>",
            esc(&v.qemu)
        );
    }
    s
}

fn coverage(row: &Row) -> String {
    let Some(c) = &row.coverage else {
        return String::new();
    };
    if c.compiled.is_empty() && c.not_compiled.is_empty() && c.failed.is_empty() {
        return String::new();
    }
    let list = |v: &[String]| {
        v.iter()
            .map(|f| format!("<code>{}</code>", esc(f)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = String::from(
        "<h4>Series files (C, and Rust under rust/) in the patched build</h4>\n<dl class=\"kv\">\n",
    );
    for (what, v) in [
        ("compiled", &c.compiled),
        ("not compiled", &c.not_compiled),
        ("compile failed", &c.failed),
    ] {
        if !v.is_empty() {
            let _ = writeln!(s, "<dt>{what}</dt><dd>{}</dd>", list(v));
        }
    }
    s.push_str("</dl>\n");
    s
}

fn sections(row: &Row) -> String {
    if !row
        .sections
        .iter()
        .any(|d| d.base.is_some() || d.patched.is_some())
    {
        return String::new();
    }
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    let mut s = String::from(
        "<h4>vmlinux sections (bytes)</h4>\n<table class=\"data\"><tr><th>section</th>\
         <th class=\"num\">base</th><th class=\"num\">patched</th><th class=\"num\">&Delta;</th></tr>\n",
    );
    for d in &row.sections {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&d.name),
            opt(d.base),
            opt(d.patched),
            esc(&bytes_delta(d))
        );
    }
    s.push_str("</table>\n");
    s
}

fn checks(r: &Report) -> String {
    let Some(c) = &r.checks else {
        return String::new();
    };
    let mut s = String::from(
        "<section id=\"checks\">\n<h2>Patch checks</h2>\n\
         <p class=\"muted\">checkpatch.pl --strict (errors / warnings / checks), the author's \
         Signed-off-by, whitespace errors in added lines.</p>\n\
         <table class=\"data\"><tr><th>patch</th><th>subject</th><th>checkpatch E/W/C</th>\
         <th>sign-off</th><th>whitespace</th></tr>\n",
    );
    for p in &c.patches {
        let cp = match &p.checkpatch {
            Some(cp) => format!("{}/{}/{}", cp.errors, cp.warnings, cp.checks),
            None => "not run".into(),
        };
        let cp_bad = p
            .checkpatch
            .as_ref()
            .is_some_and(|c| c.errors + c.warnings + c.checks > 0);
        let _ = writeln!(
            s,
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td></tr>",
            p.number,
            esc(&p.subject),
            if cp_bad { "bad" } else { "" },
            esc(&cp),
            if p.dco.is_empty() { "" } else { "bad" },
            if p.dco.is_empty() { "ok" } else { "missing" },
            if p.whitespace.is_empty() { "" } else { "bad" },
            if p.whitespace.is_empty() {
                "ok".to_string()
            } else {
                p.whitespace.len().to_string()
            }
        );
    }
    s.push_str("</table>\n");
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
            let _ = writeln!(msgs, "<li>patch {}: {}</li>", p.number, esc(m));
        }
    }
    if !msgs.is_empty() {
        let _ = writeln!(
            s,
            "<details open><summary>What the checks said</summary><ul>\n{msgs}</ul></details>"
        );
    }
    if c.kernel_doc_new.is_empty() {
        s.push_str("<p>kernel-doc -Wall on the touched files: no new warnings.</p>\n");
    } else {
        s.push_str("<p>kernel-doc -Wall on the touched files, new warnings:</p>\n<ul>\n");
        for w in &c.kernel_doc_new {
            let _ = writeln!(s, "<li>{}</li>", esc(w));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</section>\n");
    s
}

fn per_patch(r: &Report) -> String {
    if r.per_patch.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "<section id=\"per-patch\">\n<h2>Per patch</h2>\n\
         <p class=\"muted\">Build status and new warnings since base, per tree.</p>\n\
         <table class=\"data\"><tr><th>cell</th>",
    );
    for t in &r.run.trees {
        let _ = write!(s, "<th>{}</th>", esc(t));
    }
    s.push_str("<th>first bad</th></tr>\n");
    for p in &r.per_patch {
        let _ = write!(s, "<tr><td>{}</td>", cell_link(&p.cell));
        for t in &r.run.trees {
            match p.steps.iter().find(|st| &st.tree == t) {
                Some(st) => {
                    let (w, bad) = match st.status {
                        BuildStatus::Ok => ("ok", false),
                        BuildStatus::ProbeOnly => ("probe only", false),
                        _ => ("FAIL", true),
                    };
                    let _ = write!(
                        s,
                        "<td class=\"{}\">{w} (+{})</td>",
                        if bad || st.new_warnings > 0 {
                            "bad"
                        } else {
                            ""
                        },
                        st.new_warnings
                    );
                }
                None => s.push_str("<td>-</td>"),
            }
        }
        let _ = writeln!(
            s,
            "<td>{}</td></tr>",
            esc(p.first_bad.as_deref().unwrap_or("none"))
        );
    }
    s.push_str("</table>\n</section>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::super::load::{SizeDelta, Summary, TestCounts, Trees};
    use super::*;
    use crate::measure::dwarf::{Hole, Layout, Member};
    use crate::model::{CellEntry, Diagnostic, Regression, RegressionKind, RunSummary};
    use crate::series::SeriesInfo;

    fn run(cells: &[(&str, bool)]) -> RunSummary {
        RunSummary {
            schema: 1,
            run_id: "r1".into(),
            vmamatrix: "0".into(),
            started: "s".into(),
            finished: Some("f".into()),
            kernel: "/k".into(),
            base: "b".repeat(40),
            patched: "p".repeat(40),
            toolchain: vec!["LLVM=-19".into()],
            matrix: None,
            series: SeriesInfo {
                path: "patches".into(),
                hash: "h".repeat(64),
                cover_subject: Some("mm: <script>alert(\"x\")</script> & co".into()),
                cover_subject_line: None,
                cover_message_id: None,
                base_commit: None,
                patches: vec![],
            },
            structs: vec!["vm_area_struct".into()],
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
            regressions: vec![],
            interrupted: false,
            trees: vec!["base".into(), "patched".into()],
            first_bad: Default::default(),
            shard: None,
            shard_weights: None,
            dealt: vec![],
            configs: vec![],
            base_source: String::new(),
        }
    }

    fn row(c: &CellEntry) -> Row {
        Row {
            id: c.id.clone(),
            arch: c.arch.clone(),
            smp: c.smp.clone(),
            mmu: c.mmu.clone(),
            selected: c.selected,
            feasible: None,
            reason: None,
            dropped: vec![],
            tracked: Default::default(),
            build: Trees::default(),
            boot: Trees::default(),
            coverage: None,
            sections: vec![],
            structs: vec![],
            layouts: Trees::default(),
            regression: false,
        }
    }

    fn build(status: BuildStatus, log: &str) -> BuildView {
        BuildView {
            status,
            exit_status: (status == BuildStatus::Failed).then_some(2),
            secs: 12.0,
            cached: false,
            warnings: 0,
            new_warnings: vec![],
            errors: vec![],
            tail: vec![],
            log: log.into(),
            commands: vec!["make -j2 <all>".into()],
            ccache: None,
        }
    }

    fn booted(console: &str) -> BootView {
        BootView {
            outcome: BootOutcome::Booted,
            secs_to_marker: Some(1.5),
            cached: false,
            reason: None,
            panic: None,
            console: console.into(),
            vma_tests: Some(TestCounts {
                run: 26,
                passed: 26,
                failed: 0,
            }),
            vma_tests_note: None,
            exec_child: Some(0),
            splats: vec![],
            workload: None,
            vma_lock: None,
            selftests: vec![],
            qemu: "qemu-system-x86_64 -kernel x".into(),
        }
    }

    fn member(name: &str, ty: &str, offset: u64, size: u64) -> Member {
        Member {
            name: name.into(),
            type_name: ty.into(),
            offset,
            size,
            bit_offset: None,
            bit_size: None,
        }
    }

    /// A report of five cells: a regression with a splat and struct
    /// growth, a failed build, an infeasible cell, a clean one and an
    /// unselected one.
    fn fixture(run_dir: &Path) -> Report {
        let mut run = run(&[
            ("x86-up-mmu", true),
            ("x86-up-nommu", true),
            ("arm-up-mmu", true),
            ("arm-smp-mmu", true),
            ("s390-smp-mmu", false),
        ]);
        run.regressions = vec![Regression::new(
            "x86-up-mmu",
            RegressionKind::Splat,
            "the patched kernel reports warning: <b>bad</b> & worse",
        )];
        let mut cells: Vec<Row> = run.cells.iter().map(row).collect();
        // x86-up-mmu: booted both, a splat on patched, vm_area_struct grew.
        let c = &mut cells[0];
        c.feasible = Some(true);
        c.regression = true;
        c.build = Trees {
            base: Some(build(BuildStatus::Ok, "x86-up-mmu/base/build.log")),
            patched: Some(build(BuildStatus::Ok, "x86-up-mmu/patched/build.log")),
        };
        let mut p = booted("x86-up-mmu/patched/console.log");
        p.splats = vec![crate::boot::splat::Splat {
            kind: crate::boot::splat::SplatKind::Warning,
            title: "WARNING: mm/mmap_lock.c:12 at <vma_start_read>".into(),
            location: Some("mm/mmap_lock.c:12".into()),
            function: Some("vma_start_read".into()),
            frames: vec!["lock_vma_under_rcu".into(), "do_user_addr_fault".into()],
            line: 321,
        }];
        c.boot = Trees {
            base: Some(booted("x86-up-mmu/base/console.log")),
            patched: Some(p),
        };
        c.structs = vec![SizeDelta {
            name: "vm_area_struct".into(),
            base: Some(120),
            patched: Some(136),
        }];
        let base = Layout {
            name: "vm_area_struct".into(),
            size: 120,
            members: vec![
                member("vm_start", "unsigned long", 0, 8),
                member("vm_flags", "unsigned int", 8, 4),
                member("vm_mm", "struct mm_struct *", 16, 8),
                member("old<gone>", "int", 24, 4),
                member("big", "char[88]", 28, 88),
            ],
            holes: vec![Hole {
                after: "vm_flags".into(),
                offset: 12,
                bits: 32,
                in_bitfield: false,
            }],
            padding: 4,
        };
        let patched = Layout {
            name: "vm_area_struct".into(),
            size: 136,
            members: vec![
                member("vm_start", "unsigned long", 0, 8),
                member("vm_flags", "unsigned int", 8, 4),
                member("vm_refcnt", "refcount_t", 12, 4),
                member("vm_mm", "struct mm_struct *", 16, 8),
                member("big", "char[88]", 24, 88),
                member("vm_lock_seq", "unsigned int", 112, 4),
            ],
            holes: vec![],
            padding: 20,
        };
        c.layouts = Trees {
            base: vec![base],
            patched: vec![patched],
        };
        // x86-up-nommu: refused by Kconfig.
        cells[1].feasible = Some(false);
        cells[1].reason = Some("CONFIG_MMU=n requested, got y: x86 <always> has it".into());
        // arm-up-mmu: the patched build failed.
        let c = &mut cells[2];
        c.feasible = Some(true);
        let mut f = build(BuildStatus::Failed, "arm-up-mmu/patched/build.log");
        f.errors = vec![Diagnostic {
            file: "mm/a.c".into(),
            line: 7,
            kind: "error".into(),
            text: "use of undeclared identifier 'x' in <macro> & more".into(),
        }];
        c.build = Trees {
            base: Some(build(BuildStatus::Ok, "arm-up-mmu/base/build.log")),
            patched: Some(f),
        };
        // arm-smp-mmu: clean.
        let c = &mut cells[3];
        c.feasible = Some(true);
        c.build = Trees {
            base: Some(build(BuildStatus::Ok, "arm-smp-mmu/base/build.log")),
            patched: Some(build(BuildStatus::Ok, "arm-smp-mmu/patched/build.log")),
        };
        c.boot = Trees {
            base: Some(booted("")),
            patched: Some(booted("")),
        };
        Report {
            timing: vec![],
            fixed: vec![],
            failing_on_both: vec![],
            schema: super::super::load::REPORT_SCHEMA,
            complete: true,
            summary: Summary {
                cells: 5,
                selected: 4,
                regressions: 1,
                ..Default::default()
            },
            cells,
            host_vma_tests: Trees::default(),
            not_compiled_anywhere: vec![],
            per_patch: vec![],
            checks: Some(crate::checks::SeriesChecks {
                patches: vec![crate::checks::PatchChecks {
                    number: 1,
                    subject: "mm: <script>alert(1)</script> & friends".into(),
                    checkpatch: None,
                    dco: vec![],
                    whitespace: vec![],
                    notes: vec!["checkpatch.pl: not found <here>".into()],
                }],
                kernel_doc_new: vec![],
                kernel_doc_command: String::new(),
            }),
            run_dir: run_dir.to_path_buf(),
            run,
        }
    }

    /// The `<section class="detail" ...>` of a cell, up to the next one.
    fn detail_of<'a>(page: &'a str, id: &str) -> &'a str {
        let start = page
            .find(&format!("<section class=\"detail\" id=\"detail-{id}\""))
            .unwrap();
        let rest = &page[start + 1..];
        let end = rest.find("<section class=\"detail\"").unwrap_or(rest.len());
        &page[start..start + 1 + end]
    }

    #[test]
    fn every_string_of_the_records_is_escaped() {
        let page = html(&fixture(Path::new("/nonexistent")), "");
        // Our one script, and no other.
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(!page.contains("alert(1)</script>"));
        assert!(page.contains("mm: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"));
        assert!(page.contains("mm: &lt;script&gt;alert(1)&lt;/script&gt; &amp; friends"));
        assert!(page.contains("warning: &lt;b&gt;bad&lt;/b&gt; &amp; worse"));
        assert!(page.contains("identifier &#39;x&#39; in &lt;macro&gt; &amp; more"));
        assert!(page.contains("x86 &lt;always&gt; has it"));
        assert!(page.contains("<code>old&lt;gone&gt;</code>"));
        assert!(page.contains("make -j2 &lt;all&gt;"));
        assert!(!page.contains("<b>bad</b>"));
        // Self-contained: nothing is loaded from anywhere.
        for bad in ["<link", " src=", "url(", "@import", "http://", "https://"] {
            assert!(!page.contains(bad), "{bad} in the page");
        }
        assert!(page.contains("Content-Security-Policy"));
    }

    #[test]
    fn the_grid_colours_each_cell_by_its_worst_outcome() {
        let r = fixture(Path::new("/nonexistent"));
        let got: Vec<Outcome> = r.cells.iter().map(outcome).collect();
        assert_eq!(
            got,
            [
                Outcome::Regression,
                Outcome::Infeasible,
                Outcome::Failed,
                Outcome::Ok,
                Outcome::NotSelected
            ]
        );
        let page = html(&r, "");
        assert_eq!(page.matches("<a class=\"cell ").count(), 5);
        // arches in matrix order, SMP/UP x MMU/NOMMU columns; a matrix
        // position without a cell is an empty square.
        assert!(page.contains("<th>SMP MMU</th><th>SMP NOMMU</th><th>UP MMU</th><th>UP NOMMU</th>"));
        assert!(
            page.find("<th scope=\"row\">x86</th>").unwrap()
                < page.find("<th scope=\"row\">arm</th>").unwrap()
        );
        assert!(page.contains(
            "<a class=\"cell o-infeasible\" href=\"#cell=x86-up-nommu\" data-cell=\"x86-up-nommu\" data-outcome=\"infeasible\""
        ));
        // Infeasible cells say why, failed ones what failed.
        assert!(page.contains(
            "<span class=\"t\">CONFIG_MMU=n requested, got y: x86 &lt;always&gt; has it</span>"
        ));
        assert!(page.contains("<span class=\"t\">patched build FAIL (exit 2)</span>"));
        assert!(page.contains("<span class=\"g\">&Delta; vm_area_struct +16 B</span>"));
        // The regressed cell is opened first.
        assert!(page.contains("<section id=\"details\" data-default=\"x86-up-mmu\">"));
        // Summary and regressions come before the grid.
        assert!(page.find("id=\"summary\"").unwrap() < page.find("id=\"regressions\"").unwrap());
        assert!(page.find("id=\"regressions\"").unwrap() < page.find("id=\"matrix\"").unwrap());
        // Findings in both trees (no regression) have their own colour.
        let mut r = r;
        let s = r.cells[0].boot.patched.as_ref().unwrap().splats.clone();
        r.cells[3].boot.base.as_mut().unwrap().splats = s;
        assert_eq!(outcome(&r.cells[3]), Outcome::Findings);
    }

    #[test]
    fn details_show_stages_splats_errors_and_log_links() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "x86-up-mmu/base/build.log",
            "x86-up-mmu/patched/console.log",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "log").unwrap();
        }
        let page = html(&fixture(dir.path()), "../run dir/");
        let x86 = detail_of(&page, "x86-up-mmu");
        // Only logs that exist are linked, relative to the link base and
        // percent-encoded.
        assert!(x86.contains(
            "<a class=\"log\" href=\"../run%20dir/x86-up-mmu/base/build.log\">build.log</a>"
        ));
        assert!(x86.contains(
            "<a class=\"log\" href=\"../run%20dir/x86-up-mmu/patched/console.log\">console.log</a>"
        ));
        assert!(!x86.contains("x86-up-mmu/patched/build.log\""));
        assert!(x86.contains("build.log (not kept)"));
        assert!(x86.contains(
            "<b>warning</b>: <code>WARNING: mm/mmap_lock.c:12 at &lt;vma_start_read&gt;</code>"
        ));
        assert!(x86.contains("<li>lock_vma_under_rcu</li><li>do_user_addr_fault</li>"));
        assert!(x86.contains("26 run, 26 passed, 0 failed"));
        let arm = detail_of(&page, "arm-up-mmu");
        assert!(arm.contains("<pre class=\"errors\">mm/a.c:7: error: use of undeclared"));
        assert!(arm.contains("<dd class=\"bad\">FAIL (exit 2)</dd>"));
        let nommu = detail_of(&page, "x86-up-nommu");
        assert!(nommu.contains("<b>Refused by Kconfig:</b> CONFIG_MMU=n requested"));
        assert!(!nommu.contains("class=\"trees\""));
        assert!(detail_of(&page, "s390-smp-mmu").contains("Not selected in this run."));
    }

    #[test]
    fn struct_layouts_mark_changes_holes_and_cache_lines() {
        let page = html(&fixture(Path::new("/nonexistent")), "");
        let x86 = detail_of(&page, "x86-up-mmu");
        assert!(x86.contains(
            "<b>struct vm_area_struct</b>: 120 &rarr; 136 B (+16 B); added: vm_refcnt, vm_lock_seq; removed: old&lt;gone&gt;; 1 moved or changed; holes 4 &rarr; 0 B"
        ), "{x86}");
        let (base, patched) = x86.split_once("data-tree=\"patched\"><caption").unwrap();
        let base = &base[base
            .find("<table class=\"layout\" data-tree=\"base\"")
            .unwrap()..];
        assert!(base
            .contains("<caption>base: 120 B, 2 cache line(s), holes 4 B, padding 4 B</caption>"));
        assert!(base.contains("<tr class=\"m removed\"><td class=\"off\">24</td><td class=\"sz\">4</td><td><code>old&lt;gone&gt;</code><span class=\"tag removed\">removed</span>"));
        assert!(base.contains("<tr class=\"hole\"><td class=\"off\">12</td><td class=\"sz\">4</td><td colspan=\"2\">hole, 4 byte(s) after <code>vm_flags</code>"));
        assert!(base.contains("moved (now at 24)"));
        assert!(patched.contains("<tr class=\"m added\"><td class=\"off\">12</td><td class=\"sz\">4</td><td><code>vm_refcnt</code><span class=\"tag added\">added</span>"));
        assert!(patched.contains("moved (was at 28)"));
        // `big` (24..112) crosses byte 64; the boundary comes after it.
        assert!(patched.contains("crosses a cache line"));
        let cl = patched.find("cache line 1 starts at byte 64").unwrap();
        assert!(patched.find("<code>big</code>").unwrap() < cl);
        assert!(cl < patched.find("<code>vm_lock_seq</code>").unwrap());
        // 136 bytes: lines start at 64 and 128, the second inside the padding.
        assert!(patched.contains("cache line 2 starts at byte 128"));
        assert!(patched.contains("<td colspan=\"2\">padding</td>"));
        // An unchanged layout is folded.
        let mut r = fixture(Path::new("/nonexistent"));
        let b = r.cells[0].layouts.base.clone();
        r.cells[0].layouts.patched = b;
        let page = html(&r, "");
        assert!(page.contains("<details class=\"struct\" data-struct=\"vm_area_struct\"><summary>"));
        assert!(page.contains("same layout"));
    }

    #[test]
    fn link_base_is_relative_from_the_page_to_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("results/r1");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::create_dir_all(dir.path().join("www/pages")).unwrap();
        assert_eq!(link_base(&run, &run), "");
        assert_eq!(link_base(&dir.path().join("results"), &run), "r1/");
        assert_eq!(
            link_base(&dir.path().join("www/pages"), &run),
            "../../results/r1/"
        );
        // Through a symlink (results/latest) as through the directory.
        std::os::unix::fs::symlink("r1", dir.path().join("results/latest")).unwrap();
        assert_eq!(link_base(&run, &dir.path().join("results/latest")), "");
    }
}
