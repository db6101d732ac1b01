//! `dynastore bench`, run as a user runs it: every workload, what it reports, and what it
//! leaves in the table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore::wal::fs::StdFs;
use dynastore::{AttributeValue, Database, ScanInput};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn dynastore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dynastore"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `dynastore --data <data> bench <args>`, expecting success; returns stdout.
fn bench(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["--data", data.to_str().unwrap(), "bench"];
    all.extend_from_slice(args);
    let output = dynastore(&all);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The JSON objects of a `--json` run, one per line.
fn objects(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn number(object: &Value, field: &str) -> f64 {
    object[field]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {field:?} in {object}"))
}

/// Every item of the bench table left in `<data>/bench`.
fn table_items(data: &Path) -> Vec<dynastore::Item> {
    let db = Database::open(StdFs::shared(), data.join("bench"), Default::default()).unwrap();
    let (mut items, mut start) = (Vec::new(), None);
    loop {
        let mut input = ScanInput::new("Bench");
        input.exclusive_start_key = start;
        let page = db.scan(input).unwrap();
        items.extend(page.items);
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// Each workload reports its JSON object with the figures asked for, and the figures
/// agree with the table: a fill writes every item, random reads find them all, missing
/// reads none, a query reads a partition key's ten, a scan every item; an update rewrites
/// payloads in place. A later run reads what the fill left, after a reopen.
#[test]
fn every_workload_reports_json_that_agrees_with_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let workloads = "fillrandom,readrandom,readmissing,query,scan,update,mixed";
    let stdout = bench(
        tmp.path(),
        &[
            "--workload",
            workloads,
            "--items",
            "3000",
            "--threads",
            "2",
            "--durability",
            "buffered",
            "--replication",
            "none",
            "--value-size",
            "40",
            "--json",
        ],
    );
    let runs = objects(&stdout);
    let names: Vec<&str> = runs.iter().map(|run| run["workload"].as_str().unwrap()).collect();
    assert_eq!(names.join(","), workloads);
    for run in &runs {
        for field in [
            "items",
            "value_size",
            "threads",
            "ops",
            "secs",
            "ops_per_sec",
            "p50_us",
            "p99_us",
        ] {
            assert!(number(run, field) > 0.0, "{field} in {run}");
        }
        assert_eq!(number(run, "items"), 3000.0, "{run}");
        assert_eq!(number(run, "value_size"), 40.0, "{run}");
        assert_eq!(number(run, "threads"), 2.0, "{run}");
        assert!(number(run, "p50_us") <= number(run, "p99_us"), "{run}");
        assert!(number(run, "disk_bytes") > 3000.0 * 40.0, "{run}");
    }
    let by_name = |name: &str| runs.iter().find(|run| run["workload"] == name).unwrap();
    assert_eq!(number(by_name("fillrandom"), "ops"), 3000.0);
    assert_eq!(by_name("fillrandom")["found"], Value::Null, "a fill reads nothing");
    assert_eq!(number(by_name("readrandom"), "found"), 3000.0, "every key read exists");
    assert_eq!(number(by_name("readmissing"), "found"), 0.0);
    assert_eq!(
        number(by_name("query"), "found"),
        30_000.0,
        "each of 3000 queries reads a partition key's 10 items"
    );
    assert_eq!(number(by_name("scan"), "ops"), 3000.0);
    assert_eq!(number(by_name("scan"), "found"), 3000.0);
    let mixed = by_name("mixed");
    assert!(
        number(mixed, "found") > 0.0 && number(mixed, "found") < 3000.0,
        "{mixed}"
    );

    let items = table_items(tmp.path());
    assert_eq!(items.len(), 3000, "every index of the key space once");
    for item in &items {
        match item.get("payload") {
            Some(AttributeValue::S(payload)) => assert_eq!(payload.len(), 40),
            other => panic!("payload {other:?}"),
        }
    }

    let again = objects(&bench(
        tmp.path(),
        &["--workload", "readrandom", "--items", "3000", "--ops", "500", "--json"],
    ));
    assert_eq!(again.len(), 1);
    assert_eq!(number(&again[0], "ops"), 500.0);
    assert_eq!(
        number(&again[0], "found"),
        500.0,
        "reads after a reopen find the fill's items"
    );
    let verify = dynastore(&["--data", tmp.path().join("bench").to_str().unwrap(), "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

/// A fill cut short by `--seconds` (`Sync` writes, `Quorum` over three AZs) leaves
/// exactly the writes it counted, and reports the write figures and the replicas' lag.
#[test]
fn a_timed_fill_leaves_every_write_it_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let text = bench(
        tmp.path(),
        &[
            "--workload",
            "fillseq",
            "--items",
            "10000000",
            "--seconds",
            "0.3",
            "--threads",
            "2",
        ],
    );
    for label in [
        "latency:  p50",
        "written:",
        "stalls:",
        "lag:      p50",
        "disk:",
        "Quorum",
    ] {
        assert!(text.contains(label), "no {label:?} in {text}");
    }
    let line = text.lines().find(|line| line.starts_with("fillseq: ")).unwrap();
    let ops: u64 = line["fillseq: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ops > 0 && ops < 10_000_000, "{text}");
    assert_eq!(
        table_items(tmp.path()).len() as u64,
        ops,
        "every write counted, and no other"
    );

    let text = bench(
        tmp.path(),
        &["--workload", "fillseq", "--items", "100", "--replication", "none"],
    );
    assert!(text.contains("no replication") && !text.contains("lag:"), "{text}");
    assert_eq!(
        table_items(tmp.path()).len(),
        100,
        "a fill starts from an emptied table"
    );
}

/// Without `--data` the run uses a temporary directory and leaves nothing behind.
#[test]
fn without_data_nothing_is_left_behind() {
    let (cwd, temp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let output = Command::new(env!("CARGO_BIN_EXE_dynastore"))
        .args(["bench", "--workload", "fillrandom,readrandom", "--items", "500"])
        .args(["--replication", "none", "--durability", "buffered"])
        .current_dir(cwd.path())
        .env("TMPDIR", temp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("found:    500 item(s)"), "{stdout}");
    assert!(stdout.contains("now removed"), "{stdout}");
    for dir in [cwd.path(), temp.path()] {
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "{}", dir.display());
    }
}

/// Settings out of range, and reads with no table to read, are refused before anything
/// is created, naming what is wrong.
#[test]
fn refuses_what_it_cannot_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().to_str().unwrap();
    for arg in [
        "--threads=0",
        "--seconds=-1",
        "--rate=0",
        "--value-size=400000",
        "--items=0",
        "--ops=0",
        "--workload=nosuch",
    ] {
        let output = dynastore(&["--data", data, "bench", arg]);
        assert!(!output.status.success(), "{arg}");
        let flag = arg.split('=').next().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag) || stderr.contains("nosuch"), "{arg}: {stderr}");
    }
    let output = dynastore(&["--data", data, "bench", "--workload", "readrandom"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("run fillseq or fillrandom first"), "{stderr}");
    assert!(!tmp.path().join("bench").exists(), "nothing was created");
}
