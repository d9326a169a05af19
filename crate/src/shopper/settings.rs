//! A shopper's settings as the page passes them to `configure()` ([`ShopperOptions`]): the session's
//! limits, page overrides of the bundle's signal policy, and the privacy settings.

use serde::Deserialize;

use crate::error::{PrivacyError, RequestError};
use crate::numfmt::{Num, Num32};
use crate::privacy::{PrivacyConfig, PrivacyOptions};
use crate::session::{
    SessionConfig, SignalPolicy, DEFAULT_MAX_AGE_S, DEFAULT_MAX_EVENTS, MAX_EVENTS_LIMIT,
};

crate::wire! {
    /// Page-level settings (`{maxEvents?, maxAgeS?, halfLifeS?, dwellFullMs?, weights?: {view?,
    /// click?, …}, privacy?}`). Every field is optional; unknown fields are errors.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ShopperOptions {
        /// Most entries kept (1 ..= [`MAX_EVENTS_LIMIT`]; default [`DEFAULT_MAX_EVENTS`]).
        max_events: Option<f64> = "maxEvents",
        /// Oldest entry kept, in seconds (> 0; default [`DEFAULT_MAX_AGE_S`]).
        max_age_s: Option<f64> = "maxAgeS",
        /// Half-life of event weights in seconds (> 0; default: the bundle's).
        half_life_s: Option<f64> = "halfLifeS",
        /// Dwell (ms) at which views and clicks count fully (≥ 0; 0 = off).
        dwell_full_ms: Option<f64> = "dwellFullMs",
        /// Per-type weights (each finite; default: the bundle's).
        weights: Option<WeightOverrides> = "weights",
        /// Differential privacy (see [`PrivacyOptions`]; absent: the private defaults).
        privacy: Option<PrivacyOptions> = "privacy",
    }
}

crate::wire! {
    /// Per-type weight overrides (`{view?, click?, add_to_cart?, remove_from_cart?, purchase?}`).
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct WeightOverrides {
        view: Option<f32> = "view",
        click: Option<f32> = "click",
        add_to_cart: Option<f32> = "add_to_cart",
        remove_from_cart: Option<f32> = "remove_from_cart",
        purchase: Option<f32> = "purchase",
    }
}

fn invalid_option(name: &'static str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidOption {
        name,
        why: why.into(),
    }
}

impl ShopperOptions {
    /// Validates the session overrides on top of `base` (usually the bundle's policy); the privacy
    /// settings are validated by [`ShopperOptions::privacy_config`].
    pub fn session_config(&self, base: SignalPolicy) -> Result<SessionConfig, RequestError> {
        let max_events = match self.max_events {
            None => DEFAULT_MAX_EVENTS,
            Some(m) if m.fract() == 0.0 && (1.0..=MAX_EVENTS_LIMIT as f64).contains(&m) => {
                m as usize
            }
            Some(m) => {
                return Err(invalid_option(
                    "maxEvents",
                    format!(
                        "must be a whole number from 1 to {MAX_EVENTS_LIMIT}, got {}",
                        Num(m)
                    ),
                ))
            }
        };
        let positive = |name: &'static str, v: Option<f64>, default: f64| match v {
            None => Ok(default),
            Some(x) if x > 0.0 && !x.is_nan() => Ok(x),
            Some(x) => Err(invalid_option(
                name,
                format!("must be a number of seconds > 0, got {}", Num(x)),
            )),
        };
        let max_age_s = positive("maxAgeS", self.max_age_s, DEFAULT_MAX_AGE_S)?;
        let mut signals = base;
        signals.half_life_s = positive("halfLifeS", self.half_life_s, signals.half_life_s)?;
        if let Some(d) = self.dwell_full_ms {
            if !(d.is_finite() && d >= 0.0) {
                return Err(invalid_option(
                    "dwellFullMs",
                    format!(
                        "must be a finite number of milliseconds ≥ 0, got {}",
                        Num(d)
                    ),
                ));
            }
            signals.dwell_full_ms = d;
        }
        if let Some(w) = &self.weights {
            let set = |slot: &mut f32, v: Option<f32>| match v {
                Some(x) if !x.is_finite() => Err(invalid_option(
                    "weights",
                    format!("every weight must be a finite number, got {}", Num32(x)),
                )),
                Some(x) => {
                    *slot = x;
                    Ok(())
                }
                None => Ok(()),
            };
            let ew = &mut signals.weights;
            set(&mut ew.view, w.view)?;
            set(&mut ew.click, w.click)?;
            set(&mut ew.add_to_cart, w.add_to_cart)?;
            set(&mut ew.remove_from_cart, w.remove_from_cart)?;
            set(&mut ew.purchase, w.purchase)?;
        }
        Ok(SessionConfig {
            max_events,
            max_age_s,
            signals,
        })
    }

    /// The validated privacy settings (absent: the private defaults).
    pub fn privacy_config(&self) -> Result<PrivacyConfig, PrivacyError> {
        match &self.privacy {
            Some(p) => p.validate(),
            None => Ok(PrivacyConfig::default()),
        }
    }
}
