//! A server on a loopback port for the tests, and the official SDK's client pointed at it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use dynastore::wal::fs::StdFs;
use dynastore::{Database, Options};
use dynastore_server::ServerConfig;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in this process on `127.0.0.1:<port>`.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    db: Option<Arc<Database>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Opens the database in `dir` with `options` and serves it, accepting any
    /// well-formed credentials.
    pub async fn start(dir: &Path, options: Options) -> TestServer {
        TestServer::start_with(dir, options, ServerConfig::default()).await
    }

    /// Opens the database in `dir` with `options` and serves it as `config` says.
    pub async fn start_with(dir: &Path, options: Options, config: ServerConfig) -> TestServer {
        let db = Arc::new(Database::open(StdFs::shared(), dir, options).expect("the database opens"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = Arc::clone(&db);
        let task = tokio::spawn(async move {
            dynastore_server::serve(served, listener, config, async {
                let _ = stopped.await;
            })
            .await;
        });
        TestServer {
            addr,
            db: Some(db),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The SDK's client for this server, with dummy credentials.
    pub fn client(&self) -> Client {
        client_for(&self.endpoint())
    }

    /// Shuts the server down gracefully and closes the database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task ends");
        }
        let db = self.db.take().expect("started with a database");
        let db = Arc::try_unwrap(db).unwrap_or_else(|_| panic!("the server let go of the database"));
        tokio::task::spawn_blocking(move || db.close().expect("the database closes"))
            .await
            .expect("close ran");
    }
}

/// The SDK's client for `endpoint`, region us-east-1, dummy credentials, plain HTTP.
pub fn client_for(endpoint: &str) -> Client {
    client_with(endpoint, "AKIDTEST", "secret")
}

/// The SDK's client for `endpoint` signing with `access_key` and `secret`.
pub fn client_with(endpoint: &str, access_key: &str, secret: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key, secret, None, None, "tests"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}
