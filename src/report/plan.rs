//! The plan of a matrix as text: each cell's verdict, what Kconfig dropped,
//! and the commands that reproduce it.

use crate::model::PlanCell;

pub fn text(cells: &[PlanCell]) -> String {
    let mut s = String::new();
    let n = cells.iter().filter(|c| c.feasible).count();
    s.push_str(&format!("{n} of {} cells feasible\n\n", cells.len()));
    for c in cells {
        s.push_str(&format!(
            "{:<20} {}\n",
            c.id,
            match &c.reason {
                None => format!(
                    "feasible ({}{} dropped request(s))",
                    c.tracked
                        .iter()
                        .map(|(k, v)| format!("{k}={v}, "))
                        .collect::<String>(),
                    c.warnings.len()
                ),
                Some(r) => format!("infeasible: {r}"),
            }
        ));
        for w in &c.warnings {
            s.push_str(&format!(
                "    dropped CONFIG_{}={} ({}): got {}, {}\n",
                w.symbol, w.requested, w.from, w.got, w.why
            ));
        }
        for cmd in &c.commands {
            s.push_str(&format!("    $ {cmd}\n"));
        }
    }
    s
}
