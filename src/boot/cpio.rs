//! A minimal writer of "newc" cpio archives, the format the kernel unpacks
//! as initramfs: directories, regular files and device nodes.

use std::io::Write;

/// One archive member.
#[derive(Debug, Clone)]
pub enum Entry {
    Dir {
        path: String,
        mode: u32,
    },
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    CharDev {
        path: String,
        mode: u32,
        major: u32,
        minor: u32,
    },
}

/// Serialize `entries` (parents before children) plus the trailer.
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ino, e) in entries.iter().enumerate() {
        let (path, mode, data, rdev): (&str, u32, &[u8], (u32, u32)) = match e {
            Entry::Dir { path, mode } => (path, 0o040000 | mode, &[], (0, 0)),
            Entry::File { path, mode, data } => (path, 0o100000 | mode, data, (0, 0)),
            Entry::CharDev {
                path,
                mode,
                major,
                minor,
            } => (path, 0o020000 | mode, &[], (*major, *minor)),
        };
        header(
            &mut out,
            ino as u32 + 1,
            mode,
            data.len() as u32,
            rdev,
            path,
        );
        out.extend_from_slice(data);
        pad4(&mut out);
    }
    header(&mut out, 0, 0, 0, (0, 0), "TRAILER!!!");
    out
}

fn header(out: &mut Vec<u8>, ino: u32, mode: u32, size: u32, rdev: (u32, u32), name: &str) {
    let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        size,
        0,
        0,
        rdev.0,
        rdev.1,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        write!(out, "{f:08X}").unwrap();
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_cpio_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = write(&[
            Entry::Dir {
                path: "dev".into(),
                mode: 0o755,
            },
            Entry::CharDev {
                path: "dev/console".into(),
                mode: 0o600,
                major: 5,
                minor: 1,
            },
            Entry::File {
                path: "init".into(),
                mode: 0o755,
                data: b"#!hello\n".to_vec(),
            },
            Entry::File {
                path: "odd".into(),
                mode: 0o644,
                data: b"12345".to_vec(),
            },
        ]);
        assert_eq!(data.len() % 4, 0);
        let out = std::process::Command::new("cpio")
            .args(["-t", "-v"])
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(&data)?;
                c.wait_with_output()
            })
            .unwrap();
        let list = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), 4, "{list}");
        assert!(
            lines[0].starts_with("drwxr-xr-x") && lines[0].ends_with(" dev"),
            "{list}"
        );
        assert!(
            lines[1].starts_with("crw-------")
                && lines[1].contains("5,")
                && lines[1].ends_with("dev/console"),
            "{list}"
        );
        assert!(
            lines[2].starts_with("-rwxr-xr-x")
                && lines[2].contains(" 8 ")
                && lines[2].ends_with(" init"),
            "{list}"
        );
        assert!(
            lines[3].contains(" 5 ") && lines[3].ends_with(" odd"),
            "{list}"
        );
    }
}
