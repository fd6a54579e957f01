//! Administration on the database file: users, passwords and tokens. Used by the
//! `chat-server user ...` and `chat-server token ...` subcommands, which may run while the
//! server is up (SQLite serialises the writes; the server polls for revocations).

pub mod audit;

use crate::auth;
use crate::store::{now_ms, ops, queries, StoreError};
use chat_protocol::{ErrorCode, Millis, UserRef};
use rusqlite::{Connection, OptionalExtension};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    /// Bot accounts have no password and authenticate with tokens only.
    pub bot: bool,
    pub created_at: Millis,
    pub last_seen: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub username: String,
    pub label: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

fn bad(e: (ErrorCode, String)) -> StoreError {
    StoreError::Refused(e.0, e.1)
}

/// Create a user; `password` None makes a token-only bot account.
pub fn create_user(
    conn: &Connection,
    username: &str,
    password: Option<&str>,
) -> Result<UserRef, StoreError> {
    auth::check_username(username).map_err(bad)?;
    let hash = match password {
        Some(p) => {
            auth::check_password(p).map_err(bad)?;
            Some(
                auth::hash_password(p)
                    .map_err(|e| StoreError::CommitFailed(format!("hashing: {e}")))?,
            )
        }
        None => None,
    };
    ops::insert_user(conn, username, hash.as_deref(), now_ms())
}

pub fn list_users(conn: &Connection) -> Result<Vec<UserRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, username, password_hash IS NULL, created_at, last_seen FROM users ORDER BY username",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(UserRow {
            id: r.get(0)?,
            username: r.get(1)?,
            bot: r.get(2)?,
            created_at: r.get(3)?,
            last_seen: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Set a new password and revoke the user's tokens, so every device must log in again.
/// Returns how many tokens were revoked.
pub fn reset_password(
    conn: &Connection,
    username: &str,
    password: &str,
) -> Result<usize, StoreError> {
    auth::check_password(password).map_err(bad)?;
    let user = queries::user_by_name_or_refuse(conn, username)?;
    let hash = auth::hash_password(password)
        .map_err(|e| StoreError::CommitFailed(format!("hashing: {e}")))?;
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        rusqlite::params![user.id, hash],
    )?;
    let revoked = revoke_all(&tx, user.id)?;
    tx.commit()?;
    Ok(revoked)
}

fn revoke_all(conn: &Connection, user_id: i64) -> Result<usize, StoreError> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM tokens WHERE user_id = ?1 AND revoked_at IS NULL")?
        .query_map([user_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let now = now_ms();
    for id in &ids {
        ops::revoke_token(conn, *id, now)?;
    }
    Ok(ids.len())
}

/// Create a token for a user (typically a bot); the token is shown once and never stored.
pub fn create_token(
    conn: &Connection,
    username: &str,
    label: &str,
) -> Result<(i64, String), StoreError> {
    let user = queries::user_by_name_or_refuse(conn, username)?;
    let token = auth::new_token();
    let id = ops::insert_token(conn, user.id, &auth::token_hash(&token), label, now_ms())?;
    Ok((id, token))
}

pub fn list_tokens(conn: &Connection, username: Option<&str>) -> Result<Vec<TokenRow>, StoreError> {
    let user_id = match username {
        Some(name) => Some(queries::user_by_name_or_refuse(conn, name)?.id),
        None => None,
    };
    let mut stmt = conn.prepare(
        "SELECT t.id, u.username, t.label, t.created_at, t.revoked_at
         FROM tokens t JOIN users u ON u.id = t.user_id
         WHERE ?1 IS NULL OR t.user_id = ?1 ORDER BY t.id",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(TokenRow {
            id: r.get(0)?,
            username: r.get(1)?,
            label: r.get(2)?,
            created_at: r.get(3)?,
            revoked_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revoke one token; a running server closes its connections within a second.
pub fn revoke_token(conn: &Connection, token_id: i64) -> Result<(), StoreError> {
    let exists: Option<Option<Millis>> = conn
        .query_row(
            "SELECT revoked_at FROM tokens WHERE id = ?1",
            [token_id],
            |r| r.get(0),
        )
        .optional()?;
    match exists {
        None => Err(StoreError::refused(
            ErrorCode::NotFound,
            format!("no token with id {token_id}"),
        )),
        Some(Some(_)) => Err(StoreError::refused(
            ErrorCode::Conflict,
            format!("token {token_id} is already revoked"),
        )),
        Some(None) => {
            ops::revoke_token(conn, token_id, now_ms())?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        conn
    }

    #[test]
    fn users_and_tokens_round_trip() {
        let conn = db();
        create_user(&conn, "alice", Some("password1")).unwrap();
        create_user(&conn, "helper-bot", None).unwrap();
        let err = create_user(&conn, "ALICE", Some("password1")).unwrap_err();
        assert!(matches!(err, StoreError::Refused(ErrorCode::Conflict, _)));
        let users = list_users(&conn).unwrap();
        assert_eq!(
            users
                .iter()
                .map(|u| (u.username.as_str(), u.bot))
                .collect::<Vec<_>>(),
            [("alice", false), ("helper-bot", true)]
        );

        let (id, token) = create_token(&conn, "helper-bot", "ci").unwrap();
        assert!(queries::token_owner(&conn, &auth::token_hash(&token))
            .unwrap()
            .is_some());
        revoke_token(&conn, id).unwrap();
        assert!(queries::token_owner(&conn, &auth::token_hash(&token))
            .unwrap()
            .is_none());
        assert!(
            revoke_token(&conn, id).is_err(),
            "revoking twice is reported"
        );
        assert_eq!(queries::revocations_after(&conn, 0).unwrap().len(), 1);
    }

    #[test]
    fn a_password_reset_revokes_every_token() {
        let conn = db();
        create_user(&conn, "bob", Some("password1")).unwrap();
        create_token(&conn, "bob", "a").unwrap();
        create_token(&conn, "bob", "b").unwrap();
        assert_eq!(reset_password(&conn, "bob", "password2").unwrap(), 2);
        assert!(list_tokens(&conn, Some("bob"))
            .unwrap()
            .iter()
            .all(|t| t.revoked_at.is_some()));
    }
}
