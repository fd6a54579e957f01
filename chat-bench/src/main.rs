//! `chat-bench`: load scenarios against chat-server (and a socket.io peer for comparison),
//! printing throughput, latency percentiles, server CPU per delivery and memory.

mod load;
mod net;
mod scenario;
mod stats;
mod target;
mod wire;
mod world;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use stats::Report;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use target::{Kind, Target};

/// Benchmark chat-server: each scenario starts a server (or targets one), opens connections
/// spread over loopback source addresses, runs for a bounded time and prints what it measured.
///
/// Build with `cargo build --release -p chat-bench` and run target/release/chat-bench; a debug
/// build measures the debug build's speed.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// One big room, senders at a rising rate: deliveries per second while p99 stays in bounds.
    Fanout(scenario::fanout::FanoutArgs),
    /// Senders over many rooms as fast as acknowledgements allow: persisted messages per second.
    Ingest(scenario::ingest::IngestArgs),
    /// Many small rooms, everyone sending now and then: delivery latency under a realistic load.
    Chat(scenario::chat::ChatArgs),
    /// Many connections doing nothing: server memory per connection and connections per second.
    Idle(scenario::idle::IdleArgs),
    /// A large history: latency of a page and of a resume after missed events.
    History(scenario::history::HistoryArgs),
    /// Everyone drops while messages pile up, then reconnects at once: time to catch up, gaps.
    Storm(scenario::storm::StormArgs),
    /// Full-text search over a large history: latency per kind of query, indexing cost.
    Search(scenario::search::SearchArgs),
    /// Scripts posting over the HTTP API on keep-alive connections: sends per second, latency.
    HttpSend(scenario::http_send::HttpSendArgs),
    /// Run the chat server (what the scenarios start when --server-bin is not given).
    #[command(hide = true)]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[arg(long)]
    db: PathBuf,
    #[arg(long)]
    config: PathBuf,
    #[arg(long)]
    listen: std::net::SocketAddr,
}

/// Which server the scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    Chat,
    Socketio,
    /// chat-server, then the socket.io peer, then a comparison (fanout, chat and idle).
    Both,
}

/// Options every scenario takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Server to run against.
    #[arg(long, value_enum, default_value = "chat")]
    pub server: Which,
    /// Use a server already running at this ws://127.x.x.x:PORT URL instead of starting one.
    /// A chat-server there must allow registration: the users are registered through the
    /// protocol (slow for many: each costs the server an argon2 hash) and its rate limits
    /// apply. No CPU or memory figures: the tool cannot see the process.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// chat-server binary to start [default: this tool's built-in copy of the same server].
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
    /// Folder of the socket.io peer (install it with its install.sh).
    #[arg(long, value_name = "DIR")]
    pub peer_dir: Option<PathBuf>,
    /// chat-server's commit durability: full (fsync every group commit) or normal.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    pub durability: String,
    /// Loopback source addresses to spread connections over (127.0.0.2 and up).
    #[arg(long, default_value_t = 16)]
    pub sources: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Keep the database and server logs here instead of a temporary folder.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Run the scenario this many times and report the median of each figure.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub runs: u32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
}

/// Where a run keeps its files, and what it needs to start servers.
pub struct Bench {
    pub common: Common,
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub sources: Arc<net::Sources>,
    pub fd_limit: u64,
}

impl Bench {
    fn new(common: Common) -> anyhow::Result<Bench> {
        let fd_limit = net::raise_fd_limit();
        let (dir, temp) = match &common.work_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new().prefix("chat-bench").tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        if let Some(url) = &common.url {
            if common.server == Which::Both {
                bail!("--url {url}: name which server runs there with --server chat or --server socketio");
            }
        }
        Ok(Bench {
            sources: Arc::new(net::Sources::new(common.sources)),
            common,
            dir,
            _temp: temp,
            fd_limit,
        })
    }

    /// The kinds of server to run, in order.
    pub fn kinds(&self) -> Vec<Kind> {
        match self.common.server {
            Which::Chat => vec![Kind::Chat],
            Which::Socketio => vec![Kind::SocketIo],
            Which::Both => vec![Kind::Chat, Kind::SocketIo],
        }
    }

    /// Scenarios that measure persistence run against chat-server only: the socket.io peer,
    /// like the tutorials it stands for, stores nothing.
    pub fn require_chat(&self, scenario: &str) -> anyhow::Result<()> {
        if self.common.server != Which::Chat {
            bail!("{scenario} measures storage and resume, which the socket.io peer does not have; it runs against chat-server only");
        }
        Ok(())
    }

    /// A fresh database path for one run.
    pub fn db_path(&self, name: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.sqlite"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        path
    }

    /// The server config the scenarios use: limits that protect a public server from one
    /// abusive client are raised, because here one client is deliberately a firehose and one
    /// machine plays thousands of users from a handful of loopback addresses.
    pub fn server_config(&self) -> String {
        format!(
            "[server]\nrequests_per_second = 1000000\nrequest_burst = 1000000\n\
             max_connections_per_address = 1000000\nregistrations_per_address_per_hour = 1000000\n\
             durability = \"{}\"\n",
            self.common.durability
        )
    }

    pub fn start_chat(&self, db: &Path) -> anyhow::Result<Target> {
        Target::start_chat(
            self.common.server_bin.as_deref(),
            db,
            &self.server_config(),
            &self.dir,
        )
    }

    pub fn start_socketio(&self) -> anyhow::Result<Target> {
        match &self.common.url {
            Some(url) => Target::external(Kind::SocketIo, url),
            None => {
                let dir = self
                    .common
                    .peer_dir
                    .clone()
                    .unwrap_or_else(target::default_peer_dir);
                Target::start_socketio(&dir, &self.dir)
            }
        }
    }

    /// How many connections this process can hold, for scenarios that ask for many.
    pub fn cap_connections(&self, wanted: usize, report_notes: &mut Vec<String>) -> usize {
        let cap = net::max_connections(self.fd_limit);
        if wanted > cap {
            report_notes.push(format!(
                "asked for {wanted} connections; the open-file limit here is {} per process (ulimit -Hn), so {cap} were used",
                self.fd_limit
            ));
            cap
        } else {
            wanted
        }
    }

    pub fn setting_lines(&self, report: &mut Report) {
        report.setting("sources", self.common.sources);
        if report.server == Kind::Chat.name() {
            report.setting("durability", &self.common.durability);
        }
    }
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Scenario::Serve(args) = cli.scenario {
        let mut config = chat_server::Config::load(&args.config)?;
        config.listen = args.listen;
        return Ok(chat_server::server::run_until_signal(config, &args.db)?);
    }
    let common = cli.scenario.common().clone();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let bench = Bench::new(common.clone())?;
        let mut runs = Vec::with_capacity(common.runs as usize);
        for run in 0..common.runs.max(1) {
            if common.runs > 1 {
                tracing::info!("run {} of {}", run + 1, common.runs);
            }
            runs.push(run_once(&bench, &cli.scenario).await?);
        }
        let reports = stats::medians(runs);
        if let Some(path) = &common.json_out {
            std::fs::write(path, format!("{:#}\n", json_of(&reports)))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        print(&common, &reports);
        Ok(())
    })
}

async fn run_once(bench: &Bench, scenario: &Scenario) -> anyhow::Result<Vec<Report>> {
    match scenario {
        Scenario::Fanout(a) => scenario::fanout::run(bench, a).await,
        Scenario::Ingest(a) => scenario::ingest::run(bench, a).await,
        Scenario::Chat(a) => scenario::chat::run(bench, a).await,
        Scenario::Idle(a) => scenario::idle::run(bench, a).await,
        Scenario::History(a) => scenario::history::run(bench, a).await,
        Scenario::Storm(a) => scenario::storm::run(bench, a).await,
        Scenario::Search(a) => scenario::search::run(bench, a).await,
        Scenario::HttpSend(a) => scenario::http_send::run(bench, a).await,
        Scenario::Serve(_) => bail!("serve is not a scenario"),
    }
}

impl Scenario {
    fn common(&self) -> &Common {
        match self {
            Scenario::Fanout(a) => &a.common,
            Scenario::Ingest(a) => &a.common,
            Scenario::Chat(a) => &a.common,
            Scenario::Idle(a) => &a.common,
            Scenario::History(a) => &a.common,
            Scenario::Storm(a) => &a.common,
            Scenario::Search(a) => &a.common,
            Scenario::HttpSend(a) => &a.common,
            Scenario::Serve(_) => unreachable!("serve has no benchmark options"),
        }
    }
}

/// One report as an object; a side-by-side run as an array of two.
fn json_of(reports: &[Report]) -> serde_json::Value {
    let mut list: Vec<serde_json::Value> = reports.iter().map(Report::to_json).collect();
    if list.len() == 1 {
        list.remove(0)
    } else {
        serde_json::Value::Array(list)
    }
}

#[allow(clippy::print_stdout)] // the report is this program's output
fn print(common: &Common, reports: &[Report]) {
    if common.json {
        println!("{:#}", json_of(reports));
        return;
    }
    for report in reports {
        println!("{}", report.to_table());
    }
    if let [ours, peer] = reports {
        println!("{}", stats::comparison(ours, peer));
    }
}
