//! Series intake on a tiny git repository: applying, conflicts, escaping
//! paths, mbox input, and the user's tree left byte-identical.

mod common;

use common::{fixture, git, snapshot};
use vmamatrix::series::{Scratch, Series};
use vmamatrix::Error;

#[test]
fn applies_as_commits_with_mail_metadata_and_leaves_user_tree_alone() {
    let f = fixture();
    let before = snapshot(&f.repo);
    let cache = f.dir.path().join("cache");
    let series = Series::load(&f.series).unwrap();
    assert_eq!(series.patches.len(), 2);
    assert_eq!(
        series.cover.as_ref().unwrap().subject,
        "*** SUBJECT HERE ***"
    );
    let (scratch, base) = Scratch::open(&f.repo, &cache, "HEAD").unwrap();
    assert_eq!(base, f.base);
    let applied = scratch.apply(&series, &base).unwrap();
    assert_eq!(applied.commits.len(), 2);

    let repo = &scratch.repo;
    let head = repo
        .find_commit(git2::Oid::from_str(applied.head()).unwrap())
        .unwrap();
    assert_eq!(head.summary(), Some("mm: grow struct vma"));
    assert_eq!(head.author().name(), Some("Test Author"));
    assert_eq!(head.author().when().seconds(), 1781143474);
    assert!(head
        .message()
        .unwrap()
        .contains("Signed-off-by: Test Author"));
    let tree = head.tree().unwrap();
    let blob = |p: &str| {
        let e = tree.get_path(std::path::Path::new(p)).unwrap();
        String::from_utf8(repo.find_blob(e.id()).unwrap().content().to_vec()).unwrap()
    };
    assert_eq!(blob("mm/vma.c"), "int a;\nint b2;\nint c;\n");
    assert_eq!(blob("mm/new.c"), "int n;\n");
    assert_eq!(head.parent_id(0).unwrap().to_string(), applied.commits[0]);

    // The same series applies to the same commits again (deterministic).
    let again = scratch.apply(&series, &base).unwrap();
    assert_eq!(again.commits, applied.commits);
    scratch.cleanup(&series).unwrap();
    assert_eq!(snapshot(&f.repo), before, "user's repository changed");
    assert!(git(&f.repo, &["for-each-ref"])
        .lines()
        .all(|l| !l.contains("vmamatrix")));
}

#[test]
fn mbox_gives_the_same_commits_as_the_directory() {
    let f = fixture();
    let cache = f.dir.path().join("cache");
    let mut mbox = String::new();
    let mut files: Vec<_> = std::fs::read_dir(&f.series)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for p in files {
        mbox.push_str(&std::fs::read_to_string(p).unwrap());
    }
    let mbox_path = f.dir.path().join("series.mbx");
    std::fs::write(&mbox_path, mbox).unwrap();
    let a = Series::load(&f.series).unwrap();
    let b = Series::load(&mbox_path).unwrap();
    assert_eq!(a.hash, b.hash);
    let (scratch, base) = Scratch::open(&f.repo, &cache, "HEAD").unwrap();
    assert_eq!(
        scratch.apply(&a, &base).unwrap().commits,
        scratch.apply(&b, &base).unwrap().commits
    );
}

#[test]
fn conflict_names_patch_file_and_hunk() {
    let f = fixture();
    let cache = f.dir.path().join("cache");
    let p = f.series.join("0001-mm-rename-b.patch");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replace("-int b;", "-int bee;")
            .replace(" int a;", " int aa;"),
    )
    .unwrap();
    let before = snapshot(&f.repo);
    let series = Series::load(&f.series).unwrap();
    let (scratch, base) = Scratch::open(&f.repo, &cache, "HEAD").unwrap();
    let e = scratch.apply(&series, &base).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::PatchConflict { number: 1, .. }), "{msg}");
    assert!(
        msg.starts_with("patch 1 \"mm: rename b\" does not apply: mm/vma.c: @@ -1,3 +1,3 @@"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), vmamatrix::error::exit::SERIES);
    assert_eq!(snapshot(&f.repo), before);
}

#[test]
fn escaping_paths_are_refused_before_anything_is_written() {
    let f = fixture();
    for bad in ["../outside.c", "/etc/passwd"] {
        let p = f.series.join("0002-mm-grow-struct-vma.patch");
        let text = std::fs::read_to_string(&p).unwrap();
        let evil = text
            .replace("mm/new.c", bad.trim_start_matches('/'))
            .replace(
                &format!("a/{}", bad.trim_start_matches('/')),
                &format!("a/{bad}"),
            );
        let evil = if bad.starts_with('/') {
            evil.replace("+++ b/etc/passwd", "+++ /etc/passwd")
        } else {
            evil
        };
        let dir = f.dir.path().join(format!("evil{}", bad.len()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("0001-evil.patch"), evil).unwrap();
        let e = Series::load(&dir).unwrap_err();
        assert!(matches!(e, Error::PathEscape { number: 1, .. }), "{e}");
        assert!(e.to_string().contains("mm: grow struct vma"), "{e}");
    }
}

#[test]
fn cli_reports_conflict_with_exit_code_4() {
    let f = fixture();
    let p = f.series.join("0002-mm-grow-struct-vma.patch");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replace("-struct vma { int x; };", "-struct vma { int z; };"),
    )
    .unwrap();
    let before = snapshot(&f.repo);
    let out = std::process::Command::new(common::bin())
        .args(["plan", "--kernel"])
        .arg(&f.repo)
        .arg("--series")
        .arg(&f.series)
        .env("VMAMATRIX_CACHE", f.dir.path().join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("patch 2 \"mm: grow struct vma\" does not apply: mm/vma.h:"),
        "{err}"
    );
    assert_eq!(snapshot(&f.repo), before);
}

#[test]
fn cli_reports_bad_matrix_with_position_and_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("matrix.toml");
    std::fs::write(&m, "base = \"HEAD\"\nsmp = [\"smp\", \"quad\"]\n").unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["plan", "--matrix"])
        .arg(&m)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}:2:", m.display())), "{err}");
    assert!(err.contains("quad"), "{err}");
}
