//! Every style the console uses, in one place. `NO_COLOR` selects a
//! monochrome theme; state is always also written as text or a marker, never
//! shown by colour alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone)]
pub struct Theme {
    pub base: Style,
    pub status: Style,
    pub border: Style,
    pub border_focus: Style,
    pub title: Style,
    pub title_focus: Style,
    pub header: Style,
    pub selected: Style,
    pub dim: Style,
    pub code: Style,
    pub soon: Style,
    pub warn: Style,
    pub ok: Style,
    pub error: Style,
    pub gone: Style,
    pub key: Style,
    pub popup: Style,
    pub button: Style,
    pub button_active: Style,
    /// QR modules: dark ink on a light ground.
    pub qr: Style,
    pub online: Style,
}

impl Theme {
    /// `NO_COLOR` set to anything non-empty means monochrome (no-color.org).
    pub fn from_env() -> Theme {
        Theme::for_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The theme for a value of `NO_COLOR` (unset or empty means colour).
    pub fn for_no_color(v: Option<&std::ffi::OsStr>) -> Theme {
        match v {
            Some(v) if !v.is_empty() => Theme::mono(),
            _ => Theme::color(),
        }
    }

    pub fn color() -> Theme {
        let s = Style::default();
        Theme {
            base: s,
            status: s.fg(Color::Black).bg(Color::Cyan),
            border: s.fg(Color::DarkGray),
            border_focus: s.fg(Color::Cyan),
            title: s.fg(Color::Gray),
            title_focus: s.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            header: s.fg(Color::Blue).add_modifier(Modifier::BOLD),
            selected: s.bg(Color::DarkGray).add_modifier(Modifier::BOLD),
            dim: s.fg(Color::DarkGray),
            code: s.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            soon: s.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            warn: s.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ok: s.fg(Color::Green),
            error: s.fg(Color::Red).add_modifier(Modifier::BOLD),
            gone: s.fg(Color::DarkGray).add_modifier(Modifier::CROSSED_OUT),
            key: s.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            popup: s.fg(Color::White).bg(Color::Black),
            button: s,
            button_active: s
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            qr: s.fg(Color::Black).bg(Color::White),
            online: s.fg(Color::Green).add_modifier(Modifier::BOLD),
        }
    }

    pub fn mono() -> Theme {
        let s = Style::default();
        let b = s.add_modifier(Modifier::BOLD);
        Theme {
            base: s,
            status: s.add_modifier(Modifier::REVERSED),
            border: s,
            border_focus: b,
            title: s,
            title_focus: b,
            header: b,
            selected: s.add_modifier(Modifier::REVERSED),
            dim: s,
            code: b,
            soon: b.add_modifier(Modifier::UNDERLINED),
            warn: b,
            ok: s,
            error: b,
            gone: s.add_modifier(Modifier::CROSSED_OUT),
            key: b,
            popup: s,
            button: s,
            button_active: s.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            qr: s.add_modifier(Modifier::REVERSED),
            online: b,
        }
    }
}
