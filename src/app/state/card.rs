//! The confirm question and the approval card: what approving would grant,
//! and how the card's request stands now.

use super::*;

/// A destructive action waiting for confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    RejectDm(RowKey),
    RejectDevice(String),
    RemoveDevice(String),
    RevokeAllow(RowKey),
}

impl Confirm {
    /// The question as the console asks it: for a paired device, what
    /// happens to its open connections depends on whose gateway they are on.
    pub fn question_in(&self, s: &State) -> String {
        let Confirm::RemoveDevice(id) = self else {
            return self.question();
        };
        let listening = matches!(s.gateway, GatewayStatus::Listening { .. });
        match (listening, s.online.contains(id)) {
            (true, true) => "Remove this paired device? Its tokens stop working and its open \
                connection to this console's gateway is closed now (4001 device removed); to come \
                back it must pair and be approved again."
                .into(),
            (true, false) => "Remove this paired device? Its tokens stop working; to come back \
                it must pair and be approved again."
                .into(),
            (false, _) => "Remove this paired device? Its tokens stop working at its next \
                connect. This console's gateway is not running: a connection the device holds to \
                another gateway stays open until it reconnects."
                .into(),
        }
    }

    pub fn question(&self) -> String {
        match self {
            Confirm::RejectDm(RowKey::Dm { channel, id, .. }) => {
                format!("Reject the {channel} pairing request from {id}?")
            }
            Confirm::RejectDm(_) => "Reject this request?".into(),
            Confirm::RejectDevice(_) => "Reject this device pairing request?".into(),
            Confirm::RemoveDevice(_) => {
                "Remove this paired device? Its tokens stop working; to come back it must pair and be approved again.".into()
            }
            Confirm::RevokeAllow(RowKey::Allow { channel, entry, .. }) => {
                format!("Remove {entry} from the {channel} allow-list?")
            }
            Confirm::RevokeAllow(_) => "Remove this allow-list entry?".into(),
        }
    }
}

/// The approval card: what approving would grant, as it was when the card
/// opened. Confirming acts on exactly this; if the request changed or went
/// meanwhile, the card says so instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Card {
    Dm(DmRequest),
    Device {
        request: Box<DeviceRequest>,
        /// What the device already holds, if it is paired.
        paired: Option<Box<PairedDevice>>,
    },
}

impl Card {
    pub fn key(&self) -> RowKey {
        match self {
            Card::Dm(r) => dm_key(r),
            Card::Device { request, .. } => RowKey::Device(request.request_id.clone()),
        }
    }

    /// The act confirming the card performs.
    pub fn act(&self) -> Act {
        match self {
            Card::Dm(r) => Act::ApproveDm(crate::app::effect::DmTarget {
                channel: r.channel.clone(),
                account: r.account.clone(),
                id: r.id.clone(),
                code: r.code.clone(),
                request_id: r.request_id.clone(),
            }),
            // A 2026.9 node's capability surface is approved by its own RPC.
            Card::Device { request, .. } if request.surface.is_some() => Act::ApproveNode {
                request_id: request.request_id.clone(),
            },
            Card::Device { request, .. } => Act::ApproveDevice {
                request_id: request.request_id.clone(),
            },
        }
    }
}

/// What the card's request is like now, compared with the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardLive {
    /// Still pending, unchanged.
    Same,
    /// Still pending, but what it asks for changed: review again.
    Changed,
    /// No longer pending (approved or resolved elsewhere, expired).
    Gone(&'static str),
    /// Our own action on it is running.
    Busy,
}

impl State {
    /// How the card's request stands now.
    pub fn card_live(&self, card: &Card) -> CardLive {
        let key = card.key();
        match self.status_of(&key) {
            None => CardLive::Gone("no longer pending (expired or decided elsewhere)"),
            Some(RowStatus::Gone { how, .. }) => CardLive::Gone(match how {
                Resolution::ApprovedElsewhere => "already approved elsewhere",
                Resolution::ResolvedElsewhere => "already resolved elsewhere",
            }),
            Some(RowStatus::Busy(_)) => CardLive::Busy,
            Some(_) => {
                // What the card shows, not the clock fields (a sender writing
                // again, a device asking again, a token used) decides.
                let dm_same = |a: &DmRequest, b: &DmRequest| {
                    (
                        &a.channel,
                        &a.account,
                        &a.id,
                        &a.code,
                        a.created_at_ms,
                        &a.meta,
                    ) == (
                        &b.channel,
                        &b.account,
                        &b.id,
                        &b.code,
                        b.created_at_ms,
                        &b.meta,
                    )
                };
                let dev_same = |a: &DeviceRequest, b: &DeviceRequest| {
                    DeviceRequest { ts: 0, ..a.clone() } == DeviceRequest { ts: 0, ..b.clone() }
                };
                let held =
                    |p: Option<&PairedDevice>| p.map(|p| (p.roles.clone(), p.scopes.clone()));
                let same = match card {
                    Card::Dm(r) => self.dm.iter().any(|x| dm_same(&x.item, r)),
                    Card::Device { request, paired } => {
                        self.devices.iter().any(|x| dev_same(&x.item, request))
                            && held(self.paired_by_id(&request.device_id))
                                == held(paired.as_deref())
                    }
                };
                if same {
                    CardLive::Same
                } else {
                    CardLive::Changed
                }
            }
        }
    }
}
