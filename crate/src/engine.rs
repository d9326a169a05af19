//! The engine a storefront holds: one bundle plus this shopper's session and its configuration.
//! The wasm API is a thin wrapper around it; every method here is what a page calls.

use crate::bundle::Bundle;
use crate::error::VitrineError;
use crate::rank::{
    item_norms, Explanation, ProfileSource, RankEnv, RankOptions, RankResponse, RankedItem,
    ValidRankOptions,
};
use crate::session::{
    EventInput, ImportReport, SessionConfig, SessionLog, SessionOptions, SignalPolicy,
};

/// One recommended item (the former name of [`RankedItem`]).
pub type Recommendation = RankedItem;

/// The explanation of one item's score (what `explain(id)` returns).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemExplanation {
    /// The item id.
    pub id: String,
    /// Its score under the request's options.
    pub score: f32,
    /// Why.
    #[serde(flatten)]
    pub why: Explanation,
}

/// A loaded bundle and the shopper's session.
#[derive(Debug, Clone)]
pub struct Engine {
    bundle: Bundle,
    session: SessionLog,
    /// The bundle's signal policy, without page overrides (kept to re-apply new overrides).
    bundle_signals: SignalPolicy,
    config: SessionConfig,
    /// ‖item vector‖ per row, for cosines (`similar`, MMR, explanations).
    norms: Vec<f32>,
}

impl Engine {
    /// Loads and validates a bundle; the session starts empty with the default limits.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, VitrineError> {
        Self::from_bundle(Bundle::from_bytes(bytes)?, &SessionOptions::default())
    }

    /// Wraps a loaded bundle, with page overrides of the session limits and signal policy.
    pub fn from_bundle(bundle: Bundle, options: &SessionOptions) -> Result<Self, VitrineError> {
        let bundle_signals = SignalPolicy::try_from_bundle(&bundle)?;
        let config = options.validate(bundle_signals.clone())?;
        let norms = item_norms(&bundle);
        Ok(Self {
            session: SessionLog::with_limits(config.max_events, config.max_age_s),
            bundle,
            bundle_signals,
            config,
            norms,
        })
    }

    /// Replaces the page overrides (limits, weights, half-life, dwell). The session is kept; when
    /// the new limits are smaller, its oldest entries are evicted.
    pub fn configure(&mut self, options: &SessionOptions) -> Result<(), VitrineError> {
        let config = options.validate(self.bundle_signals.clone())?;
        let mut session = SessionLog::with_limits(config.max_events, config.max_age_s);
        for entry in self.session.entries() {
            session.log(entry.clone());
        }
        self.session = session;
        self.config = config;
        Ok(())
    }

    /// The loaded bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The session so far.
    pub fn session(&self) -> &SessionLog {
        &self.session
    }

    /// The session limits and signal policy in force.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Records an item event (`kind` is `view`, `click`, `add_to_cart`, `remove_from_cart` or
    /// `purchase`; `ts_ms` in ms since the Unix epoch). Unknown item ids and event types are errors
    /// and leave the session unchanged.
    pub fn track(&mut self, kind: &str, item_id: &str, ts_ms: f64) -> Result<(), VitrineError> {
        self.track_event(&EventInput {
            kind: kind.to_owned(),
            item: Some(item_id.to_owned()),
            ts: Some(ts_ms),
            ..EventInput::default()
        })
    }

    /// Records any event, searches included. Invalid events are errors and leave the session
    /// unchanged.
    pub fn track_event(&mut self, event: &EventInput) -> Result<(), VitrineError> {
        let entry = event.validate(&self.bundle)?;
        self.session.log(entry);
        Ok(())
    }

    /// Validates request options against this bundle (once per request).
    pub fn validate(&self, options: &RankOptions) -> Result<ValidRankOptions, VitrineError> {
        Ok(options.validate(&self.bundle)?)
    }

    fn env(&self) -> RankEnv<'_> {
        RankEnv {
            bundle: &self.bundle,
            session: &self.session,
            signals: &self.config.signals,
            norms: &self.norms,
            profile: ProfileSource::Raw,
        }
    }

    /// The top k of the catalog for this session and context.
    pub fn recommend(&self, options: &ValidRankOptions) -> RankResponse {
        self.env().recommend(options)
    }

    /// The page's candidates, reordered by this session and context.
    pub fn rerank<S: AsRef<str>>(
        &self,
        candidates: &[S],
        options: &ValidRankOptions,
    ) -> Result<RankResponse, VitrineError> {
        Ok(self.env().rerank(candidates, options)?)
    }

    /// Items like `item_id` (item-to-item).
    pub fn similar(&self, item_id: &str, options: &ValidRankOptions) -> RankResponse {
        self.env().similar(item_id, options)
    }

    /// Why `item_id` gets its score in a `recommend` with these options.
    pub fn explain(
        &self,
        item_id: &str,
        options: &ValidRankOptions,
    ) -> Result<ItemExplanation, VitrineError> {
        let (score, why) = self.env().explain(item_id, options)?;
        Ok(ItemExplanation {
            id: item_id.to_owned(),
            score,
            why,
        })
    }

    /// The session as versioned JSON, for the page to store (e.g. in `localStorage`).
    pub fn export_state(&self) -> String {
        self.session.export_json(&self.bundle)
    }

    /// Replaces the session with a stored one. Corrupt, foreign or too-new states are errors and
    /// leave the session as it was (the caller may then `reset()` and start fresh).
    pub fn import_state(&mut self, json: &str, now_ms: f64) -> Result<ImportReport, VitrineError> {
        Ok(self.session.import_json(json, &self.bundle, now_ms)?)
    }

    /// [`Engine::import_state`] for a state already parsed by the caller (the wasm layer uses the
    /// browser's `JSON.parse`): checks the envelope, then replaces the session.
    pub fn import_state_parts(
        &mut self,
        format: Option<&str>,
        version: Option<f64>,
        events: &[EventInput],
        now_ms: f64,
    ) -> Result<ImportReport, VitrineError> {
        crate::session::check_state_envelope(format, version)?;
        Ok(self.session.import_events(events, &self.bundle, now_ms)?)
    }

    /// Forgets the session (every event, search and cart line). Returns how many entries were
    /// erased.
    pub fn forget(&mut self) -> usize {
        let n = self.session.len();
        self.session.clear();
        n
    }

    /// Same as [`Engine::forget`].
    pub fn reset(&mut self) {
        self.forget();
    }

    /// The context feature names this bundle has weights for (empty: context changes nothing).
    pub fn context_features(&self) -> &[String] {
        self.bundle.ctx_weights().map_or(&[], |c| c.features())
    }
}
