//! The runtime's file work: transfers run as tasks of their own, each reporting back as
//! messages, and pastes that name an existing file are told apart from text.

use crate::model::{Model, PastedFile};
use crate::msg::Msg;
use crate::net::Envelope;
use crate::pane::{human_size, limit_size};
use crate::paths;
use crate::transfer::{self, ApiBase, Progress};
use chat_protocol::Attachment;
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

/// One transfer: where the server is, the token, and where to report.
pub struct Job {
    id: u64,
    server: String,
    token: String,
    msgs: UnboundedSender<Envelope>,
}

impl Job {
    pub fn new(model: &Model, id: u64, msgs: UnboundedSender<Envelope>) -> Job {
        Job {
            id,
            server: model.server_url.clone(),
            token: model.token.clone().unwrap_or_default(),
            msgs,
        }
    }

    fn send(&self, msg: Msg) {
        let _ = self.msgs.send((None, msg));
    }

    fn progress(&self) -> Progress {
        let (id, msgs) = (self.id, self.msgs.clone());
        Box::new(move |done, total| {
            let _ = msgs.send((None, Msg::TransferProgress { id, done, total }));
        })
    }

    pub async fn upload(self, path: String, max_bytes: u64) {
        let result = self.try_upload(&path, max_bytes).await;
        self.send(Msg::Uploaded {
            id: self.id,
            result,
        });
    }

    async fn try_upload(&self, typed: &str, max_bytes: u64) -> Result<Attachment, String> {
        let base = ApiBase::of(&self.server)?;
        let path = paths::expand(typed, paths::home().as_deref());
        // In a notice after the file's name: a long path loses its middle so the reason shows.
        let shown = crate::wrap::truncate_middle(&crate::wrap::sanitize(typed), 50);
        let metadata = tokio::fs::metadata(&path)
            .await
            .map_err(|e| format!("cannot read {shown}: {}", io_reason(&e)))?;
        if metadata.is_dir() {
            return Err(format!("{shown} is a folder; send its files one by one"));
        }
        // A device or a pipe has no size to send, and reading it may never end.
        if !metadata.is_file() {
            return Err(format!("{shown} is not a regular file"));
        }
        if metadata.len() > max_bytes {
            return Err(format!(
                "it is {}; the server takes files up to {}",
                human_size(metadata.len()),
                limit_size(max_bytes)
            ));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        transfer::upload(&base, &self.token, &path, &name, self.progress()).await
    }

    /// Download into `folder`; then open it if `open`. An opened file already downloaded
    /// whole is opened again without downloading.
    pub async fn download(self, file: Attachment, folder: PathBuf, open: bool) {
        let result = self.try_download(&file, &folder, open).await;
        let opened = match (&result, open) {
            (Ok(path), true) => transfer::open_with_system(path).await.err(),
            _ => None,
        };
        self.send(Msg::Downloaded {
            id: self.id,
            result: result.clone(),
        });
        if let (Some(e), Ok(path)) = (opened, &result) {
            let at = path.display();
            self.send(Msg::OpenFailed(format!(
                "cannot open {}: {e}; it is at {at}",
                file.name
            )));
        }
    }

    async fn try_download(
        &self,
        file: &Attachment,
        folder: &std::path::Path,
        open: bool,
    ) -> Result<PathBuf, String> {
        let base = ApiBase::of(&self.server)?;
        tokio::fs::create_dir_all(folder)
            .await
            .map_err(|e| format!("cannot make {}: {e}", folder.display()))?;
        let name = transfer::safe_name(&file.name);
        let dest = if open {
            // One copy per file id: opening it again reuses it.
            let dest = folder.join(format!("{}-{name}", file.id));
            let whole = tokio::fs::metadata(&dest)
                .await
                .is_ok_and(|m| m.len() == file.size);
            if whole {
                return Ok(dest);
            }
            dest
        } else {
            transfer::free_path(folder, &name)
        };
        transfer::download(&base, &self.token, file, &dest, self.progress()).await?;
        Ok(dest)
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A paste as a message: [`Msg::PastedFiles`] when it names existing files (files dropped on
/// the terminal), else [`Msg::Paste`].
pub fn pasted(text: String) -> Msg {
    let home = paths::home();
    let existing = |typed: &str| {
        let path = paths::expand(typed, home.as_deref());
        let metadata = std::fs::metadata(&path).ok()?;
        metadata.is_file().then_some(PastedFile {
            path,
            size: metadata.len(),
        })
    };
    // One file first: its name may have spaces that are not between paths.
    let one = paths::pasted_path(&text)
        .and_then(|typed| existing(&typed))
        .map(|file| vec![file]);
    let files = one.or_else(|| {
        let mut files = paths::pasted_paths(&text)?
            .iter()
            .map(|typed| existing(typed))
            .collect::<Option<Vec<_>>>()?;
        let mut seen = std::collections::HashSet::new();
        files.retain(|file| seen.insert(file.path.clone()));
        Some(files)
    });
    match files {
        Some(files) => Msg::PastedFiles { text, files },
        None => Msg::Paste(text),
    }
}
