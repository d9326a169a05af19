//! A shopper's state and its changes: created from settings, reconfigured, tracked, stored and
//! restored, forgotten. The requests that read it are in `request`.

use std::sync::Arc;

use super::settings::ShopperOptions;
use super::stored::{check_envelope, StoredState};
use crate::error::RequestError;
use crate::error::VitrineError;
use crate::model::Model;
use crate::privacy::{
    Calibrated, PrivacyConfig, PrivacySnapshot, PrivacyState, PrivacyStatus, PrivacyUnit,
    ProfileBounds, ReleaseSource,
};
use crate::session::{
    Event, EventInput, ImportReport, LoggedEvent, Origin, PendingEvents, SessionConfig, SessionLog,
};

/// One shopper: their session and settings, and the privacy state that protects the session.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub(super) session: SessionLog,
    /// Limits and signal policy in force (the bundle's, with the page's overrides).
    pub(super) config: SessionConfig,
    /// Privacy settings (private by default) and the mechanism calibrated for them.
    pub(super) privacy: PrivacyConfig,
    pub(super) mechanism: Option<Arc<Calibrated>>,
    /// The accountant and the last release.
    pub(super) privacy_state: PrivacyState,
    /// Bumped by every change to the history (track, import, forget, an eviction).
    pub(super) history_version: u64,
    /// Bumped by every change to the device-only record D (import, forget, an eviction): what a
    /// release under `unit: 'device'` reads. The page's `track()` leaves it alone.
    pub(super) device_version: u64,
    /// The history version of the last fresh release (or of a stored release still current).
    pub(super) released_version: Option<u64>,
    /// The device version of the last fresh release.
    pub(super) released_device_version: Option<u64>,
    /// Events of items the bundle does not know yet (joined to the log by a catalog update).
    pub(super) pending: PendingEvents,
}

impl Shopper {
    /// A shopper with an empty session under `options` (validated against `model`).
    pub fn new(model: &Model, options: &ShopperOptions) -> Result<Self, VitrineError> {
        let (config, privacy, mechanism) = Self::validate(model, options)?;
        Ok(Self {
            session: SessionLog::with_limits(config.max_events, config.max_age_s),
            config,
            privacy,
            mechanism,
            privacy_state: PrivacyState::default(),
            history_version: 0,
            device_version: 0,
            released_version: None,
            released_device_version: None,
            pending: PendingEvents::default(),
        })
    }

    /// Validates `options` against `model`: the session configuration, the privacy settings and
    /// their calibrated mechanism.
    fn validate(
        model: &Model,
        options: &ShopperOptions,
    ) -> Result<(SessionConfig, PrivacyConfig, Option<Arc<Calibrated>>), VitrineError> {
        let config = options.session_config(model.signals().clone())?;
        let privacy = options.privacy_config()?;
        let bounds = ProfileBounds::of(&config.signals, config.max_events);
        let mechanism = model.mechanism(&privacy, &bounds)?;
        Ok((config, privacy, mechanism))
    }

    /// Replaces the settings. The session is kept; when the new limits are smaller, its oldest
    /// entries are evicted. The privacy settings apply from the next request; the accountant keeps
    /// what was spent. Nothing changes on error.
    pub fn configure(
        &mut self,
        model: &Model,
        options: &ShopperOptions,
    ) -> Result<(), VitrineError> {
        let (config, privacy, mechanism) = Self::validate(model, options)?;
        let mut session = SessionLog::with_limits(config.max_events, config.max_age_s);
        let before = self.session.len();
        session.restore(
            self.session
                .entries_with_provenance()
                .map(|(e, origin, units)| (e.clone(), origin, units)),
        );
        if session.len() != before {
            // Smaller limits evicted entries: the history is another one. New settings alone are
            // not: a release made under the old ones stays valid post-processing, and making a
            // fresh one for the same history would only spend budget.
            self.history_version += 1;
            self.device_version += 1;
        }
        self.session = session;
        self.config = config;
        self.privacy = privacy;
        self.mechanism = mechanism;
        Ok(())
    }

    /// The privacy settings in force.
    pub fn privacy(&self) -> &PrivacyConfig {
        &self.privacy
    }

    /// The mechanism calibrated for them (`None` when privacy is off).
    pub fn mechanism(&self) -> Option<&Calibrated> {
        self.mechanism.as_deref()
    }

    /// The session so far.
    pub fn session(&self) -> &SessionLog {
        &self.session
    }

    /// The session limits and signal policy in force.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Records an event the page describes (validated against `model`'s catalog). Invalid events
    /// are errors and leave the session unchanged. An otherwise valid event of an item the bundle
    /// does not know is kept pending (bounded, counted) until a catalog update makes it known.
    pub fn track(&mut self, model: &Model, event: &EventInput) -> Result<(), VitrineError> {
        if event.dp_units.is_some() {
            return Err(crate::error::RequestError::InvalidEvent {
                field: "dpUnits",
                why: "only a stored state's events carry it".into(),
            }
            .into());
        }
        match event.validate(model.bundle()) {
            Ok(entry) => {
                self.session.log(entry);
                self.history_version += 1;
                Ok(())
            }
            Err(RequestError::UnknownItem(_)) => {
                self.pending.push(event.clone(), Origin::Page);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Events of unknown items waiting for a catalog update.
    pub fn pending(&self) -> &PendingEvents {
        &self.pending
    }

    /// After a catalog update of `model`: the privacy mechanism is calibrated for the new catalog,
    /// and pending events whose item is now known join the log at their time. Returns how many
    /// joined.
    /// On error (the mechanism cannot be calibrated) nothing changes.
    pub fn catalog_updated(&mut self, model: &Model) -> Result<usize, VitrineError> {
        let bounds = ProfileBounds::of(&self.config.signals, self.config.max_events);
        self.mechanism = model.mechanism(&self.privacy, &bounds)?;
        let known = self.pending.take_known(model.bundle());
        if known.is_empty() {
            return Ok(0);
        }
        let n = known.len();
        if known.iter().any(|(_, origin, _)| *origin == Origin::Device) {
            // Restored events joined the device-only record: it is another one.
            self.device_version += 1;
        }
        // Merge by time (both lists are in their own order; no sort), provenance kept.
        let mut log = SessionLog::with_limits(self.config.max_events, self.config.max_age_s);
        let previous = std::mem::take(&mut self.session);
        let mut old = previous.entries_with_provenance().peekable();
        let mut new = known.into_iter().peekable();
        let mut merged: Vec<(LoggedEvent, Origin, u64)> = Vec::with_capacity(previous.len() + n);
        loop {
            let take_new = match (old.peek(), new.peek()) {
                (Some(o), Some(p)) => p.0.ts_ms() < o.0.ts_ms(),
                (None, Some(_)) => true,
                (_, None) => false,
            };
            let entry = if take_new {
                new.next()
            } else {
                old.next()
                    .map(|(e, origin, units)| (e.clone(), origin, units))
            };
            match entry {
                Some(e) => merged.push(e),
                None => break,
            }
        }
        drop(old);
        log.restore(merged);
        if let Some(newest) = log.latest_ts_ms() {
            log.prune(newest);
        }
        self.session = log;
        self.history_version += 1;
        Ok(n)
    }

    /// Records an item event already resolved to a bundle row (callers that replay logs, such as
    /// `vitrine eval`).
    pub fn track_row(&mut self, event: Event) {
        self.session.push(event);
        self.history_version += 1;
    }

    /// Where the last response's profile came from: a fresh release, the cached one, the public
    /// order, or the raw history (`None` before the first request).
    pub fn last_source(&self) -> Option<ReleaseSource> {
        self.privacy_state.last_source()
    }

    /// Restores item events already resolved to bundle rows as the device's own stored record
    /// (callers that replay logs: `vitrine eval --device-history`, simulations), as importing a
    /// stored state would.
    pub fn restore_rows(&mut self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        for &event in events {
            self.session.log_from(
                crate::session::LoggedEvent::Item {
                    event,
                    details: Default::default(),
                },
                crate::session::Origin::Device,
            );
        }
        self.history_version += 1;
        self.device_version += 1;
    }

    /// Spent / remaining budget, mechanism and unit, at `clock_ms` (for `privacyStatus()`).
    pub fn privacy_status(&self, clock_ms: f64) -> PrivacyStatus {
        self.privacy_state
            .status(&self.privacy, self.mechanism.as_deref(), clock_ms)
    }

    /// The privacy accountant and last release, as stored in the state.
    pub fn privacy_snapshot(&self, model: &Model) -> PrivacySnapshot {
        let mut snapshot = self.privacy_state.snapshot(model.bundle());
        // Current: the release describes the history exactly as stored. Under the device unit it
        // read the device's entries only, so the page's entries (stored as the device's from the
        // next load on) must be none.
        let device_unit =
            matches!(&self.privacy, PrivacyConfig::On(c) if c.unit == PrivacyUnit::Device);
        snapshot.current = self.released_version == Some(self.history_version)
            && !(device_unit && self.session.has(crate::session::Select::Page));
        snapshot
    }

    /// The session and its privacy state as a storable state.
    pub fn state(&self, model: &Model) -> StoredState {
        // Pending events (of products the bundle does not know yet) are stored after the logged
        // ones: a reload keeps them pending.
        let mut events = self.session.to_inputs(model.bundle());
        events.extend_from_slice(self.pending.events());
        StoredState::new(events, Some(self.privacy_snapshot(model)))
    }

    /// Replaces the session and privacy state with a stored one (entries older than the session's
    /// `max_age` at `clock_ms` are dropped). Corrupt or foreign states are errors and leave the
    /// shopper as it was.
    pub fn import_state(
        &mut self,
        model: &Model,
        state: &StoredState,
        clock_ms: f64,
    ) -> Result<ImportReport, VitrineError> {
        check_envelope(Some(&state.format), Some(f64::from(state.version)))?;
        let privacy_state = match state.privacy.clone() {
            Some(p) => PrivacyState::from_snapshot(p, model.bundle())?,
            None => PrivacyState::default(),
        };
        let current = state.privacy.as_ref().is_some_and(|p| p.current);
        let report = self
            .session
            .import_events(&state.events, model.bundle(), clock_ms)?;
        // The store may declare that its server observed the current visit: those restored events
        // count as the page's.
        let observed_start = match &self.privacy {
            PrivacyConfig::On(c) if c.observed_visit => Some(visit_start(&self.session, clock_ms)),
            _ => None,
        };
        if let Some(start) = observed_start {
            self.session.mark_observed(|e| e.ts_ms() >= start);
        }

        // Events of items the bundle does not know wait for a catalog update, as tracked ones do.
        self.pending.clear();
        let cutoff = clock_ms - self.session.max_age_s() * 1000.0;
        for e in &state.events {
            let fresh = e.ts.is_some_and(|t| t >= cutoff);
            if fresh
                && matches!(
                    e.validate(model.bundle()),
                    Err(RequestError::UnknownItem(_))
                )
            {
                let origin = if observed_start.is_some_and(|start| e.ts.is_some_and(|t| t >= start))
                {
                    Origin::Page
                } else {
                    Origin::Device
                };
                self.pending.push(e.clone(), origin);
            }
        }
        self.privacy_state = privacy_state;
        self.history_version += 1;
        self.device_version += 1;
        // The stored release still describes the history if nothing was tracked after it and
        // nothing was dropped on the way back in: reuse it (a page reload spends nothing).
        // (Events of unknown items went pending, as they were when the release was made.)
        let intact = report.unknown_items as u64 == self.pending.tracked()
            && report.expired == 0
            && report.over_limit == 0;
        let reuse = current && intact && self.privacy_state.last_release().is_some();
        self.released_version = reuse.then_some(self.history_version);
        self.released_device_version = reuse.then_some(self.device_version);
        Ok(report)
    }

    /// Joins what another tab wrote to the shared storage, before a release: its accountant (so a
    /// budget is spent once per origin, whatever the tabs) and its events' lifetime spends. Its
    /// events themselves are not taken (they arrive with the next page load). A corrupt or foreign
    /// state is an error and changes nothing.
    pub fn join_stored(&mut self, model: &Model, state: &StoredState) -> Result<(), VitrineError> {
        check_envelope(Some(&state.format), Some(f64::from(state.version)))?;
        if let Some(p) = &state.privacy {
            self.privacy_state.join_accountant(&p.accountant)?;
        }
        self.session.join_spends(&state.events, model.bundle());
        Ok(())
    }

    /// Forgets the session (every event, search and cart line) and its privacy state (the
    /// accountant protected the history that is gone; its last release is dropped too). Returns
    /// how many entries were erased.
    pub fn forget(&mut self) -> usize {
        let n = self.session.len() + self.pending.len();
        self.session.clear();
        self.pending.clear();
        self.privacy_state.clear();
        self.history_version += 1;
        self.device_version += 1;
        self.released_version = None;
        self.released_device_version = None;
        n
    }
}

/// The longest gap between two events of one visit: 30 minutes, in ms (the usual web-analytics
/// session timeout).
pub const VISIT_GAP_MS: f64 = 30.0 * 60_000.0;

/// When the current visit started: walking the log from its newest entry back, the oldest time
/// reached from `clock_ms` through gaps of at most [`VISIT_GAP_MS`] (`clock_ms` itself when the
/// newest entry is older than that). Entries timed after the start seen so far do not extend it.
fn visit_start(session: &SessionLog, clock_ms: f64) -> f64 {
    let mut start = clock_ms;
    for t in session.entries().rev().map(|e| e.ts_ms()) {
        if t > start {
            continue;
        }
        if start - t > VISIT_GAP_MS {
            break;
        }
        start = t;
    }
    start
}
