//! Key bindings that can be changed in the config (`[client.keys]`): the keys that move between
//! conversations and open things. Editing keys (arrows, Ctrl-A, Ctrl-W…) stay as they are.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;

/// What a bindable key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NextRoom,
    PrevRoom,
    NextUnread,
    Switcher,
    Help,
    Redraw,
    Search,
}

impl Action {
    /// The name the config uses.
    pub fn name(self) -> &'static str {
        match self {
            Action::NextRoom => "next_room",
            Action::PrevRoom => "prev_room",
            Action::NextUnread => "next_unread",
            Action::Switcher => "switcher",
            Action::Help => "help",
            Action::Redraw => "redraw",
            Action::Search => "search",
        }
    }
}

/// A key with its modifiers, as written in the config: `ctrl-n`, `alt-a`, `f1`, `alt-down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    modifiers: KeyModifiers,
}

impl Key {
    pub fn parse(text: &str) -> Result<Key, String> {
        let lower = text.trim().to_lowercase();
        let mut parts: Vec<&str> = lower.split('-').collect();
        let name = parts.pop().filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| format!("{text:?}: no key after the modifiers"))?;
        let mut modifiers = KeyModifiers::NONE;
        for part in parts {
            modifiers |= match part {
                "ctrl" | "c" => KeyModifiers::CONTROL,
                "alt" | "meta" | "m" => KeyModifiers::ALT,
                "shift" | "s" => KeyModifiers::SHIFT,
                other => return Err(format!("{text:?}: unknown modifier {other:?}")),
            };
        }
        let code = match name {
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "tab" => KeyCode::Tab,
            "esc" => KeyCode::Esc,
            f if f.starts_with('f') && f.len() > 1 => f[1..]
                .parse()
                .map(KeyCode::F)
                .map_err(|_| format!("{text:?}: unknown key {f:?}"))?,
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            other => return Err(format!("{text:?}: unknown key {other:?}")),
        };
        if modifiers.is_empty() && matches!(code, KeyCode::Char(_)) {
            return Err(format!(
                "{text:?}: a plain letter would be typed, not bound; add ctrl- or alt-"
            ));
        }
        let key = Key { code, modifiers };
        if RESERVED
            .iter()
            .any(|&(code, modifiers)| key == Key { code, modifiers })
        {
            return Err(format!(
                "{text:?} is taken by quitting or editing (Ctrl-C, Ctrl-A/E/U/W/J, arrows, Enter, Tab, Esc…)"
            ));
        }
        Ok(key)
    }

    fn of(event: &KeyEvent) -> Key {
        // Terminals report Shift with capital letters inconsistently: match letters without it.
        let mut modifiers = event.modifiers;
        let code = match event.code {
            KeyCode::Char(c) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        Key { code, modifiers }
    }
}

/// Keys the bindings may not take: quitting, and the editor's and the pane's own keys.
const RESERVED: &[(KeyCode, KeyModifiers)] = &[
    (KeyCode::Char('c'), KeyModifiers::CONTROL),
    (KeyCode::Char('a'), KeyModifiers::CONTROL),
    (KeyCode::Char('e'), KeyModifiers::CONTROL),
    (KeyCode::Char('u'), KeyModifiers::CONTROL),
    (KeyCode::Char('w'), KeyModifiers::CONTROL),
    (KeyCode::Char('j'), KeyModifiers::CONTROL),
    (KeyCode::Up, KeyModifiers::NONE),
    (KeyCode::Down, KeyModifiers::NONE),
    (KeyCode::Left, KeyModifiers::NONE),
    (KeyCode::Right, KeyModifiers::NONE),
    (KeyCode::Home, KeyModifiers::NONE),
    (KeyCode::End, KeyModifiers::NONE),
    (KeyCode::PageUp, KeyModifiers::NONE),
    (KeyCode::PageDown, KeyModifiers::NONE),
    (KeyCode::Tab, KeyModifiers::NONE),
    (KeyCode::Esc, KeyModifiers::NONE),
];

/// The bindings in force: the defaults, with any action the config names rebound.
#[derive(Debug, Clone)]
pub struct KeyMap {
    keys: HashMap<Key, Action>,
}

const DEFAULTS: &[(Action, &[&str])] = &[
    (Action::NextRoom, &["ctrl-n", "alt-down"]),
    (Action::PrevRoom, &["ctrl-p", "alt-up"]),
    (Action::NextUnread, &["alt-a"]),
    (Action::Switcher, &["ctrl-k"]),
    (Action::Help, &["f1"]),
    (Action::Redraw, &["ctrl-l"]),
    (Action::Search, &["ctrl-f"]),
];

impl Default for KeyMap {
    fn default() -> KeyMap {
        KeyMap::new(&HashMap::new()).unwrap_or(KeyMap {
            keys: HashMap::new(),
        })
    }
}

impl KeyMap {
    /// The defaults, with each action in `custom` bound to its keys instead.
    pub fn new(custom: &HashMap<Action, Vec<String>>) -> Result<KeyMap, String> {
        let mut keys = HashMap::new();
        for (action, defaults) in DEFAULTS {
            let chosen: Vec<String> = match custom.get(action) {
                Some(keys) => keys.clone(),
                None => defaults.iter().map(|k| k.to_string()).collect(),
            };
            for text in chosen {
                let key = Key::parse(&text)?;
                if let Some(other) = keys.insert(key, *action) {
                    if other != *action {
                        return Err(format!(
                            "{text:?} is bound to both {} and {}",
                            other.name(),
                            action.name()
                        ));
                    }
                }
            }
        }
        Ok(KeyMap { keys })
    }

    pub fn action(&self, event: &KeyEvent) -> Option<Action> {
        self.keys.get(&Key::of(event)).copied()
    }

    /// The keys of `action`, as the help shows them (`Ctrl-N, Alt-Down`).
    pub fn describe(&self, action: Action) -> String {
        let mut names: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| name(k))
            .collect();
        names.sort();
        names.join(", ")
    }
}

fn name(key: &Key) -> String {
    let mut out = String::new();
    for (flag, label) in [
        (KeyModifiers::CONTROL, "Ctrl-"),
        (KeyModifiers::ALT, "Alt-"),
        (KeyModifiers::SHIFT, "Shift-"),
    ] {
        if key.modifiers.contains(flag) {
            out.push_str(label);
        }
    }
    match key.code {
        KeyCode::Char(c) => out.push(c.to_ascii_uppercase()),
        KeyCode::F(n) => out.push_str(&format!("F{n}")),
        other => out.push_str(&format!("{other:?}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_and_rebinding() {
        let map = KeyMap::default();
        let ctrl_k = event(KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(map.action(&ctrl_k), Some(Action::Switcher));
        assert_eq!(map.describe(Action::NextRoom), "Alt-Down, Ctrl-N");

        let custom = HashMap::from([(Action::Switcher, vec!["ctrl-g".to_string()])]);
        let map = KeyMap::new(&custom).expect("valid");
        assert_eq!(map.action(&ctrl_k), None, "rebinding frees the old key");
        let ctrl_g = event(KeyCode::Char('g'), KeyModifiers::CONTROL);
        assert_eq!(map.action(&ctrl_g), Some(Action::Switcher));
        let alt_shift_a = event(KeyCode::Char('A'), KeyModifiers::ALT | KeyModifiers::SHIFT);
        assert_eq!(map.action(&alt_shift_a), Some(Action::NextUnread));
    }

    #[test]
    fn bad_bindings_are_explained() {
        for (text, says) in [
            ("ctrl-", "no key"),
            ("hyper-x", "unknown modifier"),
            ("ctrl-banana", "unknown key"),
            ("x", "would be typed"),
            ("ctrl-c", "taken by quitting or editing"),
            ("ctrl-u", "taken by quitting or editing"),
        ] {
            let error = Key::parse(text).expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
        let clash = HashMap::from([(Action::Help, vec!["ctrl-n".to_string()])]);
        let error = KeyMap::new(&clash).expect_err("clash");
        assert!(error.contains("both next_room and help"), "{error}");
    }
}
