//! Checking the answers to a fuzzed batch against what PROTOCOL.md promises.

use chat_protocol::{ClientFrame, ErrorCode, ServerFrame};
use serde_json::Value;

use super::strategies::*;

// ---------------------------------------------------------------------------------------------
// Checking answers.

/// The request id the server can find in a frame it could not take as a request.
pub(super) fn sniff_request_id(text: &str) -> Option<u64> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .get("request_id")?
        .as_u64()
}

/// Whether `answer` is the right kind of answer to `request` (an error always is).
pub(super) fn answers(request: &ClientFrame, answer: &ServerFrame) -> bool {
    use ClientFrame as C;
    use ServerFrame as S;
    matches!(
        (request, answer),
        (_, S::Error(_))
            | (C::Ping(_), S::Pong(_))
            | (C::SendMessage(_), S::MessageSent(_))
            | (C::GetHistory(_), S::History(_))
            | (C::GetThread(_), S::Thread(_))
            | (C::ListMentions(_), S::Mentions(_))
            | (C::Search(_), S::SearchResults(_))
            | (C::ListRooms(_), S::Rooms(_))
            | (C::ListChannels(_), S::Channels(_))
            | (
                C::CreateRoom(_) | C::OpenDirect(_) | C::JoinRoom(_),
                S::Room(_)
            )
            | (C::ListMembers(_), S::Members(_))
            | (
                C::LeaveRoom(_)
                    | C::AddMember(_)
                    | C::RemoveMember(_)
                    | C::SetRole(_)
                    | C::RenameRoom(_)
                    | C::SetTopic(_)
                    | C::SetReceipt(_)
                    | C::SetTyping(_)
                    | C::SetAway(_)
                    | C::Logout(_)
                    | C::EditMessage(_)
                    | C::DeleteMessage(_)
                    | C::AddReaction(_)
                    | C::RemoveReaction(_)
                    | C::ArchiveRoom(_)
                    | C::UnarchiveRoom(_)
                    | C::TransferOwnership(_)
                    | C::SetRoomSettings(_),
                S::Ok(_)
            )
    )
}

/// What PROTOCOL.md promises about the content of a successful answer.
pub(super) fn check_content(
    request: &ClientFrame,
    answer: &ServerFrame,
    max_page: u32,
) -> Result<(), String> {
    match (request, answer) {
        (ClientFrame::SendMessage(req), ServerFrame::MessageSent(ack))
            if ack.room_id != req.room_id || ack.client_id != req.client_id || ack.seq < 1 =>
        {
            return Err(format!("acknowledgement {ack:?} does not fit {req:?}"));
        }
        (ClientFrame::GetHistory(req), ServerFrame::History(page)) => {
            let cap = req.limit.map_or(50, |l| l.clamp(1, max_page)) as usize;
            if page.room_id != req.room_id || page.events.len() > cap {
                return Err(format!(
                    "history of {} events for {req:?} (cap {cap})",
                    page.events.len()
                ));
            }
            let seqs: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
            let in_range = |s: i64| match (req.after, req.before) {
                (Some(after), _) => s > after,
                (None, Some(before)) => s < before,
                (None, None) => true,
            };
            let gap_free = seqs.windows(2).all(|w| w[1] == w[0] + 1);
            let right_room = page.events.iter().all(|e| e.room_id == req.room_id);
            if !gap_free || !right_room || !seqs.iter().all(|&s| s >= 1 && in_range(s)) {
                return Err(format!("history seqs {seqs:?} do not fit {req:?}"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Each text frame of the batch got exactly one answer, in order, of the right kind; the check
/// ping's pong came last.
pub(super) fn check_answers(
    wire: &[Wire],
    answers_seen: &[ServerFrame],
    ping_id: u64,
    max_page: u32,
) -> Result<(), String> {
    let texts: Vec<&str> = wire
        .iter()
        .filter_map(|w| match w {
            Wire::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if answers_seen.len() != texts.len() + 1 {
        return Err(format!(
            "{} answers to {} frames and a ping",
            answers_seen.len(),
            texts.len()
        ));
    }
    for (i, (text, answer)) in texts.iter().zip(answers_seen).enumerate() {
        let short: String = text.chars().take(300).collect();
        let fail = |why: String| Err(format!("frame {i} ({short:?}): {why}; answer {answer:?}"));
        match serde_json::from_str::<ClientFrame>(text) {
            Ok(request) if !matches!(request, ClientFrame::Hello(_)) => {
                if answer.request_id() != request.request_id() {
                    return fail("answer to another request".into());
                }
                if !answers(&request, answer) {
                    return fail("wrong kind of answer".into());
                }
                if let Err(why) = check_content(&request, answer, max_page) {
                    return fail(why);
                }
            }
            // Not a request (or a second hello): a bad_request error, with the request id if
            // one can be found.
            _ => match answer {
                ServerFrame::Error(e)
                    if e.code == ErrorCode::BadRequest
                        && e.request_id == sniff_request_id(text) => {}
                _ => return fail("expected a bad_request error".into()),
            },
        }
    }
    match answers_seen.last() {
        Some(ServerFrame::Pong(p)) if p.request_id == ping_id => Ok(()),
        other => Err(format!("last answer {other:?} is not the check pong")),
    }
}
