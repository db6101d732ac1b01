//! The engine's error type: one variant per thing that can go wrong, named after
//! DynamoDB's exceptions where DynamoDB has one.

use crate::item::ValidationError;
use std::path::PathBuf;

/// Everything an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not valid (DynamoDB's `ValidationException`); nothing was changed.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// An expression string DynamoDB refuses (a `ValidationException`), with DynamoDB's
    /// message; nothing was changed.
    #[error(transparent)]
    Expression(#[from] crate::expr::parse::ExpressionError),
    /// A legacy parameter (`Expected`, `KeyConditions`, ...) DynamoDB refuses (a
    /// `ValidationException`), with DynamoDB's message; nothing was changed.
    #[error(transparent)]
    LegacyParameter(#[from] crate::expr::legacy::LegacyError),
    /// A write's condition was false; nothing was written (DynamoDB's
    /// `ConditionalCheckFailedException`).
    #[error("The conditional request failed")]
    ConditionalCheckFailed {
        /// The item as it was, if the write asked for it on failure.
        item: Option<crate::item::Item>,
    },
    /// A write would grow an item collection (in a table with local secondary indexes,
    /// the items of one partition key and their index entries) past its limit, 10 GB
    /// (DynamoDB's `ItemCollectionSizeLimitExceededException`); nothing was written.
    /// Writes that do not grow it are still taken.
    #[error("The total size of an item collection has exceeded the maximum limit of 10 gigabytes.")]
    ItemCollectionSizeLimitExceeded {
        /// The table.
        table: String,
        /// The collection's size in bytes had the write been taken.
        size: u64,
    },
    /// No table of that name (DynamoDB's `ResourceNotFoundException`).
    #[error("Requested resource not found: Table: {table} not found")]
    ResourceNotFound {
        /// The table asked for.
        table: String,
    },
    /// A table of that name exists already (DynamoDB's `ResourceInUseException`).
    #[error("Table already exists: {table}")]
    ResourceInUse {
        /// The table's name.
        table: String,
    },
    /// Another process, or another open handle in this one, has the data directory.
    #[error("the data directory {} is in use by another process or handle (its LOCK file is held)", path.display())]
    Locked {
        /// The data directory.
        path: PathBuf,
    },
    /// A file of the database holds bytes that are not what was written.
    #[error("corrupt {} at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Where the damage is.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The write-ahead log failed (I/O, corruption, a poisoned log).
    #[error(transparent)]
    Wal(#[from] dynastore_wal::Error),
    /// The replicas did not acknowledge a write as the ack mode asks (too few are alive,
    /// or they did not keep up in time), or, for a `Buffered` write, stayed more than
    /// [`Replication::max_lag_records`](crate::Replication::max_lag_records) behind for
    /// the acknowledgement timeout. The write is in the primary's log and part of its
    /// history (a `Sync` one durable there): it may still take effect (as DynamoDB's
    /// `InternalServerError`, the outcome is unknown), but it was not acknowledged.
    #[error("the write is in the primary's log but was not acknowledged by its replicas: {0}")]
    Replication(#[from] dynastore_replication::AckError),
    /// No copy of a partition can serve: its primary failed and no replica is left to
    /// promote (or the one asked for cannot be).
    #[error("partition {partition} of table {table} is unavailable: {reason}")]
    Unavailable {
        /// The table.
        table: String,
        /// The partition's id.
        partition: u32,
        /// Why.
        reason: String,
    },
    /// A partition's primary failed before the writes a [`Database::sync`] covers were
    /// durable on a replica, and the replica that took over was not handed all of them:
    /// those not handed over are lost, as in a crash before a sync (`Buffered` writes
    /// are acknowledged before they are durable).
    ///
    /// [`Database::sync`]: crate::Database::sync
    #[error(
        "partition {partition} of table {table} failed over before every write so far was durable, and its new primary holds them only up to LSN {handed_over}: later ones are lost ({cause})"
    )]
    LostInFailover {
        /// The table.
        table: String,
        /// The partition's id.
        partition: u32,
        /// The last record the new primary holds.
        handed_over: u64,
        /// What failed on the former primary.
        cause: String,
    },
    /// The global indexes did not catch up with a table partition's log in the time
    /// [`Database::wait_for_indexes`](crate::Database::wait_for_indexes) was given.
    #[error(
        "the global indexes of table {table} hold partition {partition}'s log up to LSN {applied}, not yet {target}"
    )]
    IndexesBehind {
        /// The table.
        table: String,
        /// The table partition's id.
        partition: u32,
        /// The last LSN applied to the indexes.
        applied: u64,
        /// The LSN waited for.
        target: u64,
    },
    /// The operating system failed an operation.
    #[error("I/O error while {op} {}: {source}", path.display())]
    Io {
        /// What the engine was doing.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The name of the DynamoDB exception this error corresponds to.
    pub fn exception_name(&self) -> &'static str {
        match self {
            Error::Validation(_) | Error::Expression(_) | Error::LegacyParameter(_) => "ValidationException",
            Error::ConditionalCheckFailed { .. } => "ConditionalCheckFailedException",
            Error::ItemCollectionSizeLimitExceeded { .. } => "ItemCollectionSizeLimitExceededException",
            Error::ResourceNotFound { .. } => "ResourceNotFoundException",
            Error::ResourceInUse { .. } => "ResourceInUseException",
            Error::Unavailable { .. } => "ServiceUnavailable",
            Error::Locked { .. }
            | Error::LostInFailover { .. }
            | Error::Corruption { .. }
            | Error::Wal(_)
            | Error::Io { .. }
            | Error::IndexesBehind { .. }
            | Error::Replication(_) => "InternalServerError",
        }
    }
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an `io::Error` with what was being done and to which path.
pub(crate) fn io_error(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
