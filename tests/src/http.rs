//! A blocking HTTP/1.0 client for the live tests: one request per connection, so the answer is
//! never chunked and ends when the server closes. Enough for the engines', the stand-ins' and the
//! node's pods' JSON APIs, without an HTTP client crate. Async tests use [`asynchronous`], the same
//! exchanges on tokio's blocking pool, so the runtime keeps serving meanwhile.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// How long one exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(20);

/// An answer: status code and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The body as JSON, or an error quoting it.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body)
            .map_err(|error| format!("HTTP {}: not JSON ({error}): {}", self.status, self.body))
    }
}

/// Sends one request; `body` is its content type and bytes.
pub fn request(address: SocketAddr, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<Answer, String> {
    let what = format!("{method} http://{address}{path}");
    let mut stream =
        TcpStream::connect_timeout(&address, EXCHANGE_TIMEOUT).map_err(|error| format!("{what}: {error}"))?;
    stream.set_read_timeout(Some(EXCHANGE_TIMEOUT)).map_err(|error| format!("{what}: {error}"))?;
    stream.set_write_timeout(Some(EXCHANGE_TIMEOUT)).map_err(|error| format!("{what}: {error}"))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\nAccept: */*\r\n");
    if let Some((content_type, bytes)) = body {
        head.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n", bytes.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(|error| format!("{what}: {error}"))?;
    if let Some((_, bytes)) = body {
        stream.write_all(bytes).map_err(|error| format!("{what}: {error}"))?;
    }
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|error| format!("{what}: {error}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("{what}: not an HTTP answer: {text}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("{what}: no status in {head}"))?;
    Ok(Answer { status, body: body.to_owned() })
}

pub fn get(address: SocketAddr, path: &str) -> Result<Answer, String> {
    request(address, "GET", path, None)
}

pub fn post_json(address: SocketAddr, path: &str, value: &Value) -> Result<Answer, String> {
    request(address, "POST", path, Some(("application/json", value.to_string().as_bytes())))
}

/// A GET whose answer must be 200 with a JSON body.
pub fn get_json(address: SocketAddr, path: &str) -> Result<Value, String> {
    let answer = get(address, path)?;
    if answer.status != 200 {
        return Err(format!("GET {path}: HTTP {}: {}", answer.status, answer.body));
    }
    answer.json()
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The `data` of a successful answer of Prometheus' (or Alertmanager's v1-style) HTTP API.
pub fn prometheus_api(address: SocketAddr, path: &str) -> Result<Value, String> {
    let answer = get(address, path)?;
    let parsed = answer.json()?;
    if answer.status == 200 && parsed["status"] == "success" {
        Ok(parsed["data"].clone())
    } else {
        Err(format!("GET {path}: HTTP {}: {}", answer.status, answer.body))
    }
}

/// An instant PromQL query's result vector.
pub fn prometheus_query(address: SocketAddr, promql: &str) -> Result<Vec<Value>, String> {
    let data = prometheus_api(address, &format!("/api/v1/query?query={}", encode(promql)))?;
    data["result"].as_array().cloned().ok_or_else(|| format!("{promql}: no result vector: {data}"))
}

/// The same exchanges from async code.
pub mod asynchronous {
    use std::net::SocketAddr;

    use serde_json::Value;

    async fn blocking<T: Send + 'static>(
        exchange: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        tokio::task::spawn_blocking(exchange).await.map_err(|error| format!("HTTP exchange panicked: {error}"))?
    }

    /// One GET: status code and body.
    pub async fn get(address: SocketAddr, path: &str) -> Result<(u16, String), String> {
        let path = path.to_owned();
        blocking(move || super::get(address, &path).map(|answer| (answer.status, answer.body))).await
    }

    /// A GET whose answer must be 200 with a JSON body.
    pub async fn get_json(address: SocketAddr, path: &str) -> Result<Value, String> {
        let path = path.to_owned();
        blocking(move || super::get_json(address, &path)).await
    }

    /// One POST of a JSON body: status code and body.
    pub async fn post_json(address: SocketAddr, path: &str, value: &Value) -> Result<(u16, String), String> {
        let (path, value) = (path.to_owned(), value.clone());
        blocking(move || super::post_json(address, &path, &value).map(|answer| (answer.status, answer.body))).await
    }

    /// The `data` of a successful answer of Prometheus' HTTP API.
    pub async fn api(address: SocketAddr, path: &str) -> Result<Value, String> {
        let path = path.to_owned();
        blocking(move || super::prometheus_api(address, &path)).await
    }

    /// An instant query's result vector.
    pub async fn query(address: SocketAddr, promql: &str) -> Result<Vec<Value>, String> {
        let promql = promql.to_owned();
        blocking(move || super::prometheus_query(address, &promql)).await
    }
}
