//! Full-text search: words in any script, substrings where words have no spaces, the query
//! language, visibility (membership now, deletes, edits) and the refusals.

use crate::support::*;
use chat_protocol::client::Client;
use chat_protocol::{ErrorCode, RoomKind, Search, SearchResults};

/// Search, once the index has caught up with everything sent so far.
async fn find(client: &Client, query: &str) -> SearchResults {
    find_with(
        client,
        Search {
            query: query.into(),
            ..Search::default()
        },
    )
    .await
}

async fn find_with(client: &Client, search: Search) -> SearchResults {
    for _ in 0..200 {
        let results = client.search(search.clone()).await.unwrap();
        if results.pending == 0 {
            return results;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the index did not catch up");
}

fn texts(results: &SearchResults) -> Vec<&str> {
    results.hits.iter().map(|h| h.snippet.as_str()).collect()
}

/// alice and bob in "crew"; alice alone in "diary".
async fn setup(server: &TestServer) -> (Client, Client, i64, i64) {
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let crew = alice
        .create_room(RoomKind::Group, "crew", &["bob"])
        .await
        .unwrap()
        .id;
    let diary = alice
        .create_room(RoomKind::Group, "diary", &[])
        .await
        .unwrap()
        .id;
    (alice, bob, crew, diary)
}

#[tokio::test]
async fn words_in_any_script_and_substrings_where_words_have_no_spaces() {
    let server = TestServer::start().await;
    let (alice, _bob, crew, _) = setup(&server).await;
    let texts_sent = [
        "Meet at the Café Zoë at noon",
        "Встреча в кафе завтра",
        "Η συνάντηση είναι αύριο",
        "明日は東京タワーで会いましょう",
        "ประชุมพรุ่งนี้ที่กรุงเทพ",
        "the quick brown fox jumps",
        "a brown dog sleeps",
    ];
    for (i, text) in texts_sent.iter().enumerate() {
        alice
            .send_message(crew, format!("m{i}"), *text)
            .await
            .unwrap();
    }
    // Diacritics folded both ways.
    assert_eq!(
        texts(&find(&alice, "cafe zoe").await),
        ["Meet at the Café Zoë at noon"]
    );
    assert_eq!(find(&alice, "ZOË").await.hits.len(), 1);
    assert_eq!(find(&alice, "кафе").await.hits.len(), 1);
    // Greek is found by its words, accents folded too.
    assert_eq!(find(&alice, "αύριο").await.hits.len(), 1);
    assert_eq!(find(&alice, "ΑΎΡΙΟ").await.hits.len(), 1, "case folded");
    let greek = find(&alice, "αυριο").await;
    assert_eq!(
        texts(&greek),
        ["Η συνάντηση είναι αύριο"],
        "without its accent"
    );
    assert_eq!(greek.hits[0].highlights, [[18, 23]], "the word is marked");
    assert_eq!(find(&alice, "συναντ*").await.hits.len(), 1, "a prefix");
    // Substrings of scripts without spaces, long and short.
    let tokyo = find(&alice, "東京タワー").await;
    assert_eq!(tokyo.hits.len(), 1);
    assert_eq!(tokyo.hits[0].highlights, [[3, 8]]);
    assert_eq!(find(&alice, "東京").await.hits.len(), 1, "two characters");
    assert_eq!(find(&alice, "กรุงเทพ").await.hits.len(), 1);
    // Phrases, prefixes, exclusions; highlights point into the snippet.
    let fox = find(&alice, "\"brown fox\"").await;
    assert_eq!(texts(&fox), ["the quick brown fox jumps"]);
    let marked: Vec<String> = fox.hits[0]
        .highlights
        .iter()
        .map(|[a, b]| {
            fox.hits[0]
                .snippet
                .chars()
                .skip(*a as usize)
                .take((b - a) as usize)
                .collect()
        })
        .collect();
    assert_eq!(marked, ["brown fox"], "a phrase is marked whole");
    assert_eq!(find(&alice, "brown").await.hits.len(), 2);
    assert_eq!(
        texts(&find(&alice, "brown -fox").await),
        ["a brown dog sleeps"]
    );
    assert_eq!(find(&alice, "jum*").await.hits.len(), 1);
    assert_eq!(
        find(&alice, "jum").await.hits.len(),
        0,
        "a word, not a prefix"
    );
    // Query syntax inside a term is not obeyed.
    assert!(find(&alice, "brown OR NEAR(").await.hits.is_empty());
}

#[tokio::test]
async fn sharp_s_fullwidth_forms_and_ligatures_fold_both_ways() {
    let server = TestServer::start().await;
    let (alice, _bob, crew, _) = setup(&server).await;
    let texts_sent = [
        "Wir treffen uns in der Hauptstraße",
        "the strasse in Zürich",
        "ＰＣを買いました ＵＳＢ ｃａｂｌｅ too",
        "the ﬁnal ﬂight",
        "Ὀδυσσεύς sailed home",
    ];
    for (i, text) in texts_sent.iter().enumerate() {
        alice
            .send_message(crew, format!("f{i}"), *text)
            .await
            .unwrap();
    }
    assert_eq!(find(&alice, "hauptstrasse").await.hits.len(), 1);
    assert_eq!(find(&alice, "HAUPTSTRASSE").await.hits.len(), 1);
    assert_eq!(
        texts(&find(&alice, "straße").await),
        ["the strasse in Zürich"],
        "ß finds ss"
    );
    let cable = find(&alice, "cable").await;
    assert_eq!(cable.hits.len(), 1, "fullwidth letters are letters");
    assert_eq!(
        cable.hits[0].snippet, "ＰＣを買いました ＵＳＢ ｃａｂｌｅ too",
        "shown as written"
    );
    assert_eq!(
        find(&alice, "ｕｓｂ").await.hits.len(),
        1,
        "and typed fullwidth"
    );
    assert_eq!(
        find(&alice, "final flight").await.hits.len(),
        1,
        "ligatures"
    );
    assert_eq!(
        find(&alice, "οδυσσευς").await.hits.len(),
        1,
        "breathings and final sigma"
    );
}

#[tokio::test]
async fn only_rooms_i_am_in_now_and_never_deleted_or_replaced_text() {
    let server = TestServer::start().await;
    let (alice, bob, crew, diary) = setup(&server).await;
    alice
        .send_message(diary, "d1", "secret plans for the launch")
        .await
        .unwrap();
    let shared = alice
        .send_message(crew, "c1", "launch on friday")
        .await
        .unwrap();
    let edited = bob
        .send_message(crew, "c2", "launch codes 1234")
        .await
        .unwrap();
    let gone = bob
        .send_message(crew, "c3", "launch party password swordfish")
        .await
        .unwrap();
    assert_eq!(find(&alice, "launch").await.hits.len(), 4);
    assert_eq!(
        texts(&find(&bob, "launch").await).len(),
        3,
        "bob is not in alice's diary"
    );
    // A delete and an edit are never found by the old text, even before the index catches up.
    bob.delete_message(crew, gone.message_id).await.unwrap();
    bob.edit_message(crew, edited.message_id, "launch codes redacted")
        .await
        .unwrap();
    for query in ["swordfish", "1234"] {
        let right_away = bob
            .search(Search {
                query: query.into(),
                ..Search::default()
            })
            .await
            .unwrap();
        assert!(right_away.hits.is_empty(), "{query}: {right_away:?}");
        assert!(find(&bob, query).await.hits.is_empty(), "{query}");
    }
    assert_eq!(
        texts(&find(&bob, "redacted").await),
        ["launch codes redacted"]
    );
    // Leaving a room hides it at once.
    bob.leave_room(crew).await.unwrap();
    assert!(find(&bob, "launch").await.hits.is_empty());
    let hit = &find(&alice, "friday").await.hits[0];
    assert_eq!(
        (hit.room_id, hit.seq, hit.message_id),
        (crew, shared.seq, shared.message_id)
    );
    assert_eq!(hit.sender.username, "alice");
}

#[tokio::test]
async fn filters_paging_and_refusals() {
    let server = TestServer::start().await;
    let (alice, bob, crew, diary) = setup(&server).await;
    for i in 0..5 {
        alice
            .send_message(crew, format!("a{i}"), format!("report number {i}"))
            .await
            .unwrap();
        bob.send_message(crew, format!("b{i}"), format!("report from bob {i}"))
            .await
            .unwrap();
    }
    alice
        .send_message(diary, "d", "report to myself")
        .await
        .unwrap();
    assert_eq!(find(&alice, "report").await.hits.len(), 11);
    assert_eq!(find(&alice, "report from:bob").await.hits.len(), 5);
    assert_eq!(find(&alice, "report in:#diary").await.hits.len(), 1);
    assert_eq!(
        find(&alice, &format!("report in:{crew}")).await.hits.len(),
        10
    );
    let fields = Search {
        query: "report".into(),
        room_id: Some(crew),
        from: Some("alice".into()),
        ..Search::default()
    };
    assert_eq!(find_with(&alice, fields).await.hits.len(), 5);
    assert!(find(&alice, "report before:2000-01-01")
        .await
        .hits
        .is_empty());
    assert_eq!(find(&alice, "report after:2000-01-01").await.hits.len(), 11);
    // Pages: newest first among equals, no hit twice.
    let page = |offset| Search {
        query: "report".into(),
        limit: Some(4),
        offset: Some(offset),
        ..Search::default()
    };
    let mut seen = Vec::new();
    for offset in [0, 4, 8] {
        let results = find_with(&alice, page(offset)).await;
        assert_eq!(results.more, offset < 8);
        seen.extend(results.hits.into_iter().map(|h| h.message_id));
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 11);

    let refused = |query: &str, code| {
        let query = query.to_string();
        let alice = &alice;
        async move {
            let result = alice
                .search(Search {
                    query: query.clone(),
                    ..Search::default()
                })
                .await;
            assert_eq!(chat_protocol_code(result), Some(code), "{query}");
        }
    };
    // A NUL or another control character separates words; it never reaches the index.
    assert_eq!(find(&alice, "report\u{0}").await.hits.len(), 11);
    refused("\u{0}", ErrorCode::BadRequest).await;
    refused("report\"", ErrorCode::BadRequest).await;
    refused("report after:2026-02-30", ErrorCode::BadRequest).await;
    refused("report from:bob from:alice", ErrorCode::BadRequest).await;
    refused("", ErrorCode::BadRequest).await;
    refused("-only", ErrorCode::BadRequest).await;
    refused("\"open", ErrorCode::BadRequest).await;
    refused("x before:someday", ErrorCode::BadRequest).await;
    refused("x in:#nowhere", ErrorCode::NotFound).await;
    refused("x from:nobody", ErrorCode::NotFound).await;
    let outsider = server.register("carol").await;
    let not_mine = outsider
        .search(Search {
            query: "report".into(),
            room_id: Some(diary),
            ..Search::default()
        })
        .await;
    assert_eq!(code(not_mine), Some(ErrorCode::NotFound));
}

fn chat_protocol_code<T>(r: Result<T, chat_protocol::client::ClientError>) -> Option<ErrorCode> {
    code(r)
}

/// Every search is bounded in work: a prefix needs two characters, the words index narrows by
/// room and sender without the texts ever matching those tokens, and a query over its budget
/// is refused with `too_broad` instead of running on.
#[tokio::test]
async fn broad_searches_are_refused_and_filters_narrow_in_the_index() {
    let server = TestServer::start().await;
    let (alice, bob, crew, diary) = setup(&server).await;
    for i in 0..4 {
        alice
            .send_message(crew, format!("a{i}"), format!("report number {i}"))
            .await
            .unwrap();
        bob.send_message(crew, format!("b{i}"), format!("review from bob {i}"))
            .await
            .unwrap();
    }
    alice
        .send_message(diary, "d", "report to myself")
        .await
        .unwrap();
    let broad = alice
        .search(Search {
            query: "a*".into(),
            ..Search::default()
        })
        .await;
    assert_eq!(code(broad), Some(ErrorCode::TooBroad));
    // Two characters are enough: "re*" is report and review.
    assert_eq!(find(&alice, "re*").await.hits.len(), 9);
    assert_eq!(find(&alice, "re* from:bob").await.hits.len(), 4);
    assert_eq!(find(&alice, "re* in:#diary").await.hits.len(), 1);
    assert_eq!(find(&alice, "re* -bob in:#crew").await.hits.len(), 4);
    assert_eq!(
        find(&alice, "re* from:alice after:2020-01-01 -myself")
            .await
            .hits
            .len(),
        4
    );
    // The room and sender tokens the index keeps are never found as words.
    let me = alice.welcome().user.id;
    for token in [format!("r{crew}"), format!("u{me}"), format!("r{diary}*")] {
        assert!(find(&alice, &token).await.hits.is_empty(), "{token}");
    }
}

#[tokio::test]
async fn a_search_over_its_budget_is_refused_as_too_broad() {
    let dir = tempfile::tempdir().unwrap();
    let mut seeder = chat_server::seed::Seeder::open(&dir.path().join("chat.sqlite")).unwrap();
    let (alice, token) = seeder.user_with_token("alice").unwrap();
    let room = seeder
        .room(&alice, RoomKind::Group, "tokyo", Vec::new())
        .unwrap();
    // Texts without spaces: a two-character substring is looked for in each of them.
    for i in 0..20_000 {
        seeder
            .message(
                &alice,
                room,
                format!("m{i}"),
                format!("明日は東京タワーで会いましょう{i}"),
            )
            .unwrap();
    }
    seeder.commit().unwrap();
    let config = chat_server::Config {
        max_search_ms: 1,
        ..test_config()
    };
    let server = TestServer::start_in(dir, config).await;
    let client = server
        .connect(chat_protocol::Auth::Token { token })
        .await
        .unwrap();
    assert_eq!(client.welcome().limits.max_search_ms, 1);
    let err = client
        .search(Search {
            query: "大阪".into(),
            ..Search::default()
        })
        .await
        .expect_err("over budget");
    let chat_protocol::client::ClientError::Server { code, message, .. } = err else {
        panic!("{err}");
    };
    assert_eq!(code, ErrorCode::TooBroad);
    assert!(message.contains("more than 1 ms"), "{message}");
    // The server is fine: a cheap read answers.
    assert!(client.list_rooms().await.unwrap().len() == 1);
}

/// `in:#bob` is the direct room the server titles "bob" for alice; a `room_id` of a public
/// channel one is not in is not found, as `in:ID` is.
#[tokio::test]
async fn in_a_direct_room_by_name_and_not_found_for_channels_one_is_not_in() {
    let server = TestServer::start().await;
    let (alice, bob, crew, _) = setup(&server).await;
    let dm = alice.open_direct("bob").await.unwrap().id;
    bob.send_message(dm, "p", "lunch plans").await.unwrap();
    bob.send_message(crew, "c", "lunch for the crew")
        .await
        .unwrap();
    let found = find(&alice, "lunch in:#bob").await;
    assert_eq!(texts(&found), ["lunch plans"]);
    assert_eq!(found.hits[0].room_id, dm);
    assert_eq!(texts(&find(&bob, "lunch in:#alice").await), ["lunch plans"]);

    let carol = server.register("carol").await;
    let channel = carol
        .create_room(RoomKind::Channel, "open", &[])
        .await
        .unwrap()
        .id;
    carol
        .send_message(channel, "o", "lunch is open")
        .await
        .unwrap();
    let by_id = alice
        .search(Search {
            query: "lunch".into(),
            room_id: Some(channel),
            ..Search::default()
        })
        .await;
    assert_eq!(code(by_id), Some(ErrorCode::NotFound));
    let by_name = alice
        .search(Search {
            query: format!("lunch in:{channel}"),
            ..Search::default()
        })
        .await;
    assert_eq!(code(by_name), Some(ErrorCode::NotFound));
}
