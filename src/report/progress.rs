//! Live display of engine events: one indicatif line per active cell with
//! its stage and elapsed time on a TTY, plain lines otherwise.

use crate::events::{Event, Sink};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

pub struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Progress {
    /// Bars when stderr is a terminal and `CI` is unset, plain lines otherwise.
    pub fn stderr() -> Progress {
        use std::io::IsTerminal;
        let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Progress {
            multi: tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::new(HashMap::new()),
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    /// Plain lines into `w` (tests).
    pub fn plain(w: Box<dyn Write + Send>) -> Progress {
        Progress {
            multi: None,
            bars: Mutex::new(HashMap::new()),
            out: Mutex::new(w),
        }
    }

    fn line(&self, s: String) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(s);
            }
            None => {
                let _ = writeln!(self.out.lock().unwrap(), "{s}");
            }
        }
    }
}

/// The text of one event as a plain line (None for events with no line).
pub fn describe(e: &Event) -> Option<String> {
    Some(match e {
        Event::SeriesApplied {
            base,
            head,
            patches,
        } => format!(
            "series: {patches} patch(es) applied, base {} -> {}",
            &base[..12.min(base.len())],
            &head[..12.min(head.len())]
        ),
        Event::RunStarted {
            run_id,
            cells,
            selected,
        } => format!(
            "run {run_id}: {} of {} cells selected",
            selected.len(),
            cells.len()
        ),
        Event::TreeSwitching { tree, commit } => format!(
            "source: switching to {} ({})",
            tree.name(),
            &commit[..12.min(commit.len())]
        ),
        Event::TreeReady {
            tree,
            commit,
            how,
            secs,
        } => format!(
            "source at {} ({}): {how} in {secs:.1}s",
            tree.name(),
            &commit[..12.min(commit.len())]
        ),
        Event::StageStarted { .. } => return None,
        Event::StageFinished {
            cell,
            tree,
            stage,
            status,
            summary,
            secs,
            cached,
        } => format!(
            "{cell} {} {}: {status}{} ({secs:.1}s) {summary}",
            tree.name(),
            stage.name(),
            if *cached { " [cached]" } else { "" }
        ),
        Event::Notice { msg } => format!("note: {msg}"),
        Event::RunFinished {
            run_dir,
            regressions,
            secs,
        } => format!(
            "done in {secs:.0}s: {run_dir}; {} regression(s){}",
            regressions.len(),
            regressions
                .iter()
                .map(|r| format!("\n  {r}"))
                .collect::<String>()
        ),
    })
}

impl Sink for Progress {
    fn event(&self, e: Event) {
        if let (Some(m), Event::StageStarted { cell, tree, stage }) = (&self.multi, &e) {
            let mut bars = self.bars.lock().unwrap();
            let bar = bars.entry(cell.clone()).or_insert_with(|| {
                let b = m.add(ProgressBar::new_spinner());
                b.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<22} {msg:<18} {elapsed:>5}")
                        .unwrap(),
                );
                b.enable_steady_tick(Duration::from_millis(200));
                b.set_prefix(cell.clone());
                b
            });
            bar.reset_elapsed();
            bar.set_message(format!("{} {}", tree.name(), stage.name()));
            return;
        }
        if let Event::StageFinished { cell, .. } = &e {
            if let Some(b) = self.bars.lock().unwrap().remove(cell) {
                b.finish_and_clear();
            }
        }
        if let Some(s) = describe(&e) {
            self.line(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Stage, Tree};
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_lines_from_events() {
        let buf = Buf::default();
        let p = Progress::plain(Box::new(buf.clone()));
        p.event(Event::StageStarted {
            cell: "x86-up-mmu".into(),
            tree: Tree::Base,
            stage: Stage::Build,
        });
        p.event(Event::StageFinished {
            cell: "x86-up-mmu".into(),
            tree: Tree::Patched,
            stage: Stage::Build,
            status: "ok".into(),
            summary: "exit status 0".into(),
            secs: 12.0,
            cached: true,
        });
        let s = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            s,
            "x86-up-mmu patched build: ok [cached] (12.0s) exit status 0\n"
        );
    }
}
