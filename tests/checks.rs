//! The per-patch checks read the real tools' output: the kernel tree's own
//! checkpatch.pl and kernel-doc (Linux 7.3.4 from scripts/setup.sh) on a
//! patch and a file with known problems.

mod common;

use std::process::Command;
use vmamatrix::checks::{new_kernel_doc, parse_checkpatch};

#[test]
fn checkpatch_and_kernel_doc_findings_are_counted() {
    let k = common::kernel();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.patch");
    std::fs::write(
        &bad,
        "From: A Author <a@example.org>\nSubject: [PATCH] mm: x\n\nNo sign-off.\n---\n\
         diff --git a/mm/a.c b/mm/a.c\n--- a/mm/a.c\n+++ b/mm/a.c\n@@ -1,1 +1,2 @@\n int a;\n+int b; \n",
    )
    .unwrap();
    let out = Command::new("perl")
        .arg(k.join("scripts/checkpatch.pl"))
        .args(["--strict", "--no-tree", "--terse", "--show-types"])
        .arg(&bad)
        .output()
        .unwrap();
    let c = parse_checkpatch(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(c.errors, 2, "{c:?}");
    assert!(
        c.messages.iter().any(|m| m.contains("MISSING_SIGN_OFF")),
        "{c:?}"
    );

    let kdoc = |text: &str| -> String {
        let root = dir.path().join("kd");
        std::fs::create_dir_all(root.join("mm")).unwrap();
        std::fs::write(root.join("mm/a.c"), text).unwrap();
        let out = Command::new(k.join("scripts/kernel-doc"))
            .args(["-none", "-Wall", "mm/a.c"])
            .current_dir(&root)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let base =
        kdoc("/**\n * f() - do\n * @x: x\n * Return: x\n */\nint f(int x)\n{\n\treturn x;\n}\n");
    let patched = kdoc(
        "\n\n/**\n * f() - do\n * @x: x\n * Return: x\n */\nint f(int x, int y)\n{\n\treturn x;\n}\n",
    );
    let new = new_kernel_doc(&base, &patched);
    assert!(!new.is_empty(), "base: {base:?} patched: {patched:?}");
    assert!(new.iter().all(|w| w.contains("'y'")), "{new:?}");
    assert!(new_kernel_doc(&patched, &patched).is_empty());
}

/// checkpatch looks up the commits a patch names in the history it is
/// given (GIT_DIR), not in the directory vmamatrix runs from (this
/// repository, where no kernel commit exists).
#[test]
fn checkpatch_looks_commits_up_in_the_kernel_history() {
    let k = common::kernel();
    let head = Command::new("git")
        .args([
            "-C",
            k.to_str().unwrap(),
            "log",
            "-1",
            "--format=%h (\"%s\")",
            "--abbrev=12",
        ])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let fixes = |what: &str| {
        let patch = dir.path().join("fixes.patch");
        std::fs::write(
            &patch,
            format!(
                "From: A Author <a@example.org>\nSubject: [PATCH] mm: x\n\nA fix.\n\n\
                 Fixes: {what}\nSigned-off-by: A Author <a@example.org>\n---\n\
                 diff --git a/mm/a.c b/mm/a.c\n--- a/mm/a.c\n+++ b/mm/a.c\n\
                 @@ -1,1 +1,2 @@\n int a;\n+int b;\n"
            ),
        )
        .unwrap();
        let out = vmamatrix::checks::run::checkpatch_command(&k, &k.join(".git"), &patch)
            .output()
            .unwrap();
        parse_checkpatch(&String::from_utf8_lossy(&out.stdout))
    };
    let known = fixes(&head);
    assert!(
        !known
            .messages
            .iter()
            .any(|m| m.contains("UNKNOWN_COMMIT_ID")),
        "the kernel's own HEAD {head} was not found: {known:?}"
    );
    // A relative patch path (a relative results directory) still names the
    // file: checkpatch runs in the tree, not in the caller's directory.
    let here = tempfile::tempdir_in(".").unwrap();
    let rel = here
        .path()
        .strip_prefix(std::env::current_dir().unwrap())
        .unwrap_or(here.path())
        .join("fixes.patch");
    std::fs::copy(dir.path().join("fixes.patch"), &rel).unwrap();
    assert!(rel.is_relative(), "{}", rel.display());
    let out = vmamatrix::checks::run::checkpatch_command(&k, &k.join(".git"), &rel)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{out:?}: checkpatch could not read {}",
        rel.display()
    );
    let unknown = fixes("0123456789ab (\"mm: no such commit\")");
    assert!(
        unknown
            .messages
            .iter()
            .any(|m| m.contains("UNKNOWN_COMMIT_ID")),
        "a commit the history lacks is named: {unknown:?}"
    );
}
