//! The one key table. Dispatch, the footer and the `?` help popup all read
//! `BINDINGS`, so the help cannot drift from what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::{Mode, Pane};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Approve,
    Reject,
    Copy,
    SetupCode,
    Remove,
    Filter,
    Help,
    /// The decision history view.
    History,
    Quit,
    /// Close a popup / leave a mode.
    Close,
    /// Confirm popup: toggle between Cancel and the action.
    Toggle,
    /// Confirm popup: run the highlighted choice.
    Choose,
    /// Confirm popup: yes, do it.
    Yes,
    /// Filter: delete the last character.
    FilterBackspace,
    /// Filter: keep the text and go back to the list.
    FilterApply,
    /// Filter: typed character (not in the table; produced by `action_for`).
    FilterChar(char),
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeKind {
    Normal,
    Help,
    Filter,
    Confirm,
    /// The approval card.
    Card,
    History,
    SetupCode,
}

impl ModeKind {
    pub fn of(mode: &Mode) -> ModeKind {
        match mode {
            Mode::Normal => ModeKind::Normal,
            Mode::Help => ModeKind::Help,
            Mode::Filter => ModeKind::Filter,
            Mode::Confirm { .. } => ModeKind::Confirm,
            Mode::Card(_) => ModeKind::Card,
            Mode::History { .. } => ModeKind::History,
            Mode::SetupCode(_) => ModeKind::SetupCode,
        }
    }
}

/// Panes where a Normal-mode binding does something (for the footer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panes {
    All,
    Requests,
    Dm,
    Managed,
}

impl Panes {
    pub fn contains(self, p: Pane) -> bool {
        match self {
            Panes::All => true,
            Panes::Requests => matches!(p, Pane::Dm | Pane::Devices),
            Panes::Dm => p == Pane::Dm,
            Panes::Managed => matches!(p, Pane::Paired | Pane::Allow),
        }
    }
}

pub struct Binding {
    pub mode: ModeKind,
    pub keys: &'static [KeyCode],
    /// How the key is written in the footer and help.
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    pub panes: Panes,
    /// Shown in the one-line footer (the help popup shows all).
    pub footer: bool,
}

const fn b(
    mode: ModeKind,
    keys: &'static [KeyCode],
    label: &'static str,
    action: Action,
    help: &'static str,
    panes: Panes,
    footer: bool,
) -> Binding {
    Binding {
        mode,
        keys,
        label,
        action,
        help,
        panes,
        footer,
    }
}

use KeyCode::{BackTab, Backspace, Char, Down, End, Enter, Esc, Home, Left, Right, Tab, Up};
use ModeKind as M;

#[rustfmt::skip]
pub static BINDINGS: &[Binding] = &[
    b(M::Normal, &[Up, Char('k')], "↑/k", Action::Up, "move up", Panes::All, false),
    b(M::Normal, &[Down, Char('j')], "↓/j", Action::Down, "move down", Panes::All, false),
    b(M::Normal, &[Home, Char('g')], "g", Action::Top, "first row", Panes::All, false),
    b(M::Normal, &[End, Char('G')], "G", Action::Bottom, "last row", Panes::All, false),
    b(M::Normal, &[Tab], "Tab", Action::NextPane, "next pane", Panes::All, true),
    b(M::Normal, &[BackTab], "S-Tab", Action::PrevPane, "previous pane", Panes::All, false),
    b(M::Normal, &[Char('a')], "a", Action::Approve, "approve", Panes::Requests, true),
    b(M::Normal, &[Char('r')], "r", Action::Reject, "reject", Panes::Requests, true),
    b(M::Normal, &[Char('c')], "c", Action::Copy, "copy code", Panes::Requests, true),
    b(M::Normal, &[Char('d')], "d", Action::Remove, "revoke", Panes::Managed, true),
    b(M::Normal, &[Char('s')], "s", Action::SetupCode, "new setup code", Panes::All, true),
    b(M::Normal, &[Char('h')], "h", Action::History, "decision history", Panes::All, true),
    b(M::Normal, &[Char('/')], "/", Action::Filter, "filter", Panes::All, true),
    b(M::Normal, &[Char('?')], "?", Action::Help, "help", Panes::All, true),
    b(M::Normal, &[Char('q')], "q", Action::Quit, "quit", Panes::All, true),
    b(M::Normal, &[Esc], "Esc", Action::Close, "clear filter", Panes::All, false),
    b(M::Help, &[Esc, Char('?'), Char('q')], "Esc", Action::Close, "close help", Panes::All, true),
    b(M::Filter, &[Enter], "Enter", Action::FilterApply, "keep filter", Panes::All, true),
    b(M::Filter, &[Esc], "Esc", Action::Close, "clear filter", Panes::All, true),
    b(M::Filter, &[Backspace], "⌫", Action::FilterBackspace, "delete", Panes::All, true),
    b(M::Confirm, &[Left, Right, Tab, BackTab, Char('h'), Char('l')], "←/→", Action::Toggle, "switch", Panes::All, true),
    b(M::Confirm, &[Enter], "Enter", Action::Choose, "choose", Panes::All, true),
    b(M::Confirm, &[Char('y')], "y", Action::Yes, "yes", Panes::All, true),
    b(M::Confirm, &[Esc, Char('n'), Char('q')], "Esc/n", Action::Close, "cancel", Panes::All, true),
    b(M::Card, &[Char('y'), Enter], "y/Enter", Action::Yes, "approve as shown", Panes::All, true),
    b(M::Card, &[Esc, Char('n'), Char('q')], "Esc/n", Action::Close, "cancel", Panes::All, true),
    b(M::History, &[Up, Char('k')], "↑/k", Action::Up, "newer", Panes::All, true),
    b(M::History, &[Down, Char('j')], "↓/j", Action::Down, "older", Panes::All, true),
    b(M::History, &[Home, Char('g')], "g", Action::Top, "newest", Panes::All, false),
    b(M::History, &[End, Char('G')], "G", Action::Bottom, "oldest", Panes::All, false),
    b(M::History, &[Esc, Char('h'), Char('q')], "Esc/h", Action::Close, "close history", Panes::All, true),
    b(M::SetupCode, &[Char('c')], "c", Action::Copy, "copy setup code", Panes::All, true),
    b(M::SetupCode, &[Char('v')], "v", Action::Toggle, "QR or code text", Panes::All, true),
    b(M::SetupCode, &[Esc, Char('q'), Char('s'), Enter], "Esc", Action::Close, "close", Panes::All, true),
];

/// The action for a key in a mode, or `None`. Release and repeat events never act.
pub fn action_for(key: &KeyEvent, mode: ModeKind) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            Char('c') => Some(Action::Quit),
            _ => None,
        };
    }
    if mode == ModeKind::Filter {
        if let Char(c) = key.code {
            return Some(Action::FilterChar(c));
        }
    }
    BINDINGS
        .iter()
        .find(|b| b.mode == mode && b.keys.contains(&key.code))
        .map(|b| b.action)
}

/// Footer entries for a mode and pane: `(label, short help)`.
pub fn footer(mode: ModeKind, pane: Pane) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.mode == mode && b.footer && (mode != M::Normal || b.panes.contains(pane)))
        .map(|b| (b.label, short(b.help)))
        .collect()
}

/// The footer's shorter wording of a help text (the footer must fit 80 columns).
pub fn short(help: &'static str) -> &'static str {
    match help {
        "next pane" => "pane",
        "copy code" => "copy",
        "new setup code" => "setup",
        "decision history" => "history",
        "copy setup code" => "copy",
        "close history" => "close",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn normal_keys() {
        let m = ModeKind::Normal;
        assert_eq!(action_for(&press(Char('j')), m), Some(Action::Down));
        assert_eq!(action_for(&press(Down), m), Some(Action::Down));
        assert_eq!(action_for(&press(Char('k')), m), Some(Action::Up));
        assert_eq!(action_for(&press(Tab), m), Some(Action::NextPane));
        assert_eq!(action_for(&press(Char('a')), m), Some(Action::Approve));
        assert_eq!(action_for(&press(Char('r')), m), Some(Action::Reject));
        assert_eq!(action_for(&press(Char('c')), m), Some(Action::Copy));
        assert_eq!(action_for(&press(Char('s')), m), Some(Action::SetupCode));
        assert_eq!(action_for(&press(Char('d')), m), Some(Action::Remove));
        assert_eq!(action_for(&press(Char('/')), m), Some(Action::Filter));
        assert_eq!(action_for(&press(Char('?')), m), Some(Action::Help));
        assert_eq!(action_for(&press(Char('q')), m), Some(Action::Quit));
        assert_eq!(action_for(&press(Char('h')), m), Some(Action::History));
        assert_eq!(action_for(&press(Char('x')), m), None);
        assert_eq!(
            action_for(&KeyEvent::new(Char('c'), KeyModifiers::CONTROL), m),
            Some(Action::Quit)
        );
    }

    #[test]
    fn release_and_repeat_are_dropped() {
        let mut k = press(Char('a'));
        k.kind = KeyEventKind::Release;
        assert_eq!(action_for(&k, ModeKind::Normal), None);
        let k = KeyEvent {
            code: Char('a'),
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Repeat,
            state: KeyEventState::NONE,
        };
        assert_eq!(action_for(&k, ModeKind::Normal), None);
    }

    #[test]
    fn modes_have_their_own_keys() {
        assert_eq!(
            action_for(&press(Char('q')), ModeKind::Filter),
            Some(Action::FilterChar('q'))
        );
        assert_eq!(
            action_for(&press(Esc), ModeKind::Filter),
            Some(Action::Close)
        );
        assert_eq!(
            action_for(&press(Enter), ModeKind::Confirm),
            Some(Action::Choose)
        );
        assert_eq!(
            action_for(&press(Char('y')), ModeKind::Confirm),
            Some(Action::Yes)
        );
        assert_eq!(action_for(&press(Char('a')), ModeKind::Confirm), None);
        assert_eq!(
            action_for(&press(Char('c')), ModeKind::SetupCode),
            Some(Action::Copy)
        );
        assert_eq!(
            action_for(&press(Char('?')), ModeKind::Help),
            Some(Action::Close)
        );
        // The card: y or Enter approve, Esc or n cancel, `a` again does nothing.
        assert_eq!(action_for(&press(Enter), ModeKind::Card), Some(Action::Yes));
        assert_eq!(
            action_for(&press(Char('n')), ModeKind::Card),
            Some(Action::Close)
        );
        assert_eq!(action_for(&press(Char('a')), ModeKind::Card), None);
    }

    #[test]
    fn no_key_is_bound_twice_in_a_mode() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                if a.mode == b.mode {
                    for k in a.keys {
                        assert!(!b.keys.contains(k), "{k:?} bound twice in {:?}", a.mode);
                    }
                }
            }
        }
    }

    #[test]
    fn footer_follows_the_pane() {
        let dm: Vec<_> = footer(ModeKind::Normal, Pane::Dm)
            .iter()
            .map(|x| x.0)
            .collect();
        assert!(dm.contains(&"a") && dm.contains(&"c") && !dm.contains(&"d"));
        let paired: Vec<_> = footer(ModeKind::Normal, Pane::Paired)
            .iter()
            .map(|x| x.0)
            .collect();
        assert!(paired.contains(&"d") && !paired.contains(&"a"));
    }
}
