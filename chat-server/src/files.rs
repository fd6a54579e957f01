//! Uploaded files on disk, stored by content: `chat.sqlite.files/ab/abcdef…` (the SHA-256 in
//! hex) in a folder beside the database, folders 0700 and files 0600. An upload streams to a
//! temporary file while it is hashed, so no upload is ever held in memory, and a file uploaded
//! twice is stored once. The database says who uploaded what and where it was shared
//! (store/files.rs); `chat-server files gc` removes what nothing refers to.

use bytes::Bytes;
use chat_protocol::UserId;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;

mod image;
pub use image::image_info;

/// Files younger than this are never collected: an upload in progress, or one stored a moment
/// before its row committed.
pub const GC_GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("the upload was cut off: {0}")]
    Body(String),
    #[error("the upload stopped: nothing came for {} ms", .0.as_millis())]
    Stalled(Duration),
    #[error("cannot store the file: {0}")]
    Io(#[from] std::io::Error),
}

/// Uploads one user may have under way at once: each holds a temporary file of up to
/// `max_upload_bytes` until it ends, so their number is what bounds one user's share of the
/// disk.
pub const UPLOADS_PER_USER: u32 = 4;

/// Uploads under way, per user.
#[derive(Debug, Default)]
pub struct UploadSlots {
    held: std::sync::Mutex<std::collections::HashMap<UserId, u32>>,
}

impl UploadSlots {
    /// A slot for one more upload of `user`, held until the guard is dropped; none while they
    /// have [`UPLOADS_PER_USER`] under way.
    pub fn try_take(&self, user: UserId) -> Option<UploadSlot<'_>> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(user).or_insert(0);
        if *count >= UPLOADS_PER_USER {
            return None;
        }
        *count += 1;
        Some(UploadSlot { slots: self, user })
    }
}

pub struct UploadSlot<'a> {
    slots: &'a UploadSlots,
    user: UserId,
}

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.user);
            }
        }
    }
}

/// A file received and stored.
#[derive(Debug, Clone)]
pub struct Received {
    pub sha256: [u8; 32],
    pub size: u64,
    pub path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// The store of the database at `db`: `<db>.files` beside it.
    pub fn beside(db: &Path) -> BlobStore {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(".files");
        BlobStore {
            dir: db.with_file_name(name),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Remove what uploads cut off by a crash left in the temporary folder (at startup, when
    /// none can be under way).
    pub fn remove_partial_uploads(&self) {
        let Ok(entries) = std::fs::read_dir(self.dir.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!("cannot remove {}: {e}", entry.path().display());
            }
        }
    }

    pub fn path_of(&self, sha256: &[u8]) -> PathBuf {
        let hex = hex(sha256);
        self.dir.join(&hex[..2]).join(hex)
    }

    /// Stream `body` to disk, at most `max` bytes; the stored file and its hash.
    pub async fn receive<S, E>(
        &self,
        mut body: S,
        max: u64,
        stall: Duration,
    ) -> Result<Received, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp_dir = self.dir.join("tmp");
        create_private_dir(&tmp_dir)?;
        let tmp = tmp_dir.join(format!("upload-{}", crate::auth::random_hex(16)));
        let received = async {
            let mut file = private_file(&tmp).await?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            // Each chunk within `stall`: a slow upload is fine, a stopped one is not.
            loop {
                let next = tokio::time::timeout(stall, body.next()).await;
                let Some(chunk) = next.map_err(|_| UploadError::Stalled(stall))? else {
                    break;
                };
                let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
                size += chunk.len() as u64;
                if size > max {
                    return Err(UploadError::TooLarge(max));
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            // On disk before the database refers to it.
            file.sync_all().await?;
            let sha256: [u8; 32] = hasher.finalize().into();
            Ok::<_, UploadError>((sha256, size))
        }
        .await;
        let (sha256, size) = match received {
            Ok(done) => done,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let path = self.path_of(&sha256);
        if let Some(parent) = path.parent() {
            create_private_dir(parent)?;
        }
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            // Stored already: keep the one copy, and make it young again so a collection
            // running now does not take it from under the upload about to refer to it.
            tokio::fs::remove_file(&tmp).await?;
            touch(&path);
        } else {
            tokio::fs::rename(&tmp, &path).await?;
        }
        Ok(Received { sha256, size, path })
    }

    /// Remove every stored file whose hash `referenced` does not hold, and leftover temporary
    /// files, older than `grace` (at most [`GC_GRACE`] is useful: it covers an upload whose
    /// row is about to commit). Returns (files removed, bytes freed).
    pub fn sweep(
        &self,
        referenced: &HashSet<Vec<u8>>,
        grace: Duration,
    ) -> std::io::Result<(u64, u64)> {
        let mut removed = (0, 0);
        let Ok(shards) = std::fs::read_dir(&self.dir) else {
            return Ok(removed); // no uploads yet
        };
        let cutoff = SystemTime::now() - grace;
        for shard in shards {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            let is_tmp = shard.file_name() == "tmp";
            for entry in std::fs::read_dir(shard.path())? {
                let entry = entry?;
                let meta = entry.metadata()?;
                if !meta.is_file() || meta.modified()? > cutoff {
                    continue;
                }
                let keep = !is_tmp
                    && unhex(&entry.file_name().to_string_lossy())
                        .is_some_and(|hash| referenced.contains(&hash));
                if !keep {
                    std::fs::remove_file(entry.path())?;
                    removed.0 += 1;
                    removed.1 += meta.len();
                }
            }
        }
        Ok(removed)
    }
}

fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

async fn private_file(path: &Path) -> std::io::Result<tokio::fs::File> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path).await
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn a_stopped_upload_is_cut_off_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::beside(&dir.path().join("chat.sqlite"));
        // Two bytes, then nothing more, ever.
        let stopped = chunks(&[b"he", b"ll"]).chain(futures_util::stream::pending());
        let stall = Duration::from_millis(100);
        let refused = store.receive(stopped, 100, stall).await;
        assert!(
            matches!(refused, Err(UploadError::Stalled(_))),
            "{refused:?}"
        );
        let tmp = std::fs::read_dir(store.dir().join("tmp")).unwrap();
        assert_eq!(tmp.count(), 0, "the temporary file is removed");
        // What a crash leaves is removed at the next start.
        std::fs::write(store.dir().join("tmp/upload-left"), b"half").unwrap();
        store.remove_partial_uploads();
        let tmp = std::fs::read_dir(store.dir().join("tmp")).unwrap();
        assert_eq!(tmp.count(), 0);
    }

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn the_same_content_is_stored_once_and_privately() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::beside(&dir.path().join("chat.sqlite"));
        let a = store
            .receive(chunks(&[b"hello ", b"world"]), 100, STALL)
            .await
            .unwrap();
        let b = store
            .receive(chunks(&[b"hello world"]), 100, STALL)
            .await
            .unwrap();
        assert_eq!(a.path, b.path);
        assert_eq!(a.size, 11);
        assert_eq!(
            hex(&a.sha256),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(std::fs::read(&a.path).unwrap(), b"hello world");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&a.path), 0o600);
            assert_eq!(mode(store.dir()), 0o700);
            assert_eq!(mode(a.path.parent().unwrap()), 0o700);
        }
        let tmp: Vec<_> = std::fs::read_dir(store.dir().join("tmp"))
            .unwrap()
            .collect();
        assert!(tmp.is_empty(), "no temporary file left behind");
    }

    #[tokio::test]
    async fn an_upload_over_the_limit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::beside(&dir.path().join("chat.sqlite"));
        let refused = store.receive(chunks(&[b"12345", b"67890"]), 8, STALL).await;
        assert!(matches!(refused, Err(UploadError::TooLarge(8))));
        let tmp: Vec<_> = std::fs::read_dir(store.dir().join("tmp"))
            .unwrap()
            .collect();
        assert!(tmp.is_empty());
    }

    #[test]
    fn hashes_round_trip_through_file_names() {
        let hash = [0xabu8; 32];
        assert_eq!(unhex(&hex(&hash)), Some(hash.to_vec()));
        assert_eq!(unhex("not hex"), None);
    }
}
