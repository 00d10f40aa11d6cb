//! One GNU make jobserver shared by every kernel build of a run, so that N
//! cells built at once never run more than `--jobs` compiler jobs together
//! (`--jobserver`). The alternative, and the default, is to split `-j`
//! between the cells, which was the faster of the two on 2 cores
//! (BENCHMARKS.md).
//!
//! Protocol (GNU make 4.3, `--jobserver-auth=R,W`): the pipe holds one byte
//! per free job slot. Every make we start counts as one job: we take a token
//! for it before it starts (that token is its implicit slot) and put it back
//! when it ends; the make takes further tokens from the pipe for its extra
//! parallel jobs and returns them as they finish.

use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Mutex;

pub struct Jobserver {
    read: RawFd,
    write: RawFd,
    jobs: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Makes running now (each holds one token taken by `acquire`).
    running: usize,
    /// A make was killed: tokens its children held may be lost. The pipe
    /// is refilled the next time no make runs.
    leaked: bool,
}

/// A job slot held for one make; returned on drop.
pub struct Token<'a> {
    js: &'a Jobserver,
    killed: bool,
}

impl Token<'_> {
    /// The make this token was held for did not end by itself.
    pub fn mark_killed(&mut self) {
        self.killed = true;
    }
}

impl Drop for Token<'_> {
    fn drop(&mut self) {
        self.js.release(self.killed);
    }
}

impl Jobserver {
    pub fn new(jobs: usize) -> std::io::Result<Jobserver> {
        let mut fds = [0; 2];
        // SAFETY: pipe2(2) writes two descriptors into `fds`.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let js = Jobserver {
            read: fds[0],
            write: fds[1],
            jobs: jobs.max(1),
            state: Mutex::new(State::default()),
        };
        js.fill(js.jobs)?;
        Ok(js)
    }

    fn fill(&self, n: usize) -> std::io::Result<()> {
        let buf = vec![b'+'; n];
        // SAFETY: writes `n` bytes from `buf` to our pipe; a pipe buffer
        // (64 KiB) holds any sensible job count.
        let w = unsafe { libc::write(self.write, buf.as_ptr().cast(), n) };
        if w != n as isize {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Block until a job slot is free and take it for one make. GNU make
    /// sets O_NONBLOCK on the read end it inherits, which is our file
    /// description too: an empty pipe then reads EAGAIN, so wait in poll(2)
    /// (waking now and then to notice an interrupted run).
    pub fn acquire(&self) -> std::io::Result<Token<'_>> {
        let mut b = 0u8;
        loop {
            // SAFETY: reads one byte from our pipe into `b`.
            let r = unsafe { libc::read(self.read, (&mut b as *mut u8).cast(), 1) };
            if r == 1 {
                break;
            }
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::Interrupted => {}
                std::io::ErrorKind::WouldBlock => {
                    if crate::proc::interrupted() {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::Interrupted,
                            "interrupted while waiting for a job slot",
                        ));
                    }
                    let mut p = libc::pollfd {
                        fd: self.read,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: poll(2) on one descriptor we own.
                    unsafe { libc::poll(&mut p, 1, 250) };
                }
                _ => return Err(e),
            }
        }
        self.state.lock().unwrap().running += 1;
        Ok(Token {
            js: self,
            killed: false,
        })
    }

    fn release(&self, killed: bool) {
        let mut st = self.state.lock().unwrap();
        st.running -= 1;
        st.leaked |= killed;
        if st.running == 0 && st.leaked {
            // Nobody else holds a token: drain the pipe and refill it whole.
            self.drain();
            st.leaked = false;
            let _ = self.fill(self.jobs);
        } else {
            let _ = self.fill(1);
        }
    }

    fn drain(&self) {
        // SAFETY: fcntl/read on our own pipe descriptor; O_NONBLOCK is set
        // only for the drain and cleared again.
        unsafe {
            let fl = libc::fcntl(self.read, libc::F_GETFL);
            libc::fcntl(self.read, libc::F_SETFL, fl | libc::O_NONBLOCK);
            let mut buf = [0u8; 256];
            while libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
            libc::fcntl(self.read, libc::F_SETFL, fl);
        }
    }

    /// Make `cmd` (a make) a client: it inherits the pipe and finds it in
    /// MAKEFLAGS. The command line must not carry its own `-jN`.
    pub fn attach(&self, cmd: &mut Command) {
        cmd.env(
            "MAKEFLAGS",
            format!(
                " -j{} --jobserver-auth={},{}",
                self.jobs, self.read, self.write
            ),
        );
        let (r, w) = (self.read, self.write);
        // SAFETY: only fcntl(2), async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for fd in [r, w] {
                    let fl = libc::fcntl(fd, libc::F_GETFD);
                    if fl < 0 || libc::fcntl(fd, libc::F_SETFD, fl & !libc::FD_CLOEXEC) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
}

impl Drop for Jobserver {
    fn drop(&mut self) {
        // SAFETY: closing the descriptors this value owns.
        unsafe {
            libc::close(self.read);
            libc::close(self.write);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Four one-second jobs through a real make sharing a 2-slot server:
    /// two at a time, so about two seconds, never four at once.
    #[test]
    fn make_obeys_the_shared_budget() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Makefile"),
            "all: a b c d\na b c d:\n\t@echo start; sleep 1; echo end\n",
        )
        .unwrap();
        let js = Jobserver::new(2).unwrap();
        let _t = js.acquire().unwrap();
        let mut cmd = Command::new("make");
        cmd.arg("-s").current_dir(dir.path());
        js.attach(&mut cmd);
        let t = Instant::now();
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        // At most two "start"s before the first "end".
        let before_end = text.split("end").next().unwrap().matches("start").count();
        assert_eq!(before_end, 2, "{text}");
        assert!(t.elapsed().as_secs_f64() >= 1.9, "ran 4 jobs at once");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("jobserver"));
    }

    /// After a make has set O_NONBLOCK on the shared read end, waiting for
    /// a slot still blocks until one is released (it read EAGAIN before).
    #[test]
    fn acquire_waits_on_a_nonblocking_pipe() {
        let js = Jobserver::new(1).unwrap();
        // SAFETY: what make does to the descriptor it inherits.
        unsafe {
            let fl = libc::fcntl(js.read, libc::F_GETFL);
            libc::fcntl(js.read, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        let held = js.acquire().unwrap();
        // No verdict depends on timing: the waiter must see the release
        // flag set when it gets the token, however slow either thread is.
        let released = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let got = js.acquire().unwrap();
                let after_release = released.load(std::sync::atomic::Ordering::SeqCst);
                drop(got);
                after_release
            });
            // Give the waiter a chance to reach its read on the empty pipe.
            std::thread::sleep(std::time::Duration::from_millis(100));
            released.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(held);
            assert!(waiter.join().unwrap(), "took a slot that was not free");
        });
        assert_eq!(tokens(&js), 1);
    }

    #[test]
    fn killed_make_refills_the_pipe() {
        let js = Jobserver::new(3).unwrap();
        let mut a = js.acquire().unwrap();
        let b = js.acquire().unwrap();
        // A child of the killed make took the last token and died with it.
        let mut byte = 0u8;
        // SAFETY: one-byte read from the test's pipe.
        assert_eq!(
            unsafe { libc::read(js.read, (&mut byte as *mut u8).cast(), 1) },
            1
        );
        a.mark_killed();
        drop(a);
        assert_eq!(
            tokens(&js),
            1,
            "a's own token is back; the lost one is not yet"
        );
        drop(b);
        assert_eq!(tokens(&js), 3, "no make runs: the pipe is whole again");
    }

    /// Free slots in the pipe, without taking any.
    fn tokens(js: &Jobserver) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes the readable byte count of our pipe.
        assert_eq!(unsafe { libc::ioctl(js.read, libc::FIONREAD, &mut n) }, 0);
        n as usize
    }
}
