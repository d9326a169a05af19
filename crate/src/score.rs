//! Scoring: turns a bundle and a session into one score per item. This is the model; ranking
//! (rules, diversity, top-k) lives in `rank` and only reads these scores.
//!
//! Score of item `i` for a session: `sim(profile, i) + pop_weight · prior(i) + terms(i)`, where
//! `terms` are the sparse re-consumption and item-to-item terms ([`crate::terms`]) and the profile is
//! the sum of the session's unit-normalized item vectors weighted by
//! `SessionLog::effective_weights` (type × position × time decay × dwell), mapped through the
//! bundle's readout when it has one, normalized to unit length, and `sim` is the int8 dot product (a
//! cosine when the bundle's vectors are unit length). With an empty session the score is `prior(i)`.

use crate::bundle::{Bundle, ItemQuery};
use crate::kernels::dot_i8;
use crate::session::WeightedEvent;
use crate::terms::SessionTerms;

/// Everything the model reads from a session's history, computed before any ranking: the
/// pre-readout profile (see [`raw_profile`]) and the sparse terms. This is what a private
/// mechanism takes as its input (the history never reaches the ranking in any other form).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSignal {
    pub profile: Vec<f32>,
    pub terms: SessionTerms,
}

/// A profile alone (no sparse terms).
impl From<Vec<f32>> for SessionSignal {
    fn from(profile: Vec<f32>) -> Self {
        Self {
            profile,
            terms: SessionTerms::default(),
        }
    }
}

impl SessionSignal {
    /// The signal of weighted events.
    pub fn of(bundle: &Bundle, events: &[WeightedEvent]) -> Self {
        Self {
            profile: raw_profile(bundle, events),
            terms: SessionTerms::of(bundle, events),
        }
    }
}

/// One named additive part of an item's score (for explanations).
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// What the part is (`similarity`, `popularity`, …).
    pub feature: &'static str,
    /// How much it adds to the score.
    pub value: f32,
}

/// What a private release of the device-only record adds to the page's profile (under
/// `unit: 'device'`): nothing (no stored history, or none released yet), a released noisy profile
/// (grid units, `privacy::ProfileMechanism`), a released anchor item (`privacy::AnchorMechanism`),
/// or a released shelf cut (`privacy::WindowMechanism`: the rows the shelf leaves out below its
/// first k − `slots` items; it changes the selection, not the scores).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeviceSignal<'a> {
    None,
    Profile(&'a [f32]),
    Anchor(u32),
    LeftOut { rows: &'a [u32], slots: usize },
}

/// Everything about the session that scoring needs, computed once per request.
#[derive(Debug, Clone)]
pub struct Scorer<'a> {
    bundle: &'a Bundle,
    /// The query against the items (int8 with its scale, or a compact bundle's lookup table),
    /// when the session has a profile.
    query: Option<ItemQuery>,
    /// The sparse session terms (empty: none).
    terms: SessionTerms,
}

impl<'a> Scorer<'a> {
    /// Prepares scoring for events already weighted by [`SessionLog::effective_weights`] (the
    /// engine passes its own policy and the request's time).
    pub fn with_events(bundle: &'a Bundle, events: &[WeightedEvent]) -> Self {
        let query = session_profile(bundle, events).map(|p| bundle.query_for(&p));
        let terms = SessionTerms::of(bundle, events);
        Self {
            bundle,
            query,
            terms,
        }
    }

    /// Prepares scoring from a differentially private release of the pre-readout profile (see
    /// `privacy::ProfileMechanism`): the readout, normalization and int8 quantization are
    /// post-processing of the released vector alone, so every score derived from this scorer is
    /// as private as the release. An all-zero release scores by the popularity prior.
    pub fn from_released(bundle: &'a Bundle, released: &[f32]) -> Self {
        let query = if released.len() == bundle.dim() {
            readout_unit(bundle, released.to_vec()).map(|p| bundle.query_for(&p))
        } else {
            None
        };
        Self {
            bundle,
            query,
            terms: SessionTerms::default(),
        }
    }

    /// Prepares scoring from a session's signal, exactly as [`Scorer::with_events`] does from the
    /// events behind it. Reads the history: not private (the private mechanisms' utility).
    pub fn from_signal(bundle: &'a Bundle, signal: &SessionSignal) -> Self {
        let query = readout_unit(bundle, signal.profile.clone()).map(|p| bundle.query_for(&p));
        Self {
            bundle,
            query,
            terms: signal.terms.clone(),
        }
    }

    /// Prepares scoring around an anchor item released by the exponential mechanism
    /// (`privacy::AnchorMechanism`): `sim(i)` is the cosine between item `i` and the anchor
    /// (the anchor itself scores highest), plus the popularity prior as usual. Post-processing of
    /// the released item alone. An anchor with a zero vector scores by the prior.
    pub fn from_anchor(bundle: &'a Bundle, anchor: u32) -> Self {
        let j = anchor as usize;
        let query = (j < bundle.n_items())
            .then(|| {
                if bundle.is_compact() {
                    // The anchor's reconstructed unit vector, as a lookup table.
                    return unit_vector(&bundle.dequantized_row(j)).map(|u| bundle.query_for(&u));
                }
                let row = bundle.row(j);
                let norm = (dot_i8(row, row) as f32).sqrt();
                // q · v_i · scale_j / ‖q‖ = cos(v_j, v_i) · ‖v_i‖ (the item vectors are unit length
                // in bundles `vitrine train` writes).
                (norm > 0.0).then(|| ItemQuery::Int8(row.to_vec(), 1.0 / norm))
            })
            .flatten();
        Self {
            bundle,
            query,
            terms: SessionTerms::default(),
        }
    }

    /// Prepares scoring from the page's own events, exactly, plus a private release of the
    /// device-only record: the profile is `unit(h_P) + blend · unit(r)`, where `h_P` is the page's
    /// pre-readout profile (`raw_profile` of its weighted events) and `r` the release as a
    /// pre-readout direction (the anchor's unit vector, or the released profile). Everything that
    /// reads the device-only record is in `r`: the rest is the page's data and post-processing.
    ///
    /// The page's sparse session terms (re-consumption, item-to-item) come from its own events
    /// alone.
    pub fn blended(
        bundle: &'a Bundle,
        page: &SessionSignal,
        device: DeviceSignal<'_>,
        blend: f32,
    ) -> Self {
        let page_profile = &page.profile;
        let unit = unit_vector;
        let mut profile = unit(page_profile).unwrap_or_else(|| vec![0.0; bundle.dim()]);
        let release = match device {
            DeviceSignal::None => None,
            DeviceSignal::Profile(p) if p.len() == bundle.dim() => unit(p),
            DeviceSignal::Profile(_) => None,
            DeviceSignal::Anchor(j) if (j as usize) < bundle.n_items() => {
                unit(&bundle.dequantized_row(j as usize))
            }
            DeviceSignal::Anchor(_) | DeviceSignal::LeftOut { .. } => None,
        };
        if let Some(r) = release {
            for (p, x) in profile.iter_mut().zip(&r) {
                *p += blend * x;
            }
        }
        Self {
            bundle,
            query: readout_unit(bundle, profile).map(|p| bundle.query_for(&p)),
            terms: page.terms.clone(),
        }
    }

    /// Prepares scoring from no session information at all: the popularity prior (what a
    /// private engine shows before its first release when the budget allows none).
    pub fn public(bundle: &'a Bundle) -> Self {
        Self {
            bundle,
            query: None,
            terms: SessionTerms::default(),
        }
    }

    /// True when the session contributed (false: popularity only).
    pub fn is_personalized(&self) -> bool {
        self.query.is_some() || !self.terms.is_empty()
    }

    /// Score of item `i` (`i < n_items`).
    #[inline]
    pub fn score(&self, i: u32) -> f32 {
        let prior = self.bundle.prior()[i as usize];
        let base = match &self.query {
            None => prior,
            Some(q) => {
                let sim = self.bundle.query_dot(q, i);
                sim + self.bundle.params().pop_weight * prior
            }
        };
        if self.terms.is_empty() {
            base
        } else {
            base + self.terms.total(i)
        }
    }

    /// `out[j] = self.score(rows[j])` (`out.len() == rows.len()`, every row `< n_items`), the
    /// similarities batched ([`Bundle::query_dot_rows`]).
    pub fn score_rows(&self, rows: &[u32], out: &mut [f32]) {
        let prior = self.bundle.prior();
        match &self.query {
            None => out.iter_mut().for_each(|o| *o = 0.0),
            Some(q) => self.bundle.query_dot_rows(q, rows, out),
        }
        let w = self.bundle.params().pop_weight;
        for (o, &i) in out.iter_mut().zip(rows) {
            let p = prior[i as usize];
            let base = match self.query {
                None => p,
                Some(_) => *o + w * p,
            };
            *o = if self.terms.is_empty() {
                base
            } else {
                base + self.terms.total(i)
            };
        }
    }

    /// Scores every item into `out` (`out.len() == n_items`) with the batched kernel; equal to
    /// [`Scorer::score`] for each item.
    pub fn score_all(&self, out: &mut [f32]) {
        let bundle = self.bundle;
        let prior = bundle.prior();
        match &self.query {
            Some(q) => bundle.query_dot_all_plus(q, Some((prior, bundle.params().pop_weight)), out),
            None => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.score(i as u32);
                }
                return;
            }
        }
        self.terms.add_to(out);
    }

    /// The additive parts of [`Scorer::score`] for item `i`; they sum to the score.
    pub fn contributions(&self, i: u32) -> Vec<Contribution> {
        let prior = self.bundle.prior()[i as usize];
        let (repeat, nbr) = self.terms.get(i);
        let mut out = match &self.query {
            None => vec![Contribution {
                feature: "popularity",
                value: prior,
            }],
            Some(_) => {
                let pop = self.bundle.params().pop_weight * prior;
                vec![
                    Contribution {
                        feature: "similarity",
                        value: self.score(i) - pop - repeat - nbr,
                    },
                    Contribution {
                        feature: "popularity",
                        value: pop,
                    },
                ]
            }
        };
        for (feature, value) in [("repeat", repeat), ("neighbours", nbr)] {
            if value != 0.0 {
                out.push(Contribution { feature, value });
            }
        }
        out
    }
}

/// The session profile: the sum of the session's unit-normalized item vectors, each times its
/// effective weight (type × position × time decay × dwell, see [`SessionLog::effective_weights`]:
/// the bundle's learned position weights live there), mapped through the bundle's readout `W` when
/// it has one, normalized to unit length. `None` when there are no events or their weights cancel
/// out. Equal to `readout_unit(bundle, raw_profile(bundle, events))`.
pub fn session_profile(bundle: &Bundle, events: &[WeightedEvent]) -> Option<Vec<f32>> {
    readout_unit(bundle, raw_profile(bundle, events))
}

/// The pre-readout profile `h = Σ weight · v / ‖v‖` over the events' item vectors `v` (length
/// `dim`). This is what the privacy mechanism clips and noises (see `privacy::profile`).
pub fn raw_profile(bundle: &Bundle, events: &[WeightedEvent]) -> Vec<f32> {
    let mut profile = vec![0.0f32; bundle.dim()];
    for e in events {
        let w = e.weight;
        if w == 0.0 || !w.is_finite() {
            continue;
        }
        let v = bundle.dequantized_row(e.event.item as usize);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (p, x) in profile.iter_mut().zip(&v) {
                *p += w * x / norm;
            }
        }
    }
    profile
}

/// [`raw_profile`], doing the same work whatever the number of events up to `pad_to`: the time a
/// release takes must not say how long the device-only record is (it is read inside a private
/// release, and the page can time the call). Padding slots run the same arithmetic on the first
/// row with weight 0.
pub fn raw_profile_padded(bundle: &Bundle, events: &[WeightedEvent], pad_to: usize) -> Vec<f32> {
    let mut profile = raw_profile(bundle, events);
    if bundle.n_items() == 0 {
        return profile;
    }
    let mut sink = vec![0.0f32; bundle.dim()];
    for _ in events.len()..pad_to {
        let v = bundle.dequantized_row(0);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (p, x) in sink.iter_mut().zip(&v) {
                *p += std::hint::black_box(0.0f32) * x / norm;
            }
        }
    }
    // The padding adds exact zeros.
    for (p, s) in profile.iter_mut().zip(&sink) {
        *p += std::hint::black_box(*s);
    }
    profile
}

/// The query direction of a pre-readout profile: `W · h` (the bundle's readout, when it has one),
/// normalized to unit length; `None` when it is (numerically) zero. Pure post-processing of `h`.
pub fn readout_unit(bundle: &Bundle, mut profile: Vec<f32>) -> Option<Vec<f32>> {
    if let Some(w) = bundle.session_readout() {
        // The learned readout: query = W · profile (W is d × d, row-major, checked on load).
        let d = profile.len();
        profile = w
            .chunks_exact(d)
            .map(|row| row.iter().zip(&profile).map(|(a, b)| a * b).sum())
            .collect();
    }
    let norm = profile.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 && norm.is_finite() {
        profile.iter_mut().for_each(|p| *p /= norm);
        Some(profile)
    } else {
        None
    }
}

/// `v / ‖v‖`, or `None` when `v` is (numerically) zero or not finite.
fn unit_vector(v: &[f32]) -> Option<Vec<f32>> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (n > 1e-12 && n.is_finite()).then(|| v.iter().map(|x| x / n).collect())
}
