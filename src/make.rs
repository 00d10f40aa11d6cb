//! One make invocation: the `Command` that runs it and the shell line that
//! reproduces it, made from the same parts so the two cannot disagree.

use crate::proc;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment every kernel make gets, so builds are reproducible.
const KBUILD_ENV: [(&str, &str); 3] = [
    ("KBUILD_BUILD_TIMESTAMP", "vmamatrix"),
    ("KBUILD_BUILD_USER", "vmamatrix"),
    ("KBUILD_BUILD_HOST", "vmamatrix"),
];

/// `make -C <dir> [vars] [-jN] [targets]` with its environment.
#[derive(Debug, Clone)]
pub struct Make {
    dir: PathBuf,
    env: Vec<(String, String)>,
    args: Vec<String>,
    jobs: Option<usize>,
    targets: Vec<String>,
}

impl Make {
    /// A kernel make in the source tree `src` (kbuild's reproducible-build
    /// environment set).
    pub fn kernel(src: &Path) -> Make {
        let mut m = Make::plain(src);
        for (k, v) in KBUILD_ENV {
            m = m.env(k, v);
        }
        m
    }

    /// A make in `dir` with nothing added.
    pub fn plain(dir: &Path) -> Make {
        Make {
            dir: dir.to_path_buf(),
            env: vec![],
            args: vec![],
            jobs: None,
            targets: vec![],
        }
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Make {
        self.env.retain(|(x, _)| x != k);
        self.env.push((k.to_string(), v.into()));
        self
    }

    /// Variables and options (`O=`, `ARCH=`, `LLVM=-19`, ...), in order.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Make {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    pub fn jobs(mut self, n: usize) -> Make {
        self.jobs = Some(n);
        self
    }

    pub fn target(mut self, t: impl Into<String>) -> Make {
        self.targets.push(t.into());
        self
    }

    /// The job count this make was given, if any.
    pub fn job_count(&self) -> Option<usize> {
        self.jobs
    }

    /// Arguments after `make`, as run without a jobserver.
    pub fn argv(&self) -> Vec<String> {
        let mut a = vec!["-C".to_string(), self.dir.display().to_string()];
        a.extend(self.args.iter().cloned());
        a.extend(self.jobs.map(|j| format!("-j{j}")));
        a.extend(self.targets.iter().cloned());
        a
    }

    /// The command to run. Under a jobserver make finds its budget in
    /// MAKEFLAGS, and a `-jN` of its own would start a second jobserver, so
    /// `jobserver` leaves `-j` out.
    pub fn command(&self, jobserver: bool) -> Command {
        let mut c = Command::new("make");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.args(
            self.argv()
                .into_iter()
                .filter(|a| !(jobserver && a.starts_with("-j"))),
        );
        c
    }

    /// The exact shell line: environment, make and its arguments.
    pub fn line(&self) -> String {
        let mut words: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        words.push("make".into());
        words.extend(self.argv());
        proc::shell_line(&words[0], &words[1..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_command_agree() {
        let m = Make::kernel(Path::new("/src"))
            .env("CCACHE_DIR", "/c c")
            .args(["O=/b", "ARCH=x86", "CC=ccache clang-19"])
            .jobs(4)
            .target("vmlinux");
        let line = m.line();
        assert!(
            line.starts_with("KBUILD_BUILD_TIMESTAMP=vmamatrix "),
            "{line}"
        );
        assert!(line.contains("'CCACHE_DIR=/c c'"), "{line}");
        assert!(
            line.ends_with("make -C /src O=/b ARCH=x86 'CC=ccache clang-19' -j4 vmlinux"),
            "{line}"
        );
        let words = shlex::split(&line).unwrap();
        let c = m.command(false);
        let args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into()).collect();
        let make_at = words.iter().position(|w| w == "make").unwrap();
        assert_eq!(words[make_at + 1..], args[..]);
        let envs = c.get_envs().count();
        assert_eq!(envs, make_at);
        assert!(!m
            .command(true)
            .get_args()
            .any(|a| a.to_string_lossy().starts_with("-j")));
    }
}
