//! The engine a storefront holds: one bundle plus this shopper's session and its configuration.
//! The wasm API is a thin wrapper around it; every method here is what a page calls.
//!
//! Privacy (see `docs/PRIVACY.md`): unless the page sets `privacy.epsilon` to `Infinity`, every
//! ranking that depends on the session (`recommend`, `rerank`, `explain`) reads only a
//! differentially private release of it. A fresh release is made when the history changed since
//! the last one (a successful `track`, an import, a `forget`) and the period's budget allows it;
//! otherwise the last release is reused (post-processing, no charge), or — before the first
//! release, with no budget — the popularity order. `similar` reads no history at all in private
//! mode.

use crate::bundle::Bundle;
use crate::error::VitrineError;
use crate::privacy::{
    self, Calibrated, OsRandom, PrivacyConfig, PrivacySnapshot, PrivacyState, PrivacyStatus,
    ProfileBounds, Release, ReleaseSource, Released,
};
use crate::rank::{
    item_norms, Explanation, ProfileSource, RankEnv, RankOptions, RankResponse, RankedItem,
    RowResponse, ValidRankOptions,
};
use crate::session::{
    EventInput, ImportReport, SessionConfig, SessionLog, SessionOptions, SessionState, SignalPolicy,
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
    /// Privacy settings (private by default) and the mechanism calibrated for this bundle.
    privacy: PrivacyConfig,
    mechanism: Option<Calibrated>,
    /// The accountant and the last release.
    privacy_state: PrivacyState,
    /// Bumped by every change to the history (track, import, forget, configure).
    history_version: u64,
    /// The history version of the last fresh release.
    released_version: Option<u64>,
}

/// What a request's profile comes from, decided before the ranking borrows the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    Raw,
    LastRelease,
    Public,
}

/// The clock the accountant runs on: the request's time, else the system clock (natively; the
/// wasm layer always passes `Date.now()`).
fn clock_ms(options: &ValidRankOptions) -> f64 {
    if let Some(t) = options.request_time_ms() {
        return t;
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
    #[cfg(target_arch = "wasm32")]
    {
        0.0
    }
}

/// Validates the privacy options and calibrates the mechanism for `bundle` under `config`.
fn privacy_for(
    bundle: &Bundle,
    config: &SessionConfig,
    options: &SessionOptions,
) -> Result<(PrivacyConfig, Option<Calibrated>), VitrineError> {
    let privacy = match &options.privacy {
        Some(p) => p.validate()?,
        None => PrivacyConfig::default(),
    };
    let bounds = ProfileBounds::of(&config.signals, config.max_events);
    let mechanism = privacy.mechanism(bundle, &bounds)?;
    Ok((privacy, mechanism))
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
        let (privacy, mechanism) = privacy_for(&bundle, &config, options)?;
        let norms = item_norms(&bundle);
        Ok(Self {
            session: SessionLog::with_limits(config.max_events, config.max_age_s),
            bundle,
            bundle_signals,
            config,
            norms,
            privacy,
            mechanism,
            privacy_state: PrivacyState::default(),
            history_version: 0,
            released_version: None,
        })
    }

    /// Replaces the page overrides (limits, weights, half-life, dwell). The session is kept; when
    /// the new limits are smaller, its oldest entries are evicted.
    /// The privacy settings (`privacy`, absent: the private defaults) apply from the next
    /// request; the accountant keeps what was spent.
    pub fn configure(&mut self, options: &SessionOptions) -> Result<(), VitrineError> {
        let config = options.validate(self.bundle_signals.clone())?;
        let (privacy, mechanism) = privacy_for(&self.bundle, &config, options)?;
        let mut session = SessionLog::with_limits(config.max_events, config.max_age_s);
        for entry in self.session.entries() {
            session.log(entry.clone());
        }
        self.session = session;
        if config != self.config || privacy != self.privacy {
            // The history (limits, weights) or the mechanism changed: the next request makes a
            // fresh release rather than reuse one made under the old settings.
            self.history_version += 1;
        }
        self.config = config;
        self.privacy = privacy;
        self.mechanism = mechanism;
        Ok(())
    }

    /// The privacy settings in force.
    pub fn privacy(&self) -> &PrivacyConfig {
        &self.privacy
    }

    /// Spent / remaining budget, mechanism and unit, at `now_ms` (for `privacyStatus()`).
    pub fn privacy_status(&self, now_ms: f64) -> PrivacyStatus {
        self.privacy_state
            .status(&self.privacy, self.mechanism.as_ref(), now_ms)
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
        self.history_version += 1;
        Ok(())
    }

    /// Validates request options against this bundle (once per request).
    pub fn validate(&self, options: &RankOptions) -> Result<ValidRankOptions, VitrineError> {
        Ok(options.validate(&self.bundle)?)
    }

    /// Makes (or reuses) the release a session-dependent request ranks with; returns where its
    /// profile comes from and a warning when the request asked for something privacy forbids.
    fn prepare(&mut self, options: &ValidRankOptions) -> (Source, Vec<String>) {
        let mut warnings = Vec::new();
        if self.privacy == PrivacyConfig::Off {
            return (Source::Raw, warnings);
        }
        let asked = options.session_exclusions_requested();
        if !asked.is_empty() {
            warnings.push(format!(
                "{} ignored: it reads the raw history, and privacy is on (pass the ids in `exclude` instead)",
                asked.join(", ")
            ));
        }
        if self.released_version == Some(self.history_version) && self.privacy_state.reuse() {
            return (Source::LastRelease, warnings);
        }
        let now = options
            .request_time_ms()
            .or_else(|| self.session.latest_ts_ms())
            .unwrap_or(0.0);
        let result = privacy::release_session(
            &mut self.privacy_state,
            &self.privacy,
            self.mechanism.as_ref(),
            &self.bundle,
            &self.session,
            &self.config.signals,
            now,
            clock_ms(options),
            &mut OsRandom::new(),
        );
        match result {
            Ok(
                Released::Profile(_, ReleaseSource::Fresh)
                | Released::Anchor(_, ReleaseSource::Fresh),
            ) => {
                self.released_version = Some(self.history_version);
                (Source::LastRelease, warnings)
            }
            Ok(Released::Profile(..) | Released::Anchor(..)) => (Source::LastRelease, warnings),
            Ok(Released::Public) => (Source::Public, warnings),
            Ok(Released::NotPrivate) => (Source::Raw, warnings),
            Err(e) => {
                // Never fall back to the raw history: rank without it, and say why.
                warnings.push(format!(
                    "privacy: no release ({e}); showing the public order"
                ));
                (Source::Public, warnings)
            }
        }
    }

    fn env(&self, source: Source) -> RankEnv<'_> {
        let profile = match (source, self.privacy_state.last_release()) {
            (Source::Raw, _) => ProfileSource::Raw,
            (Source::LastRelease, Some(Release::Profile(p))) => ProfileSource::Released(p),
            (Source::LastRelease, Some(Release::Anchor(j))) => ProfileSource::Anchor(*j),
            (Source::LastRelease, None) | (Source::Public, _) => ProfileSource::Public,
        };
        RankEnv {
            bundle: &self.bundle,
            session: &self.session,
            signals: &self.config.signals,
            norms: &self.norms,
            profile,
        }
    }

    /// The top k of the catalog for this session and context (private mode: for the released
    /// profile; may spend privacy budget).
    pub fn recommend(&mut self, options: &ValidRankOptions) -> RankResponse {
        self.recommend_rows(options).into_response(&self.bundle)
    }

    /// [`Engine::recommend`] as rows (ids not attached: see [`RowResponse`]).
    pub fn recommend_rows(&mut self, options: &ValidRankOptions) -> RowResponse {
        let (source, warnings) = self.prepare(options);
        let mut r = self.env(source).recommend_rows(options);
        r.warnings.extend(warnings);
        r
    }

    /// The page's candidates, reordered by this session and context (may spend privacy budget).
    pub fn rerank<S: AsRef<str>>(
        &mut self,
        candidates: &[S],
        options: &ValidRankOptions,
    ) -> Result<RankResponse, VitrineError> {
        Ok(self
            .rerank_rows(candidates, options)?
            .into_response(&self.bundle))
    }

    /// [`Engine::rerank`] as rows, each with its position in `candidates`.
    pub fn rerank_rows<S: AsRef<str>>(
        &mut self,
        candidates: &[S],
        options: &ValidRankOptions,
    ) -> Result<RowResponse, VitrineError> {
        let (source, warnings) = self.prepare(options);
        let mut r = self.env(source).rerank_rows(candidates, options)?;
        r.warnings.extend(warnings);
        Ok(r)
    }

    /// Items like `item_id` (item-to-item). In private mode it reads nothing from the history (the
    /// session-based exclusions are off) and spends nothing.
    pub fn similar(&self, item_id: &str, options: &ValidRankOptions) -> RankResponse {
        self.similar_rows(item_id, options)
            .into_response(&self.bundle)
    }

    /// [`Engine::similar`] as rows.
    pub fn similar_rows(&self, item_id: &str, options: &ValidRankOptions) -> RowResponse {
        let source = if self.privacy == PrivacyConfig::Off {
            Source::Raw
        } else {
            Source::Public
        };
        self.env(source).similar_rows(item_id, options)
    }

    /// Why `item_id` gets its score in a `recommend` with these options. In private mode the
    /// explanation reads only the release (its `events` list is empty: naming history items
    /// would reveal them).
    pub fn explain(
        &mut self,
        item_id: &str,
        options: &ValidRankOptions,
    ) -> Result<ItemExplanation, VitrineError> {
        let (source, _) = self.prepare(options);
        let (score, why) = self.env(source).explain(item_id, options)?;
        Ok(ItemExplanation {
            id: item_id.to_owned(),
            score,
            why,
        })
    }

    /// The session and its privacy accountant (with the last release) as a storable state.
    pub fn state(&self) -> SessionState {
        let mut state = self.session.to_state(&self.bundle);
        state.privacy = Some(self.privacy_snapshot());
        state
    }

    /// The privacy accountant and last release, as stored in the state.
    pub fn privacy_snapshot(&self) -> PrivacySnapshot {
        let mut snapshot = self.privacy_state.snapshot(&self.bundle);
        snapshot.current = self.released_version == Some(self.history_version);
        snapshot
    }

    /// The session as versioned JSON, for the page to store (e.g. in `localStorage`).
    pub fn export_state(&self) -> String {
        serde_json::to_string(&self.state())
            .unwrap_or_else(|_| self.session.export_json(&self.bundle))
    }

    /// Replaces the session (and its privacy accountant) with a stored one. Corrupt, foreign or
    /// too-new states are errors and leave the session as it was (the caller may then `reset()`
    /// and start fresh).
    pub fn import_state(&mut self, json: &str, now_ms: f64) -> Result<ImportReport, VitrineError> {
        let state = SessionState::parse(json)?;
        self.import_state_with_privacy(&state.events, state.privacy, now_ms)
    }

    /// Replaces the session with `events` and the privacy state with `privacy` (absent: a fresh
    /// accountant — a version 1 state, or one stored without it). Nothing changes on error.
    pub fn import_state_with_privacy(
        &mut self,
        events: &[EventInput],
        privacy: Option<PrivacySnapshot>,
        now_ms: f64,
    ) -> Result<ImportReport, VitrineError> {
        let current = privacy.as_ref().is_some_and(|p| p.current);
        let privacy_state = match privacy {
            Some(p) => PrivacyState::from_snapshot(p, &self.bundle)?,
            None => PrivacyState::default(),
        };
        let report = self.session.import_events(events, &self.bundle, now_ms)?;
        self.privacy_state = privacy_state;
        self.history_version += 1;
        // The stored release still describes the history if nothing was tracked after it and
        // nothing was dropped on the way back in: reuse it (a page reload spends nothing).
        let intact = report.unknown_items == 0 && report.expired == 0 && report.over_limit == 0;
        self.released_version = (current && intact && self.privacy_state.last_release().is_some())
            .then_some(self.history_version);
        Ok(report)
    }

    /// Forgets the session (every event, search and cart line) and its privacy state (the
    /// accountant protected the history that is gone; its last release is dropped too). Returns
    /// how many entries were erased.
    pub fn forget(&mut self) -> usize {
        let n = self.session.len();
        self.session.clear();
        self.privacy_state.clear();
        self.history_version += 1;
        self.released_version = None;
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
