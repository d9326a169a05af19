//! The engine a single page holds: one [`Model`] and one [`Shopper`], with the OS (browser) CSPRNG
//! as the privacy noise's source. Every method is the shared request path
//! (`crate::shopper`) with those two filled in; the caller passes its clock.

use std::sync::Arc;

use crate::bundle::{Bundle, BundleOptions};
use crate::catalog::UpdateReport;
use crate::error::{RequestError, VitrineError};
use crate::model::Model;
use crate::privacy::{OsRandom, PrivacyConfig, PrivacySnapshot, PrivacyStatus};
use crate::rank::{RankOptions, RankResponse, Related, RowResponse, ValidRankOptions};
use crate::session::{EventInput, ImportReport, SessionConfig, SessionLog};
use crate::shopper::{ItemExplanation, Shopper, ShopperOptions, StoredState};

/// A model and one shopper.
#[derive(Debug, Clone)]
pub struct Engine {
    model: Arc<Model>,
    shopper: Shopper,
}

impl Engine {
    /// Loads and validates a bundle; the shopper starts empty with the default settings.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, VitrineError> {
        Self::new(
            Arc::new(Model::from_bytes(bytes)?),
            &ShopperOptions::default(),
        )
    }

    /// Wraps a loaded bundle, with the page's settings.
    pub fn from_bundle(bundle: Bundle, options: &ShopperOptions) -> Result<Self, VitrineError> {
        Self::new(Arc::new(Model::new(bundle)), options)
    }

    /// A new shopper on a (possibly shared) model.
    pub fn new(model: Arc<Model>, options: &ShopperOptions) -> Result<Self, VitrineError> {
        let shopper = Shopper::new(&model, options)?;
        Ok(Self { model, shopper })
    }

    /// The model.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The loaded bundle.
    pub fn bundle(&self) -> &Bundle {
        self.model.bundle()
    }

    /// The shopper.
    pub fn shopper(&self) -> &Shopper {
        &self.shopper
    }

    /// The session so far.
    pub fn session(&self) -> &SessionLog {
        self.shopper.session()
    }

    /// The session limits and signal policy in force.
    pub fn config(&self) -> &SessionConfig {
        self.shopper.config()
    }

    /// The privacy settings in force.
    pub fn privacy(&self) -> &PrivacyConfig {
        self.shopper.privacy()
    }

    /// Replaces the page's settings (see [`Shopper::configure`]).
    pub fn configure(&mut self, options: &ShopperOptions) -> Result<(), VitrineError> {
        self.shopper.configure(&self.model, options)
    }

    /// Spent / remaining budget at `clock_ms` (for `privacyStatus()`).
    pub fn privacy_status(&self, clock_ms: f64) -> PrivacyStatus {
        self.shopper.privacy_status(clock_ms)
    }

    /// Records an item event (`kind`: `view`, `click`, `add_to_cart`, `remove_from_cart` or
    /// `purchase`; `ts_ms` in ms since the Unix epoch). Invalid events leave the session unchanged.
    pub fn track(&mut self, kind: &str, item_id: &str, ts_ms: f64) -> Result<(), VitrineError> {
        self.track_event(&EventInput {
            kind: kind.to_owned(),
            item: Some(item_id.to_owned()),
            ts: Some(ts_ms),
            ..EventInput::default()
        })
    }

    /// Records any event, searches included.
    pub fn track_event(&mut self, event: &EventInput) -> Result<(), VitrineError> {
        self.shopper.track(&self.model, event)
    }

    /// Validates request options against this bundle (once per request).
    pub fn validate(&self, options: &RankOptions) -> Result<ValidRankOptions, VitrineError> {
        Ok(options.validate(self.bundle())?)
    }

    /// The top k of the catalog (private mode: may spend budget at `clock_ms`).
    pub fn recommend(&mut self, options: &ValidRankOptions, clock_ms: f64) -> RankResponse {
        self.recommend_rows(options, clock_ms)
            .into_response(self.bundle())
    }

    /// [`Engine::recommend`] as rows.
    pub fn recommend_rows(&mut self, options: &ValidRankOptions, clock_ms: f64) -> RowResponse {
        self.shopper
            .recommend(&self.model, options, clock_ms, &mut OsRandom::new())
    }

    /// The page's candidates, reordered (may spend budget at `clock_ms`).
    pub fn rerank<S: AsRef<str>>(
        &mut self,
        candidates: &[S],
        options: &ValidRankOptions,
        clock_ms: f64,
    ) -> Result<RankResponse, VitrineError> {
        Ok(self
            .rerank_rows(candidates, options, clock_ms)?
            .into_response(self.bundle()))
    }

    /// [`Engine::rerank`] as rows, each with its position in `candidates`.
    pub fn rerank_rows<S: AsRef<str>>(
        &mut self,
        candidates: &[S],
        options: &ValidRankOptions,
        clock_ms: f64,
    ) -> Result<RowResponse, VitrineError> {
        self.shopper.rerank(
            &self.model,
            candidates,
            options,
            clock_ms,
            &mut OsRandom::new(),
        )
    }

    /// Items like `item_id` (reads no history in private mode, spends nothing).
    pub fn similar(&self, item_id: &str, options: &ValidRankOptions) -> RankResponse {
        self.similar_rows(item_id, options)
            .into_response(self.bundle())
    }

    /// [`Engine::similar`] as rows.
    pub fn similar_rows(&self, item_id: &str, options: &ValidRankOptions) -> RowResponse {
        self.shopper.similar(&self.model, item_id, options)
    }

    /// A scenario around the page's `ids`: `similar` of several items, bought-together,
    /// trending (reads no history in private mode, spends nothing).
    pub fn related<S: AsRef<str>>(
        &self,
        related: Related,
        ids: &[S],
        options: &ValidRankOptions,
    ) -> RankResponse {
        self.related_rows(related, ids, options)
            .into_response(self.bundle())
    }

    /// [`Engine::related`] as rows.
    pub fn related_rows<S: AsRef<str>>(
        &self,
        related: Related,
        ids: &[S],
        options: &ValidRankOptions,
    ) -> RowResponse {
        self.shopper.related(&self.model, related, ids, options)
    }

    /// Why `item_id` gets its score in a `recommend` with these options.
    pub fn explain(
        &mut self,
        item_id: &str,
        options: &ValidRankOptions,
        clock_ms: f64,
    ) -> Result<ItemExplanation, VitrineError> {
        self.shopper.explain(
            &self.model,
            item_id,
            options,
            clock_ms,
            &mut OsRandom::new(),
        )
    }

    /// The session and its privacy state, as a storable state.
    pub fn state(&self) -> StoredState {
        self.shopper.state(&self.model)
    }

    /// The privacy accountant and last release, as stored in the state.
    pub fn privacy_snapshot(&self) -> PrivacySnapshot {
        self.shopper.privacy_snapshot(&self.model)
    }

    /// The state as JSON, for the page to store.
    pub fn export_state(&self) -> String {
        self.state().to_json()
    }

    /// Replaces the session with a stored one given as JSON (see [`Shopper::import_state`]).
    pub fn import_state(
        &mut self,
        json: &str,
        clock_ms: f64,
    ) -> Result<ImportReport, VitrineError> {
        let state = StoredState::parse(json)?;
        self.import(&state, clock_ms)
    }

    /// Replaces the session with a stored one.
    pub fn import(
        &mut self,
        state: &StoredState,
        clock_ms: f64,
    ) -> Result<ImportReport, VitrineError> {
        self.shopper.import_state(&self.model, state, clock_ms)
    }

    /// Joins another tab's stored state (see [`Shopper::join_stored`]).
    pub fn join_stored(&mut self, state: &StoredState) -> Result<(), VitrineError> {
        self.shopper.join_stored(&self.model, state)
    }

    /// Forgets the session and its privacy state; returns how many entries were erased.
    pub fn forget(&mut self) -> usize {
        self.shopper.forget()
    }

    /// Applies a catalog update (a delta from `vitrine catalog update` for this bundle file):
    /// products added, changed, made unavailable; pending events of products it makes known join
    /// the session. Digest verified; on any error nothing changes.
    ///
    /// The model is updated in place: an engine whose model is shared (`Engine::new` with an
    /// `Arc` held elsewhere) cannot take updates (`invalid_option`). If the privacy mechanism
    /// cannot be calibrated for the new catalog, the model is updated but the error says so.
    pub fn apply_update(&mut self, delta: Vec<u8>) -> Result<UpdateReport, VitrineError> {
        self.apply_update_with(delta, &BundleOptions::default())
    }

    /// [`Engine::apply_update`] with the delta read under `options` (see
    /// [`Model::apply_update_with`]).
    pub fn apply_update_with(
        &mut self,
        delta: Vec<u8>,
        options: &BundleOptions,
    ) -> Result<UpdateReport, VitrineError> {
        let model = Arc::get_mut(&mut self.model).ok_or_else(|| RequestError::InvalidOption {
            name: "applyUpdate",
            why: "this engine's model is shared; apply updates where it was loaded".into(),
        })?;
        let r = model.apply_update_with(delta, options)?;
        let promoted = self.shopper.catalog_updated(&self.model)?;
        Ok(UpdateReport {
            added: r.added,
            updated: r.updated,
            unavailable: r.unavailable,
            items: self.model.bundle().n_items(),
            promoted,
        })
    }

    /// The context feature names this bundle has weights for.
    pub fn context_features(&self) -> &[String] {
        self.model.context_features()
    }
}
