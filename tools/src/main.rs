//! The `dynastore` command: tables and items from the shell, inspecting data
//! directories, benchmarks, and the tour of the engine.

mod bench;
mod client;
mod database_options;
mod demo;
mod dump;
mod load;
mod serve;
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
    /// The data directory [default: dynastore-data; `bench` without it uses a temporary
    /// one].
    #[arg(long, global = true)]
    data: Option<PathBuf>,
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
    /// Serve the database over DynamoDB's wire protocol (JSON 1.0 over HTTP), so the AWS
    /// SDKs and CLI work with it: point them at `--endpoint-url http://127.0.0.1:8000`
    /// with any credentials. Stops cleanly on SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Per table and partition: memtable, SSTables per level, WAL size, flushed LSN,
    /// flush and compaction counts, write stalls (opens the database).
    Stats,
    /// A db_bench-like load generator: workloads run in turn on one database, each
    /// reporting ops/s, MB/s, latency percentiles and bytes on disk, and for writes the
    /// bytes written to storage per byte of items, write stalls and, replicated, each
    /// replica's lag. With --data the database is `<data>/bench` and stays (so a later
    /// run can read what a fill wrote); without, a temporary one.
    Bench {
        /// Workloads, comma-separated, run in order: fillseq, fillrandom (each into an
        /// emptied table), readrandom, readmissing, query, scan, update, mixed.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "fillrandom")]
        workload: Vec<bench::WorkloadKind>,
        /// Items in the table's key space (ten per partition key).
        #[arg(long, default_value_t = 100_000)]
        items: u64,
        /// Operations per workload [default: --items]; a scan reads the table once.
        #[arg(long)]
        ops: Option<u64>,
        /// Bytes of each written item's payload attribute.
        #[arg(long, alias = "value-bytes", default_value_t = 100)]
        value_size: usize,
        /// Threads.
        #[arg(long, default_value_t = 8)]
        threads: usize,
        /// When a write returns: once durable (`sync`), or at once with the log synced
        /// every 10 ms (`buffered`).
        #[arg(long, value_enum, default_value = "sync")]
        durability: bench::DurabilityArg,
        /// Replication over three AZs and its acknowledgement mode, or `none`.
        #[arg(long, value_enum, default_value = "quorum")]
        replication: bench::ReplicationArg,
        /// Operations per second over all threads (default: as fast as they go).
        #[arg(long)]
        rate: Option<f64>,
        /// The most seconds a workload runs; it stops early, counting what it did.
        #[arg(long)]
        seconds: Option<f64>,
        /// The seed of the fill order and the random choices.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// One JSON object per workload on stdout instead of text.
        #[arg(long)]
        json: bool,
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
    let data = cli.data.clone().unwrap_or_else(|| PathBuf::from("dynastore-data"));
    let result = match cli.command {
        Command::Client(command) => client::run(&data, command, &mut std::io::stdout().lock()),
        Command::Load { table, file, on_error } => {
            load::load(&data, &table, &file, on_error, &mut std::io::stdout().lock())
        }
        Command::Export { table, file } => load::export(&data, &table, file.as_deref(), &mut std::io::stdout().lock()),
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
        } => dump::catalog(&data, json, &mut std::io::stdout().lock()),
        Command::Demo => demo::run(&data, &mut std::io::stdout().lock()),
        Command::Verify => verify::run(&data, &mut std::io::stdout().lock()),
        Command::Stats => stats::run(&data, &mut std::io::stdout().lock()),
        Command::Serve(args) => serve::run(&data, args, &mut std::io::stdout()),
        Command::Bench {
            workload,
            items,
            ops,
            value_size,
            threads,
            durability,
            replication,
            rate,
            seconds,
            seed,
            json,
        } => match seconds.map(Duration::try_from_secs_f64).transpose() {
            Ok(duration) => {
                let settings = bench::Settings {
                    workloads: workload,
                    items,
                    ops,
                    value_size,
                    threads,
                    durability,
                    replication,
                    rate,
                    duration,
                    seed,
                    json,
                };
                bench::run(cli.data.as_deref(), &settings, &mut std::io::stdout().lock())
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
