//! `dynastore verify`: prints the engine's verification of a data directory.

use dynastore::verify::verify;
use std::error::Error;
use std::io::Write;
use std::path::Path;

/// Prints the report; fails if there is any problem.
pub fn run(data: &Path, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let report = verify(data);
    for line in &report.checked {
        writeln!(out, "ok       {line}")?;
    }
    for line in &report.problems {
        writeln!(out, "PROBLEM  {line}")?;
    }
    writeln!(
        out,
        "verify: {} checked, {} problem(s)",
        report.checked.len(),
        report.problems.len()
    )?;
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} problem(s) found in {}", report.problems.len(), data.display()).into())
    }
}
