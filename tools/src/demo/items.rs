//! Steps 7-9: the data model, tables and hash partitions, and queries, updates and
//! conditions on a database.

use super::*;

/// Step 7: the engine's data model: DynamoDB JSON, item sizes, limits, key order.
pub(super) fn show_data_model(out: &mut dyn Write) -> DemoResult {
    use dynastore::item::key::storage_key;
    use dynastore::item::{KeyAttribute, ScalarType, validate_item};
    use dynastore::{AttributeValue, Item, KeySchema};

    writeln!(
        out,
        "\n7. The data model the engine will store: DynamoDB JSON, sizes, limits, key order"
    )?;
    let schema = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
    };
    let text = r#"{"pk": {"S": "customer#0017"}, "sk": {"N": "1.50E2"}, "tags": {"SS": ["new", "gift"]}}"#;
    let item = Item::from_json_str(text)?;
    validate_item(&item, &schema)?;
    writeln!(
        out,
        "   {text}\n   reads back as {} ({} bytes by DynamoDB's rules)",
        item.to_json(),
        item.size_bytes()
    )?;
    let too_big = item.clone().with("blob", "x".repeat(409_600));
    let refused = validate_item(&too_big, &schema)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    writeln!(out, "   a {}-byte item is refused: {refused}", too_big.size_bytes())?;
    let missing = Item::new().with("sk", 1);
    let refused_key = validate_item(&missing, &schema)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    writeln!(out, "   an item without its partition key is refused: {refused_key}")?;
    let pk = AttributeValue::from("customer#0017");
    let mut sort_keys: Vec<&str> = vec!["10", "-2.5", "1e-3", "7", "-10", "0"];
    sort_keys.sort_by_key(|n| {
        n.parse()
            .map(|n| storage_key(&pk, Some(&AttributeValue::N(n))))
            .unwrap_or_default()
    });
    writeln!(out, "   sort keys in storage-key byte order: {}", sort_keys.join(" < "))?;
    check(
        refused.starts_with("Item size has exceeded") && refused_key.contains("Missing the key pk"),
        "limits enforced",
    )?;
    check(
        sort_keys == ["-10", "-2.5", "0", "1e-3", "7", "10"],
        "numbers sort numerically as bytes",
    )
}

/// Step 8: a database: a table, its hash ranges, partitions created by the first write
/// into each range, PutItem / GetItem / DeleteItem, and every item back after reopen.
pub(super) fn tables_and_partitions(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{Database, DeleteItemInput, GetItemInput, Item, Options, PutItemInput};

    writeln!(
        out,
        "\n8. A database in {}: table Orders (pk: S, sk: N), 4 hash ranges",
        dir.display()
    )?;
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    db.create_table(orders_schema())?;
    let order = |customer: u64, n: i64| {
        Item::new()
            .with("pk", format!("customer#{customer:04}"))
            .with("sk", n)
            .with("total", n * 7 + customer as i64)
    };
    let started = Instant::now();
    let mut written = 0;
    for customer in 0..3u64 {
        for n in 0..100 {
            db.put_item(PutItemInput::new("Orders", order(customer, n)))?;
            written += 1;
        }
    }
    writeln!(
        out,
        "   {written} durable puts of 3 customers' orders in {:.2?}",
        started.elapsed()
    )?;
    for partition in db.describe_table("Orders")?.partitions {
        let state = if partition.created {
            format!(
                "created: {}",
                Path::new("az-a/Orders").join(partition.dir_name()).display()
            )
        } else {
            "no write yet, no directory".to_owned()
        };
        writeln!(
            out,
            "   hash {:#018x}..={:#018x}  {state}",
            partition.range.start, partition.range.end
        )?;
    }
    let key = Item::new().with("pk", "customer#0001").with("sk", 42);
    let found = db.get_item(GetItemInput::new("Orders", key.clone()))?.item;
    writeln!(
        out,
        "   GetItem {} -> {}",
        key.to_json(),
        found.as_ref().map(Item::to_json).unwrap_or_default()
    )?;
    db.delete_item(DeleteItemInput::new("Orders", key.clone()))?;
    db.flush()?;
    let (tables, segments) = flushed_files(&db, dir)?;
    writeln!(
        out,
        "   Database::flush: memtables became SSTables, the WAL they cover was dropped ({segments} segments left):"
    )?;
    for table in &tables {
        writeln!(out, "     {table}")?;
    }
    drop(db);
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    let mut intact = 0;
    for customer in 0..3u64 {
        for n in 0..100 {
            let key = Item::new().with("pk", format!("customer#{customer:04}")).with("sk", n);
            let found = db.get_item(GetItemInput::new("Orders", key))?.item;
            if found == Some(order(customer, n)) || (customer == 1 && n == 42 && found.is_none()) {
                intact += 1;
            }
        }
    }
    writeln!(
        out,
        "   after DeleteItem, flush and a reopen (SSTables + WAL replay): {intact} of {written} items exactly as expected"
    )?;
    check(found == Some(order(1, 42)), "GetItem returns the item put")?;
    check(!tables.is_empty(), "the flush wrote SSTables")?;
    check(
        intact == written,
        "every item survives reopen, the deleted one stays deleted",
    )
}

/// Each created partition's SSTables (described) and how many WAL segments are left.
fn flushed_files(db: &dynastore::Database, dir: &Path) -> Result<(Vec<String>, usize), Box<dyn Error>> {
    let mut tables = Vec::new();
    let mut segments = 0;
    for partition in db.describe_table("Orders")?.partitions.iter().filter(|p| p.created) {
        let partition_dir = dir.join("az-a/Orders").join(partition.dir_name());
        for entry in std::fs::read_dir(partition_dir.join("sst"))? {
            let path = entry?.path();
            let properties = dynastore::sstable::SsTable::open(&StdFs, &path)?.properties().clone();
            tables.push(format!(
                "{}/sst/{} ({} entries, {} tombstones)",
                partition.dir_name(),
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                properties.entries,
                properties.tombstones
            ));
        }
        segments += std::fs::read_dir(partition_dir.join("wal"))?.count();
    }
    Ok((tables, segments))
}

/// Step 9: Query with a sort-key condition and paging, UpdateItem, a failed condition,
/// and a batch write.
pub(super) fn queries_updates_conditions(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{
        Condition, Database, Error, GetItemInput, Item, Options, Path as DocPath, QueryInput, ReturnValues,
        SortKeyCondition, UpdateAction, UpdateItemInput, WriteRequest,
    };

    writeln!(
        out,
        "\n9. Query, UpdateItem, conditions and BatchWriteItem on the same table"
    )?;
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    let mut query = QueryInput::new("Orders", "customer#0002");
    query.sort_key_condition = Some(SortKeyCondition::Between(10.into(), 19.into()));
    query.scan_index_forward = false;
    query.limit = Some(4);
    let (mut pages, mut orders) = (0, Vec::new());
    loop {
        let page = db.query(query.clone())?;
        pages += 1;
        orders.extend(page.items.iter().filter_map(|item| {
            item.get("sk")
                .and_then(|sk| sk.to_json()["N"].as_str().map(str::to_owned))
        }));
        match page.last_evaluated_key {
            Some(key) => query.exclusive_start_key = Some(key),
            None => break,
        }
    }
    writeln!(
        out,
        "   Query customer#0002, sk BETWEEN 10 AND 19, descending, Limit 4: {} orders in {pages} pages: {}",
        orders.len(),
        orders.join(" ")
    )?;
    let key = Item::new().with("pk", "customer#0002").with("sk", 10);
    let mut update = UpdateItemInput::new(
        "Orders",
        key.clone(),
        vec![
            UpdateAction::Add(DocPath::attribute("total"), 5.into()),
            UpdateAction::Set(
                DocPath::attribute("status"),
                dynastore::SetValue::from(dynastore::AttributeValue::from("shipped")),
            ),
        ],
    );
    update.return_values = ReturnValues::UpdatedNew;
    let updated = db.update_item(update)?.attributes.unwrap_or_default();
    writeln!(
        out,
        "   UpdateItem ADD total 5, SET status: returns {}",
        updated.to_json()
    )?;
    let mut guarded = UpdateItemInput::new(
        "Orders",
        key.clone(),
        vec![UpdateAction::Remove(DocPath::attribute("status"))],
    );
    guarded.condition = Some(Condition::equals(DocPath::attribute("status"), "pending"));
    let failed = db.update_item(guarded);
    let message = match &failed {
        Err(error @ Error::ConditionalCheckFailed { .. }) => format!("{} ({})", error.exception_name(), error),
        other => format!("unexpected: {other:?}"),
    };
    writeln!(out, "   UpdateItem REMOVE status IF status = \"pending\": {message}")?;
    let batch: Vec<(String, WriteRequest)> = (0..25)
        .map(|n| {
            (
                "Orders".to_owned(),
                WriteRequest::Put(Item::new().with("pk", "customer#0009").with("sk", n).with("total", 1)),
            )
        })
        .collect();
    let unprocessed = db.batch_write(batch)?.unprocessed_items;
    check(unprocessed.is_empty(), "the batch wrote every request")?;
    let written = db.query(QueryInput::new("Orders", "customer#0009"))?.items.len();
    writeln!(
        out,
        "   BatchWriteItem of 25 orders (one WAL record per partition): {written} orders now under customer#0009"
    )?;
    let still = db
        .get_item(GetItemInput::new("Orders", key))?
        .item
        .and_then(|item| item.get("status").cloned());
    check(
        orders.len() == 10 && pages == 3,
        "the query pages through 10 orders, newest first",
    )?;
    check(
        updated.get("status").is_some() && updated.get("pk").is_none(),
        "UPDATED_NEW returns the updated attributes only",
    )?;
    check(
        matches!(failed, Err(Error::ConditionalCheckFailed { .. })) && still.is_some(),
        "a failed condition writes nothing",
    )?;
    check(written == 25, "the whole batch landed")
}
