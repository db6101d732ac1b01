//! `dynastore serve`: the database over DynamoDB's wire protocol, until SIGINT or
//! SIGTERM; then the requests in flight finish and the database closes cleanly.

use crate::database_options::{DurabilityArg, ReplicationArg, database_options};
use clap::Args;
use dynastore::Database;
use dynastore::wal::fs::StdFs;
use dynastore_server::ServerConfig;
use dynastore_server::auth::Credentials;
use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The flags of `serve`. Each may also come from `--config`; a flag given wins.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on [default: 127.0.0.1:8000]: loopback, so nothing outside
    /// this machine reaches it (port 0 picks a free port; the address is printed).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// When a write is acknowledged [default: sync]: once its record is fsynced (`sync`:
    /// neither a crash nor a power loss loses an acknowledged write); once it is written
    /// to the OS with an fsync every 10 ms (`written`: about 5x the writes per second; a
    /// `kill -9` loses none, a power loss the last 10 ms); or at once (`buffered`:
    /// fastest, but even a process crash loses the last moments).
    #[arg(long, value_enum)]
    durability: Option<DurabilityArg>,
    /// Replication over three AZ directories and its acknowledgement mode [default:
    /// none, one copy, as a laptop wants].
    #[arg(long, value_enum)]
    replication: Option<ReplicationArg>,
    /// Verify every request's signature against this file's clients: one
    /// `ACCESS_KEY_ID SECRET_ACCESS_KEY` pair per line (`#` starts a comment). Without it,
    /// any well-formed credentials are accepted, as DynamoDB Local does.
    #[arg(long)]
    auth: Option<PathBuf>,
    /// Bytes of a partition's memtable before it is flushed [default: 64 MiB].
    #[arg(long)]
    memtable_bytes: Option<usize>,
    /// A JSON file of settings: any of `listen`, `durability`, `replication`, `auth`,
    /// `memtable_bytes`, with the flags' values, e.g.
    /// `{"listen": "127.0.0.1:8001", "durability": "written"}`.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The settings a `--config` file may give.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    durability: Option<String>,
    replication: Option<String>,
    auth: Option<PathBuf>,
    memtable_bytes: Option<usize>,
}

/// A value of an enum flag, as written in a config file.
fn enum_value<T: clap::ValueEnum>(text: Option<&str>, key: &str) -> Result<Option<T>, Box<dyn Error>> {
    text.map(|text| {
        T::from_str(text, false).map_err(|_| format!("config: {key} {text:?} is not one of the flag's values").into())
    })
    .transpose()
}

/// Serves the database in `data` until SIGINT or SIGTERM. Prints `listening on ADDR`
/// once it accepts requests.
///
/// Errors: the config file or credentials cannot be read; the database cannot be opened
/// or closed; the address cannot be bound.
pub fn run(data: &Path, args: ServeArgs, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let file: ConfigFile = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => ConfigFile::default(),
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8000)));
    let durability = match args.durability {
        Some(durability) => durability,
        None => enum_value(file.durability.as_deref(), "durability")?.unwrap_or(DurabilityArg::Sync),
    };
    let replication = match args.replication {
        Some(replication) => replication,
        None => enum_value(file.replication.as_deref(), "replication")?.unwrap_or(ReplicationArg::None),
    };
    let mut options = database_options(durability, replication);
    if let Some(bytes) = args.memtable_bytes.or(file.memtable_bytes) {
        options.memtable_bytes = bytes;
    }
    let credentials = match args.auth.as_ref().or(file.auth.as_ref()) {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let credentials = Credentials::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            if credentials.is_empty() {
                return Err(format!("{}: no credentials in it", path.display()).into());
            }
            Some(credentials)
        }
        None => None,
    };
    let config = ServerConfig { credentials };
    let db = Arc::new(Database::open(StdFs::shared(), data, options)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        out.flush()?;
        dynastore_server::serve(Arc::clone(&db), listener, config, shutdown_signal()).await;
        Ok::<(), Box<dyn Error>>(())
    })?;
    // Every request thread has ended with the runtime, so the database is ours alone.
    drop(runtime);
    match Arc::try_unwrap(db) {
        Ok(db) => db.close()?,
        Err(_) => return Err("a request still holds the database after shutdown".into()),
    }
    writeln!(out, "stopped; the database is closed")?;
    Ok(())
}

/// Resolves at the first SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
