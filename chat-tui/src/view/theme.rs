//! Colour themes, applied to the drawn frame as a last step so every widget follows them:
//! `dark` (as drawn), `light` (foregrounds that stay readable on a light background) and no
//! colour at all (`NO_COLOR` set, https://no-color.org: highlights become reverse video).

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    Dark,
    Light,
    /// Not a config value: what `NO_COLOR` asks for.
    #[serde(skip)]
    NoColor,
}

impl Theme {
    /// The configured theme, unless the environment asks for no colour.
    pub fn with_env(self, no_color: Option<&str>) -> Theme {
        match no_color {
            Some(v) if !v.is_empty() => Theme::NoColor,
            _ => self,
        }
    }
}

pub fn apply(buffer: &mut Buffer, theme: Theme) {
    if theme == Theme::Dark {
        return;
    }
    for cell in buffer.content.iter_mut() {
        match theme {
            Theme::Dark => {}
            Theme::Light => {
                // Text on a coloured background (a selection, a badge) keeps its colours.
                if cell.bg == Color::Reset {
                    cell.fg = light(cell.fg);
                }
            }
            Theme::NoColor => {
                if cell.bg != Color::Reset {
                    cell.modifier.insert(Modifier::REVERSED);
                }
                cell.fg = Color::Reset;
                cell.bg = Color::Reset;
            }
        }
    }
}

/// Foregrounds chosen for a dark background, made readable on a light one.
fn light(color: Color) -> Color {
    match color {
        Color::White => Color::Black,
        Color::Gray => Color::DarkGray,
        Color::Yellow | Color::LightYellow => Color::Indexed(136),
        Color::Cyan | Color::LightCyan => Color::Indexed(30),
        Color::Green | Color::LightGreen => Color::Indexed(28),
        other => other,
    }
}
