//! The real `chat-server` binary as a child process: started on a free loopback port with a
//! config file, killed with SIGKILL or stopped with SIGTERM, and measured through /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test: this build's, or another one given by `CHAT_SERVER_BIN` (to take
/// the same figures of an older build).
pub fn server_binary() -> PathBuf {
    match std::env::var_os("CHAT_SERVER_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_chat-server")),
    }
}

/// A size for the long run, from an environment variable, else the short default.
pub fn knob(name: &str, short: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(short)
}

pub struct ServerProcess {
    child: Child,
    pub url: String,
    pub pid: u32,
}

impl ServerProcess {
    /// Start the server on `db` with `config` (the body of a `[server]` table) and wait
    /// until it listens.
    pub fn start(db: &Path, config: &str) -> ServerProcess {
        let config_path = db.with_extension("toml");
        std::fs::write(&config_path, format!("[server]\n{config}\n")).unwrap();
        let mut child = Command::new(server_binary())
            .arg("--db")
            .arg(db)
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chat-server");
        let stderr = child.stderr.take().unwrap();
        let (url_tx, url_rx) = mpsc::channel();
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("listening on ws://") {
                    let url = line[at + "listening on ".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = url_tx.send(url);
                }
                if std::env::var_os("CHAT_RELIABILITY_LOG").is_some() {
                    eprintln!("server: {line}");
                }
            }
        });
        let url = url_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server says where it listens");
        let pid = child.id();
        ServerProcess { child, url, pid }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a graceful exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// A line of /proc/PID/status in kB (VmHWM: peak resident memory; VmRSS: now).
    pub fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
