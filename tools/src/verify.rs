//! `dynastore verify`: prints the engine's verification of a data directory.

use dynastore::verify::{verify, verify_indexes};
use std::error::Error;
use std::io::Write;
use std::path::Path;

/// Prints the report of the file checks and, if they found no problem, of the index
/// checks (which open the database); fails if there is any problem.
pub fn run(data: &Path, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let mut report = verify(data);
    if report.problems.is_empty() {
        let indexes = verify_indexes(data);
        report.checked.extend(indexes.checked);
        report.problems.extend(indexes.problems);
    }
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
