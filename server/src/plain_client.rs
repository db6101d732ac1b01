//! A minimal blocking client of the protocol, for tools, demos and tests that want to
//! show or check the exchange itself rather than go through an SDK: one request per
//! connection, with a well-formed but unverified signature (a server with `--auth`
//! refuses it).

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends `operation` with `body` to the server at `addr`; returns the HTTP status and the
/// response's JSON body.
///
/// Errors: the connection failed or timed out (30 s), or the answer was not HTTP with a
/// JSON body.
pub fn call(addr: SocketAddr, operation: &str, body: &Value) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.to_string();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.{operation}\r\nX-Amz-Date: 20261206T120000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDPLAIN/20261206/us-east-1/dynamodb/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-target, Signature=00\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {response:?}")))?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let json = serde_json::from_str(body).map_err(|_| std::io::Error::other(format!("not JSON: {body:?}")))?;
    Ok((status, json))
}
