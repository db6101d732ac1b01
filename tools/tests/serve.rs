//! `dynastore serve` as a process: it answers on the address it prints, stops cleanly on
//! SIGTERM, and with its default settings loses no acknowledged write to `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `dynastore serve` on a free loopback port.
struct Served {
    child: Child,
    addr: SocketAddr,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Served {
    fn drop(&mut self) {
        // Never leave a server behind, whatever the test did.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Served {
    serve_with(data, &["--listen", "127.0.0.1:0"])
}

fn serve_with(data: &Path, flags: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dynastore"))
        .args(["--data", data.to_str().unwrap(), "serve"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("dynastore serve starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("its stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("it prints its address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("an address");
    Served { child, addr, stdout }
}

/// One request; returns the HTTP status and the JSON body.
fn call(addr: SocketAddr, operation: &str, body: &Value) -> std::io::Result<(u16, Value)> {
    dynastore_server::plain_client::call(addr, operation, body)
}

fn create_orders(addr: SocketAddr) {
    let (status, body) = call(
        addr,
        "CreateTable",
        &json!({
            "TableName": "Orders",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
}

fn put(addr: SocketAddr, key: &str) -> std::io::Result<bool> {
    let item = json!({"TableName": "Orders", "Item": {"pk": {"S": key}, "payload": {"S": "x".repeat(100)}}});
    Ok(call(addr, "PutItem", &item)?.0 == 200)
}

/// Every key of the table, following the scan's pages.
fn all_keys(addr: SocketAddr) -> Vec<String> {
    let mut keys = Vec::new();
    let mut start: Option<Value> = None;
    loop {
        let mut request = json!({"TableName": "Orders"});
        if let Some(start) = start.take() {
            request["ExclusiveStartKey"] = start;
        }
        let (status, page) = call(addr, "Scan", &request).unwrap();
        assert_eq!(status, 200, "{page}");
        for item in page["Items"].as_array().unwrap() {
            keys.push(item["pk"]["S"].as_str().unwrap().to_owned());
        }
        match page.get("LastEvaluatedKey") {
            Some(key) => start = Some(key.clone()),
            None => return keys,
        }
    }
}

#[test]
fn sigterm_finishes_and_closes_the_database_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut served = serve(tmp.path());
    create_orders(served.addr);
    assert!(put(served.addr, "kept").unwrap());
    let status = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = served.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    served.stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped; the database is closed"), "{rest}");

    // The LOCK is released and the write is there for the next process.
    let output = Command::new(env!("CARGO_BIN_EXE_dynastore"))
        .args([
            "--data",
            tmp.path().to_str().unwrap(),
            "get",
            "Orders",
            r#"{"pk":{"S":"kept"}}"#,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("kept"));
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mut served = serve(tmp.path());
    create_orders(served.addr);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (acknowledged, stop, addr) = (Arc::clone(&acknowledged), Arc::clone(&stop), served.addr);
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let key = format!("w{writer}-{i}");
                    match put(addr, &key) {
                        Ok(true) => acknowledged.lock().unwrap().push(key),
                        // The server died under this request: it was not acknowledged.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    // Let the writers get going, then kill the server in the middle of their writes.
    while acknowledged.lock().unwrap().len() < 1000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    drop(served);

    let served = serve(tmp.path());
    let present: std::collections::HashSet<String> = all_keys(served.addr).into_iter().collect();
    let acknowledged = acknowledged.lock().unwrap();
    let lost: Vec<&String> = acknowledged.iter().filter(|key| !present.contains(*key)).collect();
    println!(
        "{} acknowledged before the kill, {} present after",
        acknowledged.len(),
        present.len()
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
}

#[test]
fn a_config_file_sets_what_flags_do_and_a_bad_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("serve.json");
    std::fs::write(
        &config,
        r#"{"listen": "127.0.0.1:0", "durability": "written", "memtable_bytes": 1048576}"#,
    )
    .unwrap();
    let data = tmp.path().join("data");
    let served = serve_with(&data, &["--config", config.to_str().unwrap()]);
    assert_eq!(served.addr.ip().to_string(), "127.0.0.1");
    create_orders(served.addr);
    assert!(put(served.addr, "configured").unwrap());
    drop(served);

    for (text, expected) in [
        (
            r#"{"listen": "127.0.0.1:0", "colour": "blue"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"durability": "eventually"}"#,
            "config: durability \"eventually\" is not one of the flag's values",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_dynastore"))
            .args([
                "--data",
                data.to_str().unwrap(),
                "serve",
                "--config",
                config.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
