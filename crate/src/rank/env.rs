//! What a request ranks against ([`RankEnv`]), where its session profile comes from
//! ([`ProfileSource`]), and what kind of request it is.

use crate::bundle::Bundle;
use crate::kernels::dot_i8;
use crate::score::DeviceSignal;
use crate::session::{SessionLog, SignalPolicy};

/// Everything a request ranks against: the bundle, the session, its signal policy, the items'
/// vector norms (for cosines) and where the session profile comes from.
#[derive(Debug, Clone, Copy)]
pub struct RankEnv<'a> {
    pub bundle: &'a Bundle,
    pub session: &'a SessionLog,
    pub signals: &'a SignalPolicy,
    /// ‖item vector‖ per row (dequantized); see [`item_norms`].
    pub norms: &'a [f32],
    /// The session's raw history, or a private release of its profile.
    pub profile: ProfileSource<'a>,
}

/// Where a request's session profile comes from.
///
/// With [`ProfileSource::Released`] or [`ProfileSource::Public`] nothing in the request reads the
/// raw history: scores come from the released vector (or the popularity prior), the session-based
/// exclusions (`excludeSeen`, `excludePurchased`, `excludeInCart`) are off, and explanations list
/// no events — all of it is post-processing of what was released (see `docs/PRIVACY.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProfileSource<'a> {
    /// The raw history (privacy off: `epsilon: Infinity`).
    Raw,
    /// A differentially private release of the pre-readout profile (`privacy::ProfileMechanism`).
    Released(&'a [f32]),
    /// An anchor item released by the exponential mechanism (`privacy::AnchorMechanism`).
    Anchor(u32),
    /// No session information at all (the budget allowed no release yet).
    Public,
    /// `unit: 'device'`: the page's events (P) ranked exactly, plus a private release of the
    /// device-only record (D) weighted by `blend`. Session-based exclusions and explanations read
    /// P only.
    Page {
        device: DeviceSignal<'a>,
        blend: f32,
    },
}

/// ‖row i‖ of the dequantized embeddings, for every item (computed once per bundle).
pub fn item_norms(bundle: &Bundle) -> Vec<f32> {
    item_norms_of(bundle, 0..bundle.n_items())
}

/// [`item_norm`] of every row in `rows` (a compact bundle's batched: the same bits).
pub fn item_norms_of(bundle: &Bundle, rows: std::ops::Range<usize>) -> Vec<f32> {
    match bundle.compact_square_norms(rows.clone()) {
        Some(squares) => squares.into_iter().map(f32::sqrt).collect(),
        None => rows.map(|i| item_norm(bundle, i)).collect(),
    }
}

/// The length of item `i`'s dequantized vector.
pub fn item_norm(bundle: &Bundle, i: usize) -> f32 {
    if bundle.is_compact() {
        return bundle.item_dot(i, i).sqrt();
    }
    let r = bundle.row(i);
    bundle.scales()[i] * (dot_i8(r, r) as f32).sqrt()
}

/// What a request ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Recommend,
    Rerank,
    /// A scenario around the page's items (or none): reads no history.
    Related(Related),
}

/// The scenarios: functions of the page's item ids and the bundle's public aggregates only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Related {
    /// Items like the given ones: mean cosine to them plus their co-occurrence neighbours.
    Similar,
    /// Items bought with the given ones: their co-purchase neighbours (co-occurrence lists when
    /// the bundle has none), plus a small share of the mean cosine that orders the rest.
    BoughtTogether,
    /// What is bought or viewed most lately: the bundle's recency-weighted counts.
    Trending,
}

impl Related {
    /// The scenario's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Similar => "similar",
            Self::BoughtTogether => "bought-together",
            Self::Trending => "trending",
        }
    }
}
