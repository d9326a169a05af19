//! How events turn into weights ([`SignalPolicy`]: type × position × time decay × dwell) and the
//! validated limits of a session ([`SessionConfig`]).

use crate::bundle::{Bundle, EventWeights};

use super::event::{Event, EventKind};

/// Default dwell at which a view or click counts fully, in milliseconds.
pub const DEFAULT_DWELL_FULL_MS: f64 = 10_000.0;
/// Floor of the dwell factor: a view with (almost) no dwell still counts this much.
pub const DWELL_FLOOR: f32 = 0.2;

/// How events turn into weights: per-type weights, per-position weights, a time-decay half-life
/// and the dwell scaling. Built from the bundle ([`SignalPolicy::from_bundle`]) and optionally
/// overridden by the page (`crate::shopper::ShopperOptions`).
#[derive(Debug, Clone, PartialEq)]
pub struct SignalPolicy {
    /// Weight of each event type (`weight.*` in the bundle).
    pub weights: EventWeights,
    /// Learned weight per position from the newest (`session_pos_weights`); events beyond the
    /// last position weigh 0. When absent, `recency_decay^position`.
    pub position_weights: Option<Vec<f32>>,
    /// Per-position geometric decay in (0, 1] (`score.recency_decay`).
    pub recency_decay: f32,
    /// Half-life of an event's weight in seconds, > 0 (`score.half_life_s`; `inf` = no decay).
    pub half_life_s: f64,
    /// Dwell (ms) at which a view or click counts fully; shorter dwells scale its weight down
    /// linearly to [`DWELL_FLOOR`]. 0 turns dwell scaling off.
    pub dwell_full_ms: f64,
}

impl Default for SignalPolicy {
    fn default() -> Self {
        Self {
            weights: EventWeights::default(),
            position_weights: None,
            recency_decay: 0.7,
            half_life_s: crate::bundle::DEFAULT_HALF_LIFE_S,
            dwell_full_ms: DEFAULT_DWELL_FULL_MS,
        }
    }
}

impl SignalPolicy {
    /// The bundle's policy: its scoring parameters (event weights, recency decay, half-life) and
    /// learned position weights (`session_pos_weights`), as trained.
    pub fn from_bundle(bundle: &Bundle) -> Self {
        let params = bundle.params();
        Self {
            weights: params.event_weights,
            position_weights: bundle.session_pos_weights().map(<[f32]>::to_vec),
            recency_decay: params.recency_decay,
            half_life_s: params.half_life_s,
            dwell_full_ms: DEFAULT_DWELL_FULL_MS,
        }
    }

    /// Weight of the event at `position` from the newest (0 = newest).
    pub(crate) fn position_weight(&self, position: usize) -> f32 {
        match &self.position_weights {
            Some(w) => w.get(position).copied().unwrap_or(0.0),
            None => {
                let p = i32::try_from(position).unwrap_or(i32::MAX);
                self.recency_decay.powi(p)
            }
        }
    }

    /// `0.5^(age / half_life)` for an event `age_ms` old (future events count as new).
    pub(crate) fn time_decay(&self, age_ms: f64) -> f32 {
        if !self.half_life_s.is_finite() || age_ms <= 0.0 {
            return 1.0;
        }
        0.5f64.powf(age_ms / (self.half_life_s * 1000.0)) as f32
    }

    pub(crate) fn dwell_factor(&self, kind: EventKind, dwell_ms: Option<f64>) -> f32 {
        match dwell_ms {
            Some(d) if kind.dwell_scaled() && self.dwell_full_ms > 0.0 => {
                ((d / self.dwell_full_ms) as f32).clamp(DWELL_FLOOR, 1.0)
            }
            _ => 1.0,
        }
    }
}

/// One item event with the weight it carries in the session profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedEvent {
    /// Position of the entry in [`SessionLog::entries`] (0 = oldest kept).
    pub entry: usize,
    /// The event.
    pub event: Event,
    /// type weight × position weight × time decay × dwell factor (may be negative or 0).
    pub weight: f32,
    /// The same without the position weight: type weight × time decay × dwell factor (the
    /// ranking's repeat and neighbour terms apply their own per-position decay).
    pub base: f32,
}

/// The validated session configuration: limits plus signal policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// Most entries kept.
    pub max_events: usize,
    /// Oldest entry kept, in seconds.
    pub max_age_s: f64,
    /// How events become weights.
    pub signals: SignalPolicy,
}
