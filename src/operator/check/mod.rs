//! `--check`: try each thing the run with these flags would need, without sending an event or
//! changing a file, and say for each what was found and, when it failed, the likely cause and
//! the fix. A check that needs an earlier one (the bucket needs credentials) is skipped when
//! that one failed; every other check still runs, so one run tells every problem.

mod aws_side;
mod bucket;
mod local;
mod queue;
mod service;

use super::Printer;
use crate::aws::identity::ServerDate;
use crate::cli::{Args, Mode};
use crate::exit::Failure;
use anyhow::Result;
use serde_json::json;

/// The lines printed so far, and how many failed.
pub struct Report {
    printer: Printer,
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Report {
    fn new(json: bool) -> Self {
        Report {
            printer: Printer::new(json),
            passed: 0,
            failed: 0,
            skipped: 0,
        }
    }

    fn emit(&mut self, result: &str, name: &str, found: &str, fix: Option<&str>) {
        let text = match fix {
            Some(fix) => format!("{result:<7} {name}: {found} Fix: {fix}"),
            None => format!("{result:<7} {name}: {found}"),
        };
        self.printer.line(
            &text,
            json!({"check": name, "result": result, "found": found, "fix": fix}),
        );
    }

    pub fn ok(&mut self, name: &str, found: impl AsRef<str>) {
        self.passed += 1;
        self.emit("ok", name, found.as_ref(), None);
    }

    pub fn failed(&mut self, name: &str, found: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failed += 1;
        self.emit("FAILED", name, found.as_ref(), Some(fix.as_ref()));
    }

    pub fn skipped(&mut self, name: &str, why: impl AsRef<str>) {
        self.skipped += 1;
        self.emit("skipped", name, why.as_ref(), None);
    }

    /// Record the outcome of a check: `Ok(found)` or `Err((found, fix))`.
    pub fn outcome(&mut self, name: &str, result: Result<String, (String, String)>) -> bool {
        match result {
            Ok(found) => {
                self.ok(name, found);
                true
            }
            Err((found, fix)) => {
                self.failed(name, found, fix);
                false
            }
        }
    }
}

/// Run every check for `mode`; exit 1 (with no `ERROR:` line: the lines said it) when one
/// failed.
pub async fn run(args: &Args, mode: &Mode) -> Result<()> {
    let mut report = Report::new(args.json);
    let date = ServerDate::default();
    let clients = aws_side::credentials(args, &date, &mut report).await;
    match &clients {
        Some((clients, who)) => match mode {
            Mode::Bucket { name, kind } => {
                bucket::checks(args, name, kind.clone(), clients, who, &mut report).await
            }
            Mode::Subscriber { queue, .. } => queue::checks(clients, queue, &mut report).await,
            Mode::Service(service) => service::checks(args, *service, clients, &mut report).await,
        },
        None => report.skipped(mode_check_name(mode), "needs working credentials"),
    }
    aws_side::clock(&date, &mut report);
    local::checks(args, mode, &mut report);
    let summary = format!(
        "{} ok, {} FAILED, {} skipped",
        report.passed, report.failed, report.skipped
    );
    report.printer.line(
        &summary,
        json!({"summary": {"ok": report.passed, "failed": report.failed, "skipped": report.skipped}}),
    );
    match report.failed {
        0 => Ok(()),
        _ => Err(Failure::silent(crate::exit::code::UNKNOWN).into()),
    }
}

fn mode_check_name(mode: &Mode) -> &'static str {
    match mode {
        Mode::Bucket { .. } => "bucket",
        Mode::Subscriber { .. } => "queue",
        Mode::Service(_) => "service",
    }
}
