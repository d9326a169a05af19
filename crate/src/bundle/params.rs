//! The scoring parameters a bundle carries in its metadata, typed, with their keys in one place:
//! the trainer fills a [`ScoringParams`] into `BundleParts::params`, the writer writes every key,
//! the reader validates every key into the same struct, and the engine reads only the struct.

use std::collections::BTreeMap;

use super::metadata::{metadata_f32, Metadata};
use crate::error::BundleError;
use crate::numfmt::{parse_f64, Num, Num32};

/// The metadata keys of [`ScoringParams`].
pub mod keys {
    /// [`super::ScoringParams::pop_weight`].
    pub const POP_WEIGHT: &str = "score.pop_weight";
    /// [`super::ScoringParams::recency_decay`].
    pub const RECENCY_DECAY: &str = "score.recency_decay";
    /// [`super::ScoringParams::half_life_s`].
    pub const HALF_LIFE_S: &str = "score.half_life_s";
    /// [`super::EventWeights`], one key per event type.
    pub const WEIGHT_VIEW: &str = "weight.view";
    pub const WEIGHT_CLICK: &str = "weight.click";
    pub const WEIGHT_ADD_TO_CART: &str = "weight.add_to_cart";
    pub const WEIGHT_REMOVE_FROM_CART: &str = "weight.remove_from_cart";
    pub const WEIGHT_PURCHASE: &str = "weight.purchase";
    /// [`super::ScoringParams::repeat_weight`].
    pub const REPEAT_WEIGHT: &str = "score.repeat_weight";
    /// [`super::ScoringParams::repeat_decay`].
    pub const REPEAT_DECAY: &str = "score.repeat_decay";
    /// [`super::ScoringParams::nbr_weight`].
    pub const NBR_WEIGHT: &str = "score.nbr_weight";
    /// [`super::ScoringParams::nbr_decay`].
    pub const NBR_DECAY: &str = "score.nbr_decay";
    /// Every key above.
    pub const ALL: [&str; 12] = [
        POP_WEIGHT,
        RECENCY_DECAY,
        HALF_LIFE_S,
        WEIGHT_VIEW,
        WEIGHT_CLICK,
        WEIGHT_ADD_TO_CART,
        WEIGHT_REMOVE_FROM_CART,
        WEIGHT_PURCHASE,
        REPEAT_WEIGHT,
        REPEAT_DECAY,
        NBR_WEIGHT,
        NBR_DECAY,
    ];
}

/// Default half-life of an event's weight: one day, in seconds.
pub const DEFAULT_HALF_LIFE_S: f64 = 86_400.0;

/// How the engine scores, as trained (defaults for keys a bundle does not carry).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringParams {
    /// Weight of the popularity prior added to the session similarity (≥ 0).
    pub pop_weight: f32,
    /// Per-position recency decay of session events in (0, 1]: the newest event weighs 1, the one
    /// before `decay`, then `decay²`, … (used when the bundle has no `session_pos_weights`).
    pub recency_decay: f32,
    /// Half-life of an event's weight, in seconds (> 0; `inf`: no time decay).
    pub half_life_s: f64,
    /// Event-type weights.
    pub event_weights: EventWeights,
    /// Weight of the re-consumption term (≥ 0; 0 = off): an item the session already holds gains
    /// `repeat_weight · Σ type weight · repeat_decay^position · time decay` over its events
    /// (position 0 = the newest item event). Chosen on the validation split by `vitrine train`.
    pub repeat_weight: f32,
    /// Per-position decay of the re-consumption term, in (0, 1].
    pub repeat_decay: f32,
    /// Weight of the item-to-item term (≥ 0; 0 = off): item i gains `nbr_weight · Σ type weight ·
    /// nbr_decay^position · time decay · w(event item → i)` over the session's events, with `w`
    /// the co-occurrence neighbour weight (`nbr_*`) normalized so each list's strongest is 1.
    pub nbr_weight: f32,
    /// Per-position decay of the item-to-item term, in (0, 1].
    pub nbr_decay: f32,
}

/// Weight of each event type in the session profile (finite; may be negative).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventWeights {
    pub view: f32,
    pub click: f32,
    pub add_to_cart: f32,
    pub remove_from_cart: f32,
    pub purchase: f32,
}

impl Default for EventWeights {
    fn default() -> Self {
        Self {
            view: 1.0,
            click: 1.0,
            add_to_cart: 2.0,
            remove_from_cart: -1.0,
            purchase: 2.0,
        }
    }
}

impl Default for ScoringParams {
    fn default() -> Self {
        Self {
            pop_weight: 0.1,
            recency_decay: 0.7,
            half_life_s: DEFAULT_HALF_LIFE_S,
            event_weights: EventWeights::default(),
            repeat_weight: 0.0,
            repeat_decay: 0.8,
            nbr_weight: 0.0,
            nbr_decay: 0.8,
        }
    }
}

impl ScoringParams {
    /// Reads and checks every key (absent: the default); a malformed value is an error naming the
    /// key.
    pub(crate) fn read(metadata: &Metadata) -> Result<Self, BundleError> {
        let d = Self::default();
        let any = |_: f32| true;
        const FINITE: &str = "expected a finite number";
        let weight = |key, default| -> Result<f32, BundleError> {
            Ok(metadata_f32(metadata, key, any, FINITE)?.unwrap_or(default))
        };
        let half_life_s = match metadata.get(keys::HALF_LIFE_S) {
            None => d.half_life_s,
            Some(v) => match parse_f64(v.trim()) {
                Some(h) if h > 0.0 => h,
                _ => {
                    return Err(BundleError::Metadata {
                        key: keys::HALF_LIFE_S.into(),
                        value: v.chars().take(80).collect(),
                        why: "expected a number of seconds > 0 (or inf)".into(),
                    })
                }
            },
        };
        let w = d.event_weights;
        let non_negative = |key, default| -> Result<f32, BundleError> {
            Ok(
                metadata_f32(metadata, key, |x| x >= 0.0, "expected a finite number ≥ 0")?
                    .unwrap_or(default),
            )
        };
        let decay = |key, default| -> Result<f32, BundleError> {
            Ok(metadata_f32(
                metadata,
                key,
                |x| x > 0.0 && x <= 1.0,
                "expected a number in (0, 1]",
            )?
            .unwrap_or(default))
        };
        Ok(Self {
            pop_weight: metadata_f32(
                metadata,
                keys::POP_WEIGHT,
                |x| x >= 0.0,
                "expected a finite number ≥ 0",
            )?
            .unwrap_or(d.pop_weight),
            recency_decay: metadata_f32(
                metadata,
                keys::RECENCY_DECAY,
                |x| x > 0.0 && x <= 1.0,
                "expected a number in (0, 1]",
            )?
            .unwrap_or(d.recency_decay),
            half_life_s,
            event_weights: EventWeights {
                view: weight(keys::WEIGHT_VIEW, w.view)?,
                click: weight(keys::WEIGHT_CLICK, w.click)?,
                add_to_cart: weight(keys::WEIGHT_ADD_TO_CART, w.add_to_cart)?,
                remove_from_cart: weight(keys::WEIGHT_REMOVE_FROM_CART, w.remove_from_cart)?,
                purchase: weight(keys::WEIGHT_PURCHASE, w.purchase)?,
            },
            repeat_weight: non_negative(keys::REPEAT_WEIGHT, d.repeat_weight)?,
            repeat_decay: decay(keys::REPEAT_DECAY, d.repeat_decay)?,
            nbr_weight: non_negative(keys::NBR_WEIGHT, d.nbr_weight)?,
            nbr_decay: decay(keys::NBR_DECAY, d.nbr_decay)?,
        })
    }

    /// Whether a reader of format version 1 would score differently (it ignores these terms).
    pub(crate) fn needs_version_2(&self) -> bool {
        self.repeat_weight > 0.0 || self.nbr_weight > 0.0
    }

    /// Writes every key into `meta` (values in their shortest round-trip form, so reading them
    /// back gives the same numbers).
    pub(crate) fn write(&self, meta: &mut BTreeMap<String, String>) {
        let w = &self.event_weights;
        for (key, value) in [
            (keys::POP_WEIGHT, Num32(self.pop_weight).to_string()),
            (keys::RECENCY_DECAY, Num32(self.recency_decay).to_string()),
            (keys::HALF_LIFE_S, Num(self.half_life_s).to_string()),
            (keys::WEIGHT_VIEW, Num32(w.view).to_string()),
            (keys::WEIGHT_CLICK, Num32(w.click).to_string()),
            (keys::WEIGHT_ADD_TO_CART, Num32(w.add_to_cart).to_string()),
            (
                keys::WEIGHT_REMOVE_FROM_CART,
                Num32(w.remove_from_cart).to_string(),
            ),
            (keys::WEIGHT_PURCHASE, Num32(w.purchase).to_string()),
            (keys::REPEAT_WEIGHT, Num32(self.repeat_weight).to_string()),
            (keys::REPEAT_DECAY, Num32(self.repeat_decay).to_string()),
            (keys::NBR_WEIGHT, Num32(self.nbr_weight).to_string()),
            (keys::NBR_DECAY, Num32(self.nbr_decay).to_string()),
        ] {
            meta.insert(key.to_owned(), value);
        }
    }
}
