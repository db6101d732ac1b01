//! dynastore-server: a dynastore database served over DynamoDB's own wire protocol
//! (JSON 1.0 over HTTP, `X-Amz-Target: DynamoDB_20120810.<Operation>`), so that the AWS
//! SDKs and the AWS CLI work with it unchanged.
//!
//! [`serve`] answers requests on a listener until a shutdown signal resolves, then stops
//! accepting, lets the requests in flight finish, and returns; the caller then closes the
//! database. The `dynastore serve` command runs it.
//!
//! Errors reach the client as DynamoDB sends them ([`error::ApiError`]); a request that is
//! refused before its operation (too large, not JSON, an unknown operation, no
//! credentials) never reaches the engine.

pub mod auth;
pub mod error;
pub mod http;
pub mod input;
pub mod operations;
pub mod plain_client;

use dynastore::Database;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use operations::{Context, Operation};

/// How long a shutdown waits for the requests in flight before it gives up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How a server answers, beyond its database.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// The clients whose signatures are verified (`--auth`); `None` accepts any
    /// well-formed credentials, as DynamoDB Local does.
    pub credentials: Option<auth::Credentials>,
}

/// Serves `db` on `listener` until `shutdown` resolves; then stops accepting, waits (at
/// most [`SHUTDOWN_GRACE`]) for the requests in flight to be answered, and returns.
/// Idle keep-alive connections are closed.
///
/// Errors: none of a connection's (a broken connection ends only itself); accepting
/// errors are retried.
pub async fn serve(db: Arc<Database>, listener: TcpListener, config: ServerConfig, shutdown: impl Future<Output = ()>) {
    let state = Arc::new(http::State::new(db, config.credentials));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Out of file descriptors or the like: wait a moment and go on.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                // Small request/response exchanges: do not wait to fill packets.
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let service = service_fn(move |request| http::handle(Arc::clone(&state), request));
                let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    // A client that hangs up mid-request ends only its connection.
                    let _ = watched.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}
