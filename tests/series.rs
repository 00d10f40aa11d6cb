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
    let before = snapshot(&f.repo);
    for bad in ["../outside.c", "/etc/passwd", ".git/hooks/post-checkout"] {
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
        assert_eq!(e.exit_code(), vmamatrix::error::exit::SERIES);

        // The whole program refuses it before writing anything: no scratch
        // repository, no file outside, the user's repository as it was.
        let cache = f.dir.path().join(format!("cache{}", bad.len()));
        let out = std::process::Command::new(common::bin())
            .args(["plan", "--kernel"])
            .arg(&f.repo)
            .arg("--series")
            .arg(&dir)
            .env("VMAMATRIX_CACHE", &cache)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(
            err.contains("patch 1 \"mm: grow struct vma\" refused"),
            "{err}"
        );
        let written: Vec<_> = walk(&cache);
        assert!(written.is_empty(), "{bad}: wrote {written:?}");
        assert!(!f.dir.path().join("outside.c").exists());
        assert!(!f.repo.join("outside.c").exists());
        assert_eq!(snapshot(&f.repo), before, "{bad}");
    }
}

/// Every file under `dir` (none when it does not exist).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// A diff that creates `path`, spelled as given in its headers.
fn new_file_diff(old: &str, new: &str) -> String {
    format!(
        "diff --git {old} {new}\nnew file mode 100644\n--- /dev/null\n+++ {new}\n\
         @@ -0,0 +1 @@\n+x\n"
    )
}

#[test]
fn escaping_paths_in_any_spelling_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rename = "diff --git a/mm/vma.c b/../vma.c\nsimilarity index 100%\n\
                  rename from mm/vma.c\nrename to ../vma.c\n"
        .to_string();
    let cases = [
        // C-quoted, as git writes unusual names: \057 is '/', \056 is '.'.
        new_file_diff("\"a/..\\057outside.c\"", "\"b/..\\057outside.c\""),
        new_file_diff("\"a/\\056git/config\"", "\"b/\\056git/config\""),
        new_file_diff(
            "\"a/mm/\\056\\056/\\056\\056/x\"",
            "\"b/mm/\\056\\056/\\056\\056/x\"",
        ),
        // Another prefix than a/ and b/: git strips one component of any.
        new_file_diff("x/../outside.c", "y/../outside.c"),
        // Not an escape (git squashes the slashes to etc/passwd), but no
        // path git writes has an empty component: refused, not guessed at.
        new_file_diff("x//etc/passwd", "y//etc/passwd"),
        // .git in another case is .git to git.
        new_file_diff("a/.GIT/config", "b/.GIT/config"),
        new_file_diff("a/mm/.Git/x", "b/mm/.Git/x"),
        rename,
    ];
    for (i, diff) in cases.iter().enumerate() {
        let mail = format!("From: A <a@example.org>\nSubject: [PATCH] evil {i}\n\nx\n---\n{diff}");
        let path = dir.path().join(format!("evil{i}.patch"));
        std::fs::write(&path, &mail).unwrap();
        // What git2 makes of the paths (the premise: they do escape).
        let seen: Vec<String> = git2::Diff::from_buffer(diff.as_bytes())
            .map(|d| {
                d.deltas()
                    .flat_map(|d| [d.old_file().path(), d.new_file().path()])
                    .flatten()
                    .map(|p| p.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let e = Series::load(&path).map(|_| ()).unwrap_err();
        assert!(
            matches!(e, Error::PathEscape { number: 1, .. }),
            "case {i}: {e}\n{diff}\ngit2 sees {seen:?}"
        );
        assert_eq!(e.exit_code(), vmamatrix::error::exit::SERIES);
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

// ---------------------------------------------------------------------------
// Mail as mail clients and list archives write it: transfer encodings,
// charsets, multipart, non-UTF-8 bytes, bad input.

/// Quoted-printable (RFC 2045 6.7) as a mail client writes it: encoded lines
/// of at most 76 characters with `=` soft breaks, `=` as `=3D`, 8-bit and
/// control bytes as `=XX`, blanks at a line end encoded, and a line starting
/// with `From ` written as `=46rom ` (mutt does this for mbox safety).
fn qp_encode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    let ends_with_newline = lines.last() == Some(&&b""[..]);
    if ends_with_newline {
        lines.pop();
    }
    for (i, line) in lines.iter().enumerate() {
        let mut cur: Vec<u8> = Vec::new();
        for (j, &b) in line.iter().enumerate() {
            let at_end = j + 1 == line.len();
            let literal = match b {
                b' ' | b'\t' => !at_end,
                b'=' => false,
                b'F' => !(j == 0 && line.starts_with(b"From ")),
                33..=126 => true,
                _ => false,
            };
            let tok = if literal {
                vec![b]
            } else {
                format!("={b:02X}").into_bytes()
            };
            // 75 characters and the soft break's `=` make 76.
            if cur.len() + tok.len() > 75 {
                out.extend_from_slice(&cur);
                out.extend_from_slice(b"=\n");
                cur.clear();
            }
            cur.extend_from_slice(&tok);
        }
        out.extend_from_slice(&cur);
        if i + 1 < lines.len() || ends_with_newline {
            out.push(b'\n');
        }
    }
    out
}

/// Base64 in lines of 76 characters.
fn base64_encode(data: &[u8]) -> Vec<u8> {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut flat = Vec::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                flat.push(T[(n >> (18 - 6 * k) & 63) as usize]);
            } else {
                flat.push(b'=');
            }
        }
    }
    let mut out = Vec::new();
    for line in flat.chunks(76) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// A format-patch file's headers (without the blank line) and body.
fn split_mail(text: &[u8]) -> (&[u8], &[u8]) {
    let i = text
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("headers end");
    (&text[..i + 1], &text[i + 2..])
}

/// The same mail with its body in a transfer encoding and charset, as a
/// mail client sends it. `crlf` writes the body's lines with CRLF before
/// encoding (the canonical form of text that base64 carries).
fn reencode(mail: &[u8], cte: &str, charset: &str, crlf: bool) -> Vec<u8> {
    let (head, body) = split_mail(mail);
    let body: Vec<u8> = if crlf {
        let mut v = Vec::new();
        for &b in body {
            if b == b'\n' {
                v.push(b'\r');
            }
            v.push(b);
        }
        v
    } else {
        body.to_vec()
    };
    let mut out = head.to_vec();
    push_mime_body(&mut out, cte, charset, &body);
    out
}

/// The MIME headers of a text/plain body in `cte` and `charset`, then the
/// body so encoded.
fn push_mime_body(out: &mut Vec<u8>, cte: &str, charset: &str, body: &[u8]) {
    out.extend_from_slice(
        format!(
            "MIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\n\
             Content-Transfer-Encoding: {cte}\n\n"
        )
        .as_bytes(),
    );
    match cte {
        "quoted-printable" => out.extend_from_slice(&qp_encode(body)),
        "base64" => out.extend_from_slice(&base64_encode(body)),
        _ => out.extend_from_slice(body),
    }
}

fn sorted_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn tree_of(scratch: &Scratch, commit: &str) -> String {
    let c = scratch
        .repo
        .find_commit(git2::Oid::from_str(commit).unwrap())
        .unwrap();
    c.tree_id().to_string()
}

#[test]
fn quoted_printable_and_base64_patches_apply_like_plain_ones() {
    let f = fixture();
    let cache = f.dir.path().join("cache");
    let plain = Series::load(&f.series).unwrap();
    let dir = f.dir.path().join("encoded");
    std::fs::create_dir_all(&dir).unwrap();
    let mut mbox = Vec::new();
    for p in sorted_files(&f.series) {
        let text = std::fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let out = if name.starts_with("0001") {
            // Non-ASCII and '=' in the message force real encoding.
            let text = String::from_utf8(text)
                .unwrap()
                .replace("Because.", "Because caf\u{e9} = 3 \u{20ac}.");
            reencode(text.as_bytes(), "quoted-printable", "UTF-8", false)
        } else if name.starts_with("0002") {
            reencode(&text, "base64", "utf-8", true)
        } else {
            text
        };
        mbox.extend_from_slice(&out);
        std::fs::write(dir.join(name), out).unwrap();
    }
    let mbox_path = f.dir.path().join("encoded.mbox");
    std::fs::write(&mbox_path, &mbox).unwrap();
    let (scratch, base) = Scratch::open(&f.repo, &cache, "HEAD").unwrap();
    let want = scratch.apply(&plain, &base).unwrap();
    for path in [&dir, &mbox_path] {
        let s = Series::load(path).unwrap();
        assert_eq!(s.hash, plain.hash, "{}", path.display());
        assert_eq!(s.patches.len(), 2);
        assert_eq!(
            s.patches[0].mail.message.lines().next(),
            Some("Because caf\u{e9} = 3 \u{20ac}.")
        );
        for (a, b) in s.patches.iter().zip(&plain.patches) {
            assert_eq!(a.mail.diff, b.mail.diff);
            assert_eq!(a.mail.subject, b.mail.subject);
            assert_eq!(a.mail.author_name, b.mail.author_name);
            assert_eq!(a.mail.date, b.mail.date);
        }
        assert_eq!(s.patches[1].mail.message, plain.patches[1].mail.message);
        let got = scratch.apply(&s, &base).unwrap();
        for (a, b) in got.commits.iter().zip(&want.commits) {
            assert_eq!(tree_of(&scratch, a), tree_of(&scratch, b));
        }
        // The base64 patch's message is the plain one: same commit.
        assert_ne!(got.commits[0], want.commits[0]);
    }
}

#[test]
fn multipart_mail_takes_the_text_part_and_the_patch_attachment() {
    let f = fixture();
    let cache = f.dir.path().join("cache");
    let plain = Series::load(&f.series).unwrap();
    let file = sorted_files(&f.series)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("0001-"))
        .unwrap();
    let text = std::fs::read(&file).unwrap();
    let (head, body) = split_mail(&text);
    let body = String::from_utf8(body.to_vec()).unwrap();
    let cut = body.find("\n---\n").unwrap() + 1;
    let (message, patch) = body.split_at(cut);
    let mut mail = head.to_vec();
    mail.extend_from_slice(
        b"MIME-Version: 1.0\n\
          Content-Type: multipart/mixed; boundary=\"==outer\"\n\n\
          This is a multi-part message in MIME format.\n\
          --==outer\n\
          Content-Type: multipart/alternative; boundary=\"==inner\"\n\n\
          --==inner\n\
          Content-Type: text/plain; charset=UTF-8\n\
          Content-Transfer-Encoding: quoted-printable\n\n",
    );
    mail.extend_from_slice(&qp_encode(message.as_bytes()));
    mail.extend_from_slice(
        b"--==inner\n\
          Content-Type: text/html; charset=UTF-8\n\n\
          <p>html version</p>\n\
          diff --git a/../evil.c b/../evil.c\n\
          --==inner--\n\n\
          --==outer\n\
          Content-Type: text/x-patch; charset=UTF-8; name=\"0001.patch\"\n\
          Content-Disposition: attachment; filename=\"0001.patch\"\n\
          Content-Transfer-Encoding: base64\n\n",
    );
    mail.extend_from_slice(&base64_encode(patch.as_bytes()));
    mail.extend_from_slice(b"--==outer--\n");
    let dir = f.dir.path().join("multipart");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0001.eml"), &mail).unwrap();
    let s = Series::load(&dir).unwrap();
    assert_eq!(s.patches.len(), 1);
    let (a, b) = (&s.patches[0].mail, &plain.patches[0].mail);
    assert_eq!(a.subject, b.subject);
    assert_eq!(a.message, b.message);
    assert_eq!(a.diff, b.diff);
    let (scratch, base) = Scratch::open(&f.repo, &cache, "HEAD").unwrap();
    let got = scratch.apply(&s, &base).unwrap();
    let want = scratch.apply(&plain, &base).unwrap();
    assert_eq!(got.commits[0], want.commits[0]);
}

/// A repository with a Latin-1 file, and the mail that changes it.
fn latin1_repo(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let repo = dir.join("latin1");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("latin1.c"), b"/* caf\xe9 */\nint x;\n").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    (repo, base)
}

const LATIN1_DIFF: &[u8] =
    b"---\n latin1.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n\
diff --git a/latin1.c b/latin1.c\n--- a/latin1.c\n+++ b/latin1.c\n@@ -1,2 +1,2 @@\n\
-/* caf\xe9 */\n+/* caf\xe9 cr\xe8me */\n int x;\n-- \n2.47.3\n\n";

fn latin1_mail(cte: &str) -> Vec<u8> {
    let mut body =
        b"Gr\xfc\xdfe aus K\xf6ln.\n\nSigned-off-by: J\xfcrgen M\xfcller <jm@example.org>\n"
            .to_vec();
    body.extend_from_slice(LATIN1_DIFF);
    let mut mail = b"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n\
From: J\xfcrgen M\xfcller <jm@example.org>\n\
Date: Wed, 10 Jun 2026 19:04:34 -0700\n\
Subject: [PATCH] latin1: cr\xe8me\n"
        .to_vec();
    push_mime_body(&mut mail, cte, "ISO-8859-1", &body);
    mail
}

#[test]
fn latin1_mail_applies_byte_exact_like_git_am() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, base) = latin1_repo(dir.path());
    let cache = dir.path().join("cache");
    let (scratch, b) = Scratch::open(&repo, &cache, "HEAD").unwrap();
    assert_eq!(b, base);
    for cte in ["8bit", "quoted-printable", "base64"] {
        let mbox = dir.path().join(format!("latin1-{cte}.mbox"));
        std::fs::write(&mbox, latin1_mail(cte)).unwrap();
        let s = Series::load(&mbox).unwrap_or_else(|e| panic!("{cte}: {e}"));
        let m = &s.patches[0].mail;
        // Message, author and subject are decoded to UTF-8 ...
        assert_eq!(m.author_name, "J\u{fc}rgen M\u{fc}ller", "{cte}");
        assert_eq!(m.subject, "latin1: cr\u{e8}me", "{cte}");
        assert!(
            m.message.starts_with("Gr\u{fc}\u{df}e aus K\u{f6}ln."),
            "{cte}"
        );
        // ... the patch is not: its Latin-1 bytes reach git apply as they are.
        let applied = scratch.apply(&s, &base).unwrap();
        let repo2 = &scratch.repo;
        let head = repo2
            .find_commit(git2::Oid::from_str(applied.head()).unwrap())
            .unwrap();
        let entry = head.tree().unwrap().get_name("latin1.c").unwrap().id();
        assert_eq!(
            repo2.find_blob(entry).unwrap().content(),
            b"/* caf\xe9 cr\xe8me */\nint x;\n",
            "{cte}"
        );

        // git am takes the same mail to the same tree, author and message.
        let am = dir.path().join(format!("am-{cte}"));
        git(
            dir.path(),
            &["clone", "-q", repo.to_str().unwrap(), am.to_str().unwrap()],
        );
        git(&am, &["am", "-q", mbox.to_str().unwrap()]);
        assert_eq!(
            git(&am, &["rev-parse", "HEAD^{tree}"]).trim(),
            head.tree_id().to_string(),
            "{cte}"
        );
        assert_eq!(
            git(&am, &["log", "-1", "--format=%an"]).trim(),
            m.author_name
        );
        assert_eq!(
            git(&am, &["log", "-1", "--format=%B"]).trim(),
            head.message().unwrap().trim(),
            "{cte}"
        );
    }
}

#[test]
fn format_patch_of_a_latin1_file_applies_byte_exact() {
    // git format-patch labels the mail UTF-8 and 8bit, yet the diff carries
    // the file's Latin-1 bytes: the patch is not valid UTF-8.
    let dir = tempfile::tempdir().unwrap();
    let (repo, base) = latin1_repo(dir.path());
    std::fs::write(repo.join("latin1.c"), b"/* caf\xe9 cr\xe8me */\nint x;\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "latin1: cr\u{e8}me"]);
    let series = dir.path().join("series");
    git(
        &repo,
        &["format-patch", "-q", "-o", series.to_str().unwrap(), &base],
    );
    git(&repo, &["reset", "-q", "--hard", &base]);
    let s = Series::load(&series).unwrap();
    let diff: &[u8] = s.patches[0].mail.diff.as_ref();
    assert!(std::str::from_utf8(diff).is_err());
    assert_eq!(s.patches[0].mail.subject, "latin1: cr\u{e8}me");
    let (scratch, base2) = Scratch::open(&repo, &dir.path().join("cache"), "HEAD").unwrap();
    let applied = scratch.apply(&s, &base2).unwrap();
    let head = scratch
        .repo
        .find_commit(git2::Oid::from_str(applied.head()).unwrap())
        .unwrap();
    let id = head.tree().unwrap().get_name("latin1.c").unwrap().id();
    assert_eq!(
        scratch.repo.find_blob(id).unwrap().content(),
        b"/* caf\xe9 cr\xe8me */\nint x;\n"
    );
}

#[test]
fn absurd_dates_do_not_panic() {
    let f = fixture();
    let p = sorted_files(&f.series)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("0001-"))
        .unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    for date in [
        "Wed, 10 Jun 99999999999999999 19:04:34 -0700",
        "Wed, 10 Jun 9223372036854775807 19:04:34 -0700",
        "Wed, 10 Jun -9223372036854775808 19:04:34 -0700",
        "Wed, 99999999999999 Jun 2026 19:04:34 -0700",
        "Wed, 10 Jun 2026 99999999999:04:34 -0700",
        "Wed, 10 Jun 2026 19:04:34 +99999999",
        "Wed, 10 Jun 2026 19:04:34 -2147483648",
        "Wed, 10 Jun 2026",
        "",
    ] {
        let evil = text.replace("Wed, 10 Jun 2026 19:04:34 -0700", date);
        let dir = f.dir.path().join("dates");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("0001.patch"), evil).unwrap();
        let s = Series::load(&dir).unwrap_or_else(|e| panic!("{date}: {e}"));
        assert_eq!(s.patches[0].mail.date, None, "{date}");
    }
}

#[test]
fn bad_input_is_a_series_error_naming_file_and_line() {
    let f = fixture();
    let files = sorted_files(&f.series);
    let text = |i: usize| std::fs::read_to_string(&files[i]).unwrap();
    let check = |path: &std::path::Path, e: Error, wants: &[&str]| {
        let msg = e.to_string();
        assert!(matches!(e, Error::SeriesParse { .. }), "{msg}");
        assert_eq!(e.exit_code(), vmamatrix::error::exit::SERIES, "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        for w in wants {
            assert!(msg.contains(w), "{msg} lacks {w:?}");
        }
    };

    // Message 3 of an mbox lost its From: header.
    let (cover, p1, p2) = (text(0), text(1), text(2));
    let line = cover.lines().count() + p1.lines().count() + 1;
    let mbox = format!(
        "{cover}{p1}{}",
        p2.replace("From: Test Author <test@example.org>\n", "")
    );
    let path = f.dir.path().join("nofrom.mbox");
    std::fs::write(&path, mbox).unwrap();
    let e = Series::load(&path).unwrap_err();
    check(
        &path,
        e,
        &["message 3", &format!("line {line}"), "no From: header"],
    );

    // A base64 body that is not base64.
    let bad = String::from_utf8(reencode(p1.as_bytes(), "base64", "UTF-8", false))
        .unwrap()
        .replace(
            "Content-Transfer-Encoding: base64\n\n",
            "Content-Transfer-Encoding: base64\n\n%%%%\n",
        );
    let path = f.dir.path().join("badbase64.mbox");
    std::fs::write(&path, format!("{cover}{bad}")).unwrap();
    let e = Series::load(&path).unwrap_err();
    check(
        &path,
        e,
        &["message 2", &format!("line {}", cover.lines().count() + 1)],
    );

    // A file in a directory without a Subject: header.
    let dir = f.dir.path().join("nosubject");
    std::fs::create_dir_all(&dir).unwrap();
    let name = files[1].file_name().unwrap();
    std::fs::write(
        dir.join(name),
        p1.replace("Subject: [PATCH 1/2] mm: rename b\n", ""),
    )
    .unwrap();
    let e = Series::load(&dir).unwrap_err();
    check(&dir.join(name), e, &["line 1", "no Subject: header"]);

    // Binary junk, not UTF-8.
    let path = f.dir.path().join("junk.mbox");
    std::fs::write(&path, b"\xff\xfe\x00junk\x80\n\n\x81").unwrap();
    let e = Series::load(&path).unwrap_err();
    check(&path, e, &["line 1"]);

    // A diff that git cannot parse names the patch.
    let path = f.dir.path().join("baddiff.mbox");
    std::fs::write(
        &path,
        format!(
            "{cover}{}",
            p1.replace("@@ -1,3 +1,3 @@", "@@ -1,3 +1,3 @@\n-\n@@ -x")
        ),
    )
    .unwrap();
    let e = Series::load(&path).unwrap_err();
    check(&path, e, &["patch 1", "mm: rename b"]);
}

#[test]
fn quoted_printable_mbox_of_the_real_series_has_byte_identical_diffs() {
    let patches = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("patches");
    let plain = Series::load(&patches).unwrap();
    // Every file but the cover letter is a patch.
    assert_eq!(plain.patches.len(), sorted_files(&patches).len() - 1);
    let mut mbox = Vec::new();
    let mut soft_breaks = 0;
    for p in sorted_files(&patches) {
        let text = std::fs::read(&p).unwrap();
        let qp = reencode(&text, "quoted-printable", "UTF-8", false);
        soft_breaks += qp.windows(2).filter(|w| w == b"=\n").count();
        mbox.extend_from_slice(&qp);
    }
    let s = String::from_utf8(mbox.clone()).unwrap();
    assert!(soft_breaks > 50, "{soft_breaks}");
    assert!(s.contains("=3D") && s.contains("=20\n"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("series-qp.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let qp = Series::load(&path).unwrap();
    assert_eq!(qp.patches.len(), plain.patches.len());
    assert_eq!(
        qp.cover.as_ref().map(|c| &c.subject),
        plain.cover.as_ref().map(|c| &c.subject)
    );
    for (a, b) in qp.patches.iter().zip(&plain.patches) {
        assert!(
            a.mail.diff == b.mail.diff,
            "patch {}: diffs differ",
            a.number
        );
        assert_eq!(a.mail.subject, b.mail.subject);
        assert_eq!(a.mail.message, b.mail.message);
        assert_eq!(a.mail.author_email, b.mail.author_email);
        assert_eq!(a.mail.date, b.mail.date);
    }
    assert_eq!(qp.hash, plain.hash);
}

// ---------------------------------------------------------------------------
// Fuzzing the series reader with a deterministic generator and mutator: the
// same cases on every run (VMAMATRIX_FUZZ_SEED and VMAMATRIX_FUZZ_CASES
// explore others). No input may panic; every input loads, or fails with an
// exit-4 error that names the file.

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

const GOOD_COMPONENTS: &[&str] = &[
    "mm",
    "include",
    "linux",
    "kernel",
    "vma.c",
    "mm_types.h",
    "x",
    "caf\u{e9}.c",
    "sp ace.c",
    "quo\"te.c",
    "..c",
    ".gitignore",
    "a",
    "b",
    "-",
];
const BAD_COMPONENTS: &[&str] = &["..", ".", "", ".git", ".GIT", ".Git"];

fn gen_path(rng: &mut Rng, evil: bool) -> String {
    let n = 1 + rng.below(4);
    let mut parts = Vec::new();
    for _ in 0..n {
        if evil && rng.one_in(3) {
            parts.push(rng.pick(BAD_COMPONENTS));
        } else {
            // git2 cannot parse its own rename lines for names with spaces.
            let c = rng.pick(GOOD_COMPONENTS);
            parts.push(if c.contains(' ') && !evil { "space" } else { c });
        }
    }
    let p = parts.join("/");
    if evil && rng.one_in(4) {
        format!("/{p}")
    } else {
        p
    }
}

/// A path as git writes it in a header: with a side prefix, C-quoted when it
/// needs to be (and, when `evil`, sometimes when it need not be).
fn spell(rng: &mut Rng, side: &str, path: &str, evil: bool) -> String {
    let prefix = if evil && rng.one_in(6) {
        rng.pick(&["", "x/", "a//", "/"])
    } else {
        side
    };
    let full = format!("{prefix}{path}");
    let special = full
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || b == b'\t' || b >= 0x80);
    if !(special || evil && rng.one_in(3)) {
        return full;
    }
    let mut q = String::from("\"");
    for b in full.bytes() {
        match b {
            b'"' => q.push_str("\\\""),
            b'\\' => q.push_str("\\\\"),
            b'\t' => q.push_str("\\t"),
            b'.' | b'/' if evil && rng.one_in(2) => q.push_str(&format!("\\{b:03o}")),
            0x80.. => q.push_str(&format!("\\{b:03o}")),
            _ => q.push(b as char),
        }
    }
    q.push('"');
    q
}

const CONTENT: &[&[u8]] = &[
    b"int x = 1;",
    b"\tif (a == b)",
    b"- ",
    b"-- ",
    b"--- a/x",
    b"+++ b/../x",
    b"From the start",
    b"From x Mon Sep 17 00:00:00 2001",
    b"=",
    b"=3D",
    b"=\n",
    b"=?utf-8?q?x?=",
    b"caf\xc3\xa9",
    b"caf\xe9",
    b"\xff\xfe",
    b"trailing  ",
    b"\x0c",
    b"diff",
    b"@@",
    b"",
    b" ",
    b"\t",
];

fn gen_text_line(rng: &mut Rng, clean: bool) -> Vec<u8> {
    let mut l = Vec::new();
    for _ in 0..rng.below(4) {
        let piece = rng.pick(CONTENT);
        // CR and LF inside a line only for the unclean cases.
        if clean && piece.contains(&b'\n') {
            continue;
        }
        l.extend_from_slice(piece);
    }
    if !clean && rng.one_in(20) {
        l.push(b'\r');
    }
    l
}

fn gen_hunks(rng: &mut Rng, clean: bool, new_file: bool, deleted: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 1;
    for _ in 0..1 + rng.below(2) {
        let mut body = Vec::new();
        let (mut old, mut new) = (0, 0);
        for _ in 0..1 + rng.below(6) {
            let kind = if new_file {
                b'+'
            } else if deleted {
                b'-'
            } else {
                rng.pick(b" -+")
            };
            match kind {
                b' ' => {
                    old += 1;
                    new += 1
                }
                b'-' => old += 1,
                _ => new += 1,
            }
            body.push(kind);
            body.extend_from_slice(&gen_text_line(rng, clean));
            body.push(b'\n');
        }
        if rng.one_in(8) {
            body.extend_from_slice(b"\\ No newline at end of file\n");
        }
        let (o, n) = if !clean && rng.one_in(5) {
            (rng.below(9), rng.below(9))
        } else {
            (old, new)
        };
        let os = if new_file { 0 } else { start };
        let ns = if deleted { 0 } else { start };
        out.extend_from_slice(format!("@@ -{os},{o} +{ns},{n} @@ f()\n").as_bytes());
        out.extend_from_slice(&body);
        start += old + 10;
        if new_file || deleted {
            break;
        }
    }
    out
}

/// A git diff of 1 to 3 files.
fn gen_diff(rng: &mut Rng, clean: bool) -> Vec<u8> {
    let evil = !clean && rng.one_in(2);
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let p = gen_path(rng, evil);
        let (a, b) = (spell(rng, "a/", &p, evil), spell(rng, "b/", &p, evil));
        let mut s = format!("diff --git {a} {b}\n");
        match rng.below(6) {
            0 => {
                s += "new file mode 100644\nindex 0000000..1234567\n--- /dev/null\n";
                s += &format!("+++ {b}\n");
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(&gen_hunks(rng, clean, true, false));
            }
            1 => {
                s += &format!(
                    "deleted file mode 100644\nindex 1234567..0000000\n--- {a}\n+++ /dev/null\n"
                );
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(&gen_hunks(rng, clean, false, true));
            }
            2 => {
                let q = gen_path(rng, evil);
                let s = format!(
                    "diff --git {a} {}\nsimilarity index 90%\nrename from {}\nrename to {}\n",
                    spell(rng, "b/", &q, evil),
                    spell(rng, "", &p, evil),
                    spell(rng, "", &q, evil)
                );
                out.extend_from_slice(s.as_bytes());
            }
            3 => {
                s += "old mode 100644\nnew mode 100755\n";
                out.extend_from_slice(s.as_bytes());
            }
            _ => {
                s += &format!("index 1234567..89abcde 100644\n--- {a}\n+++ {b}\n");
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(&gen_hunks(rng, clean, false, false));
            }
        }
    }
    out
}

const NAMES: &[&str] = &[
    "Test Author",
    "J\u{fc}rgen M\u{fc}ller",
    "\"Doe, John\"",
    "=?UTF-8?q?Arve=20Hj=C3=B8nnev=C3=A5g?=",
    "=?iso-8859-1?q?J=FCrgen?=",
    "=?utf-8?b?SGVsbG8=?=",
];

const WORDS: &[&str] = &[
    "mm:",
    "vma",
    "lock",
    "the",
    "a=b",
    "caf\u{e9}",
    "\u{20ac}",
    "x",
    "(test)",
    "100%",
    "=?",
];

fn gen_words(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a clean generated mail must parse to.
struct Expect {
    subject: String,
    message: String,
    diff: Vec<u8>,
}

/// A mail carrying `diff`, in one of the encodings mail clients use.
fn gen_mail(rng: &mut Rng, clean: bool, n: usize, total: usize) -> (Vec<u8>, Expect) {
    let diff = gen_diff(rng, clean);
    let k = 1 + rng.below(6);
    let subject = gen_words(rng, k);
    let mut message = String::new();
    for _ in 0..rng.below(4) {
        let k = 1 + rng.below(8);
        message += &gen_words(rng, k);
        message += "\n";
        if rng.one_in(2) {
            message += "\n";
        }
    }
    message += "Signed-off-by: Test Author <test@example.org>";
    let name = rng.pick(NAMES);
    let mut head = format!(
        "From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001\n\
         From: {name} <t@example.org>\n"
    );
    head += &match rng.below(4) {
        0 => "Date: Wed, 10 Jun 2026 19:04:34 -0700\n".to_string(),
        1 if !clean => format!("Date: Wed, 10 Jun {} 19:04:34 -0700\n", rng.next() as i64),
        _ => format!(
            "Date: {} Jun 2026 1{}:04:34 +0200\n",
            1 + rng.below(28),
            rng.below(10)
        ),
    };
    // Subjects: folded, or one RFC 2047 word as git send-email writes them.
    let subject_header = match rng.below(3) {
        0 => {
            let words: Vec<u8> = subject
                .bytes()
                .flat_map(|b| match b {
                    b' ' => b"_".to_vec(),
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => vec![b],
                    _ => format!("={b:02X}").into_bytes(),
                })
                .collect();
            format!("=?UTF-8?q?{}?=", String::from_utf8(words).unwrap())
        }
        1 => subject.replacen(' ', "\n ", 1),
        _ => subject.clone(),
    };
    head += &format!("Subject: [PATCH v2 {n}/{total}] {subject_header}\n");
    let mut body = Vec::new();
    if rng.one_in(5) {
        body.extend_from_slice(b"From: Real Author <real@example.org>\n\n");
    }
    body.extend_from_slice(message.as_bytes());
    body.extend_from_slice(b"\n---\n x | 1 +\n 1 file changed, 1 insertion(+)\n\n");
    body.extend_from_slice(&diff);
    body.extend_from_slice(b"-- \n2.47.3\n\n");
    let mail = match rng.below(5) {
        0 => {
            let mut m = head.into_bytes();
            m.extend_from_slice(b"\n");
            m.extend_from_slice(&body);
            m
        }
        1 => {
            let mut m = head.into_bytes();
            m.extend_from_slice(
                b"MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\
                  Content-Transfer-Encoding: 8bit\n\n",
            );
            m.extend_from_slice(&body);
            m
        }
        2 => {
            let mut m = head.into_bytes();
            m.push(b'\n');
            reencode(&m, "quoted-printable", "UTF-8", false)
                .into_iter()
                .chain(qp_encode(&body))
                .collect()
        }
        3 => {
            let mut m = head.into_bytes();
            m.push(b'\n');
            let crlf: Vec<u8> = body
                .iter()
                .flat_map(|&b| {
                    if b == b'\n' {
                        vec![b'\r', b'\n']
                    } else {
                        vec![b]
                    }
                })
                .collect();
            reencode(&m, "base64", "utf-8", false)
                .into_iter()
                .chain(base64_encode(&crlf))
                .collect()
        }
        _ => {
            // The message inline, the patch as an attachment.
            let cut = body.windows(5).position(|w| w == b"\n---\n").unwrap() + 1;
            let mut m = head.into_bytes();
            m.extend_from_slice(
                b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"=-=b=-=\"\n\n\
                  --=-=b=-=\nContent-Type: text/plain; charset=utf-8\n\
                  Content-Transfer-Encoding: quoted-printable\n\n",
            );
            m.extend_from_slice(&qp_encode(&body[..cut]));
            m.extend_from_slice(
                b"--=-=b=-=\nContent-Type: text/x-diff; name=x.patch\n\
                  Content-Disposition: attachment; filename=x.patch\n\
                  Content-Transfer-Encoding: base64\n\n",
            );
            m.extend_from_slice(&base64_encode(&body[cut..]));
            m.extend_from_slice(b"--=-=b=-=--\n");
            m
        }
    };
    (
        mail,
        Expect {
            subject,
            message,
            diff,
        },
    )
}

const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\n\n",
    b"\r\n",
    b"\r",
    b"From ",
    b"From x Mon Sep 17 00:00:00 2001\n",
    b"From: ",
    b"From: <>\n",
    b"From: a <b> <c>\n",
    b"Subject: ",
    b"Subject: \x00\n",
    b"Date: Wed, 10 Jun 99999999999 19:04:34 -0700\n",
    b"Date: Wed, 31 Feb 9999 23:59:60 +2359\n",
    b"=",
    b"=\n",
    b"=3D",
    b"=?",
    b"?=",
    b"=?utf-8?b?",
    b"=?iso-8859-1?q?",
    b"=?koi8-r?B?",
    b"diff --git ",
    b"diff --git a/../x b/../x\n",
    b"diff --git \"a/\\056git/x\" \"b/\\056git/x\"\n",
    b"--- ",
    b"+++ ",
    b"--- /dev/null\n",
    b"+++ b//etc/passwd\n",
    b"+++ \"b/\\056\\056/x\"\n",
    b"@@ -1,3 +1,3 @@\n",
    b"@@ -0,0 +1 @@\n",
    b"@@ -99999999999999999999 +1 @@\n",
    b"-- \n",
    b"---\n",
    b"rename from ",
    b"rename to ../",
    b"copy to .git/",
    b"new file mode 100644\n",
    b"new file mode 160000\n",
    b"GIT binary patch\nliteral 5\nMc${NkU|?lp000310RR91\n\n",
    b"../",
    b"/",
    b".git/",
    b"\\",
    b"\"",
    b"\xe9",
    b"\xff",
    b"\x00",
    b"\xc3",
    b"MIME-Version: 1.0\n",
    b"Content-Type: multipart/mixed; boundary=b\n",
    b"Content-Type: multipart/alternative; boundary=\"\"\n",
    b"--b\n",
    b"--b--\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"Content-Transfer-Encoding: binary\n",
    b"Content-Type: text/plain; charset=iso-8859-1\n",
    b"Content-Type: text/x-patch; charset=unknown-8bit\n",
    b"Content-Type: text/html\n",
    b" ",
    b"\t",
    b"<",
    b">",
    b"[PATCH 0/1]",
    b"[PATCH 18446744073709551616/2]",
];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(6) {
        let len = data.len();
        let at = rng.below(len + 1);
        // Half the insertions go to a line start.
        let line_start = data[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 | 2 => {
                let pos = if rng.one_in(2) { line_start } else { at };
                let t = rng.pick(TOKENS);
                data.splice(pos..pos, t.iter().copied());
            }
            3 => {
                let end = (at + 1 + rng.below(64)).min(len);
                data.drain(at..end);
            }
            4 => {
                let end = (at + 1 + rng.below(256)).min(len);
                let dup = data[at..end].to_vec();
                data.splice(at..at, dup);
            }
            5 if rng.one_in(3) => data.truncate(at),
            6 => {
                let other = &corpus[rng.below(corpus.len())];
                let s = rng.below(other.len() + 1);
                let e = (s + rng.below(512)).min(other.len());
                let end = (at + rng.below(64)).min(len);
                data.splice(at..end, other[s..e].iter().copied());
            }
            7 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            _ => {
                // Swap two lines.
                let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
                if lines.len() > 2 {
                    let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                    let mut l: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
                    l.swap(i, j);
                    *data = l.concat();
                }
            }
        }
    }
}

/// The real inputs: the series in patches/, the test fixtures, the tiny
/// fixture series, each file and each set as one mbox.
fn real_inputs(tiny: &std::path::Path) -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("patches"),
        root.join("tests/fixtures/break-at-3"),
        root.join("tests/fixtures/vma-grow"),
        tiny.to_path_buf(),
    ] {
        let mut all = Vec::new();
        for f in sorted_files(&dir) {
            let text = std::fs::read(f).unwrap();
            all.extend_from_slice(&text);
            out.push(text);
        }
        out.push(all);
    }
    out
}

/// Whether git would write outside the tree or into .git for this path.
fn escapes(p: &str) -> bool {
    p.starts_with('/')
        || p.split('/')
            .any(|c| c == ".." || c.eq_ignore_ascii_case(".git"))
}

/// What must hold of a series that loaded.
fn check_loaded(s: &Series) -> Result<(), String> {
    if s.patches.is_empty() {
        return Err("no patches".into());
    }
    for (i, p) in s.patches.iter().enumerate() {
        let m = &p.mail;
        if p.number != i + 1 || m.diff.is_empty() {
            return Err(format!(
                "patch {i}: number {} diff {}",
                p.number,
                m.diff.len()
            ));
        }
        let diff = git2::Diff::from_buffer(&m.diff)
            .map_err(|e| format!("patch {}: git2 cannot parse the diff: {e}", p.number))?;
        for d in diff.deltas() {
            for f in [d.old_file(), d.new_file()] {
                if let Some(path) = f.path_bytes() {
                    let path = String::from_utf8_lossy(path);
                    if path != "/dev/null" && escapes(&path) {
                        return Err(format!("patch {}: git2 path {path:?} escapes", p.number));
                    }
                }
            }
        }
        let (name, email) = m.git_author();
        git2::Signature::new(name, email, &git2::Time::new(0, 0))
            .map_err(|e| format!("patch {}: author {name:?} <{email}>: {e}", p.number))?;
        if m.subject.contains('\0') || m.message.contains('\0') {
            return Err(format!("patch {}: NUL in the message", p.number));
        }
    }
    for f in s.touched_files() {
        if escapes(&f) {
            return Err(format!("touched file {f:?} escapes"));
        }
    }
    let info = s.info(None);
    if info.hash.len() != 64 || info.patches.len() != s.patches.len() {
        return Err("bad info".into());
    }
    Ok(())
}

#[test]
fn fuzz_series_reader_never_panics_and_fails_with_exit_4() {
    let cases: usize = std::env::var("VMAMATRIX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("VMAMATRIX_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x007e_575e_71e5);
    let f = fixture();
    let corpus = real_inputs(&f.series);
    // Memory, where there is a tmpfs: writing 10,000 files to a disk is most
    // of the time otherwise.
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let started = std::time::Instant::now();
    let (mut loaded, mut refused, mut round_trips, mut applied) = (0, 0, 0, 0);
    let mut escapes_refused = 0;
    let (scratch, base) = Scratch::open(&f.repo, &dir.path().join("cache"), "HEAD").unwrap();
    for i in 0..cases {
        let mut rng = Rng(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut expect = Vec::new();
        let input: Vec<u8> = if i < corpus.len() {
            corpus[i].clone()
        } else {
            match rng.below(10) {
                // A real input, mutated.
                0..=2 => {
                    let mut d = corpus[rng.below(corpus.len())].clone();
                    mutate(&mut rng, &mut d, &corpus);
                    d
                }
                // Clean generated mails: they must load, to the same diffs.
                3..=5 => {
                    let total = 1 + rng.below(3);
                    let mut m = Vec::new();
                    for n in 1..=total {
                        let (mail, e) = gen_mail(&mut rng, true, n, total);
                        m.extend_from_slice(&mail);
                        expect.push(e);
                    }
                    m
                }
                // Generated mails with evil paths, absurd headers and
                // broken encodings, mutated.
                _ => {
                    let total = 1 + rng.below(3);
                    let mut m = Vec::new();
                    for n in 1..=total {
                        m.extend_from_slice(&gen_mail(&mut rng, false, n, total).0);
                    }
                    if rng.one_in(4) {
                        m = m
                            .iter()
                            .flat_map(|&b| {
                                if b == b'\n' {
                                    vec![b'\r', b'\n']
                                } else {
                                    vec![b]
                                }
                            })
                            .collect();
                    }
                    if !rng.one_in(4) {
                        mutate(&mut rng, &mut m, &corpus);
                    }
                    m
                }
            }
        };
        // Sometimes a directory of one file per mail instead of an mbox.
        let as_dir = expect.is_empty() && rng.one_in(10);
        let path = if as_dir {
            let series_dir = dir.path().join(format!("case-{i}"));
            std::fs::create_dir_all(&series_dir).unwrap();
            let mut start = 0;
            let mut k = 0;
            let mut pos = 0;
            for line in input.split_inclusive(|&b| b == b'\n') {
                if line.starts_with(b"From ") && pos > start {
                    std::fs::write(series_dir.join(format!("{k:04}.patch")), &input[start..pos])
                        .unwrap();
                    (start, k) = (pos, k + 1);
                }
                pos += line.len();
            }
            std::fs::write(series_dir.join(format!("{k:04}.patch")), &input[start..]).unwrap();
            series_dir.clone()
        } else {
            // A new name each time: replacing a file's contents costs a
            // flush on some file systems (ext4's auto_da_alloc).
            let file = dir.path().join(format!("case-{i}.mbox"));
            std::fs::write(&file, &input).unwrap();
            file
        };
        let saved = || {
            let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("fuzz-case-{i}.mbox"));
            std::fs::write(&keep, &input).unwrap();
            keep.display().to_string()
        };
        let got = std::panic::catch_unwind(|| Series::load(&path));
        let outcome = match got {
            Err(_) => Err("panicked".to_string()),
            Ok(Ok(s)) => {
                loaded += 1;
                check_loaded(&s)
                    .and_then(|()| {
                        // A loaded series applies, or does not with exit 4
                        // (one case in three: applying costs a millisecond).
                        if i % 3 != 0 {
                            return Ok(());
                        }
                        match scratch.apply(&s, &base) {
                            Ok(_) => applied += 1,
                            Err(e) if e.exit_code() == vmamatrix::error::exit::SERIES => {}
                            Err(e) => return Err(format!("apply: exit {}: {e}", e.exit_code())),
                        }
                        Ok(())
                    })
                    .and_then(|()| {
                        if expect.is_empty() {
                            return Ok(());
                        }
                        round_trips += 1;
                        if s.patches.len() != expect.len() {
                            return Err(format!(
                                "{} patches, want {}",
                                s.patches.len(),
                                expect.len()
                            ));
                        }
                        for (p, e) in s.patches.iter().zip(&expect) {
                            if p.mail.diff != e.diff {
                                return Err(format!(
                                    "patch {}: diff\n{}\nwant\n{}",
                                    p.number,
                                    String::from_utf8_lossy(&p.mail.diff),
                                    String::from_utf8_lossy(&e.diff)
                                ));
                            }
                            if p.mail.subject != e.subject || p.mail.message != e.message {
                                return Err(format!(
                                    "patch {}: {:?} / {:?}, want {:?} / {:?}",
                                    p.number, p.mail.subject, p.mail.message, e.subject, e.message
                                ));
                            }
                        }
                        Ok(())
                    })
            }
            Ok(Err(e)) => {
                refused += 1;
                if matches!(e, Error::PathEscape { .. }) {
                    escapes_refused += 1;
                }
                let msg = e.to_string();
                if !expect.is_empty() {
                    Err(format!("a clean mail was refused: {msg}"))
                } else if e.exit_code() != vmamatrix::error::exit::SERIES {
                    Err(format!("exit code {} for: {msg}", e.exit_code()))
                } else if !msg.contains(&path.display().to_string()) {
                    Err(format!(
                        "the message does not name {}: {msg}",
                        path.display()
                    ))
                } else {
                    Ok(())
                }
            }
        };
        if let Err(why) = outcome {
            panic!(
                "fuzz case {i} (seed {seed:#x}): {why}\ninput saved to {}",
                saved()
            );
        }
        if as_dir {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let took = started.elapsed();
    eprintln!(
        "fuzz: {cases} cases in {took:.1?}: {loaded} loaded ({round_trips} round trips, \
         {applied} applied to the fixture), {refused} refused ({escapes_refused} for their paths)"
    );
    assert_eq!(loaded + refused, cases);
    // The generator must reach both sides, and the clean mails must be many.
    assert!(
        loaded > cases / 5 && refused > cases / 5,
        "{loaded} {refused}"
    );
    assert!(round_trips > cases / 5, "{round_trips}");
    assert!(escapes_refused > cases / 50, "{escapes_refused}");
}

/// The series' `base-commit:` trailer is the default base when the tree has
/// it (as 0-day and b4 use it), `--base` still wins, and a series without
/// the trailer gets a notice and the matrix's base.
#[test]
fn base_commit_trailer_picks_the_base() {
    let f = fixture();
    // The user's branch moved on: HEAD is not the series' base any more.
    std::fs::write(f.repo.join("unrelated.txt"), "x\n").unwrap();
    common::git(&f.repo, &["add", "unrelated.txt"]);
    common::git(&f.repo, &["commit", "-q", "-m", "unrelated"]);
    let head = common::git(&f.repo, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    // The same series with the trailer.
    let with = f.dir.path().join("with-base");
    std::fs::create_dir_all(&with).unwrap();
    for e in std::fs::read_dir(&f.series).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let text = if text.contains("[PATCH 0/") {
            text.replace("\n-- \n", &format!("\nbase-commit: {}\n-- \n", f.base))
        } else {
            text
        };
        std::fs::write(with.join(e.file_name()), text).unwrap();
    }
    let plan = |series: &std::path::Path, extra: &[&str]| {
        let out = std::process::Command::new(common::bin())
            .args(["plan", "--format", "json", "--kernel"])
            .arg(&f.repo)
            .arg("--series")
            .arg(series)
            .args(extra)
            .env("VMAMATRIX_CACHE", f.dir.path().join("cache"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
        (v, err)
    };
    let (v, _) = plan(&with, &[]);
    assert_eq!(v["base"], f.base.as_str());
    assert_eq!(v["series"]["base_commit"], f.base.as_str());
    assert_eq!(v["base_source"], "the series' base-commit trailer");
    let (v, _) = plan(&with, &["--base", &head]);
    assert_eq!(v["base"], head.as_str(), "--base wins");
    // Without the trailer: the matrix base (HEAD), and a notice. The
    // series applies to HEAD too (the new commit touches another file).
    let (v, err) = plan(&f.series, &[]);
    assert_eq!(v["base"], head.as_str());
    assert!(err.contains("no base-commit trailer"), "{err}");
}

/// `--series -`: an mbox on stdin, as `b4 am -o - MSGID | vmamatrix ...`
/// gives it, is the same series as the files it was made of.
#[test]
fn series_from_stdin_is_the_same_series() {
    let f = fixture();
    let mut mbox = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&f.series)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for p in files {
        mbox.extend(std::fs::read(p).unwrap());
    }
    let plan = |series: &str, stdin: Option<&[u8]>| -> serde_json::Value {
        let mut c = std::process::Command::new(common::bin());
        c.args(["plan", "--format", "json", "--series", series, "--kernel"])
            .arg(&f.repo)
            .env("VMAMATRIX_CACHE", f.dir.path().join("cache"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin.unwrap_or_default()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let from_stdin = plan("-", Some(&mbox));
    let from_dir = plan(f.series.to_str().unwrap(), None);
    assert_eq!(from_stdin["patched"], from_dir["patched"]);
    assert_eq!(from_stdin["series"]["hash"], from_dir["series"]["hash"]);
}
