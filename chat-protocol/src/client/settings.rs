//! The caller's own settings for a room.

use super::{ClientError, ClientHandle};
use crate::{ClientFrame, SetRoomSettings};

impl ClientHandle {
    /// Change some of my settings for a room (the fields given; `request_id` is filled in).
    /// Every one of my connections gets the result as a `room_settings` frame.
    pub async fn set_room_settings(&self, change: SetRoomSettings) -> Result<(), ClientError> {
        self.request(ClientFrame::SetRoomSettings(change))
            .await
            .map(drop)
    }
}
