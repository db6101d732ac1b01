//! The `dynastore` command, run as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore::wal::fs::StdFs;
use dynastore::wal::segment::segment_path;
use dynastore::wal::{Epoch, Lsn, Wal, WalOptions};
use std::path::Path;
use std::process::{Command, Output};

fn dynastore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dynastore"))
        .args(args)
        .output()
        .unwrap()
}

/// A log of 10 records in one segment; returns the offset of record 4.
fn log_with_records(dir: &Path) -> u64 {
    let (wal, _) = Wal::open(StdFs::shared(), dir, WalOptions::default()).unwrap();
    for i in 0..10u64 {
        wal.append(Epoch(2), format!("record number {i}").as_bytes()).unwrap();
    }
    // Header (24) + 3 records of 24 + 15 bytes each.
    24 + 3 * (24 + 15)
}

#[test]
fn dump_wal_lists_every_record_and_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_records(tmp.path());
    let output = dynastore(&["dump", "wal", tmp.path().to_str().unwrap()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let record_lines = text.lines().filter(|l| l.trim_end().ends_with(" ok")).count();
    assert_eq!(record_lines, 10, "{text}");
    // The log's 64 KiB step of zeros after the last record (at 24 + 10 * 39) is space, not damage.
    assert!(
        text.contains("       414  65122 bytes of zeros preallocated for the records to come"),
        "{text}"
    );
    assert!(
        text.contains("summary: 1 segment(s), 10 record(s) (LSN 1..=10), 0 damaged segment(s)"),
        "{text}"
    );
}

#[test]
fn dump_wal_shows_a_damaged_record_with_its_offset_and_the_records_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let damaged_at = log_with_records(tmp.path());
    let segment = segment_path(tmp.path(), Lsn(1));
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[damaged_at as usize + 30] ^= 0x40;
    std::fs::write(&segment, &bytes).unwrap();

    let output = dynastore(&["dump", "wal", segment.to_str().unwrap()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let damaged_line = format!("{damaged_at:>10}  DAMAGED: checksum mismatch (claims LSN 4, epoch 2, 15 bytes)");
    assert!(text.contains(&damaged_line), "{text}");
    assert!(
        text.contains("9 record(s)") && text.contains("1 damaged segment(s)"),
        "{text}"
    );

    let output = dynastore(&["dump", "wal", segment.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = json["segments"][0]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    assert_eq!(entries[3]["offset"], damaged_at);
    assert_eq!(entries[3]["checksum_ok"], false);
    assert_eq!(entries[3]["claims"]["lsn"], 4);
    assert_eq!(entries[4]["lsn"], 5);
    assert_eq!(json["segments"][0]["clean"], false);
    assert_eq!(json["summary"]["records"], 9);
}

#[test]
fn dump_wal_of_a_missing_path_fails_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let output = dynastore(&["dump", "wal", tmp.path().join("nope.log").to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.log"));
}

#[test]
fn demo_runs_end_to_end_and_checks_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let output = dynastore(&["--data", tmp.path().to_str().unwrap(), "demo"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("segment files byte-identical (up to preallocated zeros): yes"),
        "{text}"
    );
    assert!(text.contains("reopened: n = 2000, 2000 tags"), "{text}");
    assert!(
        text.contains(r#"< 200 {"Attributes":{"Plays":{"N":"2"}}}"#),
        "the wire step's update: {text}"
    );
    assert!(text.contains("the demo passed"), "{text}");
    // A second run replaces the first one's directory.
    let again = dynastore(&["--data", tmp.path().to_str().unwrap(), "demo"]);
    assert!(again.status.success());
}

fn write_sstable(path: &Path) {
    use dynastore::item::codec::encode_item;
    use dynastore::sstable::{Entry, SsTableWriter};
    let mut writer = SsTableWriter::create(&StdFs, path).unwrap();
    for i in 0..50u32 {
        let key = format!("key-{i:03}").into_bytes();
        let entry = if i == 7 {
            Entry::Tombstone
        } else {
            let mut bytes = Vec::new();
            encode_item(
                &dynastore::Item::new()
                    .with("pk", format!("user#{i}"))
                    .with("n", i64::from(i)),
                &mut bytes,
            );
            Entry::Value(bytes)
        };
        writer.add(&key, &entry, u64::from(i) + 1).unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn dump_sst_shows_properties_index_and_items_as_dynamodb_json() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("000001.sst");
    write_sstable(&path);
    let output = dynastore(&["dump", "sst", path.to_str().unwrap()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("50 entries (1 tombstones), LSN 1..=50"), "{text}");
    assert!(text.contains(r#"{"n":{"N":"12"},"pk":{"S":"user#12"}}"#), "{text}");
    assert_eq!(text.matches("TOMBSTONE").count(), 1);
    let output = dynastore(&["dump", "sst", path.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["properties"]["entries"], 50);
    assert_eq!(json["entries"].as_array().unwrap().len(), 50);
    assert_eq!(json["entries"][7]["tombstone"], true);
    assert_eq!(json["entries"][12]["item"]["n"]["N"], "12");
}

#[test]
fn dump_sst_of_a_damaged_table_fails_naming_the_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("000001.sst");
    write_sstable(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let output = dynastore(&["dump", "sst", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("corrupt") && error.contains("000001.sst") && error.contains("offset 0"),
        "{error}"
    );
}

/// A data directory with one table, one flushed SSTable and a WAL tail; returns the
/// partition directory that holds data.
fn database_with_a_flushed_table(data: &Path) -> std::path::PathBuf {
    use dynastore::item::{KeyAttribute, ScalarType};
    use dynastore::{Database, KeySchema, Options, PutItemInput, TableSchema};
    let options = Options {
        initial_partitions: 1,
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), data, options).unwrap();
    let key_schema = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: None,
    };
    db.create_table(TableSchema {
        indexes: Vec::new(),
        name: "Orders".into(),
        key_schema,
    })
    .unwrap();
    for i in 0..30 {
        db.put_item(PutItemInput::new(
            "Orders",
            dynastore::Item::new().with("pk", format!("k{i}")),
        ))
        .unwrap();
    }
    db.flush().unwrap();
    db.put_item(PutItemInput::new("Orders", dynastore::Item::new().with("pk", "tail")))
        .unwrap();
    db.close().unwrap();
    data.join("az-a/Orders/p-0000")
}

#[test]
fn verify_passes_a_sound_directory_and_dump_shows_catalog_and_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let partition = database_with_a_flushed_table(tmp.path());
    let data = tmp.path().to_str().unwrap();
    let output = dynastore(&["--data", data, "verify"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains(", 0 problem(s)") && text.contains("30 entries, every block checksum ok"),
        "{text}"
    );
    let catalog = String::from_utf8(dynastore(&["--data", data, "dump", "catalog"]).stdout).unwrap();
    assert!(
        catalog.contains("table Orders: partition key pk (S)") && catalog.contains("p-0000"),
        "{catalog}"
    );
    let manifest = String::from_utf8(dynastore(&["dump", "manifest", partition.to_str().unwrap()]).stdout).unwrap();
    assert!(
        manifest.contains("1 live SSTable(s)") && manifest.contains("flushed LSN 30"),
        "{manifest}"
    );
}

/// `verify` compares each index with its table after the file checks; `dump catalog`
/// lists the indexes and a global index's own partitions.
#[test]
fn verify_checks_indexes_against_their_table_and_dump_lists_them() {
    use dynastore::item::{KeyAttribute, ScalarType};
    use dynastore::{Database, IndexSchema, KeySchema, Options, Projection, PutItemInput, TableSchema};
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        initial_partitions: 1,
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), tmp.path(), options).unwrap();
    let key_schema = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
    };
    let city = KeySchema {
        partition_key: KeyAttribute::new("city", ScalarType::S),
        sort_key: None,
    };
    db.create_table(TableSchema {
        name: "People".into(),
        indexes: vec![
            IndexSchema::local(
                "by_age",
                &key_schema,
                KeyAttribute::new("age", ScalarType::N),
                Projection::KeysOnly,
            ),
            IndexSchema::global("by_city", city, Projection::All),
        ],
        key_schema,
    })
    .unwrap();
    for i in 0..30 {
        let item = dynastore::Item::new()
            .with("pk", format!("p{}", i % 5))
            .with("sk", i)
            .with("age", 20 + i % 7)
            .with("city", format!("c{}", i % 3));
        db.put_item(PutItemInput::new("People", item)).unwrap();
    }
    db.close().unwrap();

    let data = tmp.path().to_str().unwrap();
    let output = dynastore(&["--data", data, "verify"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("table People partition 0: local indexes: 30 entries, each its item's")
            && text.contains("table People global index by_city: 30 entries, each its item's")
            && text.contains(", 0 problem(s)"),
        "{text}"
    );
    let catalog = String::from_utf8(dynastore(&["--data", data, "dump", "catalog"]).stdout).unwrap();
    assert!(
        catalog.contains("local index by_age (ordinal 0): key pk (S), age (N), projection KEYS_ONLY")
            && catalog.contains("global index by_city (ordinal 1): key city (S), projection ALL")
            && catalog.contains("gsi-1/p-0000"),
        "{catalog}"
    );
}

#[test]
fn verify_reports_a_damaged_table_and_an_orphan_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let partition = database_with_a_flushed_table(tmp.path());
    let table = std::fs::read_dir(partition.join("sst"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&table).unwrap();
    bytes[10] ^= 0x80;
    std::fs::write(&table, &bytes).unwrap();
    std::fs::write(partition.join("sst/00000000000000000077.sst"), b"orphan").unwrap();
    let output = dynastore(&["--data", tmp.path().to_str().unwrap(), "verify"]);
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("PROBLEM") && text.contains("block checksum mismatch"),
        "{text}"
    );
    assert!(text.contains("00000000000000000077.sst: not in the MANIFEST"), "{text}");
    assert!(text.contains("2 problem(s)"), "{text}");
}

#[test]
fn stats_show_each_partitions_memtable_tables_and_wal() {
    let tmp = tempfile::tempdir().unwrap();
    database_with_a_flushed_table(tmp.path());
    let output = dynastore(&["--data", tmp.path().to_str().unwrap(), "stats"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("table Orders"), "{text}");
    // After reopen: the WAL tail (one put) is replayed into the memtable; one table of 30.
    assert!(text.contains("p-0000  memtable 1 entries"), "{text}");
    assert!(text.contains("SSTables 1 [L0: 1] with 30 entries"), "{text}");
    assert!(text.contains("flushed to LSN 30"), "{text}");
}

/// A replicated data directory: `stats` shows each partition's primary, epoch and
/// replicas, `dump catalog` its replication group, and `verify` checks every AZ.
#[test]
fn stats_dump_and_verify_show_every_replica() {
    use dynastore::item::{KeyAttribute, ScalarType};
    use dynastore::{Database, KeySchema, Options, PutItemInput, Replication, TableSchema};
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        initial_partitions: 1,
        replication: Some(Replication::default()),
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), tmp.path(), options).unwrap();
    db.create_table(TableSchema {
        indexes: Vec::new(),
        name: "Orders".into(),
        key_schema: KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: None,
        },
    })
    .unwrap();
    for i in 0..20 {
        db.put_item(PutItemInput::new(
            "Orders",
            dynastore::Item::new().with("pk", format!("k{i}")),
        ))
        .unwrap();
    }
    db.promote("Orders", 0, "az-c").unwrap();
    db.close().unwrap();
    let data = tmp.path().to_str().unwrap();

    let stats = String::from_utf8(dynastore(&["--data", data, "stats"]).stdout).unwrap();
    assert!(
        stats.contains("primary az-c (epoch 2, 1 failover(s)); durable to LSN 20"),
        "{stats}"
    );
    assert!(stats.contains("replica az-a: live"), "{stats}");
    assert!(stats.contains("replica az-b: live"), "{stats}");
    let catalog = String::from_utf8(dynastore(&["--data", data, "dump", "catalog"]).stdout).unwrap();
    assert!(
        catalog.contains("AZs az-a, az-b, az-c (primary az-c, epoch 2, 1 failover(s))"),
        "{catalog}"
    );
    let output = dynastore(&["--data", data, "verify"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    for az in ["az-a", "az-b", "az-c"] {
        assert!(text.contains(&format!("{az}/Orders/p-0000/wal")), "{az}: {text}");
    }
}

/// Runs `dynastore --data <data> <args>` and returns (stdout, stderr, success).
fn client(data: &Path, args: &[&str]) -> (String, String, bool) {
    let mut all = vec!["--data", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = dynastore(&all);
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
        output.status.success(),
    )
}

#[test]
fn tables_and_items_from_the_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let (out, _, ok) = client(
        data,
        &[
            "create-table",
            "Orders",
            "--pk",
            "pk:S",
            "--sk",
            "sk:N",
            "--partitions",
            "2",
        ],
    );
    assert!(
        ok && out.contains(r#""TableName":"Orders""#) && out.contains(r#""Partitions":2"#),
        "{out}"
    );
    assert_eq!(client(data, &["list-tables"]).0, "Orders\n");
    let order =
        |sk: u32, total: u32| format!(r#"{{"pk":{{"S":"User123"}},"sk":{{"N":"{sk}"}},"total":{{"N":"{total}"}}}}"#);
    for sk in 1..=3 {
        let (_, err, ok) = client(
            data,
            &[
                "put",
                "Orders",
                &order(sk, sk * 10),
                "--condition",
                "attribute_not_exists(pk)",
            ],
        );
        assert!(ok, "{err}");
    }
    let (out, err, ok) = client(
        data,
        &[
            "update",
            "Orders",
            r#"{"pk":{"S":"User123"},"sk":{"N":"2"}}"#,
            "--update",
            "SET #t = #t + :n",
            "--names",
            r##"{"#t":"total"}"##,
            "--values",
            r#"{":n":{"N":"5"}}"#,
            "--return-values",
            "UPDATED_NEW",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "{\"total\":{\"N\":\"25\"}}\n");
    let (out, _, ok) = client(
        data,
        &[
            "get",
            "Orders",
            r#"{"pk":{"S":"User123"},"sk":{"N":"2"}}"#,
            "--consistent",
        ],
    );
    assert!(ok);
    assert_eq!(out.trim(), order(2, 25));
    let (out, _, ok) = client(
        data,
        &[
            "query",
            "Orders",
            "--key-condition",
            "pk = :pk AND sk >= :lo",
            "--values",
            r#"{":pk":{"S":"User123"},":lo":{"N":"2"}}"#,
            "--reverse",
        ],
    );
    assert!(ok);
    assert_eq!(out, format!("{}\n{}\n", order(3, 30), order(2, 25)));
    let (out, err, ok) = client(data, &["scan", "Orders", "--limit", "1"]);
    assert!(
        ok && out.lines().count() == 1 && err.contains("more: --start"),
        "{out}{err}"
    );
    let (out, _, ok) = client(
        data,
        &[
            "scan",
            "Orders",
            "--limit",
            "1",
            "--all",
            "--filter",
            "#t > :x",
            "--names",
            r##"{"#t":"total"}"##,
            "--values",
            r#"{":x":{"N":"10"}}"#,
        ],
    );
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
    let (out, _, ok) = client(
        data,
        &[
            "delete",
            "Orders",
            r#"{"pk":{"S":"User123"},"sk":{"N":"1"}}"#,
            "--return-values",
            "ALL_OLD",
        ],
    );
    assert!(ok);
    assert_eq!(out.trim(), order(1, 10));
    let (out, _, ok) = client(data, &["describe-table", "Orders"]);
    assert!(ok && out.contains(r#""KeyType":"RANGE""#), "{out}");
    assert!(client(data, &["delete-table", "Orders"]).2);
    assert_eq!(client(data, &["list-tables"]).0, "");
}

/// Bad input fails the command with DynamoDB's exception name and message on stderr,
/// and changes nothing.
#[test]
fn bad_input_fails_with_dynamodbs_exception_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    assert!(client(data, &["create-table", "Orders", "--pk", "pk:S"]).2);
    let key = r#"{"pk":{"S":"a"}}"#;
    assert!(client(data, &["put", "Orders", key]).2);
    let files = tempfile::tempdir().unwrap();
    let big_file = files.path().join("big.json");
    std::fs::write(
        &big_file,
        format!(r#"{{"pk":{{"S":"b"}},"blob":{{"S":"{}"}}}}"#, "x".repeat(409_600)),
    )
    .unwrap();
    let big = format!("file://{}", big_file.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["put", "Orders", "{not json"],
            "ValidationException: the item is not DynamoDB JSON",
        ),
        (
            vec!["get", "Missing", key],
            "ResourceNotFoundException: Requested resource not found: Table: Missing not found",
        ),
        (
            vec!["put", "Orders", key, "--condition", "attribute_not_exists(pk)"],
            "ConditionalCheckFailedException: The conditional request failed",
        ),
        (
            vec!["put", "Orders", &big],
            "ValidationException: Item size has exceeded the maximum allowed size",
        ),
        (
            vec![
                "update",
                "Orders",
                key,
                "--update",
                "SET status = :v",
                "--values",
                r#"{":v":{"N":"1"}}"#,
            ],
            "ValidationException: Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status",
        ),
        (
            vec!["create-table", "T1", "--pk", "pk:X"],
            "ValidationException: a key is NAME:TYPE with TYPE S, N or B: pk:X",
        ),
    ];
    for (args, message) in cases {
        let (out, err, ok) = client(data, &args);
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(err.starts_with(&format!("dynastore: {message}")), "{args:?}: {err}");
    }
    let (out, _, _) = client(data, &["scan", "Orders"]);
    assert_eq!(out, format!("{key}\n"), "nothing changed");
}

/// Runs `dynastore --data <data> <args>` with `input` on stdin.
fn client_with_stdin(data: &Path, args: &[&str], input: &str) -> (String, String, bool) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_dynastore"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
        output.status.success(),
    )
}

/// Sorted lines of DynamoDB JSON, each normalised (key order), for comparing item sets.
fn normalised(lines: &str) -> Vec<String> {
    let mut items: Vec<String> = lines
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap().to_string())
        .collect();
    items.sort();
    items
}

#[test]
fn load_then_export_round_trips_every_item() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    assert!(client(&data, &["create-table", "Orders", "--pk", "pk:S", "--sk", "sk:N"]).2);
    let lines: String = (0..600)
        .map(|i| {
            format!(
                "{{\"pk\":{{\"S\":\"u{}\"}},\"sk\":{{\"N\":\"{i}\"}},\"tags\":{{\"SS\":[\"a\",\"b{i}\"]}},\"n\":{{\"N\":\"{}.5\"}}}}\n",
                i % 7,
                i * 3
            )
        })
        .collect();
    // A key given twice: the later line wins, as a put would.
    let input = format!("{lines}{{\"pk\":{{\"S\":\"u0\"}},\"sk\":{{\"N\":\"0\"}},\"again\":{{\"BOOL\":true}}}}\n");
    let file = tmp.path().join("items.jsonl");
    std::fs::write(&file, &input).unwrap();
    let (out, err, ok) = client(&data, &["load", "Orders", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("loaded 601 items into Orders") && out.contains("0 bad line(s)"),
        "{out}"
    );
    let exported = tmp.path().join("out.jsonl");
    assert!(client(&data, &["export", "Orders", exported.to_str().unwrap()]).2);
    let mut expected = normalised(&lines);
    expected.retain(|line| !line.contains(r#""sk":{"N":"0"}"#) || !line.contains(r#""u0""#));
    expected.push(
        serde_json::from_str::<serde_json::Value>(r#"{"pk":{"S":"u0"},"sk":{"N":"0"},"again":{"BOOL":true}}"#)
            .unwrap()
            .to_string(),
    );
    expected.sort();
    assert_eq!(normalised(&std::fs::read_to_string(&exported).unwrap()), expected);
    let (stdout_export, _, ok) = client(&data, &["export", "Orders"]);
    assert!(ok);
    assert_eq!(normalised(&stdout_export), expected);
}

#[test]
fn load_reads_exports_and_scan_output_and_reports_bad_lines_by_number() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    assert!(client(&data, &["create-table", "Orders", "--pk", "pk:S"]).2);
    let s3_export = "{\"Item\":{\"pk\":{\"S\":\"a\"}}}\n{\"Item\":{\"pk\":{\"S\":\"b\"}}}\n";
    let (out, err, ok) = client_with_stdin(&data, &["load", "Orders", "-"], s3_export);
    assert!(ok && out.starts_with("loaded 2 items"), "{out}{err}");
    let scan_output = r#"{"Items":[{"pk":{"S":"c"}},{"pk":{"S":"d"}}],"Count":2,"ScannedCount":2}"#;
    assert!(client_with_stdin(&data, &["load", "Orders", "-"], scan_output).2);

    let bad = "{\"pk\":{\"S\":\"e\"}}\nnot json\n{\"sk\":{\"S\":\"no key\"}}\n{\"pk\":{\"S\":\"f\"}}\n";
    let (out, err, ok) = client_with_stdin(&data, &["load", "Orders", "-"], bad);
    assert!(!ok, "a bad line stops the load by default");
    assert!(err.contains("line 2: not JSON"), "{err}");
    assert!(
        err.contains("line 2 is not loaded, and the load stopped there"),
        "{err}"
    );
    assert!(
        out.starts_with("loaded 1 items") && out.contains("1 bad line(s)"),
        "{out}"
    );
    let keys = |data: &Path| -> Vec<String> {
        let mut keys: Vec<String> = client(data, &["scan", "Orders", "--all"])
            .0
            .lines()
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&data).len(),
        5,
        "the lines before the bad one are loaded, none after"
    );

    let (out, err, ok) = client_with_stdin(&data, &["load", "Orders", "-", "--on-error", "skip"], bad);
    assert!(ok, "{err}");
    assert!(
        err.contains(
            "line 3: ValidationException: One or more parameter values were invalid: Missing the key pk in the item"
        ),
        "{err}"
    );
    assert!(
        out.starts_with("loaded 2 items") && out.contains("2 bad line(s), the first line 2"),
        "{out}"
    );
    assert_eq!(keys(&data).len(), 6);
    let (_, err, ok) = client(&data, &["load", "Missing", "-"]);
    assert!(!ok && err.contains("ResourceNotFoundException"), "{err}");
}

#[test]
fn client_commands_on_a_damaged_data_directory_fail_instead_of_answering_wrongly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let partition = database_with_a_flushed_table(data);
    let key = r#"{"pk":{"S":"k3"}}"#;
    let (out, _, ok) = client(data, &["get", "Orders", key]);
    assert!(ok && out.contains("k3"), "sound before the damage: {out}");

    // One bit flipped inside the SSTable's data: a read that touches it must fail.
    let sstable = std::fs::read_dir(partition.join("sst"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "sst"))
        .expect("the flush wrote an SSTable");
    let mut bytes = std::fs::read(&sstable).unwrap();
    bytes[20] ^= 0x01;
    std::fs::write(&sstable, &bytes).unwrap();
    for args in [vec!["get", "Orders", key], vec!["scan", "Orders"]] {
        let (out, err, ok) = client(data, &args);
        assert!(!ok, "{args:?} answered from a damaged table: {out}");
        let expected = format!("dynastore: InternalServerError: corrupt {}", sstable.display());
        assert!(err.starts_with(&expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }

    // A damaged CATALOG: the database does not open, and says why.
    let catalog = data.join("CATALOG");
    let mut bytes = std::fs::read(&catalog).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&catalog, &bytes).unwrap();
    let (out, err, ok) = client(data, &["list-tables"]);
    assert!(!ok, "list-tables answered from a damaged catalog: {out}");
    let expected = format!("dynastore: InternalServerError: corrupt {}", catalog.display());
    assert!(err.starts_with(&expected), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
