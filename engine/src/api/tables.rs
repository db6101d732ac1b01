//! ListTables, with DynamoDB's paging and messages.

use super::operations::{ListTablesInput, ListTablesOutput};
use crate::database::{Database, LIST_TABLES_LIMIT_MAX, out_of_range, validate_name_at};
use crate::error::Result;

impl Database {
    /// The names of the tables, sorted, one page at a time (DynamoDB's ListTables): at
    /// most `limit` names (100 by default) after `exclusive_start_table_name`, and the
    /// last of them as `last_evaluated_table_name` when more follow.
    ///
    /// Errors: [`Error::Validation`](crate::Error::Validation) for a limit outside 1 to 100, or a start name that is
    /// not a valid table name, with DynamoDB's messages.
    pub fn list_tables(&self, input: ListTablesInput) -> Result<ListTablesOutput> {
        let limit = match input.limit {
            None => LIST_TABLES_LIMIT_MAX,
            Some(limit) if limit < 1 => return Err(out_of_range("limit", limit, "greater than or equal to 1")),
            Some(limit) if limit > LIST_TABLES_LIMIT_MAX => {
                return Err(out_of_range("limit", limit, "less than or equal to 100"));
            }
            Some(limit) => limit,
        };
        if let Some(start) = &input.exclusive_start_table_name {
            validate_name_at(start, "exclusiveStartTableName")?;
        }
        let mut names: Vec<String> = self.table_names();
        names.sort();
        let after = match &input.exclusive_start_table_name {
            Some(start) => names.partition_point(|name| name <= start),
            None => 0,
        };
        let mut page: Vec<String> = names.drain(after..).collect();
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        Ok(ListTablesOutput {
            last_evaluated_table_name: more.then(|| page.last().cloned()).flatten(),
            table_names: page,
        })
    }
}
