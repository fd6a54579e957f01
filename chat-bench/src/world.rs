//! The population of a scenario: users, rooms and who is in which, seeded into a chat-server
//! database before the server starts, and connected (logged in and in their rooms) for either
//! server.

use crate::net::{self, Sources, Ws};
use crate::stats::Errors;
use crate::target::{Kind, Target};
use crate::wire;
use anyhow::Context;
use chat_protocol::{RoomId, RoomKind, UserRef};
use chat_server::seed::Seeder;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Who is in which room: `rooms[r]` lists user indices, the first being the owner.
#[derive(Debug, Clone)]
pub struct Layout {
    pub users: usize,
    pub rooms: Vec<Vec<usize>>,
}

impl Layout {
    /// Users 0..users in consecutive rooms of `size`.
    pub fn groups(users: usize, size: usize) -> Layout {
        let size = size.max(1);
        let rooms = (0..users.div_ceil(size))
            .map(|r| (r * size..((r + 1) * size).min(users)).collect())
            .collect();
        Layout { users, rooms }
    }

    /// The room of each user (the first, for users in several).
    pub fn room_of(&self) -> Vec<usize> {
        let mut of = vec![0; self.users];
        for (r, members) in self.rooms.iter().enumerate().rev() {
            for &u in members {
                of[u] = r;
            }
        }
        of
    }
}

/// What the clients need: each user's token and each room's id. For the socket.io peer no
/// seeding happens; tokens are empty and room ids are the layout's indices.
pub struct World {
    pub users: Vec<UserRef>,
    pub tokens: Vec<String>,
    pub room_ids: Vec<RoomId>,
}

pub fn username(i: usize) -> String {
    format!("u{i}")
}

/// Create the layout's users (token-only accounts) and rooms (channels) in a new database.
pub fn seed(db: &Path, layout: &Layout) -> anyhow::Result<World> {
    let mut seeder = Seeder::open(db).context("opening the database to seed")?;
    let mut users = Vec::with_capacity(layout.users);
    let mut tokens = Vec::with_capacity(layout.users);
    for i in 0..layout.users {
        let (user, token) = seeder.user_with_token(&username(i))?;
        users.push(user);
        tokens.push(token);
    }
    let mut room_ids = Vec::with_capacity(layout.rooms.len());
    for (r, members) in layout.rooms.iter().enumerate() {
        let Some((&owner, rest)) = members.split_first() else {
            continue;
        };
        let names = rest.iter().map(|&u| username(u)).collect();
        room_ids.push(seeder.room(&users[owner], RoomKind::Channel, &format!("r{r}"), names)?);
    }
    seeder.commit()?;
    Ok(World {
        users,
        tokens,
        room_ids,
    })
}

/// Build the layout on a running chat-server through the protocol alone: register every user
/// (`register` in hello, which costs the server an argon2 hash each), then have each room's
/// owner create it with its members. Usernames carry `prefix` so runs do not collide.
pub async fn register(
    target: &Target,
    sources: &Sources,
    layout: &Layout,
    prefix: &str,
    concurrency: usize,
) -> anyhow::Result<World> {
    let url = target.url();
    let name = |i: usize| format!("{prefix}{i}");
    let registered = net::open_all(layout.users, concurrency, |i| {
        let url = &url;
        let username = name(i);
        async move {
            let mut ws = net::connect(url, target.addr, sources.pick()).await?;
            let welcome = wire::chat_register(&mut ws, &username, REGISTER_PASSWORD).await?;
            let _ = ws.close(None).await;
            let token = welcome
                .token
                .context("the server issued no token on registration")?;
            anyhow::Ok((welcome.user, token))
        }
    })
    .await;
    let mut users = Vec::with_capacity(layout.users);
    let mut tokens = Vec::with_capacity(layout.users);
    for result in registered {
        let (user, token) = result.context("registering a benchmark user")?;
        users.push(user);
        tokens.push(token);
    }
    let created = net::open_all(layout.rooms.len(), concurrency, |r| {
        let url = &url;
        let members = &layout.rooms[r];
        let tokens = &tokens;
        let names: Vec<String> = members.iter().skip(1).map(|&u| name(u)).collect();
        async move {
            let owner = *members.first().context("a room without members")?;
            let mut ws = net::connect(url, target.addr, sources.pick()).await?;
            wire::chat_login(&mut ws, &tokens[owner]).await?;
            let room = wire::create_channel(&mut ws, &format!("{prefix}r{r}"), names).await?;
            let _ = ws.close(None).await;
            anyhow::Ok(room)
        }
    })
    .await;
    let room_ids = created
        .into_iter()
        .collect::<anyhow::Result<Vec<RoomId>>>()
        .context("creating a benchmark room")?;
    Ok(World {
        users,
        tokens,
        room_ids,
    })
}

/// Accounts registered by the tool share one password; they exist only for benchmarking.
const REGISTER_PASSWORD: &str = "chat-bench-password";

/// A world for the socket.io peer: rooms are named by index, nobody has a token.
pub fn unseeded(layout: &Layout) -> World {
    World {
        users: Vec::new(),
        tokens: vec![String::new(); layout.users],
        room_ids: (0..layout.rooms.len() as RoomId).collect(),
    }
}

/// Connect user `i` and put them in their room: chat-server members are in their rooms from the
/// seed and only log in; socket.io clients join the room by name.
pub async fn connect_user(
    target: &Target,
    url: &str,
    sources: &Sources,
    world: &World,
    room: RoomId,
    i: usize,
) -> anyhow::Result<Ws> {
    let mut ws = net::connect(url, target.addr, sources.pick()).await?;
    match target.kind {
        Kind::Chat => {
            wire::chat_login(&mut ws, &world.tokens[i]).await?;
        }
        Kind::SocketIo => wire::socketio_join(&mut ws, room).await?,
    }
    Ok(ws)
}

/// Connect every user with bounded concurrency; failures are counted and left out.
pub async fn connect_everyone(
    target: &Target,
    sources: &Arc<Sources>,
    world: &World,
    layout: &Layout,
    concurrency: usize,
    errors: &Errors,
) -> Vec<(usize, Ws)> {
    let url = target.url();
    let room_of = layout.room_of();
    let results = net::open_all(layout.users, concurrency, |i| {
        let room = world.room_ids[room_of[i]];
        let url = &url;
        async move { (i, connect_user(target, url, sources, world, room, i).await) }
    })
    .await;
    let mut sessions = Vec::with_capacity(results.len());
    let mut first_error = None;
    for (i, result) in results {
        match result {
            Ok(ws) => sessions.push((i, ws)),
            Err(e) => {
                errors.connect.fetch_add(1, Ordering::Relaxed);
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        tracing::warn!("some connections failed; the first: {e:#}");
    }
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_split_users_evenly() {
        let layout = Layout::groups(25, 10);
        assert_eq!(layout.rooms.len(), 3);
        assert_eq!(layout.rooms[2], vec![20, 21, 22, 23, 24]);
        assert_eq!(layout.room_of()[13], 1);
    }
}
