//! Step 15: the story the project started from, told from the shell: a table of users'
//! orders (`User123`, `Order#1`), a conditional put, an update, and a query by sort key,
//! each a `dynastore` command with its output.

use super::{DemoResult, check};
use crate::client;
use clap::Parser;
use std::io::Write;
use std::path::Path;

/// Runs `dynastore --data <dir> <args>` as the shell would (the same parser and
/// command), printing the command line and its output; returns the output, or the
/// refusal's message.
fn dynastore(
    dir: &Path,
    args: &[&str],
    out: &mut dyn Write,
) -> Result<Result<String, String>, Box<dyn std::error::Error>> {
    let shown: Vec<String> = args
        .iter()
        .map(|arg| match arg.contains([' ', '{', '#', '\'', '(', ')', '<', '>']) {
            true => format!("'{arg}'"),
            false => (*arg).to_owned(),
        })
        .collect();
    writeln!(out, "   $ dynastore {}", shown.join(" "))?;
    let data = dir.to_string_lossy();
    let command_line = ["dynastore", "--data", &data].into_iter().chain(args.iter().copied());
    let cli = crate::Cli::try_parse_from(command_line)?;
    let crate::Command::Client(command) = cli.command else {
        return Err("not a table or item command".into());
    };
    let mut printed = Vec::new();
    let result = match client::run(dir, command, &mut printed) {
        Ok(()) => Ok(String::from_utf8(printed)?),
        Err(error) => Err(error.to_string()),
    };
    match &result {
        Ok(text) => text.lines().try_for_each(|line| writeln!(out, "     {line}"))?,
        Err(message) => writeln!(out, "     (refused) {message}")?,
    }
    Ok(result)
}

pub(super) fn orders_from_the_shell(dir: &Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n15. The seed's story from the shell: User123's orders, a conditional put, an update, a query"
    )?;
    let order = |id: &str, what: &str| {
        format!(r#"{{"UserId":{{"S":"User123"}},"OrderId":{{"S":"{id}"}},"Product":{{"S":"{what}"}}}}"#)
    };
    let created = dynastore(
        dir,
        &["create-table", "UserOrders", "--pk", "UserId:S", "--sk", "OrderId:S"],
        out,
    )?;
    check(created.is_ok(), "the table is created")?;
    let create_only = ["--condition", "attribute_not_exists(UserId)"];
    for (id, what) in [("Order#1", "Laptop"), ("Order#2", "Mouse")] {
        let item = order(id, what);
        let args: Vec<&str> = ["put", "UserOrders", &item].into_iter().chain(create_only).collect();
        check(dynastore(dir, &args, out)?.is_ok(), "a new order is put")?;
    }
    let again = order("Order#1", "Tablet");
    let args: Vec<&str> = ["put", "UserOrders", &again].into_iter().chain(create_only).collect();
    let refused = dynastore(dir, &args, out)?;
    check(
        refused
            .as_ref()
            .is_err_and(|message| message.starts_with("ConditionalCheckFailedException")),
        "a second put of Order#1 is refused by its condition",
    )?;
    let updated = dynastore(
        dir,
        &[
            "update",
            "UserOrders",
            r#"{"UserId":{"S":"User123"},"OrderId":{"S":"Order#1"}}"#,
            "--update",
            "SET Quantity = if_not_exists(Quantity, :zero) + :one",
            "--values",
            r#"{":zero":{"N":"0"},":one":{"N":"1"}}"#,
            "--return-values",
            "ALL_NEW",
        ],
        out,
    )?;
    let expected =
        r#"{"OrderId":{"S":"Order#1"},"Product":{"S":"Laptop"},"Quantity":{"N":"1"},"UserId":{"S":"User123"}}"#;
    check(
        updated.as_deref() == Ok(&format!("{expected}\n")),
        "the update leaves Laptop with a quantity of 1",
    )?;
    let queried = dynastore(
        dir,
        &[
            "query",
            "UserOrders",
            "--key-condition",
            "UserId = :u AND begins_with(OrderId, :o)",
            "--values",
            r#"{":u":{"S":"User123"},":o":{"S":"Order#"}}"#,
        ],
        out,
    )?;
    let products: Vec<bool> = queried
        .as_deref()
        .unwrap_or_default()
        .lines()
        .zip(["Laptop", "Mouse"])
        .map(|(line, product)| line.contains(product))
        .collect();
    check(
        products == [true, true],
        "the query returns Order#1 then Order#2, in sort-key order",
    )
}
