//! Which pictures the terminal can draw, asked once at start: after raw mode is on (so the
//! answers are not echoed) and before the input thread starts reading (so it does not take them
//! for keys).
//!
//! The question is the one ratatui-image asks (kitty graphics, device attributes for sixel, the
//! cell size in pixels, then a status report every terminal answers), but read here with a
//! deadline on a poll of stdin: a terminal that never answers costs a second at start, and
//! leaves no reader behind to steal the first keystrokes.

use crate::preview::CellPixels;
use ratatui_image::picker::cap_parser::{Parser, QueryStdioOptions, Response};
use ratatui_image::picker::{Picker, ProtocolType};
use serde::Deserialize;
use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// How long the terminal has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// The cell size assumed when the terminal does not say (the common 10×20 of a 1:2 font).
const USUAL_CELL: (u16, u16) = (10, 20);

/// The `images` setting: how chat-tui shows pictures in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageMode {
    /// Previews where the terminal draws pictures (kitty, sixel, iTerm2); names elsewhere.
    #[default]
    Auto,
    /// Previews in coloured half blocks, in any terminal with colour (and inside tmux).
    Blocks,
    /// Names only.
    Off,
}

/// What the terminal said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub kitty: bool,
    pub sixel: bool,
    pub cell: Option<(u16, u16)>,
    /// The status report came back: everything asked before it was answered or never will be.
    pub complete: bool,
}

impl Answers {
    /// Read the terminal's answers from `bytes`.
    pub fn parse(bytes: &[u8]) -> Answers {
        let mut answers = Answers::default();
        answers.read(&mut Parser::new(), bytes);
        answers
    }

    /// Add what `bytes` answer, continuing where `parser` stopped (an answer may be split
    /// across reads).
    fn read(&mut self, parser: &mut Parser, bytes: &[u8]) {
        for &byte in bytes {
            for response in parser.push(char::from(byte)) {
                match response {
                    Response::Kitty => self.kitty = true,
                    Response::Sixel => self.sixel = true,
                    Response::CellSize(Some(cell)) => self.cell = Some(cell),
                    Response::Status => self.complete = true,
                    _ => {}
                }
            }
        }
    }

    /// The protocol to draw with: kitty's placement is exact, so it wins over sixel; iTerm2's
    /// is recognised by name only (it answers none of the questions).
    fn protocol(&self, env: &Env) -> Option<ProtocolType> {
        if env.iterm2 {
            Some(ProtocolType::Iterm2)
        } else if self.kitty && !env.no_kitty_or_sixel {
            Some(ProtocolType::Kitty)
        } else if self.sixel && !env.no_kitty_or_sixel {
            Some(ProtocolType::Sixel)
        } else {
            None
        }
    }
}

/// What the environment says about the terminal, where asking does not tell.
#[derive(Debug, Clone, Copy, Default)]
struct Env {
    /// iTerm2, WezTerm and others that draw iTerm2's inline images.
    iterm2: bool,
    /// WezTerm and Konsole claim kitty graphics or sixel but draw them wrongly (ratatui-image's
    /// compatibility notes).
    no_kitty_or_sixel: bool,
}

impl Env {
    fn read() -> Env {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let program = var("TERM_PROGRAM");
        let wezterm = !var("WEZTERM_EXECUTABLE").is_empty() || program.contains("WezTerm");
        let konsole = !var("KONSOLE_VERSION").is_empty();
        Env {
            iterm2: wezterm || program.contains("iTerm") || var("LC_TERMINAL").contains("iTerm"),
            no_kitty_or_sixel: wezterm || konsole,
        }
    }
}

/// How previews are drawn: the picker that encodes them and the cell size they are laid out by.
pub struct Graphics {
    pub picker: Picker,
    pub cell: CellPixels,
}

/// Ask the terminal (for `Auto`) and decide; none means names only.
pub fn detect(mode: ImageMode) -> Option<Graphics> {
    match mode {
        ImageMode::Off => None,
        ImageMode::Blocks => {
            let picker = Picker::halfblocks();
            let font = picker.font_size();
            Some(Graphics {
                cell: CellPixels {
                    width: font.width,
                    height: font.height,
                },
                picker,
            })
        }
        ImageMode::Auto => {
            let env = Env::read();
            // Also lets tmux pass the questions (and later the pictures) to the terminal.
            let tmux = Picker::halfblocks().tmux_detected();
            let answers = ask(tmux, &env);
            tracing::info!("terminal graphics: {answers:?}");
            let protocol = answers.protocol(&env)?;
            let (width, height) = answers
                .cell
                .or_else(cell_from_window_size)
                .unwrap_or(USUAL_CELL);
            // Deprecated in favour of the library's own question, whose reader thread outlives
            // an unanswered question and then takes keystrokes; this constructor is the one
            // that takes answers read elsewhere.
            #[allow(deprecated)]
            let mut picker = Picker::from_fontsize((width, height).into());
            picker.set_protocol_type(protocol);
            Some(Graphics {
                picker,
                cell: CellPixels { width, height },
            })
        }
    }
}

/// Write the question and read the answers until the status report or the deadline.
fn ask(tmux: bool, env: &Env) -> Answers {
    let mut options = QueryStdioOptions::default();
    if env.no_kitty_or_sixel {
        options.blacklist_protocols = vec![ProtocolType::Kitty, ProtocolType::Sixel];
    }
    let question = Parser::query(tmux, options);
    let mut out = std::io::stdout();
    if out
        .write_all(question.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return Answers::default();
    }
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let deadline = Instant::now() + ANSWER_WITHIN;
    let mut parser = Parser::new();
    let mut answers = Answers::default();
    let mut received = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tracing::info!("the terminal did not answer the graphics question in time");
            break;
        }
        let timeout = rustix::event::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
        let mut buf = [0u8; 256];
        match rustix::io::read(fd, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answers.read(&mut parser, &buf[..n]);
                received += n;
            }
        }
        // Far more than any answer: something else is talking.
        if answers.complete || received > 4096 {
            break;
        }
    }
    answers
}

/// The cell size from the window's size in pixels, for terminals that report that but do not
/// answer the question.
fn cell_from_window_size() -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    if size.ws_xpixel == 0 || size.ws_ypixel == 0 || size.ws_col == 0 || size.ws_row == 0 {
        return None;
    }
    Some((size.ws_xpixel / size.ws_col, size.ws_ypixel / size.ws_row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kitty_answers_are_read() {
        // kitty: graphics OK, device attributes without sixel, a 9×18 cell, the status.
        let answers = Answers::parse(b"\x1b_Gi=31;OK\x1b\\\x1b[?62;22c\x1b[6;18;9t\x1b[0n");
        assert_eq!(
            answers,
            Answers {
                kitty: true,
                sixel: false,
                cell: Some((9, 18)),
                complete: true,
            }
        );
        assert_eq!(answers.protocol(&Env::default()), Some(ProtocolType::Kitty));
    }

    #[test]
    fn answers_split_across_reads_are_read_whole() {
        let bytes = b"\x1b_Gi=31;OK\x1b\\\x1b[6;18;9t\x1b[0n";
        for cut in 1..bytes.len() {
            let (mut parser, mut answers) = (Parser::new(), Answers::default());
            answers.read(&mut parser, &bytes[..cut]);
            answers.read(&mut parser, &bytes[cut..]);
            assert_eq!(answers, Answers::parse(bytes), "cut at {cut}");
            assert!(answers.kitty && answers.complete);
        }
    }

    #[test]
    fn sixel_is_read_from_the_device_attributes() {
        // foot or xterm -ti vt340: sixel (4) among the attributes, no kitty answer.
        let answers = Answers::parse(b"\x1b[?62;4;6;22c\x1b[6;20;10t\x1b[0n");
        assert!(answers.sixel && !answers.kitty && answers.complete);
        assert_eq!(answers.protocol(&Env::default()), Some(ProtocolType::Sixel));
    }

    #[test]
    fn a_plain_terminal_gets_names() {
        // tmux without sixel, or the Linux console: attributes and status only.
        let answers = Answers::parse(b"\x1b[?1;2c\x1b[0n");
        assert!(answers.complete);
        assert_eq!(answers.protocol(&Env::default()), None);
        assert_eq!(Answers::parse(b"").protocol(&Env::default()), None);
    }

    #[test]
    fn terminals_that_draw_kitty_or_sixel_wrongly_are_not_trusted() {
        let answers = Answers::parse(b"\x1b_Gi=31;OK\x1b\\\x1b[?62;4c\x1b[0n");
        let konsole = Env {
            iterm2: false,
            no_kitty_or_sixel: true,
        };
        assert_eq!(answers.protocol(&konsole), None);
        let wezterm = Env {
            iterm2: true,
            no_kitty_or_sixel: true,
        };
        assert_eq!(answers.protocol(&wezterm), Some(ProtocolType::Iterm2));
    }
}
