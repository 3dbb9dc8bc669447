//! The server's own media counters (its `/healthz`), read before and after a run: what
//! the server received, forwarded, dropped or failed to send, next to what the simulated
//! participants measured. Loss the participants see with no drops at the server was lost
//! on the way (or in the generator).

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest wait for the health report.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The sections of the report's `media` object that are counters.
const SECTIONS: [&str; 2] = ["udp", "forwarding"];

/// The media counters of the server at `base` (`http://host:port`): `None` when it has no
/// media, or cannot be asked (`https`, unreachable, an unexpected answer).
pub async fn media_counters(base: &str) -> Option<Value> {
    let host = base.strip_prefix("http://")?.split('/').next()?;
    let read = async {
        let mut s = tokio::net::TcpStream::connect(host).await.ok()?;
        let req = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).await.ok()?;
        parse(&text)
    };
    tokio::time::timeout(TIMEOUT, read).await.ok().flatten()
}

/// The counter sections of a whole HTTP answer from `/healthz`.
fn parse(answer: &str) -> Option<Value> {
    let (head, body) = answer.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    let report: Value = serde_json::from_str(body).ok()?;
    let media = report.get("media")?;
    let sections = SECTIONS.iter().map(|s| Some(((*s).to_owned(), media.get(*s)?.clone())));
    sections.collect::<Option<Map<String, Value>>>().map(Value::Object)
}

/// `after` minus `before`, counter by counter (objects of the same shape).
pub fn difference(before: &Value, after: &Value) -> Value {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => a
            .iter()
            .map(|(k, av)| {
                (k.clone(), b.get(k).map_or_else(|| av.clone(), |bv| difference(bv, av)))
            })
            .collect(),
        (Value::Number(b), Value::Number(a)) => match (a.as_u64(), b.as_u64()) {
            (Some(a), Some(b)) => a.saturating_sub(b).into(),
            _ => Value::Null,
        },
        (_, a) => a.clone(),
    }
}

/// One line for people: what the server received and sent, and what it lost.
pub fn summary(counters: &Value) -> String {
    let n = |section: &str, key: &str| counters[section][key].as_u64().unwrap_or(0);
    let dropped = ["dropped_busy", "dropped_over_rate", "dropped_unknown"].map(|k| n("udp", k));
    format!(
        "received {}, sent {}; dropped {} (room busy {}, over rate {}, unknown {}), send failed {}; forwarded {}, gated {}",
        n("udp", "received"),
        n("udp", "sent"),
        dropped.iter().sum::<u64>(),
        dropped[0],
        dropped[1],
        dropped[2],
        n("udp", "send_failed"),
        n("forwarding", "packets_forwarded"),
        n("forwarding", "packets_gated"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counters_come_from_the_media_sections_of_a_healthy_answer() {
        let body = json!({
            "status": "ok",
            "rooms": 2,
            "media": {"peers": 3, "udp": {"received": 10}, "forwarding": {"packets_in": 4}},
        });
        let answer = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{body}");
        assert_eq!(
            parse(&answer),
            Some(json!({"udp": {"received": 10}, "forwarding": {"packets_in": 4}}))
        );
        // No media on the server, an error status, or no body: nothing to report.
        let no_media = format!("HTTP/1.1 200 OK\r\n\r\n{}", json!({"status": "ok", "media": null}));
        assert_eq!(parse(&no_media), None);
        assert_eq!(parse("HTTP/1.1 503 Service Unavailable\r\n\r\n{}"), None);
        assert_eq!(parse("HTTP/1.1 200 OK"), None);
    }

    #[test]
    fn the_difference_is_taken_counter_by_counter() {
        let before = json!({"udp": {"received": 10, "sent": 7}, "forwarding": {"packets_in": 1}});
        let after = json!({"udp": {"received": 25, "sent": 7, "send_failed": 2}, "forwarding": {"packets_in": 9}});
        let d = difference(&before, &after);
        assert_eq!(
            d,
            json!({"udp": {"received": 15, "sent": 0, "send_failed": 2}, "forwarding": {"packets_in": 8}})
        );
        let line = summary(&d);
        assert!(line.starts_with("received 15, sent 0; dropped 0"), "{line}");
        assert!(line.contains("send failed 2"), "{line}");
    }
}
