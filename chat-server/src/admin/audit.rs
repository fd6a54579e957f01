//! `chat-server audit ROOM`: the edits and deletions of a room's messages, with the texts they
//! replaced, who made them and when. These texts are never served to clients.

use crate::store::StoreError;
use chat_protocol::{ErrorCode, Millis, RoomId, Seq};
use rusqlite::{Connection, OptionalExtension};

/// One edit or deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub at: Millis,
    /// The seq of the edit or delete event.
    pub seq: Seq,
    /// `edit` or `delete`.
    pub action: String,
    /// Who edited or deleted it.
    pub actor: String,
    pub message_id: i64,
    /// Who sent the message.
    pub sender: String,
    /// The text before this change.
    pub old_text: String,
}

/// The room named by `room`: its id, or its exact title when that names one room.
pub fn find_room(conn: &Connection, room: &str) -> Result<(RoomId, String), StoreError> {
    if let Ok(id) = room.parse::<RoomId>() {
        let title: Option<String> = conn
            .query_row("SELECT title FROM rooms WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        if let Some(title) = title {
            return Ok((id, title));
        }
    }
    let mut stmt = conn.prepare("SELECT id, title FROM rooms WHERE title = ?1 ORDER BY id")?;
    let found: Vec<(RoomId, String)> = stmt
        .query_map([room], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(StoreError::refused(
            ErrorCode::NotFound,
            format!("no room with id or title \"{room}\""),
        )),
        many => {
            let ids: Vec<String> = many.iter().map(|(id, _)| id.to_string()).collect();
            Err(StoreError::refused(
                ErrorCode::Conflict,
                format!(
                    "{} rooms are titled \"{room}\" (ids {}); give the id",
                    many.len(),
                    ids.join(", ")
                ),
            ))
        }
    }
}

/// Every edit and deletion in a room, oldest first.
pub fn audit(conn: &Connection, room_id: RoomId) -> Result<Vec<AuditRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT h.at, h.seq, h.action, a.username, h.message_id, s.username, h.old_text
         FROM message_history h
         JOIN users a ON a.id = h.actor_id
         JOIN messages m ON m.id = h.message_id
         JOIN users s ON s.id = m.sender_id
         WHERE h.room_id = ?1 ORDER BY h.seq",
    )?;
    let rows = stmt.query_map([room_id], |r| {
        Ok(AuditRow {
            at: r.get(0)?,
            seq: r.get(1)?,
            action: r.get(2)?,
            actor: r.get(3)?,
            message_id: r.get(4)?,
            sender: r.get(5)?,
            old_text: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_763_712_000_123), "2025-11-21 08:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
    }
}
