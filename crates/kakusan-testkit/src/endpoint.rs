//! Asking a running `kakusan`'s HTTP endpoint (`/metrics`, `/healthz`, `/readyz`) and reading
//! its Prometheus text.

use std::net::SocketAddr;
use std::time::Duration;

/// `GET http://{addr}{path}`: the status and the body; `None` if nothing answered.
pub async fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// The value of one series in Prometheus text, e.g.
/// `kakusan_deliveries_total{operation="send",outcome="delivered"}`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}
