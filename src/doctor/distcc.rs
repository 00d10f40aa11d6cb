//! distcc and icecream, when the matrix's compiler runs them: the hosts
//! distcc would send jobs to, whether a distccd here accepts the compiler,
//! an iceccd for icecc, and what distcc does to the build's warnings.

use super::{which, Check, Level};
use std::path::{Path, PathBuf};

/// distcc, when the matrix's C compiler runs it (`CC="distcc clang-19"`),
/// or ccache hands it misses (`CCACHE_PREFIX=distcc`, for `run --ccache`):
/// the hosts it would send jobs to, and whether a distccd on this machine
/// would accept the compiler.
pub fn distcc(words: &[String]) -> Vec<Check> {
    use crate::build::{compiler, runs_distcc};
    let cc = compiler(words).ok();
    let prefix = std::env::var("CCACHE_PREFIX").ok();
    // The compiler distcc runs: CC's second word, or CC itself under ccache.
    let clang = match (&cc, &prefix) {
        (Some(cc), _) if runs_distcc(cc) => cc.split_whitespace().nth(1).map(str::to_string),
        (Some(cc), Some(p)) if runs_distcc(p) => cc.split_whitespace().next().map(str::to_string),
        _ => return vec![],
    };
    let mut out = vec![
        distcc_hosts(distcc_hosts_source()),
        // What distcc 3.4 cannot help (README): a warning, never missing.
        Check {
            level: Level::Warn,
            what: "distcc warnings".into(),
            detail: "distcc preprocesses here and sends the expanded source, so clang \
                     also reports the warnings it hides inside macro expansions \
                     (-Wunused-value and others): the build's warnings are not a \
                     plain build's; icecream with ICECC_REMOTE_CPP=1 keeps them"
                .into(),
            fix: None,
        },
    ];
    if let (Some(clang), Some(_)) = (clang, which("distccd")) {
        out.push(distcc_masquerade(&clang, Path::new("/usr/lib/distcc")));
    }
    out
}

/// icecream, when the matrix's C compiler runs icecc (or ccache hands it
/// misses): icecc sends jobs through the iceccd on this machine.
pub fn icecc(words: &[String]) -> Vec<Check> {
    use crate::build::{compiler, runs_icecc};
    let via_cc = compiler(words).is_ok_and(|cc| runs_icecc(&cc));
    let via_prefix = std::env::var("CCACHE_PREFIX").is_ok_and(|p| runs_icecc(&p));
    if !via_cc && !via_prefix {
        return vec![];
    }
    let socket = Path::new("/var/run/icecc/iceccd.socket");
    vec![if socket.exists() {
        Check::ok(
            "icecc daemon",
            format!("{} (jobs go through it)", socket.display()),
        )
    } else {
        Check {
            level: Level::Warn,
            what: "icecc daemon".into(),
            detail: format!(
                "no {}: without an iceccd here icecc compiles every job on this machine",
                socket.display()
            ),
            fix: Some("apt-get install icecc; systemctl start iceccd (an icecc-scheduler runs on one machine of the network)".into()),
        }
    }]
}

/// Where distcc finds its hosts, in its own order: (source, text).
fn distcc_hosts_source() -> Option<(String, String)> {
    if let Ok(h) = std::env::var("DISTCC_HOSTS") {
        return Some(("DISTCC_HOSTS".into(), h));
    }
    let dir = std::env::var_os("DISTCC_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".distcc")));
    let files = dir
        .map(|d| d.join("hosts"))
        .into_iter()
        .chain([PathBuf::from("/etc/distcc/hosts")]);
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            return Some((f.display().to_string(), text));
        }
    }
    None
}

/// The hosts check: distcc without hosts, or with only `localhost` (which
/// distcc takes as "compile here, without a daemon"), distributes nothing.
fn distcc_hosts(source: Option<(String, String)>) -> Check {
    let what = "distcc hosts";
    let fix =
        "export DISTCC_HOSTS='build1/16 localhost/2' (helpers first, this machine last; a distccd here is 127.0.0.1)";
    let Some((from, text)) = source else {
        return Check {
            level: Level::Warn,
            what: what.into(),
            detail: "no DISTCC_HOSTS, ~/.distcc/hosts or /etc/distcc/hosts: \
                     distcc compiles every job on this machine"
                .into(),
            fix: Some(fix.into()),
        };
    };
    let hosts: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .collect();
    let remote = hosts
        .iter()
        .filter(|h| {
            let name = h.split(['/', ',']).next().unwrap_or("");
            !name.is_empty() && name != "localhost" && !name.starts_with("--")
        })
        .count();
    if remote == 0 {
        return Check {
            level: Level::Warn,
            what: what.into(),
            detail: format!(
                "{from} names no daemon ({:?}); `localhost` is distcc's word for \
                 \"compile here, without distccd\"",
                hosts.join(" ")
            ),
            fix: Some(fix.into()),
        };
    }
    Check::ok(what, format!("{from}: {}", hosts.join(" ")))
}

/// A distccd runs only the compilers named in its masquerade directory
/// (Debian: /usr/lib/distcc, made by update-distcc-symlinks).
fn distcc_masquerade(clang: &str, dir: &Path) -> Check {
    let name = Path::new(clang)
        .file_name()
        .map_or_else(|| clang.to_string(), |n| n.to_string_lossy().into_owned());
    let what = format!("distccd {name}");
    if dir.join(&name).symlink_metadata().is_ok() {
        Check::ok(
            what,
            format!("{} (a distccd here runs it)", dir.join(&name).display()),
        )
    } else {
        Check {
            level: Level::Warn,
            what,
            detail: format!(
                "no {}: a distccd on this machine refuses {name} (remote hosts need it too)",
                dir.join(&name).display()
            ),
            fix: Some("update-distcc-symlinks".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distcc_hosts_checks() {
        let h = |t: &str| distcc_hosts(Some(("DISTCC_HOSTS".into(), t.into())));
        assert_eq!(distcc_hosts(None).level, Level::Warn);
        let c = h("localhost/2");
        assert_eq!(c.level, Level::Warn);
        assert!(c.detail.contains("without distccd"), "{}", c.detail);
        assert_eq!(
            h("# comment\nlocalhost/2 127.0.0.1/2,lzo\n").level,
            Level::Ok
        );
        assert_eq!(h("build1/16").level, Level::Ok);
    }

    #[test]
    fn distcc_masquerade_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(distcc_masquerade("clang-19", dir.path()).level, Level::Warn);
        std::os::unix::fs::symlink("../../bin/distcc", dir.path().join("clang-19")).unwrap();
        assert_eq!(distcc_masquerade("clang-19", dir.path()).level, Level::Ok);
        assert_eq!(
            distcc_masquerade("/usr/bin/clang-19", dir.path()).level,
            Level::Ok
        );
    }
}
