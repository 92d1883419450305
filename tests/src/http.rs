//! Plain HTTP to the real engines (Prometheus, Alertmanager, pods on the node): one request per
//! connection over HTTP/1.0, so answers are never chunked, and Prometheus' HTTP API on top.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One GET over HTTP/1.0 (so the answer is never chunked): status code and body.
pub async fn get(address: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .map_err(|_| format!("GET {path}: no answer within 20s"))?
        .map_err(|error| format!("GET {path}: {error}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("GET {path}: not HTTP: {text}"))?;
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// The `data` of a successful answer of Prometheus' HTTP API.
pub async fn api(address: SocketAddr, path: &str) -> Result<Value, String> {
    let (status, body) = get(address, path).await?;
    let parsed: Value = serde_json::from_str(&body).map_err(|error| format!("GET {path}: {error}: {body}"))?;
    if status == 200 && parsed["status"] == "success" {
        Ok(parsed["data"].clone())
    } else {
        Err(format!("GET {path}: HTTP {status}: {body}"))
    }
}

/// An instant query's result vector.
pub async fn query(address: SocketAddr, promql: &str) -> Result<Vec<Value>, String> {
    let encoded: String = promql
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    let data = api(address, &format!("/api/v1/query?query={encoded}")).await?;
    data["result"].as_array().cloned().ok_or_else(|| format!("{promql}: no result vector: {data}"))
}
