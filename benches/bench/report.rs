//! The report: one line per figure with certfs' value, the baseline measured in the same run, their ratio, the goal, and PASS or MISS.

use std::time::Duration;

/// What a figure's goal compares.
#[derive(Clone, Copy)]
pub enum Goal {
    /// certfs / baseline must be at least this.
    RatioAtLeast(f64),
    /// certfs / baseline must be at most this.
    RatioAtMost(f64),
    /// certfs' own value must be at least this (in the figure's unit).
    AtLeast(f64),
    /// certfs' own value must be below this (in the figure's unit).
    Below(f64),
    /// certfs' own value must be at most this (in the figure's unit).
    AtMost(f64),
    /// Shown for information only.
    None,
}

/// One measured figure.
pub struct Line {
    /// What was measured.
    pub name: String,
    /// certfs' value, in `unit`.
    pub certfs: f64,
    /// The baseline's value, in `unit` (`None`: no baseline).
    pub baseline: Option<f64>,
    /// The unit both values are in (`op/s`, `ms`, `MB`, ...).
    pub unit: &'static str,
    /// The goal.
    pub goal: Goal,
    /// A note printed after the line (uncertainty, counts).
    pub note: String,
}

impl Line {
    /// certfs / baseline.
    pub fn ratio(&self) -> Option<f64> {
        self.baseline.filter(|b| *b > 0.0).map(|b| self.certfs / b)
    }

    /// Whether the goal is met (`None`: no goal).
    pub fn pass(&self) -> Option<bool> {
        match self.goal {
            Goal::RatioAtLeast(g) => self.ratio().map(|r| r >= g),
            Goal::RatioAtMost(g) => self.ratio().map(|r| r <= g),
            Goal::AtLeast(g) => Some(self.certfs >= g),
            Goal::Below(g) => Some(self.certfs < g),
            Goal::AtMost(g) => Some(self.certfs <= g),
            Goal::None => None,
        }
    }

    fn goal_text(&self) -> String {
        match self.goal {
            Goal::RatioAtLeast(g) => format!(">= {g}x"),
            Goal::RatioAtMost(g) => format!("<= {g}x"),
            Goal::AtLeast(g) => format!(">= {} {}", number(g), self.unit),
            Goal::Below(g) => format!("< {} {}", number(g), self.unit),
            Goal::AtMost(g) => format!("<= {} {}", number(g), self.unit),
            Goal::None => "-".into(),
        }
    }
}

/// A number with a sensible number of digits.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The header printed before the lines.
pub fn header() -> String {
    format!(
        "{:<58} {:>16} {:>16} {:>8} {:>14} {:>6}",
        "figure", "certfs", "baseline", "ratio", "goal", "result"
    )
}

/// One report line.
pub fn render(line: &Line) -> String {
    let value = |v: f64| format!("{} {}", number(v), line.unit);
    let mut out = format!(
        "{:<58} {:>16} {:>16} {:>8} {:>14} {:>6}",
        line.name,
        value(line.certfs),
        line.baseline.map(value).unwrap_or_else(|| "-".into()),
        line.ratio()
            .map(|r| format!("{r:.2}x"))
            .unwrap_or_else(|| "-".into()),
        line.goal_text(),
        match line.pass() {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "info",
        }
    );
    if !line.note.is_empty() {
        out.push_str("\n    ");
        out.push_str(&line.note);
    }
    out
}

/// Mean and sample standard deviation.
pub fn mean_sd(samples: &[f64]) -> (f64, f64) {
    let n = samples.len() as f64;
    if n == 0.0 {
        return (0.0, 0.0);
    }
    let mean = samples.iter().sum::<f64>() / n;
    if n < 2.0 {
        return (mean, 0.0);
    }
    let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The report as Markdown, for `BENCH_REPORT` (docs/bench/latest.md):
/// where and when it ran, then every figure with its baseline, ratio and goal.
pub fn markdown(context: &[String], lines: &[Line]) -> String {
    let mut out = String::from(
        "<!-- Written by scripts/bench.sh (benches/bench/report.rs); do not edit by hand. -->\n\n",
    );
    for c in context {
        out.push_str(&format!("- {c}\n"));
    }
    out.push_str("\n| figure | certfs | baseline | ratio | goal | result |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for l in lines {
        let value = |v: f64| format!("{} {}", number(v), l.unit);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            l.name.replace('|', "\\|"),
            value(l.certfs),
            l.baseline.map(value).unwrap_or_else(|| "-".into()),
            l.ratio()
                .map(|r| format!("{r:.2}x"))
                .unwrap_or_else(|| "-".into()),
            l.goal_text(),
            match l.pass() {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "info",
            }
        ));
    }
    let notes: Vec<&Line> = lines.iter().filter(|l| !l.note.is_empty()).collect();
    if !notes.is_empty() {
        out.push_str("\nNotes:\n\n");
        for l in notes {
            out.push_str(&format!("- {}: {}\n", l.name, l.note));
        }
    }
    out
}
