//! The database settings the commands that open one for a while share (`bench`,
//! `serve`): durability and replication as flags.

use dynastore::wal::Durability;
use dynastore::{AckMode, Options, Replication};
use std::time::Duration;

/// When a write returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityArg {
    /// Once its record is durable (fsynced), and replicated as the ack mode asks.
    Sync,
    /// Once its record is written to the OS (survives a process crash, not a power
    /// loss); the log is synced every 10 ms.
    Written,
    /// At once; the log is written and synced every 10 ms.
    Buffered,
}

/// Replication over the three default AZs, and when a `sync` write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplicationArg {
    /// One copy, no replicas.
    None,
    /// Durable on the primary.
    Primary,
    /// Durable on the primary and one replica.
    Quorum,
    /// Durable on every copy.
    All,
}

/// The engine's options for `durability` and `replication`, the rest as
/// [`Options::default`].
pub fn database_options(durability: DurabilityArg, replication: ReplicationArg) -> Options {
    let ack = match replication {
        ReplicationArg::None => None,
        ReplicationArg::Primary => Some(AckMode::Primary),
        ReplicationArg::Quorum => Some(AckMode::Quorum),
        ReplicationArg::All => Some(AckMode::All),
    };
    Options {
        durability: match durability {
            DurabilityArg::Sync => Durability::Sync,
            DurabilityArg::Written => Durability::Written {
                interval: Duration::from_millis(10),
            },
            DurabilityArg::Buffered => Durability::Buffered {
                interval: Duration::from_millis(10),
            },
        },
        replication: ack.map(|ack| Replication {
            ack,
            ..Replication::default()
        }),
        ..Options::default()
    }
}
