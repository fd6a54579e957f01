//! Tab completion of /commands, @names and #rooms, and the fuzzy match behind the switcher.

use crate::commands::COMMANDS;
use crate::model::{Completion, Model};

/// How well `query` matches `name` as a subsequence (case-insensitive); `None` if it does not.
/// Matches at the start of the name and runs of consecutive letters score higher.
pub fn fuzzy_score(query: &str, name: &str) -> Option<i64> {
    let name: Vec<char> = name.to_lowercase().chars().collect();
    let mut score = 0;
    let mut pos = 0;
    let mut previous: Option<usize> = None;
    for q in query.to_lowercase().chars().filter(|c| !c.is_whitespace()) {
        let found = name[pos..].iter().position(|&c| c == q)? + pos;
        score += 1;
        if found == 0
            || name
                .get(found.wrapping_sub(1))
                .is_some_and(|c| !c.is_alphanumeric())
        {
            score += 8;
        }
        if previous.is_some_and(|p| p + 1 == found) {
            score += 5;
        }
        previous = Some(found);
        pos = found + 1;
    }
    // Shorter names win among equal matches.
    Some(score * 100 - name.len() as i64)
}

/// Complete the word before the cursor; pressing Tab again cycles through the candidates.
pub fn complete(model: &mut Model) {
    let cursor = model.input.cursor();
    if let Some(c) = &mut model.completion {
        if c.candidates.len() > 1 {
            c.index = (c.index + 1) % c.candidates.len();
            let next = c.candidates[c.index].clone();
            let start = c.start;
            model.input.replace_range(start..cursor, &next);
        }
        return;
    }
    let text = model.input.text();
    let start = text[..cursor].rfind(char::is_whitespace).map_or(0, |i| {
        i + text[i..].chars().next().map_or(1, char::len_utf8)
    });
    let word = &text[start..cursor];
    let candidates = candidates(model, start, word);
    if let Some(first) = candidates.first().cloned() {
        model.input.replace_range(start..cursor, &first);
        model.completion = Some(Completion {
            start,
            candidates,
            index: 0,
        });
    }
}

fn candidates(model: &Model, start: usize, word: &str) -> Vec<String> {
    let lower = word.to_lowercase();
    let text = model.input.text();
    if start == 0 && word.starts_with('/') {
        return COMMANDS
            .iter()
            .filter(|(name, _, _)| format!("/{name}").starts_with(&lower))
            .map(|(name, _, _)| format!("/{name} "))
            .collect();
    }
    if text.starts_with("/notify ") {
        return ["all", "mentions", "none"]
            .iter()
            .filter(|level| level.starts_with(&lower))
            .map(|level| format!("{level} "))
            .collect();
    }
    let wants_room = word.starts_with('#') || text.starts_with("/join ");
    if wants_room {
        let bare = lower.trim_start_matches('#');
        let mut names: Vec<String> = model
            .rooms
            .values()
            .filter(|r| r.summary.kind.is_public())
            .map(|r| r.summary.title.clone())
            .filter(|t| t.to_lowercase().starts_with(bare))
            .map(|t| format!("#{t} "))
            .collect();
        names.sort();
        return names;
    }
    let bare = lower.trim_start_matches('@');
    let mut names: Vec<String> = Vec::new();
    let room_members = model
        .selected_room()
        .map(|r| r.members.clone())
        .unwrap_or_default();
    let peers = model.rooms.values().filter_map(|r| r.summary.peer.clone());
    for user in room_members.into_iter().chain(peers) {
        if model.is_me(&user) || names.contains(&user.username) {
            continue;
        }
        if user.username.to_lowercase().starts_with(bare) {
            names.push(user.username);
        }
    }
    names.sort();
    let at_line_start = start == 0 && !word.starts_with('@');
    names
        .into_iter()
        .map(|n| {
            if word.starts_with('@') || text.starts_with('/') {
                format!("@{n} ")
            } else if at_line_start {
                format!("{n}: ")
            } else {
                format!("{n} ")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_levels_and_new_commands_complete() {
        let mut model = crate::update::tests::connected_model();
        model.input.insert_str("/noti");
        complete(&mut model);
        assert_eq!(model.input.text(), "/notify ");
        model.completion = None;
        model.input.insert_str("m");
        complete(&mut model);
        assert_eq!(model.input.text(), "/notify mentions ");
        model.input.take();
        model.completion = None;
        model.input.insert_str("/unar");
        complete(&mut model);
        assert_eq!(model.input.text(), "/unarchive ");
    }

    #[test]
    fn fuzzy_prefers_prefixes_and_runs() {
        assert!(fuzzy_score("gen", "#general").is_some());
        assert!(fuzzy_score("gnl", "#general").is_some());
        assert!(fuzzy_score("xyz", "#general").is_none());
        assert!(fuzzy_score("gen", "#general") > fuzzy_score("gen", "#engineering-green"));
        assert!(fuzzy_score("", "anything").is_some());
    }
}
