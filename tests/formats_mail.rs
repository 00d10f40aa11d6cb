//! `vmamatrix report --format mail [--mbox]` on a fixture run: the message
//! parses back, threads under the cover letter, and `git mailsplit` and
//! Python's mailbox read the mbox as one message. (mutt is not installed
//! here; it reads mbox files as Python's mailbox does.)

mod common;

use mailparse::MailHeaderMap;
use std::path::Path;
use std::process::{Command, Output};
use vmamatrix::boot::splat::{Splat, SplatKind};
use vmamatrix::events::Stage;
use vmamatrix::model::{BootData, BootOutcome, BuildData, Diagnostic, Regression, RegressionKind};
use vmamatrix::series::{PatchInfo, SeriesInfo};
use vmamatrix::store::{self, CellEntry, Record, Results, RunSummary, Status};

const COVER: &str = "20260610190434.1-1-dave@example.org";
const RUN: &str = "20260611-000000";

/// A finished run of two cells: x86's patched build fails in tcp.c,
/// riscv's patched kernel warns and hangs.
fn fixture(root: &Path, kernel: &Path) {
    let res = Results::open(root);
    let ids = ["x86-up-mmu", "riscv-up-nommu"];
    let s = RunSummary {
        schema: store::SCHEMA,
        run_id: RUN.into(),
        vmamatrix: "0.1.0 (test)".into(),
        started: "2026-06-11T00:00:00Z".into(),
        finished: Some("2026-06-11T01:00:00Z".into()),
        kernel: kernel.display().to_string(),
        base: "b".repeat(40),
        patched: "p".repeat(40),
        toolchain: vec!["LLVM=-19".into()],
        matrix: None,
        series: SeriesInfo {
            path: "/w/patches".into(),
            hash: "feedface".repeat(8),
            cover_subject: Some("mm: Unconditional per-VMA locks and cleanups".into()),
            cover_subject_line: None,
            cover_message_id: Some(COVER.into()),
            base_commit: None,
            patches: vec![PatchInfo {
                number: 1,
                subject: "mm: make per-VMA locks available in all configs".into(),
                subject_line: String::new(),
                author: "Dave Hansen <dave@example.org>".into(),
                files: vec!["mm/Kconfig".into()],
                commit: None,
                message_id: Some("20260610190434.1-2-dave@example.org".into()),
            }],
        },
        structs: vec!["vm_area_struct".into()],
        cells: ids
            .iter()
            .map(|i| {
                let p: Vec<&str> = i.split('-').collect();
                CellEntry {
                    id: i.to_string(),
                    arch: p[0].into(),
                    smp: p[1].into(),
                    mmu: p[2].into(),
                    selected: true,
                }
            })
            .collect(),
        regressions: vec![
            Regression::new("x86-up-mmu", RegressionKind::Build, "base builds, patched fails"),
            Regression::new(
                "riscv-up-nommu",
                RegressionKind::Splat,
                "the patched kernel reports warning: WARNING: include/linux/rwsem.h:87 at exit_mmap",
            ),
        ],
        interrupted: false,
        trees: vec!["base".into(), "patched".into()],
        first_bad: Default::default(),
        shard: None,
        shard_weights: None,
        dealt: vec![],
        configs: vec!["/w/configs".into()],
        base_source: "--base \"v7.3\"".into(),
    };
    for c in ids {
        for tree in ["base", "patched"] {
            let failed = c == "x86-up-mmu" && tree == "patched";
            let mut b = Record::new(c, tree, Stage::Build, "x");
            b.status = if failed { Status::Failed } else { Status::Ok };
            b.commands = vec![format!("make -C /w/src O=/w/build/{c} LLVM=-19 -j2")];
            b.build = Some(BuildData {
                outcome: if failed {
                    "exit status 2"
                } else {
                    "exit status 0"
                }
                .into(),
                jobs: 2,
                warnings: vec![],
                errors: if failed {
                    vec![Diagnostic {
                        file: "net/ipv4/tcp.c".into(),
                        line: 2101,
                        kind: "error".into(),
                        text: "call to undeclared function 'vma_start_read_unlocked'".into(),
                    }]
                } else {
                    vec![]
                },
                new_warnings: vec![],
                compiled: vec![],
                not_compiled: vec![],
                tail: vec![],
                ccache: None,
                structs_only: false,
            });
            res.write_record(RUN, &b).unwrap();
            if failed {
                continue;
            }
            let hang = c == "riscv-up-nommu" && tree == "patched";
            let mut boot = BootData::not_run(
                if hang {
                    BootOutcome::Silent
                } else {
                    BootOutcome::Booted
                },
                String::new(),
            );
            boot.reason = None;
            boot.qemu = format!("qemu-system-riscv64 -kernel {c}/{tree}/boot-image");
            if hang {
                boot.splats.push(Splat {
                    kind: SplatKind::Warning,
                    title: "WARNING: include/linux/rwsem.h:87 at exit_mmap+0x108/0x17c, CPU#0: workload/19".into(),
                    location: Some("include/linux/rwsem.h:87".into()),
                    function: Some("exit_mmap".into()),
                    frames: vec!["exit_mmap".into(), "mmput".into(), "do_exit".into()],
                    line: 76,
                });
            }
            let mut r = Record::new(c, tree, Stage::Boot, "x");
            r.boot = Some(boot);
            res.write_record(RUN, &r).unwrap();
        }
    }
    res.write_summary(&s).unwrap();
}

fn report(root: &Path, args: &[&str], from: Option<&str>) -> Output {
    let mut c = Command::new(common::bin());
    c.arg("report")
        .arg("--results")
        .arg(root)
        .args(args)
        .env_remove("VMAMATRIX_FROM");
    if let Some(f) = from {
        c.env("VMAMATRIX_FROM", f);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn mail_parses_back_and_threads_under_the_cover_letter() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), Path::new("/nonexistent/linux"));
    let out = report(
        dir.path(),
        &["--format", "mail"],
        Some("Tess Ter <tess@example.net>"),
    );
    // A run with regressions exits 1, whatever the format.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let t = text(&out);
    let m = mailparse::parse_mail(t.as_bytes()).unwrap();
    let h = &m.headers;
    let get = |k: &str| h.get_first_value(k).unwrap_or_else(|| panic!("{k}\n{t}"));
    assert_eq!(get("From"), "Tess Ter <tess@example.net>");
    assert_eq!(get("To"), "Dave Hansen <dave@example.org>");
    assert_eq!(
        get("Subject"),
        "Re: mm: Unconditional per-VMA locks and cleanups"
    );
    assert_eq!(get("In-Reply-To"), format!("<{COVER}>"));
    assert_eq!(get("References"), format!("<{COVER}>"));
    assert!(get("Message-ID").ends_with("@vmamatrix.invalid>"));
    assert!(get("Message-ID").contains(RUN));
    let body = m.get_body().unwrap();
    assert!(body.starts_with("Hi Dave,\n"), "{body}");
    assert!(
        body.contains(">> net/ipv4/tcp.c:2101: error: call to undeclared function"),
        "{body}"
    );
    assert!(
        body.contains(">> WARNING: include/linux/rwsem.h:87 at exit_mmap+0x108/0x17c"),
        "{body}"
    );
    assert!(body.contains("  - x86-up-mmu: base builds, patched fails\n"));
    assert!(body.contains("(--base \"v7.3\")"), "{body}");
    assert!(body.contains("\n-- \nvmamatrix 0.1.0 (test)\n"));
    for l in body.lines() {
        assert!(l.len() <= 80 || l.starts_with(">> "), "too long: {l}");
    }
    // The threading note is not needed: the cover has a Message-ID.
    assert!(String::from_utf8_lossy(&out.stderr).is_empty(), "{out:?}");

    // --output writes the same message.
    let file = dir.path().join("reply.eml");
    let out = report(
        dir.path(),
        &["--format", "mail", "-o", file.to_str().unwrap()],
        Some("Tess Ter <tess@example.net>"),
    );
    assert_eq!(out.status.code(), Some(1));
    let written = std::fs::read_to_string(&file).unwrap();
    // Only the Date may differ between the two runs of the binary.
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("Date: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&written), strip(&t));
}

#[test]
fn mbox_is_one_message_for_git_mailsplit_and_python() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), Path::new("/nonexistent/linux"));
    let out = report(
        dir.path(),
        &["--format", "mail", "--mbox"],
        Some("Tess Ter <tess@example.net>"),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let t = text(&out);
    let first = t.lines().next().unwrap();
    assert!(
        first.starts_with("From vmamatrix@vmamatrix.invalid ") && first.len() > 40,
        "{first}"
    );
    let mbox = dir.path().join("reply.mbox");
    std::fs::write(&mbox, &t).unwrap();

    let split = dir.path().join("split");
    std::fs::create_dir(&split).unwrap();
    let o = Command::new("git")
        .arg("mailsplit")
        .arg(format!("-o{}", split.display()))
        .arg(&mbox)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1");
    let files: Vec<_> = std::fs::read_dir(&split).unwrap().collect();
    assert_eq!(files.len(), 1);
    let one = std::fs::read(split.join("0001")).unwrap();
    let m = mailparse::parse_mail(&one).unwrap();
    assert_eq!(
        m.headers.get_first_value("In-Reply-To").unwrap(),
        format!("<{COVER}>")
    );

    // Python's mailbox, as mutt and most mail tools read an mbox.
    let py = Command::new("python3")
        .arg("-c")
        .arg(
            "import mailbox, sys\n\
             msgs = list(mailbox.mbox(sys.argv[1]))\n\
             print(len(msgs))\n\
             print(msgs[0]['Subject'])\n\
             print(msgs[0]['In-Reply-To'])\n\
             print(msgs[0].get_content_charset())\n",
        )
        .arg(&mbox)
        .output();
    match py {
        Ok(o) if o.status.success() => assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("1\nRe: mm: Unconditional per-VMA locks and cleanups\n<{COVER}>\nutf-8\n")
        ),
        other => eprintln!("python3 mailbox not checked: {other:?}"),
    }
}

#[test]
fn sender_from_the_kernel_trees_git_config_or_a_placeholder_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("linux");
    std::fs::create_dir(&kernel).unwrap();
    common::git(&kernel, &["init", "-q"]);
    common::git(&kernel, &["config", "user.name", "Kay Maintainer"]);
    common::git(&kernel, &["config", "user.email", "kay@example.org"]);
    let res = dir.path().join("results");
    fixture(&res, &kernel);
    let out = report(&res, &["--format", "mail"], None);
    let t = text(&out);
    assert!(
        t.starts_with("From: Kay Maintainer <kay@example.org>\n"),
        "{t}"
    );

    let res2 = dir.path().join("results2");
    fixture(&res2, Path::new("/nonexistent/linux"));
    let out = report(&res2, &["--format", "mail"], None);
    let t = text(&out);
    assert!(
        t.starts_with("From: vmamatrix <vmamatrix@vmamatrix.invalid>\n"),
        "{t}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("VMAMATRIX_FROM"), "{err}");
}

#[test]
fn mbox_needs_the_mail_format() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), Path::new("/nonexistent/linux"));
    let out = report(dir.path(), &["--mbox"], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mbox needs --format mail"));
}
