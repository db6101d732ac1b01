//! The harness of the crash tests: the child is this same test binary, re-run so that
//! only one test (the child's, marked `#[ignore]` so that ordinary runs skip it) runs; it
//! prints a line per acknowledged write; the parent kills it with SIGKILL and collects
//! every line it printed.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use dynastore_testkit::seed;

/// The newest acknowledged `seq` per `(thread, key)`, from acknowledgements printed as
/// `ack thread key seq`.
pub fn newest_per_key(acks: Vec<Vec<u64>>) -> std::collections::BTreeMap<(u64, u64), u64> {
    let mut acked = std::collections::BTreeMap::new();
    for fields in acks {
        if let [thread, k, seq] = fields[..] {
            let newest = acked.entry((thread, k)).or_insert(seq);
            *newest = (*newest).max(seq);
        }
    }
    acked
}

/// Runs test `child_test` of this binary with `env`, waits for its first acknowledgement,
/// lets it run `run_for` more, SIGKILLs it, and returns the numbers of every
/// acknowledgement it printed: lines containing `ack ` followed by numbers.
pub fn run_child_and_kill(child_test: &str, env: &[(&str, String)], run_for: Duration) -> Vec<Vec<u64>> {
    run_child_and_kill_reporting(child_test, env, run_for).0
}

/// [`run_child_and_kill`], also returning the lines the child printed that contain
/// `failed ` (the operations it reports as failed).
pub fn run_child_and_kill_reporting(
    child_test: &str,
    env: &[(&str, String)],
    run_for: Duration,
) -> (Vec<Vec<u64>>, Vec<String>) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", child_test, "--ignored", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let failures = std::sync::Arc::clone(&failures);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("failed ") {
                    failures.lock().unwrap().push(line);
                    continue;
                }
                // Only acknowledgements count: the test harness prints lines of its own.
                let Some(ack) = line.split("ack ").nth(1) else { continue };
                let fields: Vec<u64> = ack.split(' ').filter_map(|f| f.parse().ok()).collect();
                let _ = sender.send(fields);
            }
        })
    };
    let mut lines = Vec::new();
    if let Ok(first) = receiver.recv_timeout(Duration::from_secs(60)) {
        lines.push(first);
    }
    std::thread::sleep(run_for);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(receiver.try_iter());
    let failures = std::mem::take(&mut *failures.lock().unwrap());
    (lines, failures)
}

/// Waits until every replica holds and applied everything durable on its primary,
/// failing after 30 s with `seed` and the replicas' state.
pub fn wait_caught_up(db: &dynastore::Database, seed: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = db.stats().unwrap();
        let caught_up = stats.iter().flat_map(|t| &t.partitions).all(|p| {
            p.replicas.iter().all(|r| {
                r.state == dynastore::ReplicaStatus::Live && r.lag_records == 0 && r.applied_lsn == r.durable_lsn
            })
        });
        if caught_up {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "seed {seed}: replicas did not converge: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Creates table `name` keyed by `pk` (S) and, if `with_sort_key`, `sk` (N), unless it
/// exists (a crash test's child reopens the directory of earlier lives).
pub fn create_table_once(db: &dynastore::Database, name: &str, with_sort_key: bool) {
    use dynastore::item::{KeyAttribute, ScalarType};
    if db.describe_table(name).is_ok() {
        return;
    }
    db.create_table(dynastore::TableSchema {
        indexes: Vec::new(),
        name: name.into(),
        key_schema: dynastore::KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: with_sort_key.then(|| KeyAttribute::new("sk", ScalarType::N)),
        },
    })
    .unwrap();
}
