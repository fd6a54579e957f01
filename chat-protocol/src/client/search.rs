//! Full-text search.

use super::{unexpected, ClientError, ClientHandle};
use crate::{ClientFrame, Search, SearchResults, ServerFrame};

impl ClientHandle {
    /// Search the messages of my rooms (`request_id` is filled in).
    pub async fn search(&self, search: Search) -> Result<SearchResults, ClientError> {
        match self.request(ClientFrame::Search(search)).await? {
            ServerFrame::SearchResults(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }
}
