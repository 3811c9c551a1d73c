//! The console's pure core: `update` state transitions (no terminal, no
//! tokio) and render snapshots with a fixed clock.

use clawpair::app::effect::{
    Act, ActionError, ActionKind, Decided, DmTarget, Done, Effect, Event, Origin,
};
use clawpair::app::msg::Msg;
use clawpair::app::rows::*;
use clawpair::app::state::{Card, Mode, Pane, Resolution, RowKey, RowStatus, SetupPopup, State};
use clawpair::app::update;
use clawpair::audit::{Action, Subject};
use clawpair::gateway::GatewayEvent;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// 2026-03-01T12:00:00Z
const NOW: i64 = 1_772_366_400_000;

fn dm(channel: &str, id: &str, code: &str, age_s: i64, meta: &[(&str, &str)]) -> DmRequest {
    DmRequest {
        channel: channel.into(),
        account: None,
        id: id.into(),
        code: code.into(),
        created_at_ms: Some(NOW - age_s * 1000),
        last_seen_at_ms: Some(NOW - age_s * 1000),
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        request_id: None,
    }
}

fn dev(rid: &str, device_id: &str, name: &str, age_s: i64) -> DeviceRequest {
    DeviceRequest {
        request_id: rid.into(),
        device_id: device_id.into(),
        display_name: Some(name.into()),
        platform: Some("linux".into()),
        client_id: Some("node-host".into()),
        client_mode: Some("node".into()),
        roles: vec!["node".into()],
        scopes: vec!["node.invoke".into()],
        remote_ip: Some("192.168.1.20".into()),
        is_repair: false,
        ts: NOW - age_s * 1000,
        surface: None,
    }
}

fn paired(device_id: &str, name: &str, roles: &[&str], scopes: &[&str]) -> PairedDevice {
    PairedDevice {
        device_id: device_id.into(),
        display_name: Some(name.into()),
        platform: Some("macos".into()),
        client_id: Some("cli".into()),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        token_state: TokenState::Active,
        active_roles: roles.iter().map(|s| s.to_string()).collect(),
        last_used_ms: Some(NOW - 600_000),
        approved_at_ms: NOW - 86_400_000,
        pending_surface: None,
    }
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(k: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(k, KeyModifiers::NONE))
}

fn dm_snap(requests: Vec<DmRequest>, allow: Vec<AllowList>) -> Msg {
    Msg::DmLoaded(Ok(DmSnapshot {
        requests,
        allow,
        errors: vec![],
        ..Default::default()
    }))
}

fn dev_snap(pending: Vec<DeviceRequest>, paired: Vec<PairedDevice>) -> Msg {
    Msg::DevicesLoaded(Ok(DeviceSnapshot {
        pending,
        paired,
        errors: vec![],
    }))
}

fn state() -> State {
    State::new("~/.openclaw", NOW)
}

fn dm_id(s: &State, p: Pane) -> Option<String> {
    match s.selected_key(p) {
        Some(RowKey::Dm { id, .. }) => Some(id.clone()),
        Some(RowKey::Device(id)) | Some(RowKey::Paired(id)) => Some(id.clone()),
        Some(RowKey::Allow { entry, .. }) => Some(entry.clone()),
        None => None,
    }
}

fn recorded(fx: &[Effect]) -> Vec<Decided> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Record(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

fn emitted(fx: &[Effect]) -> Vec<Event> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Emit(ev) => Some(ev.clone()),
            _ => None,
        })
        .collect()
}

// ------------------------------------------------------------ update

#[test]
fn first_load_is_quiet_later_loads_announce() {
    let mut s = state();
    let fx = update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 10, &[])], vec![]),
    );
    // What was already pending is reported once (for a consumer that starts
    // late), with no notification and no "created".
    assert!(
        matches!(&fx[..], [Effect::Emit(Event::DmPending { id, .. })] if id == "1"),
        "{fx:?}"
    );
    assert_eq!(s.dm.len(), 1);
    assert_eq!(dm_id(&s, Pane::Dm).as_deref(), Some("1"));

    let fx = update(
        &mut s,
        dm_snap(
            vec![
                dm("telegram", "1", "AAAA1111", 10, &[]),
                dm("telegram", "2", "BBBB2222", 1, &[("username", "bob")]),
            ],
            vec![],
        ),
    );
    assert!(fx.contains(&Effect::Notify("New DM pairing request".into())));
    assert!(
        matches!(&emitted(&fx)[..], [Event::DmCreated { id, username, .. }] if id == "2" && username.as_deref() == Some("bob"))
    );
    // The notification text never carries a code.
    for e in &fx {
        if let Effect::Notify(t) = e {
            assert!(!t.contains("BBBB2222"));
        }
    }
}

#[test]
fn approve_runs_one_effect_and_success_removes_the_row() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 10, &[])], vec![]),
    );
    // `a` opens the card and approves nothing yet; `y` approves.
    assert!(update(&mut s, key('a')).is_empty());
    assert!(matches!(s.mode, Mode::Card(Card::Dm(_))));
    let fx = update(&mut s, key('y'));
    assert_eq!(s.mode, Mode::Normal);
    let k = RowKey::Dm {
        channel: "telegram".into(),
        account: None,
        id: "1".into(),
    };
    assert_eq!(
        fx,
        vec![Effect::Act {
            key: k.clone(),
            act: Act::ApproveDm(DmTarget {
                channel: "telegram".into(),
                account: None,
                id: "1".into(),
                code: "AAAA1111".into(),
                request_id: None,
            })
        }]
    );
    assert_eq!(s.dm[0].status, RowStatus::Busy("approving"));
    // A second press while busy does nothing but say so.
    assert!(update(&mut s, key('a')).is_empty());

    let fx = update(
        &mut s,
        Msg::ActionDone {
            key: k,
            kind: ActionKind::Approve,
            result: Ok(Done::DmApproved {
                channel: "telegram".into(),
                id: "1".into(),
            }),
        },
    );
    assert!(s.dm.is_empty());
    assert_eq!(s.toasts.last().unwrap().text, "Approved 1 on telegram");
    assert!(matches!(
        &emitted(&fx)[..],
        [Event::DmApproved { by: "console", .. }]
    ));
    // The decision goes to the audit log: the sender, never the code.
    assert_eq!(
        recorded(&fx),
        vec![Decided {
            action: Action::Approve,
            subject: Subject::dm("telegram", None, "1", None),
            origin: Origin::Here,
            failed: None,
        }]
    );
    // The reload that follows (the row is gone from the file) is silent.
    let fx = update(&mut s, dm_snap(vec![], vec![]));
    assert!(emitted(&fx).is_empty());
}

#[test]
fn failed_write_leaves_the_item_and_says_why() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 10, &[])], vec![]),
    );
    update(&mut s, key('a'));
    update(&mut s, key('y'));
    let k = s.selected_key(Pane::Dm).cloned().unwrap();
    let fx = update(
        &mut s,
        Msg::ActionDone {
            key: k,
            kind: ActionKind::Approve,
            result: Err(ActionError::Failed("permission denied".into())),
        },
    );
    // Tried and failed: recorded with the reason.
    assert_eq!(
        recorded(&fx)[0].failed.as_deref(),
        Some("permission denied")
    );
    assert_eq!(s.dm.len(), 1);
    assert_eq!(
        s.dm[0].status,
        RowStatus::Failed("permission denied".into())
    );
    assert!(s.toasts.last().unwrap().text.contains("permission denied"));
    // A failed row can be tried again.
    update(&mut s, key('a'));
    assert_eq!(update(&mut s, key('y')).len(), 1);
}

#[test]
fn reject_confirmation_defaults_to_cancel() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 10, &[])], vec![]),
    );
    assert!(update(&mut s, key('r')).is_empty());
    assert!(matches!(s.mode, Mode::Confirm { yes: false, .. }));
    // Enter on the default choice cancels.
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    assert_eq!(s.dm[0].status, RowStatus::Live);
    // Esc cancels too.
    update(&mut s, key('r'));
    assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
    // Switch to Reject, then Enter.
    update(&mut s, key('r'));
    update(&mut s, code(KeyCode::Right));
    let fx = update(&mut s, code(KeyCode::Enter));
    assert!(matches!(&fx[..], [Effect::Act { act: Act::RejectDm(t), .. }] if t.code == "AAAA1111"));
    assert_eq!(s.dm[0].status, RowStatus::Busy("rejecting"));
    // `y` confirms directly.
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 10, &[])], vec![]),
    );
    update(&mut s, key('r'));
    assert_eq!(update(&mut s, key('y')).len(), 1);
}

#[test]
fn resolved_elsewhere_is_labelled_then_goes_and_selection_holds_its_place() {
    let mut s = state();
    let a = dm("telegram", "1", "AAAA1111", 30, &[]);
    let b = dm("telegram", "2", "BBBB2222", 20, &[]);
    let c = dm("telegram", "3", "CCCC3333", 10, &[]);
    update(
        &mut s,
        dm_snap(vec![a.clone(), b.clone(), c.clone()], vec![]),
    );
    update(&mut s, key('j'));
    assert_eq!(dm_id(&s, Pane::Dm).as_deref(), Some("2"));

    // Approved by the CLI: gone from the file, now on the allow-list.
    let allow = vec![AllowList {
        channel: "telegram".into(),
        account: Some("default".into()),
        entries: vec!["2".into()],
    }];
    let fx = update(&mut s, dm_snap(vec![a.clone(), c.clone()], allow.clone()));
    assert!(
        matches!(&emitted(&fx)[..], [Event::DmApproved { by: "elsewhere", id, .. }] if id == "2")
    );
    assert_eq!(s.dm.len(), 3, "still shown, labelled");
    assert!(matches!(
        s.dm[1].status,
        RowStatus::Gone {
            how: Resolution::ApprovedElsewhere,
            ..
        }
    ));
    assert_eq!(
        dm_id(&s, Pane::Dm).as_deref(),
        Some("2"),
        "cursor did not jump"
    );
    // Acting on it only explains.
    assert!(update(&mut s, key('a')).is_empty());
    assert!(s.toasts.last().unwrap().text.contains("elsewhere"));
    // A repeated reload keeps the label.
    update(&mut s, dm_snap(vec![a.clone(), c.clone()], allow.clone()));
    assert!(s.dm[1].status.is_gone());
    // After a few seconds it goes, and the cursor lands on the row now in its place.
    update(&mut s, Msg::Tick(NOW + 6_000));
    assert_eq!(s.dm.len(), 2);
    assert_eq!(dm_id(&s, Pane::Dm).as_deref(), Some("3"));

    // Rejected elsewhere (not on the allow-list) is labelled "resolved".
    update(&mut s, dm_snap(vec![a], allow));
    assert!(matches!(
        s.dm[1].status,
        RowStatus::Gone {
            how: Resolution::ResolvedElsewhere,
            ..
        }
    ));
}

#[test]
fn selection_follows_the_item_when_rows_are_inserted_above() {
    let mut s = state();
    let b = dm("telegram", "2", "BBBB2222", 20, &[]);
    let c = dm("telegram", "3", "CCCC3333", 10, &[]);
    update(&mut s, dm_snap(vec![b.clone(), c.clone()], vec![]));
    update(&mut s, key('j'));
    assert_eq!(dm_id(&s, Pane::Dm).as_deref(), Some("3"));
    let a = dm("discord", "1", "AAAA1111", 5, &[]);
    update(&mut s, dm_snap(vec![a, b, c], vec![]));
    assert_eq!(s.dm[0].item.id, "1", "discord sorts first");
    assert_eq!(dm_id(&s, Pane::Dm).as_deref(), Some("3"));
}

#[test]
fn expiry_happens_on_tick_strictly_after_the_ttl() {
    let mut s = state();
    let r = dm("telegram", "1", "AAAA1111", 0, &[]);
    let d = dev("req-1", "abcd", "phone", 0);
    update(&mut s, dm_snap(vec![r], vec![]));
    update(&mut s, dev_snap(vec![d], vec![]));
    let fx = update(&mut s, Msg::Tick(NOW + DEVICE_TTL_MS));
    assert!(fx.is_empty());
    assert_eq!(s.devices.len(), 1);
    let fx = update(&mut s, Msg::Tick(NOW + DEVICE_TTL_MS + 1));
    assert!(
        matches!(&emitted(&fx)[..], [Event::DeviceExpired { request_id, .. }] if request_id == "req-1")
    );
    assert!(s.devices.is_empty());
    assert!(s.selected_key(Pane::Devices).is_none());
    update(&mut s, Msg::Tick(NOW + DM_TTL_MS));
    assert_eq!(s.dm.len(), 1);
    let fx = update(&mut s, Msg::Tick(NOW + DM_TTL_MS + 1));
    assert!(matches!(&emitted(&fx)[..], [Event::DmExpired { .. }]));
    assert!(s.dm.is_empty());
}

#[test]
fn filter_narrows_every_pane_and_esc_clears() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(
            vec![
                dm("telegram", "1", "AAAA1111", 10, &[("username", "alice")]),
                dm("telegram", "2", "BBBB2222", 5, &[("username", "bob")]),
            ],
            vec![],
        ),
    );
    update(&mut s, key('/'));
    assert_eq!(s.mode, Mode::Filter);
    for c in "bob".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(s.visible_keys(Pane::Dm).len(), 1);
    assert_eq!(dm_id(&s, Pane::Dm).as_deref(), Some("2"));
    // q is text while filtering, not quit.
    update(&mut s, key('q'));
    assert!(!s.quit);
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.mode, Mode::Normal);
    assert_eq!(s.filter, "bob");
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.visible_keys(Pane::Dm).len(), 2);
}

#[test]
fn copy_and_panes() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 10, &[])], vec![]),
    );
    assert_eq!(
        update(&mut s, key('c')),
        vec![Effect::Copy {
            what: "pairing code",
            text: "AAAA1111".into()
        }]
    );
    update(
        &mut s,
        Msg::Copied {
            what: "pairing code",
            result: Ok(clawpair::clipboard::OSC_SENT.into()),
        },
    );
    assert_eq!(
        s.toasts.last().unwrap().text,
        "Pairing code sent to the terminal's clipboard (OSC 52); the terminal cannot confirm it arrived"
    );
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(s.focus, Pane::Devices);
    update(&mut s, code(KeyCode::BackTab));
    update(&mut s, code(KeyCode::BackTab));
    assert_eq!(s.focus, Pane::Allow);
    // `d` on a request pane explains; `a` on a managed pane explains.
    assert!(update(&mut s, key('a')).is_empty());
    s.focus = Pane::Dm;
    assert!(update(&mut s, key('d')).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    assert!(update(&mut s, key('q')).contains(&Effect::Quit));
    assert!(s.quit);
}

#[test]
fn devices_approve_remove_and_kind() {
    let mut s = state();
    let have = paired("dev-a", "laptop", &["operator"], &["operator.read"]);
    let mut up = dev("req-1", "dev-a", "laptop", 5);
    up.roles = vec!["operator".into()];
    up.scopes = vec!["operator.read".into(), "operator.write".into()];
    update(&mut s, dev_snap(vec![up.clone()], vec![have.clone()]));
    assert_eq!(
        request_kind(&up, Some(&have)),
        RequestKind::Upgrade {
            roles: vec![],
            scopes: vec!["operator.write".into()]
        }
    );
    assert_eq!(request_kind(&up, None), RequestKind::FirstTime);
    s.focus = Pane::Devices;
    assert!(update(&mut s, key('a')).is_empty());
    assert!(
        matches!(&s.mode, Mode::Card(Card::Device { request, paired: Some(p) }) if request.request_id == "req-1" && p.device_id == "dev-a")
    );
    let fx = update(&mut s, code(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::Act { act: Act::ApproveDevice { request_id }, .. }] if request_id == "req-1")
    );
    s.focus = Pane::Paired;
    update(&mut s, key('d'));
    assert!(matches!(s.mode, Mode::Confirm { yes: false, .. }));
    let fx = update(&mut s, key('y'));
    assert!(
        matches!(&fx[..], [Effect::Act { act: Act::RemoveDevice { device_id }, .. }] if device_id == "dev-a")
    );

    // Approved elsewhere: the device shows up in paired.json with a newer approval.
    let mut s = state();
    let d = dev("req-2", "dev-b", "phone", 5);
    update(&mut s, dev_snap(vec![d], vec![]));
    let mut p = paired("dev-b", "phone", &["node"], &[]);
    p.approved_at_ms = NOW;
    let fx = update(&mut s, dev_snap(vec![], vec![p]));
    assert!(matches!(
        &emitted(&fx)[..],
        [Event::DeviceApproved {
            by: "elsewhere",
            ..
        }]
    ));
}

#[test]
fn setup_code_popup_lifecycle() {
    let mut s = state();
    assert_eq!(update(&mut s, key('s')), vec![Effect::IssueSetupCode]);
    assert_eq!(s.mode, Mode::SetupCode(SetupPopup::Issuing));
    let code = SetupCode {
        code: "eyJ1cmwiOiJ3czovLzEyNy4wLjAuMToxODc4OSIsInRva2VuIjoiYWJjIn0".into(),
        url: "ws://127.0.0.1:18789".into(),
        expires_at_ms: NOW + 600_000,
    };
    let fx = update(&mut s, Msg::SetupCodeIssued(Ok(code.clone())));
    assert!(matches!(&emitted(&fx)[..], [Event::SetupCodeIssued { .. }]));
    let Mode::SetupCode(SetupPopup::Ready { qr, .. }) = &s.mode else {
        panic!("{:?}", s.mode)
    };
    assert!(!qr.is_empty());
    assert_eq!(
        update(&mut s, key('c')),
        vec![Effect::Copy {
            what: "setup code",
            text: code.code.clone()
        }]
    );
    let fx = update(&mut s, Msg::Tick(NOW + 600_000));
    assert_eq!(emitted(&fx), vec![Event::SetupCodeExpired]);
    assert!(
        update(&mut s, key('c')).is_empty(),
        "an expired code is not copied"
    );
    update(&mut s, code_esc());
    assert_eq!(s.mode, Mode::Normal);
}

fn code_esc() -> Msg {
    code(KeyCode::Esc)
}

#[test]
fn gateway_events() {
    let mut s = state();
    update(
        &mut s,
        Msg::Gateway(GatewayEvent::BindFailed {
            addr: "127.0.0.1:18789".into(),
            error: "address in use".into(),
        }),
    );
    assert!(matches!(s.gateway, GatewayStatus::PortBusy { .. }));
    assert!(s.toasts.last().unwrap().text.contains("port busy"));
    update(
        &mut s,
        Msg::Gateway(GatewayEvent::DeviceConnected {
            device_id: "dev-a".into(),
            role: "node".into(),
            remote_addr: "127.0.0.1:5555".into(),
        }),
    );
    assert!(s.online.contains("dev-a"));
    let fx = update(
        &mut s,
        Msg::Gateway(GatewayEvent::DevicePairRequested {
            request_id: "r".into(),
            device_id: "d".into(),
        }),
    );
    assert_eq!(fx, vec![Effect::ReloadDevices]);
    update(&mut s, Msg::Gateway(GatewayEvent::Stopped));
    assert_eq!(s.gateway, GatewayStatus::Stopped);
    assert!(s.online.is_empty());
}

// ------------------------------------------------------------ render

fn full_state() -> State {
    let mut s = state();
    update(
        &mut s,
        dm_snap(
            vec![
                dm(
                    "telegram",
                    "123456789",
                    "K7PQ2MZX",
                    3300,
                    &[
                        ("username", "alice"),
                        ("firstName", "Alice"),
                        ("lastName", "Liddell"),
                    ],
                ),
                dm(
                    "telegram",
                    "987654321",
                    "HX4N8RTA",
                    600,
                    &[("username", "bob")],
                ),
                dm(
                    "discord",
                    "55501234",
                    "W2E9YB3C",
                    120,
                    &[("name", "Carol \u{1b}[31mRed\u{1b}[0m")],
                ),
            ],
            vec![AllowList {
                channel: "telegram".into(),
                account: Some("default".into()),
                entries: vec!["111222333".into(), "444555666".into()],
            }],
        ),
    );
    let have = paired(
        "9aee8cff109f16dc00000000000000000000000000000000000000000000beef",
        "studio-mac",
        &["operator"],
        &["operator.read"],
    );
    let mut up = dev("req-2", &have.device_id, "studio-mac", 30);
    up.roles = vec!["operator".into()];
    up.scopes = vec!["operator.read".into(), "operator.admin".into()];
    up.platform = Some("macos".into());
    up.client_id = Some("openclaw-cli".into());
    up.client_mode = Some("cli".into());
    update(
        &mut s,
        dev_snap(
            vec![
                dev(
                    "req-1",
                    "0b1c2d3e4f5a6b7c0000000000000000000000000000000000000000000000aa",
                    "kitchen-pi",
                    200,
                ),
                up,
            ],
            vec![
                have,
                paired(
                    "77aa88bb99cc00dd000000000000000000000000000000000000000000000000",
                    "phone",
                    &["node"],
                    &["node.invoke"],
                ),
            ],
        ),
    );
    s.online
        .insert("77aa88bb99cc00dd000000000000000000000000000000000000000000000000".into());
    s.gateway = GatewayStatus::Listening {
        addr: "127.0.0.1:18789".into(),
    };
    s
}

fn render(s: &State, w: u16, h: u16, theme: &clawpair::ui::Theme) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| clawpair::ui::render(f, s, theme)).unwrap();
    t
}

fn snap(name: &str, s: &State) {
    let theme = clawpair::ui::Theme::color();
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let t = render(s, w, h, &theme);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

#[test]
fn snapshot_empty() {
    let mut s = state();
    update(&mut s, dm_snap(vec![], vec![]));
    update(&mut s, dev_snap(vec![], vec![]));
    snap("empty", &s);
}

#[test]
fn snapshot_full() {
    snap("full", &full_state());
}

#[test]
fn snapshot_cap_warning() {
    let mut s = full_state();
    update(
        &mut s,
        dm_snap(
            vec![
                dm(
                    "telegram",
                    "123456789",
                    "K7PQ2MZX",
                    3300,
                    &[("username", "alice")],
                ),
                dm(
                    "telegram",
                    "987654321",
                    "HX4N8RTA",
                    600,
                    &[("username", "bob")],
                ),
                dm(
                    "telegram",
                    "31337",
                    "Q9W8E7R6",
                    60,
                    &[("firstName", "Dave")],
                ),
            ],
            vec![],
        ),
    );
    snap("cap_warning", &s);
}

#[test]
fn snapshot_confirm_popup() {
    let mut s = full_state();
    update(&mut s, key('r'));
    snap("confirm", &s);
}

#[test]
fn snapshot_setup_code_popup() {
    let mut s = full_state();
    update(&mut s, key('s'));
    update(
        &mut s,
        Msg::SetupCodeIssued(Ok(SetupCode {
            // As long as a real one: a 43-character token and a loopback URL.
            code: clawpair::gateway::setup::encode(
                "ws://127.0.0.1:18789",
                "demo-setup-token-0123456789abcdefghijklmnop",
            ),
            url: "ws://127.0.0.1:18789".into(),
            expires_at_ms: NOW + 600_000,
        })),
    );
    snap("setup_code", &s);
}

#[test]
fn snapshot_help_and_no_color() {
    let mut s = full_state();
    update(&mut s, key('?'));
    snap("help", &s);
    let s = full_state();
    let mono = clawpair::ui::Theme::mono();
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let t = render(&s, w, h, &mono);
        // NO_COLOR: not one cell carries a colour.
        for c in t.backend().buffer().content() {
            assert_eq!(c.fg, ratatui::style::Color::Reset);
            assert_eq!(c.bg, ratatui::style::Color::Reset);
        }
        insta::assert_snapshot!(format!("no_color_{w}x{h}"), t.backend());
    }
}

#[test]
fn nothing_sender_supplied_reaches_the_screen_raw() {
    let s = full_state();
    let t = render(&s, 120, 40, &clawpair::ui::Theme::color());
    for c in t.backend().buffer().content() {
        assert!(!c.symbol().contains('\u{1b}'));
    }
}

#[test]
fn expiring_soon_is_marked_in_text() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 3_400, &[])], vec![]),
    );
    let t = render(&s, 80, 24, &clawpair::ui::Theme::mono());
    let text = format!("{}", t.backend());
    assert!(text.contains("!03:20"), "{text}");
}

#[test]
fn no_color_env_value_selects_monochrome() {
    use clawpair::ui::Theme;
    use std::ffi::OsStr;
    assert_eq!(
        Theme::for_no_color(Some(OsStr::new("1"))).status,
        Theme::mono().status
    );
    assert_eq!(
        Theme::for_no_color(Some(OsStr::new(""))).status,
        Theme::color().status
    );
    assert_eq!(Theme::for_no_color(None).status, Theme::color().status);
}

#[test]
fn port_busy_is_on_the_status_line_and_the_console_keeps_working() {
    let mut s = full_state();
    update(
        &mut s,
        Msg::Gateway(GatewayEvent::BindFailed {
            addr: "127.0.0.1:18789".into(),
            error: "Address already in use".into(),
        }),
    );
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let t = render(&s, w, h, &clawpair::ui::Theme::color());
        let text = format!("{}", t.backend());
        assert!(text.contains("127.0.0.1:18789 PORT BUSY"), "{text}");
        assert!(
            text.contains("port busy (127.0.0.1:18789); working on the files only"),
            "{text}"
        );
    }
    // Approving still works (it only needs the files).
    update(&mut s, key('a'));
    assert_eq!(update(&mut s, key('y')).len(), 1);
}

// ------------------------------------------------------------ deliberate decisions

fn dm_key_of(id: &str) -> RowKey {
    RowKey::Dm {
        channel: "telegram".into(),
        account: None,
        id: id.into(),
    }
}

#[test]
fn the_card_approves_what_it_shows_even_when_the_selection_moves() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(
            vec![
                dm("telegram", "1", "AAAA1111", 30, &[]),
                dm("telegram", "2", "BBBB2222", 20, &[]),
            ],
            vec![],
        ),
    );
    update(&mut s, key('j'));
    update(&mut s, key('a'));
    assert!(matches!(&s.mode, Mode::Card(Card::Dm(r)) if r.id == "2"));
    // A request sorting first arrives while the card is open.
    update(
        &mut s,
        dm_snap(
            vec![
                dm("discord", "9", "ZZZZ9999", 1, &[]),
                dm("telegram", "1", "AAAA1111", 30, &[]),
                dm("telegram", "2", "BBBB2222", 20, &[]),
            ],
            vec![],
        ),
    );
    let fx = update(&mut s, key('y'));
    assert!(
        matches!(&fx[..], [Effect::Act { key, act: Act::ApproveDm(t) }] if *key == dm_key_of("2") && t.code == "BBBB2222"),
        "{fx:?}"
    );
}

#[test]
fn the_card_refuses_what_changed_or_went_while_it_was_open() {
    let mut s = state();
    let mut d = dev("req-1", "dev-a", "phone", 5);
    update(&mut s, dev_snap(vec![d.clone()], vec![]));
    s.focus = Pane::Devices;
    update(&mut s, key('a'));
    // The device merged a wider request into the same request id.
    d.scopes.push("operator.admin".into());
    update(&mut s, dev_snap(vec![d.clone()], vec![]));
    let fx = update(&mut s, key('y'));
    assert!(fx.is_empty(), "{fx:?}");
    assert!(
        matches!(&s.mode, Mode::Card(Card::Device { request, .. }) if request.scopes.contains(&"operator.admin".to_string())),
        "the card now shows what it asks for"
    );
    assert!(s.toasts.last().unwrap().text.contains("changed"));
    // A device asking again for the same (a newer ts) is no change.
    d.ts += 1_000;
    update(&mut s, dev_snap(vec![d.clone()], vec![]));
    // Confirming what is now shown works.
    assert_eq!(update(&mut s, key('y')).len(), 1);

    // Gone (rejected elsewhere) while open: nothing is approved.
    let mut s = state();
    update(
        &mut s,
        dev_snap(vec![dev("req-2", "dev-b", "pi", 5)], vec![]),
    );
    s.focus = Pane::Devices;
    update(&mut s, key('a'));
    update(&mut s, dev_snap(vec![], vec![]));
    assert!(update(&mut s, key('y'))
        .iter()
        .all(|e| !matches!(e, Effect::Act { .. })));
    assert_eq!(s.mode, Mode::Normal);
    assert!(s.toasts.last().unwrap().text.contains("Not approved"));
    // Esc on a card cancels.
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 30, &[])], vec![]),
    );
    update(&mut s, key('a'));
    assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    assert_eq!(s.dm[0].status, RowStatus::Live);
}

#[test]
fn quick_approve_skips_the_card_for_dm_codes_only() {
    let mut s = state();
    s.quick_approve = true;
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 30, &[])], vec![]),
    );
    update(
        &mut s,
        dev_snap(vec![dev("req-1", "dev-a", "phone", 5)], vec![]),
    );
    assert!(matches!(
        &update(&mut s, key('a'))[..],
        [Effect::Act { .. }]
    ));
    s.focus = Pane::Devices;
    assert!(update(&mut s, key('a')).is_empty());
    assert!(matches!(s.mode, Mode::Card(Card::Device { .. })));
}

#[test]
fn an_arriving_request_never_takes_the_cursor() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "5", "EEEE5555", 30, &[])], vec![]),
    );
    // The owner has not moved the cursor; a request that sorts first arrives.
    update(
        &mut s,
        dm_snap(
            vec![
                dm("discord", "1", "AAAA1111", 1, &[]),
                dm("telegram", "5", "EEEE5555", 30, &[]),
            ],
            vec![],
        ),
    );
    assert_eq!(dm_id(&s, Pane::Dm).as_deref(), Some("5"));
    // `a` right away is for the row that was there, and no key is lost.
    update(&mut s, key('a'));
    assert!(matches!(&s.mode, Mode::Card(Card::Dm(r)) if r.id == "5"));
}

#[test]
fn a_key_right_after_the_selected_row_changed_is_ignored() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(
            vec![
                dm("telegram", "1", "AAAA1111", 30, &[]),
                dm("telegram", "2", "BBBB2222", 20, &[]),
            ],
            vec![],
        ),
    );
    // The selected request is dismissed elsewhere and its label times out:
    // the cursor lands on "2" by itself.
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "2", "BBBB2222", 20, &[])], vec![]),
    );
    update(&mut s, Msg::Tick(NOW + 6_000));
    assert_eq!(dm_id(&s, Pane::Dm).as_deref(), Some("2"));
    // 0.3 s later `a` and `r` are ignored, with a toast naming the new row.
    update(&mut s, Msg::Tick(NOW + 6_300));
    assert!(update(&mut s, key('a')).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    assert!(update(&mut s, key('r')).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    let t = &s.toasts.last().unwrap().text;
    assert!(
        t.contains("selection just changed") && t.contains("telegram 2"),
        "{t}"
    );
    // Moving is never blocked; after the pause the keys act again.
    update(&mut s, Msg::Tick(NOW + 6_600));
    update(&mut s, key('a'));
    assert!(matches!(&s.mode, Mode::Card(Card::Dm(r)) if r.id == "2"));
}

#[test]
fn decisions_elsewhere_are_recorded_as_observed() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(
            vec![
                dm("telegram", "1", "AAAA1111", 30, &[("firstName", "Ann")]),
                dm("telegram", "2", "BBBB2222", 20, &[]),
            ],
            vec![],
        ),
    );
    let allow = vec![AllowList {
        channel: "telegram".into(),
        account: Some("default".into()),
        entries: vec!["1".into()],
    }];
    let fx = update(&mut s, dm_snap(vec![], allow));
    let rec = recorded(&fx);
    assert_eq!(rec.len(), 2, "{rec:?}");
    assert!(rec.iter().all(|d| d.origin == Origin::Observed));
    assert_eq!(
        (rec[0].action, &rec[0].subject),
        (
            Action::Approve,
            &Subject::dm("telegram", None, "1", Some("Ann".into()))
        )
    );
    assert_eq!(rec[1].action, Action::Reject);
    // Expiry is not a decision.
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "3", "CCCC3333", 0, &[])], vec![]),
    );
    let fx = update(&mut s, Msg::Tick(NOW + DM_TTL_MS + 1));
    assert!(recorded(&fx).is_empty());
}

#[test]
fn a_decision_on_nothing_is_not_recorded() {
    let mut s = state();
    update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 30, &[])], vec![]),
    );
    update(&mut s, key('a'));
    update(&mut s, key('y'));
    let fx = update(
        &mut s,
        Msg::ActionDone {
            key: dm_key_of("1"),
            kind: ActionKind::Approve,
            result: Err(ActionError::Gone("no pending request".into())),
        },
    );
    assert!(recorded(&fx).is_empty());
}

#[test]
fn headless_reports_what_is_pending_then_ready() {
    let mut s = state();
    let fx = update(
        &mut s,
        dm_snap(vec![dm("telegram", "1", "AAAA1111", 30, &[])], vec![]),
    );
    assert!(!emitted(&fx)
        .iter()
        .any(|e| matches!(e, Event::Ready { .. })));
    let fx = update(
        &mut s,
        dev_snap(vec![dev("req-1", "dev-a", "phone", 5)], vec![]),
    );
    assert_eq!(
        emitted(&fx),
        vec![
            Event::DevicePending {
                request_id: "req-1".into(),
                device_id: "dev-a".into(),
                display_name: Some("phone".into()),
                platform: Some("linux".into()),
                roles: vec!["node".into()],
                scopes: vec!["node.invoke".into()],
                remote_ip: Some("192.168.1.20".into()),
                is_repair: false,
            },
            Event::Ready {
                dm_pending: 1,
                device_pending: 1
            }
        ]
    );
    // Only once.
    let fx = update(
        &mut s,
        dev_snap(vec![dev("req-1", "dev-a", "phone", 5)], vec![]),
    );
    assert!(emitted(&fx).is_empty());
}

fn record(action: Action, subject: Subject, mins_ago: i64) -> clawpair::audit::Record {
    clawpair::audit::Record::new(
        NOW - mins_ago * 60_000,
        action,
        subject,
        clawpair::audit::Via::Console,
        &clawpair::audit::Place::Local("/home/me/.openclaw".into()),
    )
}

fn history_state() -> State {
    let mut s = full_state();
    assert_eq!(update(&mut s, key('h')), vec![Effect::LoadHistory]);
    let mut records = vec![
        record(
            Action::SetupCodeIssued,
            Subject::SetupCode {
                url: Some("ws://192.168.1.5:18789".into()),
                expires: Some("2026-03-01T10:10:00.000Z".into()),
                device_id: None,
            },
            120,
        ),
        record(
            Action::Approve,
            Subject::device(
                "0b1c2d3e4f5a6b7c0000000000000000000000000000000000000000000000aa",
                Some("kitchen-pi"),
                Some("req-0"),
            ),
            90,
        ),
        record(
            Action::Reject,
            Subject::dm("discord", None, "55501234", Some("Carol".into())),
            30,
        ),
    ];
    let mut seen = record(
        Action::Approve,
        Subject::dm("telegram", None, "111222333", None),
        5,
    );
    seen.via = clawpair::audit::Via::Elsewhere;
    seen.observed_by = Some(clawpair::audit::Via::Console);
    records.push(seen);
    let mut failed = record(
        Action::Remove,
        Subject::device(
            "77aa88bb99cc00dd000000000000000000000000000000000000000000000000",
            Some("phone"),
            None,
        ),
        1,
    );
    failed = failed.failed("permission denied");
    records.push(failed);
    for r in &mut records {
        r.user = "me".into();
    }
    update(
        &mut s,
        Msg::HistoryLoaded(clawpair::audit::History {
            records,
            damaged: 1,
            errors: vec![],
        }),
    );
    s
}

#[test]
fn history_view_lists_the_latest_decisions_and_updates() {
    let mut s = history_state();
    assert!(matches!(s.mode, Mode::History { scroll: 0 }));
    assert_eq!(s.history.len(), 5);
    let r = record(Action::Approve, Subject::dm("telegram", None, "9", None), 0);
    let fx = update(&mut s, Msg::Recorded(Ok(r.clone())));
    assert_eq!(s.history.last(), Some(&r));
    assert_eq!(emitted(&fx), vec![Event::DecisionRecorded { decision: r }]);
    update(&mut s, key('j'));
    assert!(matches!(s.mode, Mode::History { scroll: 1 }));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.mode, Mode::Normal);
    // A failure to record is said once and kept on screen.
    update(&mut s, Msg::Recorded(Err("read-only file system".into())));
    assert!(s.toasts.last().unwrap().text.contains("not recorded"));
    assert!(s.history_error.is_some());
}

#[test]
fn snapshot_cards() {
    let mut s = full_state();
    update(&mut s, key('j'));
    update(&mut s, key('a'));
    snap("card_dm", &s);
    let mut s = full_state();
    s.focus = Pane::Devices;
    update(&mut s, key('j'));
    update(&mut s, key('a'));
    snap("card_device_upgrade", &s);
    // A repair (the key changed), then gone while the card was open.
    let mut s = state();
    let id = "5a5a5a5a5a5a5a5a00000000000000000000000000000000000000000000ffff";
    let mut r = dev("req-9", id, "old-laptop", 12);
    r.is_repair = true;
    r.remote_ip = None;
    let had = paired(id, "old-laptop", &["node"], &["node.invoke"]);
    update(&mut s, dm_snap(vec![], vec![]));
    update(&mut s, dev_snap(vec![r], vec![had.clone()]));
    s.focus = Pane::Devices;
    update(&mut s, key('a'));
    assert!(matches!(s.mode, Mode::Card(_)));
    update(&mut s, dev_snap(vec![], vec![had]));
    snap("card_device_repair_gone", &s);
}

#[test]
fn card_of_a_node_capability_surface_shows_the_commands_and_approves_by_node_pair() {
    // OpenClaw 2026.9: the paired node's capability surface waits for its own approval.
    let mut s = state();
    let id = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
    let mut r = dev("surf-1", id, "build-box", 20);
    r.surface = Some(clawpair::app::rows::NodeSurface {
        caps: vec!["system".into()],
        commands: vec!["system.run".into(), "system.which".into()],
        required_scopes: vec!["operator.admin".into()],
        version: Some("2026.9.6".into()),
    });
    let had = paired(id, "build-box", &["node"], &[]);
    update(&mut s, dm_snap(vec![], vec![]));
    update(&mut s, dev_snap(vec![r], vec![had]));
    s.focus = Pane::Devices;
    assert!(update(&mut s, key('a')).is_empty());
    let text = format!(
        "{}",
        render(&s, 120, 40, &clawpair::ui::Theme::mono()).backend()
    );
    assert!(text.contains("Approve this node's capabilities?"), "{text}");
    assert!(text.contains("system.run, system.which"), "{text}");
    assert!(text.contains("operator.admin"), "{text}");
    snap("card_node_surface", &s);
    let fx = update(&mut s, key('y'));
    assert!(
        matches!(&fx[..], [Effect::Act { act: Act::ApproveNode { request_id }, .. }] if request_id == "surf-1"),
        "{fx:?}"
    );
}

#[test]
fn snapshot_history() {
    snap("history", &history_state());
}

#[test]
fn snapshot_scrolling_and_empty_panes() {
    // 24 paired devices and no requests: the request panes take a line
    // each, the paired pane scrolls and says where it is.
    let mut s = state();
    update(&mut s, dm_snap(vec![], vec![]));
    let paired: Vec<PairedDevice> = (0..24)
        .map(|i| {
            paired(
                &format!("{i:02}aa{}", "0".repeat(60)),
                &format!("device-{i:02}"),
                &["node"],
                &[],
            )
        })
        .collect();
    update(&mut s, dev_snap(vec![], paired));
    s.focus = Pane::Paired;
    for _ in 0..14 {
        update(&mut s, key('j'));
    }
    snap("scrolling", &s);
}

#[test]
fn snapshot_first_run_says_where_state_lives() {
    let mut s = State::new("/srv/oc-state", NOW);
    update(&mut s, dm_snap(vec![], vec![]));
    update(&mut s, dev_snap(vec![], vec![]));
    s.gateway = GatewayStatus::Listening {
        addr: "127.0.0.1:18789".into(),
    };
    assert!(s.is_first_run());
    snap("first_run", &s);
}

#[test]
fn long_messages_wrap_instead_of_being_cut() {
    let mut s = full_state();
    let msg = "/home/someone/.openclaw/credentials/telegram-pairing.json: malformed JSON at line 3, column 5: expected value (left untouched; run `clawpair doctor --repair` to move it aside)";
    update(&mut s, Msg::DmLoaded(Err(msg.into())));
    update(&mut s, Msg::Info(format!("Could not do it: {msg}")));
    let t = render(&s, 80, 24, &clawpair::ui::Theme::mono());
    let text = format!("{}", t.backend());
    let flat: String = text
        .lines()
        .map(|l| l.trim_matches('"').trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.matches("`clawpair doctor --repair` to move it aside")
            .count()
            >= 2,
        "both the alert and the toast hold the fix:\n{text}"
    );
}

#[test]
fn the_cap_warning_counts_per_account_on_2026_9_state() {
    let mut s = state();
    let mut reqs = vec![];
    for (i, acc) in ["work", "work", "work", "home"].iter().enumerate() {
        let mut r = dm("telegram", &format!("{i}"), &format!("CODE000{i}"), 10, &[]);
        r.account = Some(acc.to_string());
        reqs.push(r);
    }
    s.dm_cap = DmCap::PerAccount;
    update(
        &mut s,
        Msg::DmLoaded(Ok(DmSnapshot {
            requests: reqs,
            ..Default::default()
        })),
    );
    assert!(s.dm_cap_reached("telegram", Some("work")));
    assert!(!s.dm_cap_reached("telegram", Some("home")));
    let text = format!(
        "{}",
        render(&s, 120, 40, &clawpair::ui::Theme::mono()).backend()
    );
    assert!(
        text.contains("telegram · work  3/3 per account  ⚠ FULL: new senders to this account"),
        "{text}"
    );
    assert!(text.contains("telegram · home  1/3 per account"), "{text}");
}
