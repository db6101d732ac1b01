//! The `dynastore` command: tables and items from the shell, inspecting data
//! directories, benchmarks, and the tour of the engine.

mod bench;
mod client;
mod demo;
mod dump;
mod load;
mod stats;
mod verify;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// dynastore: an embeddable, DynamoDB-style storage engine.
#[derive(Debug, Parser)]
#[command(name = "dynastore", version, about)]
pub(crate) struct Cli {
    /// The data directory.
    #[arg(long, global = true, default_value = "dynastore-data")]
    data: PathBuf,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    #[command(flatten)]
    Client(client::ClientCommand),
    /// Load items into a table: one per line as DynamoDB JSON (or DynamoDB's S3 export
    /// lines, or `aws dynamodb scan` output), from FILE or `-` (stdin), 25 per batch,
    /// durable when it returns.
    Load {
        /// The table.
        table: String,
        /// The file, or `-` for stdin.
        file: String,
        /// What a bad line does: stop the load (the lines before it are loaded), or is
        /// skipped and counted.
        #[arg(long, value_enum, default_value = "stop")]
        on_error: load::OnError,
    },
    /// Every item of a table, one per line as DynamoDB JSON, to FILE or stdout.
    Export {
        /// The table.
        table: String,
        /// The file (stdout without one).
        file: Option<PathBuf>,
    },
    /// Print on-disk structures for humans (or machines, with --json).
    Dump {
        #[command(subcommand)]
        what: DumpCommand,
    },
    /// The end-to-end tour of the WAL and the database, under `<data>/demo` (which it
    /// replaces).
    Demo,
    /// Check every checksum and invariant of the data directory (read-only); exits
    /// non-zero and lists the problems if there are any.
    Verify,
    /// Per table and partition: memtable, SSTables per level, WAL size, flushed LSN,
    /// flush and compaction counts, write stalls (opens the database).
    Stats,
    /// A timed PutItem workload on a fresh database under `<data>/bench` (which it
    /// replaces): puts per second, latency percentiles, bytes written to storage per byte
    /// of items, write stalls and, replicated, each replica's lag.
    Bench {
        /// Writer threads.
        #[arg(long, default_value_t = 8)]
        threads: usize,
        /// How long to write, in seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// When a put returns: once durable (`sync`), or at once with the log synced
        /// every 10 ms (`buffered`).
        #[arg(long, value_enum, default_value = "sync")]
        durability: bench::DurabilityArg,
        /// Replication over three AZs and its acknowledgement mode, or `none`.
        #[arg(long, value_enum, default_value = "quorum")]
        replication: bench::ReplicationArg,
        /// Puts per second over all writers (default: as fast as they go).
        #[arg(long)]
        rate: Option<f64>,
        /// Bytes of each item's payload attribute.
        #[arg(long, default_value_t = 100)]
        value_bytes: usize,
    },
}

#[derive(Debug, Subcommand)]
enum DumpCommand {
    /// One line per record of a WAL segment file, or of every segment in a WAL directory,
    /// and a summary. Damaged bytes are shown with their offset.
    Wal {
        /// A segment file or a WAL directory.
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A partition's MANIFEST: flushed LSN, next file number, live SSTables.
    Manifest {
        /// The partition directory (e.g. `<data>/az-a/Orders/p-0000`).
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The data directory's CATALOG: tables, key schemas, hash ranges, partitions.
    Catalog {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// An SSTable's properties, index, and entries decoded as DynamoDB JSON. Damage is
    /// reported with the file and offset.
    Sst {
        /// The SSTable file.
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Client(command) => client::run(&cli.data, command, &mut std::io::stdout().lock()),
        Command::Load { table, file, on_error } => {
            load::load(&cli.data, &table, &file, on_error, &mut std::io::stdout().lock())
        }
        Command::Export { table, file } => {
            load::export(&cli.data, &table, file.as_deref(), &mut std::io::stdout().lock())
        }
        Command::Dump {
            what: DumpCommand::Wal { path, json },
        } => dump::wal(&path, json, &mut std::io::stdout().lock()),
        Command::Dump {
            what: DumpCommand::Sst { path, json },
        } => dump::sst(&path, json, &mut std::io::stdout().lock()),
        Command::Dump {
            what: DumpCommand::Manifest { path, json },
        } => dump::manifest(&path, json, &mut std::io::stdout().lock()),
        Command::Dump {
            what: DumpCommand::Catalog { json },
        } => dump::catalog(&cli.data, json, &mut std::io::stdout().lock()),
        Command::Demo => demo::run(&cli.data, &mut std::io::stdout().lock()),
        Command::Verify => verify::run(&cli.data, &mut std::io::stdout().lock()),
        Command::Stats => stats::run(&cli.data, &mut std::io::stdout().lock()),
        Command::Bench {
            threads,
            seconds,
            durability,
            replication,
            rate,
            value_bytes,
        } => match Duration::try_from_secs_f64(seconds) {
            Ok(duration) => {
                let workload = bench::Workload {
                    threads,
                    duration,
                    durability,
                    replication,
                    rate,
                    value_bytes,
                };
                bench::run(&cli.data, &workload, &mut std::io::stdout().lock())
            }
            Err(_) => Err("--seconds must be a non-negative number".into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dynastore: {error}");
            ExitCode::FAILURE
        }
    }
}
