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

/// The flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on: loopback by default, so nothing outside this machine
    /// reaches it (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// When a write is acknowledged: once its record is fsynced (`sync`, the default:
    /// neither a crash nor a power loss loses an acknowledged write); once it is written
    /// to the OS with an fsync every 10 ms (`written`: about 5x the writes per second; a
    /// `kill -9` loses none, a power loss the last 10 ms); or at once (`buffered`:
    /// fastest, but even a process crash loses the last moments).
    #[arg(long, value_enum, default_value = "sync")]
    durability: DurabilityArg,
    /// Replication over three AZ directories and its acknowledgement mode; `none` (the
    /// default on a laptop) keeps one copy.
    #[arg(long, value_enum, default_value = "none")]
    replication: ReplicationArg,
    /// Verify every request's signature against this file's clients: one
    /// `ACCESS_KEY_ID SECRET_ACCESS_KEY` pair per line (`#` starts a comment). Without it,
    /// any well-formed credentials are accepted, as DynamoDB Local does.
    #[arg(long)]
    auth: Option<PathBuf>,
}

/// Serves the database in `data` until SIGINT or SIGTERM. Prints `listening on ADDR`
/// once it accepts requests.
///
/// Errors: the database cannot be opened or closed; the address cannot be bound.
pub fn run(data: &Path, args: ServeArgs, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let credentials = match &args.auth {
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
    let db = Arc::new(Database::open(
        StdFs::shared(),
        data,
        database_options(args.durability, args.replication),
    )?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
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
