//! Child processes: every make, compiler or QEMU runs in its own process
//! group, with a time limit, output to a log file, and is killed (whole
//! group) when vmamatrix is interrupted, so nothing outlives its stage.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Install SIGINT/SIGTERM/SIGHUP handling: mark the run interrupted and kill
/// every running child group. Call once from main.
pub fn install_signal_handlers() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        for _ in signals.forever() {
            // A second signal while the first is being handled: leave now.
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                kill_all();
                std::process::exit(crate::error::exit::INTERRUPTED);
            }
            kill_all();
        }
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn kill_all() {
    for &g in GROUPS.lock().unwrap().iter() {
        // SAFETY: kill(2) on a process group we created.
        unsafe {
            libc::kill(-g, libc::SIGKILL);
        }
    }
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signalled,
    TimedOut,
    Interrupted,
}

impl Outcome {
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(c) => write!(f, "exit status {c}"),
            Outcome::Signalled => f.write_str("killed by a signal"),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// Start `cmd` in a process group of its own, stdin empty, stdout and
/// stderr appended to `log`, and register the group for interruption.
fn spawn_grouped(mut cmd: Command, log: &Path) -> std::io::Result<(std::process::Child, i32)> {
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0);
    // If vmamatrix dies without running its handlers (SIGKILL, OOM), the
    // kernel sends the child (make, QEMU) SIGTERM: no orphan keeps writing
    // into a build directory the next run uses. SIGTERM, not SIGKILL: GNU
    // make passes SIGTERM on to its children, so kbuild's sub-makes and
    // compilers end too, where a SIGKILLed top make left its sub-make
    // running (seen: a sub-make's allnoconfig outlived a SIGKILLed run by
    // more than 20 s on a loaded machine).
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: prctl(2) and getppid(2) are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the prctl: nothing would kill us.
            if libc::getppid() != parent {
                libc::_exit(137);
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    let pid = child.id() as i32;
    GROUPS.lock().unwrap().push(pid);
    Ok((child, pid))
}

/// Run `cmd` in its own process group, stdout and stderr appended to `log`,
/// for at most `limit`.
pub fn run_logged(cmd: Command, log: &Path, limit: Duration) -> std::io::Result<Outcome> {
    if interrupted() {
        return Ok(Outcome::Interrupted);
    }
    let (mut child, pid) = spawn_grouped(cmd, log)?;
    let start = Instant::now();
    let status: Option<ExitStatus> = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if interrupted() || start.elapsed() > limit {
            // SAFETY: kill(2) on the group we created above.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Reap anything left in the group (make's children after make died).
    // SAFETY: as above; ESRCH when the group is already empty is fine.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    GROUPS.lock().unwrap().retain(|&g| g != pid);
    Ok(match status {
        // Killed because vmamatrix is being interrupted: not a result.
        Some(_) if interrupted() => Outcome::Interrupted,
        Some(st) => match st.code() {
            Some(c) => Outcome::Exited(c),
            None => Outcome::Signalled,
        },
        None if interrupted() => Outcome::Interrupted,
        None => Outcome::TimedOut,
    })
}

/// How a watched child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// The watcher saw what it waited for; the child was stopped.
    Stopped,
    /// No output for the silence limit; the child was stopped.
    Silent,
    /// The child ended by itself, timed out or was interrupted.
    Done(Outcome),
}

/// Like `run_logged`, but call `watch` with the whole log text whenever it
/// grows; when `watch` returns true the child's group is killed at once.
/// A child silent for `silence` is killed too.
pub fn run_watched(
    cmd: Command,
    log: &Path,
    limit: Duration,
    silence: Duration,
    watch: impl FnMut(&str) -> bool,
) -> std::io::Result<Watched> {
    run_watched_then(cmd, log, limit, silence, watch, || {})
}

/// `run_watched`, calling `stalled` while the child still runs when it is
/// about to be killed for silence or for the time limit (to ask it where
/// it is).
pub fn run_watched_then(
    cmd: Command,
    log: &Path,
    limit: Duration,
    silence: Duration,
    mut watch: impl FnMut(&str) -> bool,
    mut stalled: impl FnMut(),
) -> std::io::Result<Watched> {
    if interrupted() {
        return Ok(Watched::Done(Outcome::Interrupted));
    }
    let (mut child, pid) = spawn_grouped(cmd, log)?;
    let start = Instant::now();
    let mut last_len = 0u64;
    let mut last_output = Instant::now();
    let kill = |child: &mut std::process::Child| {
        // SAFETY: kill(2) on the process group created above.
        unsigned_kill(pid);
        let _ = child.wait();
    };
    let result = loop {
        let exited = child.try_wait()?;
        let len = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        if len != last_len {
            last_len = len;
            last_output = Instant::now();
            let text =
                String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
            if watch(&text) {
                kill(&mut child);
                break Watched::Stopped;
            }
        }
        if let Some(st) = exited {
            break Watched::Done(match st.code() {
                _ if interrupted() => Outcome::Interrupted,
                Some(c) => Outcome::Exited(c),
                None => Outcome::Signalled,
            });
        }
        if interrupted() {
            kill(&mut child);
            break Watched::Done(Outcome::Interrupted);
        }
        if start.elapsed() > limit {
            stalled();
            kill(&mut child);
            break Watched::Done(Outcome::TimedOut);
        }
        if last_output.elapsed() > silence {
            stalled();
            kill(&mut child);
            break Watched::Silent;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    unsigned_kill(pid);
    GROUPS.lock().unwrap().retain(|&g| g != pid);
    Ok(result)
}

fn unsigned_kill(pgid: i32) {
    // SAFETY: kill(2) on a process group vmamatrix created; ESRCH is fine.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Shell-quote `args` into one reproducible command line.
pub fn shell_line(program: &str, args: &[String]) -> String {
    // Words of only these characters need no quotes; shlex::try_quote
    // would quote every `VAR=value`, which makes make lines hard to read.
    let q = |s: &str| {
        if !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=./,:+@%".contains(&b))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(q)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut c = Command::new("sh");
        c.args(["-c", "echo hello; echo err >&2; exit 3"]);
        assert_eq!(
            run_logged(c, &log, Duration::from_secs(10)).unwrap(),
            Outcome::Exited(3)
        );
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "hello\nerr\n");
        let mut c = Command::new("sh");
        c.args(["-c", "sleep 30 & sleep 30"]);
        let o = run_logged(c, &log, Duration::from_millis(300)).unwrap();
        assert_eq!(o, Outcome::TimedOut);
    }

    /// The child (a make) dies with the thread that started it
    /// (PR_SET_PDEATHSIG), as it would with a SIGKILLed vmamatrix, and so
    /// do the sub-make and the command it runs, as in kbuild.
    #[test]
    fn child_and_its_sub_make_die_with_the_parent() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let pidfile = dir.path().join("pid");
        std::fs::write(
            dir.path().join("Makefile"),
            format!(
                "all:\n\t$(MAKE) -f Makefile sub\nsub:\n\techo $$$$ > {}; exec sleep 30\n",
                pidfile.display()
            ),
        )
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = Instant::now();
        let d = dir.path().to_path_buf();
        let pf = pidfile.clone();
        std::thread::spawn(move || {
            let mut c = Command::new("make");
            c.arg("-s").arg("-C").arg(&d);
            let (child, pid) = spawn_grouped(c, &log).unwrap();
            std::mem::forget(child);
            // Leave only once the grandchild runs.
            let t = Instant::now();
            while std::fs::read_to_string(&pf).map_or(true, |s| s.trim().is_empty()) {
                assert!(
                    t.elapsed() < Duration::from_secs(10),
                    "make never ran sleep"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            tx.send(pid).unwrap();
        })
        .join()
        .unwrap();
        let pid = rx.recv().unwrap();
        let mut status = 0;
        // SAFETY: waitpid(2) on our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFSIGNALED(status), "status {status:#x}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGTERM);
        GROUPS.lock().unwrap().retain(|&g| g != pid);
        // The sleep under the sub-make ends too (gone, or a zombie).
        let sleep = std::fs::read_to_string(&pidfile).unwrap();
        let stat = format!("/proc/{}/stat", sleep.trim());
        let alive = || {
            std::fs::read_to_string(&stat).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| !r.trim_start().starts_with('Z'))
            })
        };
        while alive() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(), "the sub-make's command outlived its parent");
    }

    #[test]
    fn watcher_stops_and_silence_kills() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut c = Command::new("sh");
        c.args(["-c", "echo booting; echo MARK; sleep 30"]);
        let t = Instant::now();
        let w = run_watched(
            c,
            &log,
            Duration::from_secs(20),
            Duration::from_secs(20),
            |s| s.contains("MARK"),
        )
        .unwrap();
        assert_eq!(w, Watched::Stopped);
        assert!(t.elapsed() < Duration::from_secs(10));
        let mut c = Command::new("sh");
        c.args(["-c", "echo hi; sleep 30"]);
        let w = run_watched(
            c,
            &log,
            Duration::from_secs(20),
            Duration::from_millis(400),
            |_| false,
        )
        .unwrap();
        assert_eq!(w, Watched::Silent);
        let mut c = Command::new("sh");
        c.args(["-c", "exit 7"]);
        let w = run_watched(
            c,
            &log,
            Duration::from_secs(20),
            Duration::from_secs(20),
            |_| false,
        )
        .unwrap();
        assert_eq!(w, Watched::Done(Outcome::Exited(7)));
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_line("make", &["O=/b".into(), "KCONFIG_ALLCONFIG=a b".into()]),
            "make O=/b 'KCONFIG_ALLCONFIG=a b'"
        );
    }
}
