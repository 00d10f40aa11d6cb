//! Reports: loading a run's records (`load`) and rendering them (markdown,
//! JSON, the plan), and the live progress display. Only this module knows
//! output formats.

pub mod load;
pub mod markdown;
pub mod plan;
pub mod progress;

pub use load::{load, Report, Row, SizeDelta};
pub use markdown::markdown;

/// `1.5 GiB`.
pub fn human_bytes(b: u64) -> String {
    let mut v = b as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 {
            return format!("{v:.1} {unit}");
        }
        v /= 1024.0;
    }
    format!("{v:.1} TiB")
}

/// What the cache directory holds, one line per part.
pub fn cache_text(cache: &std::path::Path, parts: &[crate::cache::Usage]) -> String {
    let mut s = format!("cache {}\n", cache.display());
    for u in parts {
        s.push_str(&format!(
            "  {:<9} {:>10}  {:>5} entries  {}\n",
            u.path.file_name().unwrap_or_default().to_string_lossy(),
            human_bytes(u.bytes),
            u.entries,
            u.what
        ));
    }
    let total: u64 = parts.iter().map(|u| u.bytes).sum();
    s.push_str(&format!("  {:<9} {:>10}\n", "total", human_bytes(total)));
    s
}

/// The report as JSON.
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("serializable") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Stage;
    use crate::kconfig::Verdict;
    use crate::measure::{Layout, Sections};
    use crate::model::{BuildData, CellEntry, ConfigureData, MeasureData, RunSummary, Status};
    use crate::model::{Diagnostic, Record};
    use crate::series::SeriesInfo;
    use crate::store::Results;

    fn record(cell: &str, tree: &str, stage: Stage, status: Status) -> Record {
        Record {
            status,
            ..Record::new(cell, tree, stage, "c")
        }
    }

    #[test]
    fn markdown_shows_sizes_regressions_and_infeasible_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let res = Results::open(dir.path());
        let cell = |id: &str, selected| CellEntry {
            id: id.into(),
            arch: "x86".into(),
            smp: "up".into(),
            mmu: "mmu".into(),
            selected,
        };
        let run = RunSummary {
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
                cover_subject: Some("mm: things".into()),
                cover_message_id: None,
                base_commit: None,
                patches: vec![],
            },
            structs: vec!["vm_area_struct".into()],
            cells: vec![
                cell("x86-up-mmu", true),
                cell("x86-up-nommu", true),
                cell("arm-up-mmu", false),
            ],
            regressions: vec!["x86-up-mmu: 1 new warning(s)".into()],
            interrupted: false,
            trees: vec!["base".into(), "patched".into()],
            first_bad: Default::default(),
            shard: None,
            configs: vec![],
            base_source: String::new(),
        };
        for (tree, size, warn) in [("base", 160, 0), ("patched", 168, 1)] {
            let mut c = record("x86-up-mmu", tree, Stage::Configure, Status::Ok);
            c.configure = Some(ConfigureData {
                fragments: vec![],
                verdict: Verdict {
                    feasible: true,
                    reason: None,
                    warnings: vec![],
                    requested: 3,
                    tracked: [(
                        "PER_VMA_LOCK".to_string(),
                        if tree == "base" { "n" } else { "undefined" }.to_string(),
                    )]
                    .into(),
                },
                config_sha256: "x".into(),
            });
            res.write_record("r1", &c).unwrap();
            let mut b = record("x86-up-mmu", tree, Stage::Build, Status::Ok);
            let w = Diagnostic {
                file: "mm/a.c".into(),
                line: 3,
                kind: "warning".into(),
                text: "unused".into(),
            };
            b.build = Some(BuildData {
                outcome: "exit status 0".into(),
                jobs: 2,
                warnings: vec![w.clone(); warn],
                errors: vec![],
                new_warnings: vec![w; warn],
                compiled: vec!["mm/a.c".into()],
                not_compiled: vec!["net/ipv4/tcp.c".into()],
                tail: vec![],
                ccache: (tree == "patched").then_some(crate::model::CcacheStats {
                    hits: 3,
                    misses: 1,
                    uncacheable: 2,
                }),
                structs_only: false,
            });
            res.write_record("r1", &b).unwrap();
            let mut m = record("x86-up-mmu", tree, Stage::Measure, Status::Ok);
            m.measure = Some(MeasureData {
                image: Some(1),
                vmlinux: Some(Sections {
                    text: 1000 + size,
                    rodata: 10,
                    data: 20,
                    bss: 30,
                    by_name: Default::default(),
                }),
                structs: vec![Layout {
                    name: "vm_area_struct".into(),
                    size,
                    members: vec![],
                    holes: vec![],
                    padding: 0,
                }],
                errors: vec![],
            });
            res.write_record("r1", &m).unwrap();
        }
        let mut c = record("x86-up-nommu", "base", Stage::Configure, Status::Infeasible);
        c.configure = Some(ConfigureData {
            fragments: vec![],
            verdict: Verdict {
                feasible: false,
                reason: Some("CONFIG_MMU=n requested, got y: x86 always has it".into()),
                warnings: vec![],
                requested: 3,
                tracked: Default::default(),
            },
            config_sha256: "x".into(),
        });
        res.write_record("r1", &c).unwrap();

        let rep = load(&res, run);
        let md = markdown(&rep, true);
        assert!(md.contains("| x86-up-mmu **REGRESSION** | yes | PER_VMA_LOCK=n->undefined | ok | ok | 0/1 | 1 | 1/2 | +8 | 0 | 0 | 0 |"), "{md}");
        assert!(md.contains("| x86-up-nommu | no |"), "{md}");
        assert!(
            md.contains("- x86-up-nommu: CONFIG_MMU=n requested, got y: x86 always has it"),
            "{md}"
        );
        assert!(md.contains("| arm-up-mmu | not selected |"), "{md}");
        assert!(md.contains("| x86-up-mmu | 160 -> 168 (+8) |"), "{md}");
        assert!(md.contains("| x86-up-mmu | - | 3/4 (75%) |"), "{md}");
        assert!(
            md.contains("x86-up-mmu: new warning: mm/a.c:3: unused"),
            "{md}"
        );
        assert!(
            md.contains("no proof they build here): net/ipv4/tcp.c"),
            "{md}"
        );
        let js: serde_json::Value = serde_json::from_str(&json(&rep)).unwrap();
        assert_eq!(js["rows"].as_array().unwrap().len(), 3);
        assert_eq!(js["rows"][0]["structs"][0]["patched"], 168);
    }
}
