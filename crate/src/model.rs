//! The shareable, immutable part of the engine ([`Model`]): one loaded bundle and what is derived
//! from it once — the items' vector norms and the bundle's signal policy — and the calibration of
//! privacy mechanisms for it. Many shoppers ([`crate::Shopper`]) read one model: a page holds one,
//! and `vitrine eval` shares one between the threads that replay its test sessions (their shoppers
//! share one calibrated mechanism: a clone of a shopper shares its `Arc`).

use std::sync::Arc;

use crate::bundle::{Bundle, BundleOptions, OverlayReport};
use crate::error::{PrivacyError, VitrineError};
use crate::privacy::{Calibrated, PrivacyConfig, ProfileBounds};
use crate::rank::{item_norm, item_norms, item_norms_of};
use crate::session::SignalPolicy;

/// A loaded bundle and its derived tables.
#[derive(Debug)]
pub struct Model {
    bundle: Bundle,
    /// ‖item vector‖ per row (dequantized), for cosines (`similar`, MMR, explanations).
    norms: Vec<f32>,
    /// The bundle's signal policy, before page overrides.
    signals: SignalPolicy,
}

impl Model {
    /// Wraps a loaded bundle, computing the derived tables.
    pub fn new(bundle: Bundle) -> Self {
        Self {
            norms: item_norms(&bundle),
            signals: SignalPolicy::from_bundle(&bundle),
            bundle,
        }
    }

    /// Loads and validates a bundle (digest verified).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, VitrineError> {
        Self::from_bytes_with(bytes, &BundleOptions::default())
    }

    /// Loads and validates a bundle with `options`.
    pub fn from_bytes_with(bytes: Vec<u8>, options: &BundleOptions) -> Result<Self, VitrineError> {
        Ok(Self::new(Bundle::from_bytes_with(bytes, options)?))
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// ‖item vector‖ per row.
    pub fn norms(&self) -> &[f32] {
        &self.norms
    }

    /// The bundle's signal policy (before page overrides).
    pub fn signals(&self) -> &SignalPolicy {
        &self.signals
    }

    /// Applies a catalog update (a delta written by `vitrine catalog update`, digest verified, made
    /// for this bundle file): new products, changed categories and prices, availability. The
    /// derived tables follow. On error nothing changes.
    pub fn apply_update(&mut self, delta: Vec<u8>) -> Result<OverlayReport, VitrineError> {
        self.apply_update_with(delta, &BundleOptions::default())
    }

    /// [`Model::apply_update`] with the delta read under `options`: a digest the page computed
    /// with its own SHA-256 (`computed_digest`, checked against the one the delta records), or
    /// none checked (`verify_digest: false`, for bytes the page verified with `integrity`).
    pub fn apply_update_with(
        &mut self,
        delta: Vec<u8>,
        options: &BundleOptions,
    ) -> Result<OverlayReport, VitrineError> {
        let delta = Bundle::from_bytes_any_with(delta, options)?;
        let (report, changed) = self.bundle.apply_overlay_rows(&delta)?;
        // Only the rows with new vectors: recomputing every norm made each shard of a million-item
        // catalog cost the catalog.
        let n = self.bundle.n_items();
        let from = changed.first_new.min(n);
        self.norms.resize(from, 0.0);
        self.norms.extend(item_norms_of(&self.bundle, from..n));
        for r in changed.revectored.into_iter().filter(|&r| r < from) {
            if let Some(slot) = self.norms.get_mut(r) {
                *slot = item_norm(&self.bundle, r);
            }
        }
        Ok(report)
    }

    /// The context feature names the bundle has weights for (empty: context changes nothing).
    pub fn context_features(&self) -> &[String] {
        self.bundle.ctx_weights().map_or(&[], |c| c.features())
    }

    /// The mechanism for `config` with profile `bounds`, calibrated for this bundle (`None` when
    /// privacy is off). Calibrating the exponential mechanism ranks the catalog by popularity: a
    /// caller with many shoppers under one setting calibrates once and shares the `Arc`.
    pub fn mechanism(
        &self,
        config: &PrivacyConfig,
        bounds: &ProfileBounds,
    ) -> Result<Option<Arc<Calibrated>>, PrivacyError> {
        Ok(config.mechanism(&self.bundle, bounds)?.map(Arc::new))
    }
}
