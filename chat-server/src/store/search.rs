//! Full-text search: the indexer that follows the writes, and the search query.
//!
//! The writer never touches the index. An indexer thread with its own connection follows
//! `messages.id` (new messages) and `message_history.id` (edits and deletes) in small batches
//! and copies each message's current text into `search_docs`, whose triggers keep the word and
//! trigram FTS5 indexes. Until it catches up (moments), a search leaves out messages deleted or
//! edited since, so deleted text and replaced text are never found.

use super::StoreError;
use crate::search_query::{fts_string, Query, Term};
use chat_protocol::{
    ErrorCode, EventContent, MessageId, Millis, RoomEvent, RoomId, SearchHit, Seq, UserId, UserRef,
};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// How often the indexer looks for new writes.
const INTERVAL: Duration = Duration::from_millis(50);
/// Messages (and changes) per indexing transaction: short, so the writer never waits long
/// for the database's write lock.
const BATCH: usize = 64;

/// The running indexer thread; dropping it stops the thread.
pub struct Indexer {
    _stop: mpsc::Sender<()>,
}

/// Start indexing the database at `path`.
pub fn spawn(path: &Path) -> Result<Indexer, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // The index can be rebuilt from the messages, and its cursor commits with it: a batch
    // lost to a power cut is indexed again. Not syncing keeps the write lock short.
    conn.pragma_update(None, "synchronous", "OFF")?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("chat-db-search-index".into())
        .spawn(move || {
            let mut pause = INTERVAL;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(pause) {
                let started = std::time::Instant::now();
                pause = match index_batch(&mut conn, BATCH) {
                    // More waits: go on after a rest that keeps the indexer to a fifth of a
                    // core and leaves the write lock to the writer most of the time. Under a
                    // sustained flood the index lags (search results say by how much) and
                    // catches up after.
                    Ok(done) if done == BATCH => {
                        (started.elapsed() * 4).max(Duration::from_micros(200))
                    }
                    Ok(_) => INTERVAL,
                    Err(e) => {
                        tracing::warn!("search indexing failed: {e}");
                        INTERVAL
                    }
                };
            }
        })
        .map_err(|e| StoreError::CommitFailed(format!("cannot start the indexer: {e}")))?;
    Ok(Indexer { _stop: stop })
}

/// Index up to `batch` new messages and `batch` changes in one transaction; returns the
/// larger of the two counts (a full batch means more may wait).
pub fn index_batch(conn: &mut Connection, batch: usize) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (messages_to, changes_to): (MessageId, i64) = tx.query_row(
        "SELECT messages_to, changes_to FROM search_state WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let new: Vec<MessageId> = tx
        .prepare_cached("SELECT id FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map(params![messages_to, batch as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for &id in &new {
        refresh(&tx, id)?;
    }
    let messages_to = new.last().copied().unwrap_or(messages_to);
    // Changes to messages indexed already; later ones are indexed as they are now anyway.
    let changes: Vec<(i64, MessageId)> = tx
        .prepare_cached(
            "SELECT id, message_id FROM message_history WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?
        .query_map(params![changes_to, batch as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    for &(_, message_id) in &changes {
        if message_id <= messages_to {
            refresh(&tx, message_id)?;
        }
    }
    let changes_to = changes.last().map_or(changes_to, |c| c.0);
    tx.execute(
        "UPDATE search_state SET messages_to = ?1, changes_to = ?2 WHERE id = 1",
        params![messages_to, changes_to],
    )?;
    tx.commit()?;
    Ok(new.len().max(changes.len()))
}

/// Make a message's search document match its current state: its text, or none once deleted.
fn refresh(conn: &Connection, message_id: MessageId) -> Result<(), StoreError> {
    let row: Option<(RoomId, Seq, UserId, Millis, String)> = conn
        .prepare_cached(
            "SELECT m.room_id, m.seq, m.sender_id, m.ts, e.json
             FROM messages m JOIN events e ON e.room_id = m.room_id AND e.seq = m.seq
             WHERE m.id = ?1",
        )?
        .query_row([message_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let text = match &row {
        Some((.., json)) => match serde_json::from_str::<RoomEvent>(json)?.content {
            // File names are found too: "report" finds the message sharing report.pdf.
            EventContent::Message(m) if !m.deleted => Some(
                std::iter::once(m.text)
                    .chain(m.attachments.into_iter().map(|a| a.name))
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        },
        None => None,
    };
    let indexed: Option<String> = conn
        .prepare_cached("SELECT text FROM search_docs WHERE id = ?1")?
        .query_row([message_id], |r| r.get(0))
        .optional()?;
    match (row, text, indexed) {
        (Some((room_id, seq, sender_id, ts, _)), Some(text), indexed) => {
            if indexed.as_ref() == Some(&text) {
                return Ok(());
            }
            // An edit: out with the old text (its triggers clean both indexes), in with the new.
            conn.prepare_cached("DELETE FROM search_docs WHERE id = ?1")?
                .execute([message_id])?;
            let spaceless = text.chars().any(crate::search_query::without_spaces);
            let folded = crate::search_fold::folded_column(&text);
            conn.prepare_cached(
                "INSERT INTO search_docs
                     (id, room_id, seq, sender_id, ts, text, spaceless, folded, scope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                message_id,
                room_id,
                seq,
                sender_id,
                ts,
                text,
                spaceless,
                folded,
                scope_tokens(room_id, sender_id)
            ])?;
        }
        (_, None, Some(_)) => {
            conn.prepare_cached("DELETE FROM search_docs WHERE id = ?1")?
                .execute([message_id])?;
        }
        _ => {}
    }
    Ok(())
}

/// Index everything not indexed yet, in large batches (seeding; nothing else is writing).
pub fn index_all(conn: &mut Connection) -> Result<(), StoreError> {
    const LARGE: usize = 50_000;
    while index_batch(conn, LARGE)? == LARGE {}
    Ok(())
}

/// Messages and changes the indexer has not reached yet.
pub fn pending(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT max(0, coalesce((SELECT max(id) FROM messages), 0) - s.messages_to)
              + max(0, coalesce((SELECT max(id) FROM message_history), 0) - s.changes_to)
         FROM search_state s WHERE s.id = 1",
        [],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

/// What to look for, resolved: the parsed query, and the filters as ids and times.
pub struct Search {
    pub query: Query,
    pub room_id: Option<RoomId>,
    pub sender_id: Option<UserId>,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
    pub limit: u32,
    pub offset: u32,
    pub now: Millis,
}

/// Private-use characters that mark a match in FTS5's snippets, turned into offsets.
const OPEN: char = '\u{e000}';
const CLOSE: char = '\u{e001}';
/// Tokens of context in a snippet.
const SNIPPET_TOKENS: u32 = 16;
/// Matches ranked, newest first; the rest are older than any of them.
const CANDIDATES: u32 = 2_000;
/// A week, in ms: how fast the recency boost fades.
const RECENCY_MS: f64 = 604_800_000.0;

/// Run a search over the rooms `caller` is a member of now; returns the hits of the page and
/// whether more follow.
pub fn search(
    conn: &Connection,
    caller: UserId,
    s: &Search,
) -> Result<(Vec<SearchHit>, bool), StoreError> {
    let positives: Vec<&Term> = s.query.terms.iter().filter(|t| !t.excluded).collect();
    let words: Vec<&Term> = positives.iter().copied().filter(|t| !t.substring).collect();
    let long: Vec<&Term> = positives
        .iter()
        .copied()
        .filter(|t| t.substring && t.text.chars().count() >= 3)
        .collect();
    let short: Vec<&Term> = positives
        .iter()
        .copied()
        .filter(|t| t.substring && t.text.chars().count() < 3)
        .collect();
    let mut args: Vec<Value> = Vec::new();
    let arg = |v: Value, args: &mut Vec<Value>| {
        args.push(v);
        format!("?{}", args.len())
    };
    let mut conds: Vec<String> = Vec::new();
    let excluded_words: Vec<&Term> = s
        .query
        .terms
        .iter()
        .filter(|t| t.excluded && !t.substring)
        .collect();
    // The index that finds the candidates, ranks them and cuts the snippet. The word index
    // also narrows to the room, the sender and (when they are few) the caller's rooms, and
    // leaves out excluded words, inside the match: the candidates walked are those that pass.
    let driver = if !words.is_empty() {
        let scope = scope_match(conn, caller, s)?;
        Some(("search_words", words_match(&words, &scope, &excluded_words)))
    } else if !long.is_empty() {
        Some(("search_trigrams", match_all(&long)))
    } else {
        None
    };
    let (tables, score, snippet_table) = match &driver {
        Some((table, expr)) => {
            let p = arg(Value::Text(expr.clone()), &mut args);
            conds.push(format!("{table} MATCH {p}"));
            let now = arg(Value::Real(s.now as f64), &mut args);
            // The scope column's matches weigh nothing.
            let weights = if *table == "search_words" {
                ", 1.0, 1.0, 0.0"
            } else {
                ""
            };
            (
                // CROSS: the index first, always. With `d` first (by room) the planner would run the
                // match again for every message of the room.
                format!("{table} CROSS JOIN search_docs d ON d.id = {table}.rowid"),
                // bm25 is negative, better when lower: a recent message's is scaled up to
                // twice.
                format!(
                    "bm25({table}{weights}) * (1.0 + 1.0 / (1.0 + max(0.0, {now} - d.ts) / {RECENCY_MS}))"
                ),
                Some(*table),
            )
        }
        // has:file alone: the messages with files, newest first.
        None if short.is_empty() => (
            // Each message once: by its first file.
            "message_files mf JOIN search_docs d ON d.id = mf.message_id AND mf.position = 0"
                .to_string(),
            "NULL".to_string(),
            None,
        ),
        // Only short substrings: a scan of the caller's rooms, newest first (a constant
        // score: an integer would name a column in ORDER BY).
        None => {
            // Such a term has letters of a script without spaces, so only those texts.
            conds.push("d.spaceless = 1".into());
            ("search_docs d".to_string(), "NULL".to_string(), None)
        }
    };
    // Further positives the driving index did not check.
    if !words.is_empty() && !long.is_empty() {
        let p = arg(Value::Text(match_all(&long)), &mut args);
        conds.push(format!(
            "d.id IN (SELECT rowid FROM search_trigrams WHERE search_trigrams MATCH {p})"
        ));
    }
    for term in &short {
        let p = arg(Value::Text(term.text.clone()), &mut args);
        conds.push(format!("instr(d.text, {p}) > 0"));
    }
    for term in s.query.terms.iter().filter(|t| {
        // Excluded words are left out by the word index's match when it drives.
        t.excluded && (t.substring || snippet_table != Some("search_words"))
    }) {
        let table = if term.substring {
            "search_trigrams"
        } else {
            "search_words"
        };
        let expr = if term.substring {
            fts_term(term)
        } else {
            format!("{TEXT_COLUMNS} : {}", fts_term(term))
        };
        let p = arg(Value::Text(expr), &mut args);
        conds.push(format!(
            "d.id NOT IN (SELECT rowid FROM {table} WHERE {table} MATCH {p})"
        ));
    }
    if s.query.has_file {
        conds.push("EXISTS (SELECT 1 FROM message_files f WHERE f.message_id = d.id)".into());
    }
    let me = arg(Value::Integer(caller), &mut args);
    // `+` keeps the planner from walking every room's documents through this test (and
    // sorting them) instead of walking the newest first and stopping at the page.
    conds.push(format!(
        "+d.room_id IN (SELECT room_id FROM members WHERE user_id = {me})"
    ));
    if let Some(room_id) = s.room_id {
        let p = arg(Value::Integer(room_id), &mut args);
        conds.push(format!("d.room_id = {p}"));
    }
    if let Some(sender) = s.sender_id {
        let p = arg(Value::Integer(sender), &mut args);
        conds.push(format!("d.sender_id = {p}"));
    }
    if let Some(before) = s.before {
        let p = arg(Value::Integer(before), &mut args);
        conds.push(format!("d.ts < {p}"));
    }
    if let Some(after) = s.after {
        let p = arg(Value::Integer(after), &mut args);
        conds.push(format!("d.ts >= {p}"));
    }
    // Not found meanwhile: deleted since, or edited since (the document has the old text).
    conds.push(
        "NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = d.id AND m.deleted_at IS NOT NULL)"
            .into(),
    );
    conds.push(
        "d.id NOT IN (SELECT message_id FROM message_history
                      WHERE id > (SELECT changes_to FROM search_state WHERE id = 1))"
            .into(),
    );
    // Ranked among the newest matches only: ranking every match of a common word costs
    // hundreds of milliseconds over a million messages, and in chat the newest are what is
    // looked for. Filters apply before the cut, so a small room's matches are all candidates.
    let sql = format!(
        "SELECT c.id, c.room_id, c.seq, c.ts, c.sender_id, u.username, c.text
         FROM (SELECT d.id, d.room_id, d.seq, d.ts, d.sender_id, d.text, {score} AS score
               FROM {tables}
               WHERE {}
               ORDER BY {newest} DESC LIMIT {candidates}) c
         JOIN users u ON u.id = c.sender_id
         ORDER BY c.score, c.ts DESC LIMIT {} OFFSET {}",
        conds.join(" AND "),
        i64::from(s.limit) + 1,
        s.offset,
        // The index walked backwards: newest first, stopping at the candidates.
        newest = match snippet_table {
            Some(t) => format!("{t}.rowid"),
            None if short.is_empty() => "mf.message_id".to_string(),
            None => "d.id".to_string(),
        },
        // Unranked (short substrings only): newest first, so the page is the candidates.
        candidates = if snippet_table.is_some() {
            CANDIDATES
        } else {
            s.offset + s.limit + 1
        },
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut hits: Vec<SearchHit> = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok(SearchHit {
                message_id: r.get(0)?,
                room_id: r.get(1)?,
                seq: r.get(2)?,
                ts: r.get(3)?,
                sender: UserRef {
                    id: r.get(4)?,
                    username: r.get(5)?,
                },
                snippet: r.get(6)?,
                highlights: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let more = hits.len() > s.limit as usize;
    hits.truncate(s.limit as usize);
    // Snippets for the page's hits only, from the index that found them.
    for hit in &mut hits {
        let marked = match (snippet_table, &driver) {
            (Some(table), Some((_, expr))) => conn
                .prepare_cached(&format!(
                    "SELECT snippet({table}, 0, char({}), char({}), '…', {SNIPPET_TOKENS})
                     FROM {table} WHERE {table} MATCH ?1 AND rowid = ?2",
                    u32::from(OPEN),
                    u32::from(CLOSE)
                ))?
                .query_row(params![expr, hit.message_id], |r| r.get::<_, String>(0))
                .optional()?,
            _ => None,
        };
        let (text, marks) = match marked.filter(|m| m.contains(OPEN)) {
            Some(marked) => marks_to_offsets(&marked),
            // Found by its folding only (`καλημερα` in `Καλημέρα`): the words that fold to a
            // term are marked here.
            None => {
                let (text, mut marks) = mark_substrings(&hit.snippet, &short, &long);
                marks.extend(mark_folded_words(&text, &words));
                marks.sort_unstable();
                (text, marks)
            }
        };
        (hit.snippet, hit.highlights) = bound_snippet(&text, &marks);
    }
    Ok((hits, more))
}

/// The word index's columns a query's words are looked for in (never `scope`).
const TEXT_COLUMNS: &str = "{text folded}";
/// Most rooms a caller may be in for the index itself to narrow to them; a caller in more
/// has them checked on each candidate instead.
const SCOPED_ROOMS: usize = 64;

/// A message's room and sender as tokens of the word index's `scope` column.
fn scope_tokens(room_id: RoomId, sender_id: UserId) -> String {
    format!("r{room_id} u{sender_id}")
}

/// The `scope` part of a words match: the room (`in:`), else the caller's rooms when few;
/// the sender (`from:`). Empty when nothing narrows.
fn scope_match(conn: &Connection, caller: UserId, s: &Search) -> Result<String, StoreError> {
    let mut parts = Vec::new();
    match s.room_id {
        Some(room_id) => parts.push(format!("{{scope}} : \"r{room_id}\"")),
        None => {
            let rooms: Vec<RoomId> = conn
                .prepare_cached("SELECT room_id FROM members WHERE user_id = ?1 LIMIT ?2")?
                .query_map(params![caller, SCOPED_ROOMS as i64 + 1], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if rooms.len() <= SCOPED_ROOMS && !rooms.is_empty() {
                let any: Vec<String> = rooms.iter().map(|r| format!("\"r{r}\"")).collect();
                parts.push(format!("{{scope}} : ({})", any.join(" OR ")));
            }
        }
    }
    if let Some(sender) = s.sender_id {
        parts.push(format!("{{scope}} : \"u{sender}\""));
    }
    Ok(parts
        .iter()
        .map(|p| format!(" AND ({p})"))
        .collect::<String>())
}

/// The word index's match: the words in the text columns, narrowed by `scope`, without any
/// of the excluded words.
fn words_match(words: &[&Term], scope: &str, excluded: &[&Term]) -> String {
    let positive = format!("({TEXT_COLUMNS} : ({})){scope}", match_all(words));
    if excluded.is_empty() {
        return positive;
    }
    let any: Vec<String> = excluded.iter().map(|t| fts_term(t)).collect();
    format!("({positive}) NOT ({TEXT_COLUMNS} : ({}))", any.join(" OR "))
}

/// Terms ANDed for an FTS5 MATCH: each a quoted string (a phrase, no syntax obeyed inside),
/// `*` after a prefix.
fn match_all(terms: &[&Term]) -> String {
    terms
        .iter()
        .map(|t| fts_term(t))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fts_term(term: &Term) -> String {
    // Words are looked for folded (search_fold.rs), as texts are indexed; substrings as typed.
    let quoted = if term.substring {
        fts_string(&term.text)
    } else {
        fts_string(&crate::search_fold::fold(&term.text))
    };
    if term.prefix {
        format!("{quoted}*")
    } else {
        quoted
    }
}

/// The words of `text` whose folding is a term's (or starts with it, for a prefix), as
/// character offsets.
fn mark_folded_words(text: &str, terms: &[&Term]) -> Vec<[u32; 2]> {
    use unicode_segmentation::UnicodeSegmentation;
    let folded: Vec<(String, bool)> = terms
        .iter()
        .map(|t| (crate::search_fold::fold(&t.text), t.prefix))
        .collect();
    let mut marks = Vec::new();
    let mut chars = 0u32;
    for word in text.split_word_bounds() {
        let len = word.chars().count() as u32;
        let this = crate::search_fold::fold(word);
        let hit = folded.iter().any(|(term, prefix)| {
            !term.is_empty() && (this == *term || (*prefix && this.starts_with(term.as_str())))
        });
        if hit {
            marks.push([chars, chars + len]);
        }
        chars += len;
    }
    marks
}

/// Strip FTS5's match marks, giving their places as character offsets.
fn marks_to_offsets(marked: &str) -> (String, Vec<[u32; 2]>) {
    let mut plain = String::with_capacity(marked.len());
    let mut marks = Vec::new();
    let mut chars = 0u32;
    let mut open = None;
    for c in marked.chars() {
        match c {
            OPEN => open = Some(chars),
            CLOSE => {
                if let Some(start) = open.take() {
                    marks.push([start, chars]);
                }
            }
            c => {
                plain.push(c);
                chars += 1;
            }
        }
    }
    (plain, marks)
}

/// Longest snippet served, in characters: one very long word, or a run of emoji between two
/// words, would otherwise bring the whole message.
const SNIPPET_MAX: usize = 160;

/// A snippet at most [`SNIPPET_MAX`] characters long around its first match, cut between
/// grapheme clusters (never inside a flag, a family or a letter with its marks); the marks
/// moved to match. A leading or trailing `…` from FTS5 loses any piece of a cluster it cut.
fn bound_snippet(text: &str, marks: &[[u32; 2]]) -> (String, Vec<[u32; 2]>) {
    use unicode_segmentation::UnicodeSegmentation;
    let mut chars: Vec<char> = text.chars().collect();
    let mut marks: Vec<[u32; 2]> = marks.to_vec();
    // "…" followed by marks or joiners it cut from their letter: drop those.
    if chars.first() == Some(&'…') {
        let first: String = chars.iter().take(8).collect();
        let attached = first
            .graphemes(true)
            .next()
            .map_or(1, |g| g.chars().count())
            - 1;
        if attached > 0 {
            chars.drain(1..1 + attached);
            marks = shift(&marks, 1, attached);
        }
    }
    if chars.last() == Some(&'…') && chars.len() >= 2 && chars[chars.len() - 2] == '\u{200d}' {
        chars.remove(chars.len() - 2);
    }
    let text: String = chars.iter().collect();
    if chars.len() <= SNIPPET_MAX {
        return (text, marks);
    }
    // Cluster boundaries, as character indices.
    let mut bounds = vec![0usize];
    for g in text.graphemes(true) {
        bounds.push(bounds.last().copied().unwrap_or(0) + g.chars().count());
    }
    let first = marks.first().map_or(0, |m| m[0] as usize);
    let wanted = first.saturating_sub(SNIPPET_MAX / 3);
    let start = bounds
        .iter()
        .rev()
        .copied()
        .find(|&b| b <= wanted)
        .unwrap_or(0);
    let end = bounds
        .iter()
        .copied()
        .find(|&b| b >= start + SNIPPET_MAX)
        .unwrap_or(chars.len());
    let mut out = String::new();
    let lead = usize::from(start > 0);
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    let moved = marks
        .iter()
        .filter(|[a, b]| (*b as usize) > start && (*a as usize) < end)
        .map(|[a, b]| {
            let a = (*a as usize).max(start) - start + lead;
            let b = (*b as usize).min(end) - start + lead;
            [a as u32, b as u32]
        })
        .collect();
    (out, moved)
}

/// Marks after character `at` moved back by `removed` characters (those before it are kept).
fn shift(marks: &[[u32; 2]], at: usize, removed: usize) -> Vec<[u32; 2]> {
    let move_back = |i: u32| {
        let i = i as usize;
        if i >= at + removed {
            (i - removed) as u32
        } else {
            i.min(at) as u32
        }
    };
    marks
        .iter()
        .map(|[a, b]| [move_back(*a), move_back(*b)])
        .collect()
}

/// For substring matches found without a snippet: the whole text with every match of the
/// terms marked ([`bound_snippet`] then cuts it).
fn mark_substrings(text: &str, short: &[&Term], long: &[&Term]) -> (String, Vec<[u32; 2]>) {
    let chars: Vec<char> = text.chars().collect();
    let needles: Vec<Vec<char>> = short
        .iter()
        .chain(long)
        .map(|t| t.text.chars().collect())
        .collect();
    let find = |from: usize, needle: &[char]| {
        (from..chars.len().saturating_sub(needle.len() - 1))
            .find(|&i| chars[i..].starts_with(needle))
    };
    let mut marks = Vec::new();
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let mut at = 0;
        while let Some(i) = find(at, needle) {
            marks.push([i as u32, (i + needle.len()) as u32]);
            at = i + needle.len();
        }
    }
    marks.sort_unstable();
    (chars.into_iter().collect(), marks)
}

/// `in:` a room of the caller's by id or title (case-insensitive), `#` already dropped; a
/// direct room by the other person's name, as the server titles it for the caller.
pub fn room_named(conn: &Connection, caller: UserId, name: &str) -> Result<RoomId, StoreError> {
    let found: Option<RoomId> = conn
        .prepare_cached(
            "SELECT r.id FROM rooms r JOIN members m ON m.room_id = r.id AND m.user_id = ?1
             WHERE r.id = ?2 OR lower(r.title) = lower(?3)
                OR (r.kind = 'direct' AND EXISTS (
                    SELECT 1 FROM members o JOIN users u ON u.id = o.user_id
                    WHERE o.room_id = r.id AND o.user_id != ?1
                      AND u.username = ?3 COLLATE NOCASE))
             ORDER BY r.kind = 'direct', r.id LIMIT 1",
        )?
        .query_row(
            params![caller, name.parse::<i64>().unwrap_or(-1), name],
            |r| r.get(0),
        )
        .optional()?;
    found.ok_or_else(|| {
        StoreError::refused(
            ErrorCode::NotFound,
            format!("in:{name}: you are in no room by that name or id"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_character_offsets() {
        let (plain, marks) = marks_to_offsets("…the \u{e000}café\u{e001} on \u{e000}rue\u{e001}");
        assert_eq!(plain, "…the café on rue");
        assert_eq!(marks, [[5, 9], [13, 16]]);
    }

    #[test]
    fn substring_snippets_mark_each_match() {
        let term = Term {
            text: "東京".into(),
            prefix: false,
            excluded: false,
            substring: true,
        };
        let (snippet, marks) = mark_substrings("明日は東京と東京タワー", &[&term], &[]);
        assert_eq!(snippet, "明日は東京と東京タワー");
        assert_eq!(marks, [[3, 5], [6, 8]]);
    }

    #[test]
    fn snippets_are_bounded_and_cut_between_clusters() {
        // One huge word before the match: cut to the limit around it, marks moved.
        let text = format!("{} tailword", "x".repeat(3990));
        let marks = [[3991u32, 3999u32]];
        let (snippet, moved) = bound_snippet(&text, &marks);
        assert!(
            snippet.chars().count() <= SNIPPET_MAX + 2,
            "{}",
            snippet.len()
        );
        let [a, b] = moved[0];
        let found: String = snippet
            .chars()
            .skip(a as usize)
            .take((b - a) as usize)
            .collect();
        assert_eq!(found, "tailword");
        // A family of four is never split.
        let family = "👨\u{200d}👩\u{200d}👧\u{200d}👦";
        let text = format!("{} target {}", family.repeat(100), family.repeat(100));
        let at = text[..text.find("target").unwrap()].chars().count() as u32;
        let (snippet, moved) = bound_snippet(&text, &[[at, at + 6]]);
        let body = snippet.trim_start_matches('…').trim_end_matches('…');
        assert!(body.starts_with('👨') && body.ends_with('👦'), "{snippet}");
        let [a, b] = moved[0];
        let found: String = snippet
            .chars()
            .skip(a as usize)
            .take((b - a) as usize)
            .collect();
        assert_eq!(found, "target");
        // FTS5's "…" before a tone mark it cut from its letter: the mark goes.
        let (snippet, moved) = bound_snippet("…\u{0e48}สวย target", &[[7, 13]]);
        assert_eq!(snippet, "…สวย target");
        assert_eq!(moved, [[6, 12]]);
    }
}
