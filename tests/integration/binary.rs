//! A real `talkstick serve` process for the tests that need the binary itself: its exit
//! codes, its signals, its files, its HTTP API. Loopback only, no audio.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use talkstick::token::unix_now;
use talkstick_signaling::protocol::Role;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::{Client, SECRET, token_for};

const BIN: &str = env!("CARGO_BIN_EXE_talkstick");

/// A real `talkstick serve` process on loopback, without audio.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    /// What it printed, line by line (stdout and stderr), as it goes.
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Proc {
    pub(crate) async fn start(dir: &Path, port: u16) -> Proc {
        Proc::spawn(serve(dir, port)).await
    }

    pub(crate) async fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd.spawn().expect("the binary runs");
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(out).lines();
                while let Ok(Some(l)) = r.next_line().await {
                    let _ = tx.send(l);
                }
            });
        }
        let addr = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let l = lines.recv().await.expect("the server printed where it listens");
                if let Some(rest) = l.strip_prefix("Talkstick is listening on http://") {
                    return rest.trim().parse::<SocketAddr>().unwrap();
                }
            }
        })
        .await
        .expect("the server started within 10 s");
        Proc { child, addr, lines }
    }

    /// Reads printed lines until one contains `what`.
    pub(crate) async fn printed(&mut self, what: &str) -> String {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let l = self.lines.recv().await.expect("the server is still running");
                if l.contains(what) {
                    return l;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the server never printed {what:?}"))
    }

    /// SIGKILL: no shutdown code runs, as in a crash.
    pub(crate) async fn kill(mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }
}

pub(crate) fn serve(dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--no-audio", "--secret", SECRET, "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "talkstick-{name}-{}-{}",
        std::process::id(),
        unix_now()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn join(addr: SocketAddr, name: &str, role: Role) -> Client {
    let token = token_for("crash", name, role, unix_now() + 3600);
    Client::join_with(addr, &token, name, None).await
}

/// One HTTP/1.1 request; returns the status and the body.
pub(crate) async fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    api_with(addr, method, path, token, None).await
}

/// One HTTP/1.1 request with an optional JSON body.
pub(crate) async fn api_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

pub(crate) fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}
