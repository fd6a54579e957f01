//! search: a database of 1,000,000 messages over 1,000 rooms (seeded by this tool) with a
//! vocabulary where few words are common and most are rare; the latency of searches of each
//! kind (a common word, a rare one, two words, a phrase, a prefix, a substring of a script
//! without spaces, short and long), and what indexing costs.

use super::history::{reader_layout, XorShift, WRITERS};
use crate::net;
use crate::scenario::add_rss;
use crate::stats::{self, now_us, Latency, Report};
use crate::target::Kind;
use crate::wire;
use crate::world;
use crate::{Bench, Common};
use anyhow::{bail, Context};
use chat_protocol::{to_json, ClientFrame, Search, ServerFrame};
use chat_server::seed::Seeder;
use chat_server::store::{self, search, Durability};
use clap::Args;
use futures_util::SinkExt;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// Messages in the database.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 1000)]
    pub rooms: usize,
    /// Searches of each kind to time.
    #[arg(long, default_value_t = 200)]
    pub searches: usize,
    /// Time only the usual kinds, not the worst ones (to compare with a server from before
    /// searches were bounded, which would not answer those within the tool's 30 s).
    #[arg(long)]
    pub usual_only: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Distinct words; drawn log-uniformly, so the first few are in a large share of messages and
/// most appear a handful of times.
const VOCABULARY: usize = 20_000;
/// Every 100th message holds this phrase, every 20th one this Japanese sentence.
const PHRASE: &str = "quarterly report";
const JAPANESE: &str = "明日は東京タワーで会いましょう";

pub async fn run(bench: &Bench, args: &SearchArgs) -> anyhow::Result<Vec<Report>> {
    bench.require_chat("search")?;
    if bench.common.url.is_some() {
        bail!("search seeds its messages straight into the database, so it needs a server it starts itself: leave out --url");
    }
    let mut report = Report::new("search", Kind::Chat.name());
    let rooms = args.rooms.max(1);
    let layout = reader_layout(rooms);
    let db = bench.db_path("search");
    let seed_start = Instant::now();
    let world = world::seed(&db, &layout)?;
    let mut seeder = Seeder::open(&db)?;
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for m in 0..args.messages {
        let r = m % rooms;
        let (room, writer) = (world.room_ids[r], &world.users[1 + r % WRITERS]);
        seeder.message_with_id(writer, room, format!("s{m}"), text(m, &mut rng))?;
    }
    seeder.commit_unindexed()?;
    let seed_secs = seed_start.elapsed().as_secs_f64();
    // The indexer's work, timed alone: what each message costs it.
    let index_start = Instant::now();
    let mut conn = store::open_write_connection(&db, Durability::Normal)?;
    search::index_all(&mut conn)?;
    drop(conn);
    let index_secs = index_start.elapsed().as_secs_f64();
    let target = bench.start_chat(&db)?;

    let mut ws = net::connect(&target.url(), target.addr, bench.sources.pick()).await?;
    wire::chat_login(&mut ws, &world.tokens[0]).await?;
    let kinds = query_kinds(rooms);
    let mut request_id = 0u64;
    let mut all = stats::histogram();
    let mut worst = stats::histogram();
    let mut found = 0usize;
    let mut too_broad = 0usize;
    for (name, is_worst, query) in &kinds {
        if *is_worst && args.usual_only {
            continue;
        }
        let mut times = stats::histogram();
        for _ in 0..args.searches {
            request_id += 1;
            let mut search = query(&mut rng);
            search.request_id = request_id;
            let frame = to_json(&ClientFrame::Search(search));
            let started = now_us();
            match request(&mut ws, frame).await? {
                Answer::Hits(n) => found += n,
                Answer::TooBroad => too_broad += 1,
            }
            let took = now_us().saturating_sub(started).max(1);
            times.saturating_record(took);
            all.saturating_record(took);
            if *is_worst {
                worst.saturating_record(took);
            }
        }
        report.latency(name, &Latency::of(&times));
    }
    let rss = target.sample();
    let _ = ws.close(None).await;
    target.stop()?;
    if found == 0 {
        bail!("no search found anything");
    }

    report.setting("messages", args.messages);
    report.setting("rooms", rooms);
    report.setting("searches_per_kind", args.searches);
    report.setting("seeded_in_s", format!("{seed_secs:.1}"));
    bench.setting_lines(&mut report);
    report.latency("all searches", &Latency::of(&all));
    report.latency("worst kinds", &Latency::of(&worst));
    report.metric("refused as too broad", too_broad as f64, "");
    report.metric(
        "indexing",
        index_secs * 1e6 / args.messages.max(1) as f64,
        "µs/msg",
    );
    report.metric("hits returned", found as f64, "");
    add_rss(&mut report, rss);
    Ok(vec![report])
}

/// Makes the next query of a kind.
type QueryMaker = Box<dyn Fn(&mut XorShift) -> Search>;

fn plain(query: String) -> Search {
    Search {
        query,
        ..Search::default()
    }
}

/// The kinds of query timed: what people type most, then the worst a client may ask for
/// (PROTOCOL.md's search section), each bounded by the server (`true`: counted in "worst
/// kinds"). Room `r` is `r{r}`, written by `u{1 + r % WRITERS}`; the searcher is in all.
fn query_kinds(rooms: usize) -> Vec<(&'static str, bool, QueryMaker)> {
    let room_and_writer = move |rng: &mut XorShift| {
        let r = rng.below(rooms);
        (format!("r{r}"), format!("u{}", 1 + r % WRITERS))
    };
    vec![
        (
            "common word",
            false,
            Box::new(|rng| plain(word(rng.below(5)))),
        ),
        (
            "rare word",
            false,
            Box::new(|rng| plain(word(VOCABULARY - 1 - rng.below(VOCABULARY / 2)))),
        ),
        (
            "two words",
            false,
            Box::new(|rng| {
                plain(format!(
                    "{} {}",
                    word(rng.below(20)),
                    word(50 + rng.below(500))
                ))
            }),
        ),
        (
            "phrase",
            false,
            Box::new(|_| plain(format!("\"{PHRASE}\""))),
        ),
        (
            "prefix",
            false,
            Box::new(|rng| plain(format!("{}*", &word(100 + rng.below(1000))[..3]))),
        ),
        (
            "substring, 3+ characters",
            false,
            Box::new(|_| plain("東京タワー".to_string())),
        ),
        (
            "substring, 2 characters",
            false,
            Box::new(|_| plain("東京".to_string())),
        ),
        // The shortest prefix served, of the most common words.
        (
            "shortest prefix",
            true,
            Box::new(|rng| plain(format!("{}*", &word(rng.below(5))[..MIN_PREFIX]))),
        ),
        (
            "shortest prefix, three filters",
            true,
            Box::new(move |rng| {
                let (room, writer) = room_and_writer(rng);
                plain(format!(
                    "{}* in:#{room} from:{writer} after:2020-01-01",
                    &word(rng.below(5))[..MIN_PREFIX]
                ))
            }),
        ),
        (
            "common word, two filters",
            true,
            Box::new(move |rng| {
                let (room, writer) = room_and_writer(rng);
                plain(format!("{} in:#{room} from:{writer}", word(rng.below(5))))
            }),
        ),
        (
            "common word, deepest page",
            true,
            Box::new(|rng| Search {
                offset: Some(1000),
                limit: Some(100),
                ..plain(word(rng.below(5)))
            }),
        ),
        (
            "shortest prefix, deepest page",
            true,
            Box::new(|rng| Search {
                offset: Some(1000),
                limit: Some(100),
                ..plain(format!("{}*", &word(rng.below(5))[..MIN_PREFIX]))
            }),
        ),
        // Refused at once (`too_broad`): counted, and timed as the refusal it is.
        (
            "one-character prefix, refused",
            true,
            Box::new(|rng| plain(format!("{}*", &word(rng.below(5))[..1]))),
        ),
        (
            "excluded common word",
            true,
            Box::new(|rng| {
                plain(format!(
                    "{} -{}",
                    word(rng.below(5)),
                    word(5 + rng.below(5))
                ))
            }),
        ),
    ]
}

/// Characters a prefix search needs before its `*` (PROTOCOL.md).
const MIN_PREFIX: usize = 2;

/// Word `n` of the vocabulary: pronounceable, distinct, 5 to 8 letters.
fn word(n: usize) -> String {
    const C: &[u8] = b"bcdfghjklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut out = String::new();
    let mut x = n + 1;
    while x > 0 || out.len() < 5 {
        out.push(C[x % C.len()] as char);
        x /= C.len();
        out.push(V[x % V.len()] as char);
        x /= V.len();
    }
    out
}

/// Message `m`: 8 to 15 words, with the phrase and the Japanese sentence now and then.
fn text(m: usize, rng: &mut XorShift) -> String {
    let count = 8 + rng.below(8);
    let mut words: Vec<String> = (0..count)
        .map(|_| {
            // Log-uniform over the vocabulary: Zipf-like frequencies.
            let u = rng.below(1_000_000) as f64 / 1_000_000.0;
            word(((VOCABULARY as f64).powf(u) as usize).saturating_sub(1))
        })
        .collect();
    if m.is_multiple_of(100) {
        words.insert(count / 2, PHRASE.to_string());
    }
    if m % 20 == 7 {
        words.push(JAPANESE.to_string());
    }
    words.join(" ")
}

enum Answer {
    Hits(usize),
    /// Refused with `too_broad`: the server's bound on a query's work, as documented.
    TooBroad,
}

/// Send one search and wait for its answer.
async fn request(ws: &mut net::Ws, frame: String) -> anyhow::Result<Answer> {
    ws.send(Message::text(frame)).await?;
    loop {
        let text = tokio::time::timeout(Duration::from_secs(30), wire::next_text(ws))
            .await
            .context("no search answer within 30 s")??;
        match serde_json::from_str::<ServerFrame>(&text).context("decoding a search answer")? {
            ServerFrame::SearchResults(r) => return Ok(Answer::Hits(r.hits.len())),
            ServerFrame::Error(e) if e.code.as_str() == "too_broad" => return Ok(Answer::TooBroad),
            ServerFrame::Error(e) => bail!("search refused: {}", e.message),
            _ => continue,
        }
    }
}
