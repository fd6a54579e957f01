//! Uploaded files in the database: who uploaded what, which messages share it, who may
//! download it, and what is left to collect. The bytes are in [`crate::files::BlobStore`].

use super::ops::refuse;
use super::StoreError;
use chat_protocol::{Attachment, ErrorCode, FileId, MessageId, Millis, UserId};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashSet;

/// Most files on one message.
pub const MAX_ATTACHMENTS: usize = 10;

/// A stored upload: what a message shows, and where its bytes are.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub attachment: Attachment,
    pub sha256: Vec<u8>,
}

pub struct NewFile {
    pub sha256: [u8; 32],
    pub size: u64,
    pub name: String,
    pub media_type: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

pub fn insert_file(
    conn: &Connection,
    uploader: UserId,
    file: NewFile,
    now: Millis,
) -> Result<Attachment, StoreError> {
    conn.prepare_cached(
        "INSERT INTO files (uploader_id, sha256, size, name, media_type, width, height, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        uploader,
        &file.sha256[..],
        file.size as i64,
        file.name,
        file.media_type,
        file.width,
        file.height,
        now
    ])?;
    Ok(Attachment {
        id: conn.last_insert_rowid(),
        name: file.name,
        size: file.size,
        media_type: file.media_type,
        width: file.width,
        height: file.height,
    })
}

fn attachment_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredFile> {
    Ok(StoredFile {
        attachment: Attachment {
            id: r.get(0)?,
            name: r.get(1)?,
            size: r.get::<_, i64>(2)? as u64,
            media_type: r.get(3)?,
            width: r.get(4)?,
            height: r.get(5)?,
        },
        sha256: r.get(6)?,
    })
}

const COLUMNS: &str = "f.id, f.name, f.size, f.media_type, f.width, f.height, f.sha256";

/// The attachments of a new message: each one of the sender's own uploads, no repeats.
pub fn for_send(
    conn: &Connection,
    sender: UserId,
    ids: &[FileId],
) -> Result<Vec<Attachment>, StoreError> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(refuse(
            ErrorCode::TooLarge,
            format!(
                "{} attachments; a message carries at most {MAX_ATTACHMENTS}",
                ids.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM files f WHERE f.id = ?1 AND f.uploader_id = ?2"
    ))?;
    let mut attachments = Vec::with_capacity(ids.len());
    for &id in ids {
        if !seen.insert(id) {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!("file {id} is attached twice"),
            ));
        }
        let file = stmt
            .query_row(params![id, sender], attachment_of)
            .optional()?
            .ok_or_else(|| {
                refuse(
                    ErrorCode::NotFound,
                    format!("file {id} is not one of your uploads (POST /api/v1/files)"),
                )
            })?;
        attachments.push(file.attachment);
    }
    Ok(attachments)
}

/// Record that `message_id` shares these files.
pub fn attach(
    conn: &Connection,
    message_id: MessageId,
    attachments: &[Attachment],
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO message_files (file_id, message_id, position) VALUES (?1, ?2, ?3)",
    )?;
    for (position, a) in attachments.iter().enumerate() {
        stmt.execute(params![a.id, message_id, position as i64])?;
    }
    Ok(())
}

/// A deleted message shares nothing any more.
pub fn detach(conn: &Connection, message_id: MessageId) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM message_files WHERE message_id = ?1")?
        .execute([message_id])?;
    Ok(())
}

/// The file if `user_id` may download it: their own upload, or shared by a message (not
/// deleted) in a room they are a member of now. Anyone else gets None, as for a file that
/// does not exist.
pub fn downloadable(
    conn: &Connection,
    user_id: UserId,
    file_id: FileId,
) -> Result<Option<StoredFile>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM files f
         WHERE f.id = ?1 AND (f.uploader_id = ?2 OR EXISTS (
             SELECT 1 FROM message_files mf
             JOIN messages m ON m.id = mf.message_id AND m.deleted_at IS NULL
             JOIN members mb ON mb.room_id = m.room_id AND mb.user_id = ?2
             WHERE mf.file_id = f.id))"
    ))?;
    Ok(stmt
        .query_row(params![file_id, user_id], attachment_of)
        .optional()?)
}

/// Forget uploads that no message shares and that are older than `unshared_before` (sent
/// with messages since deleted, or never sent). Returns how many.
pub fn forget_unshared(conn: &Connection, unshared_before: Millis) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM files WHERE created_at < ?1
           AND NOT EXISTS (SELECT 1 FROM message_files mf WHERE mf.file_id = files.id)",
        [unshared_before],
    )?)
}

/// The hashes of every file still known.
pub fn referenced_hashes(conn: &Connection) -> Result<HashSet<Vec<u8>>, StoreError> {
    let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM files")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
