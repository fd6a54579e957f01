//! The server under test: a chat-server or socket.io peer process this tool starts (so its CPU
//! time and memory can be read from /proc), or one already running at a URL.

use anyhow::{bail, Context};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server software, which decides the wire protocol the clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chat,
    SocketIo,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chat => "chat-server",
            Kind::SocketIo => "socket.io",
        }
    }
}

/// A running server to benchmark.
pub struct Target {
    pub kind: Kind,
    pub addr: SocketAddr,
    child: Option<Child>,
}

/// CPU time and memory of a process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// User plus system time of all threads, in seconds.
    pub cpu_s: f64,
    pub rss_kib: u64,
}

impl Target {
    /// Start `chat-server` on a free loopback port with `config` (TOML) and wait until it
    /// accepts connections. `server_bin` None runs this tool's own copy of the server (the same
    /// library code as the `chat-server` binary, in a child process of its own).
    pub fn start_chat(
        server_bin: Option<&Path>,
        db: &Path,
        config: &str,
        dir: &Path,
    ) -> anyhow::Result<Target> {
        let addr = free_port()?;
        let config_path = dir.join("bench-server.toml");
        std::fs::write(&config_path, config).context("writing the server config")?;
        let mut command = match server_bin {
            Some(bin) => Command::new(bin),
            None => {
                let mut c = Command::new(std::env::current_exe().context("finding chat-bench")?);
                c.arg("serve");
                c
            }
        };
        command
            .arg("--db")
            .arg(db)
            .arg("--config")
            .arg(&config_path)
            .arg("--listen")
            .arg(addr.to_string())
            .env("RUST_LOG", "warn");
        let child = spawn(command, &dir.join("server.log"))?;
        let mut target = Target {
            kind: Kind::Chat,
            addr,
            child: Some(child),
        };
        target.wait_listening(Duration::from_secs(120))?;
        Ok(target)
    }

    /// Start the socket.io peer (`node bench/peers/socketio/server.js`).
    pub fn start_socketio(peer_dir: &Path, dir: &Path) -> anyhow::Result<Target> {
        let script = peer_dir.join("server.js");
        if !peer_dir.join("node_modules").join("socket.io").exists() {
            bail!(
                "the socket.io peer is not installed: run {}",
                peer_dir.join("install.sh").display()
            );
        }
        let addr = free_port()?;
        let mut command = Command::new("node");
        command
            .arg(&script)
            .env("PORT", addr.port().to_string())
            .env("HOST", addr.ip().to_string());
        let child = spawn(command, &dir.join("socketio.log"))?;
        let mut target = Target {
            kind: Kind::SocketIo,
            addr,
            child: Some(child),
        };
        target.wait_listening(Duration::from_secs(30))?;
        Ok(target)
    }

    /// A server someone else started: no /proc figures.
    pub fn external(kind: Kind, url: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix("ws://")
            .with_context(|| format!("{url}: only ws:// URLs can be benchmarked"))?;
        let host_port = rest.split('/').next().unwrap_or(rest);
        let addr: SocketAddr = host_port
            .parse()
            .with_context(|| format!("{url}: give the server as ws://IP:PORT"))?;
        if !addr.ip().is_loopback() {
            bail!("{url}: benchmarks only run against loopback addresses (127.0.0.0/8)");
        }
        Ok(Target {
            kind,
            addr,
            child: None,
        })
    }

    pub fn url(&self) -> String {
        match self.kind {
            Kind::Chat => format!("ws://{}", self.addr),
            Kind::SocketIo => format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// CPU time and RSS now, for a server this tool started.
    pub fn sample(&self) -> Option<ProcSample> {
        proc_sample(self.pid()?)
    }

    /// Samples at the start and at the end of the measured window (times in the bench's
    /// microseconds), waiting for each: the server's CPU over that window only.
    pub async fn sample_window(
        &self,
        from_us: u64,
        until_us: u64,
    ) -> (Option<ProcSample>, Option<ProcSample>) {
        crate::stats::sleep_until_us(from_us).await;
        let before = self.sample();
        crate::stats::sleep_until_us(until_us).await;
        (before, self.sample())
    }

    fn wait_listening(&mut self, limit: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!(
                        "the {} exited at start-up ({status}); see its log in the work directory",
                        self.kind.name()
                    );
                }
            }
            if start.elapsed() > limit {
                bail!(
                    "the {} did not start listening within {limit:?}",
                    self.kind.name()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ask the server to shut down (SIGTERM) and wait for it; kill it if it takes too long.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill()?;
        child.wait()?;
        Ok(())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // Never leave a server behind, even when the benchmark fails half-way.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(mut command: Command, log: &Path) -> anyhow::Result<Child> {
    let log_file =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err_file = log_file.try_clone()?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(err_file));
    command
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))
}

/// A port nobody listens on now. Another process could take it before the server binds it,
/// which on a benchmark machine does not happen in practice; the start-up check would say so.
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}

/// Clock ticks per second of /proc/PID/stat's times: USER_HZ, which is 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; fields count from after it.
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    Some(ProcSample {
        cpu_s: (utime + stime) / TICKS_PER_SECOND,
        rss_kib,
    })
}

/// Where `bench/peers/socketio` is: next to the workspace this binary was built from, unless
/// given.
pub fn default_peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("bench")
        .join("peers")
        .join("socketio")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_and_memory() {
        let sample = proc_sample(std::process::id()).unwrap();
        assert!(sample.rss_kib > 0);
        assert!(sample.cpu_s >= 0.0);
    }

    #[test]
    fn only_loopback_targets() {
        assert!(Target::external(Kind::Chat, "ws://127.0.0.1:7800").is_ok());
        assert!(Target::external(Kind::Chat, "ws://10.0.0.1:7800").is_err());
        assert!(Target::external(Kind::Chat, "wss://127.0.0.1:7800").is_err());
    }
}
