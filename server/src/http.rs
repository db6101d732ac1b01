//! The HTTP layer: DynamoDB's JSON 1.0 protocol over HTTP/1.1 on hyper.
//!
//! A request is checked in DynamoDB's order before the engine sees it: its size (16 MB;
//! HTTP 413), method and content type (`404 <UnknownOperationException/>`), that the body
//! is JSON, that `X-Amz-Target` names an operation, the `Authorization` header's form
//! (and, with credentials configured, its signature), and that there is a body at all.
//! Then the operation runs on a blocking thread, because the engine's calls block.

use crate::auth;
use crate::error::ApiError;
use crate::operations::{self, Context, Operation};
use bytes::Bytes;
use dynastore::Database;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest request body DynamoDB takes (16 MB); a larger one is answered with 413.
pub const REQUEST_BYTES_MAX: usize = 16 << 20;

/// The region named in responses to requests that carry none (health checks).
const DEFAULT_REGION: &str = "us-east-1";

/// What every request handler shares.
#[derive(Debug)]
pub struct State {
    /// The database the operations run on.
    pub db: Arc<Database>,
    /// With `--auth`: the clients whose signatures are verified; `None` accepts any
    /// well-formed credentials, as DynamoDB Local does.
    credentials: Option<auth::Credentials>,
    /// Numbers the request ids.
    requests: AtomicU64,
    /// Whether an item write waits for a disk or a replica (`Sync` durability, or
    /// replication), so that it must not hold an async worker while it waits.
    writes_wait: bool,
}

impl State {
    /// The shared state of a server over `db`, verifying signatures against
    /// `credentials` if there are any.
    pub fn new(db: Arc<Database>, credentials: Option<auth::Credentials>) -> State {
        let options = db.options();
        let writes_wait = !options.durability.acknowledges_before_durable() || options.replication.is_some();
        State {
            db,
            credentials,
            requests: AtomicU64::new(0),
            writes_wait,
        }
    }

    /// A request id as DynamoDB's look: 52 characters of `[0-9A-Z]`, unique in this process.
    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        let mut state = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        (0..52)
            .map(|_| {
                // splitmix64: a different digit stream for every (time, number).
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                char::from(DIGITS[((z ^ (z >> 31)) % 36) as usize])
            })
            .collect()
    }
}

/// A response with DynamoDB's headers: the request id and the body's CRC-32.
fn respond(state: &State, status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let crc = crc32fast::hash(&body);
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&state.request_id()) {
        headers.insert("x-amzn-requestid", id);
    }
    headers.insert("x-amz-crc32", HeaderValue::from(crc));
    response
}

fn json_response(state: &State, status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    respond(
        state,
        status,
        "application/x-amz-json-1.0",
        Bytes::from(body.to_string()),
    )
}

fn error_response(state: &State, error: &ApiError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(state, status, &error.body())
}

/// Answers one request; never fails (every failure is an error response).
pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > REQUEST_BYTES_MAX) {
        return Ok(respond(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain",
            Bytes::new(),
        ));
    }
    let body = match Limited::new(body, REQUEST_BYTES_MAX).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(respond(
                &state,
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                Bytes::new(),
            ));
        }
    };
    Ok(respond_to(&state, &parts, &body).await)
}

/// Answers a request whose body has been read (at most [`REQUEST_BYTES_MAX`]): everything
/// the server does for a request but the network, so that it can be measured alone.
pub async fn respond_to(
    state: &Arc<State>,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    if parts.method == Method::GET {
        let health = format!("healthy: dynamodb.{DEFAULT_REGION}.amazonaws.com ");
        return respond(state, StatusCode::OK, "text/plain", Bytes::from(health));
    }
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    let json_content = content_type == "application/x-amz-json-1.0" || content_type == "application/json";
    if parts.method != Method::POST || (!body.is_empty() && !json_content) {
        return respond(
            state,
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"<UnknownOperationException/>\n"),
        );
    }
    match answer(state, parts, body).await {
        Ok(value) => json_response(state, StatusCode::OK, &value),
        Err(error) => error_response(state, &error),
    }
}

/// The checks after the transport's, then the operation.
async fn answer(state: &Arc<State>, parts: &hyper::http::request::Parts, body: &Bytes) -> Result<Value, ApiError> {
    let json: Option<Value> = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(body).map_err(|_| ApiError::Serialization(None))?)
    };
    let header = |name: &str| parts.headers.get(name).and_then(|value| value.to_str().ok());
    let operation = header("x-amz-target")
        .and_then(Operation::from_target)
        .ok_or(ApiError::UnknownOperation)?;
    let has_date = header("x-amz-date").is_some() || header("date").is_some();
    let authorization = auth::parse(header("authorization"), has_date)?;
    if let Some(credentials) = &state.credentials {
        let request = auth::SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body,
        };
        auth::verify(&authorization, &request, credentials, std::time::SystemTime::now())?;
    }
    let json = json.ok_or(ApiError::Serialization(None))?;
    let context = Context {
        region: authorization.region,
        host: header("host").unwrap_or("localhost").to_owned(),
    };
    // Reads and writes that do not wait for a disk or a replica take microseconds: they
    // run right here, on the async worker. Anything that waits (a `Sync` write's fsync,
    // a replica's acknowledgement, a CATALOG change) must not hold the worker: on a
    // multi-threaded runtime `block_in_place` hands the worker's other connections to
    // another thread while it blocks (no hand-off of the call itself: `spawn_blocking`
    // cost about 40 µs a request, `benches/overhead.rs`); a current-thread runtime cannot
    // do that, so there such calls go to the blocking pool. Running every call under
    // `block_in_place` spent a third of a loaded server's CPU in thread switches.
    let waits = operation.changes_catalog() || (operation.writes_items() && state.writes_wait);
    if !waits {
        return operations::run(&state.db, operation, &json, &context);
    }
    if tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        return tokio::task::block_in_place(|| operations::run(&state.db, operation, &json, &context));
    }
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || operations::run(&state.db, operation, &json, &context))
        .await
        .map_err(|error| ApiError::Internal(format!("the operation's thread failed: {error}")))?
}
