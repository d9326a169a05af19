//! Catalog updates applied to a loaded bundle. An update ("delta", written by `vitrine catalog
//! update`) is itself a small bundle — read, validated and digest-checked by the same reader —
//! whose metadata names the bundle file it applies to (`delta.base`, its digest; `delta.n_base`,
//! its rows) and whose rows are the products that differ from that file: new products (with their
//! vectors) and products of the file whose category, price or availability changed (their vectors
//! are ignored). Deltas are cumulative: each holds the whole difference between the file and the
//! current catalog, so a page applies only the newest.
//!
//! Rows never move: a row added by one update keeps its number when a later update lists it
//! again, so a shopper's history and a private release that name rows stay valid; a row a later
//! update no longer lists becomes unavailable.
//!
//! A **shard** (`delta.kind` = `shard`, written by `vitrine catalog shard`) is the same kind of
//! file for a big catalog split into a head bundle and shards: its rows *join* the loaded bundle
//! (the shards applied before stay, in any order; applying one twice changes nothing), and a
//! compact head takes compact shards (codes made with the head's codebooks). Shards and catalog
//! updates never mix on one loaded bundle (a sharded catalog is updated by sharding it again).

use super::category_column::CategoryColumn;
use super::f32_column::{F32Column, Values};
use super::format::{DELTA_BASE_KEY, DELTA_KIND_KEY, DELTA_KIND_SHARD, DELTA_N_BASE_KEY};
use super::loaded::{popularity_prior, unavailable_rows, Bundle, FileRows};
use super::tables::Categories;
use crate::error::BundleError;

/// A working copy of a bundle's item vectors while an update is applied.
enum VectorRows {
    /// int8 rows `[n, d]` and their scales.
    Int8(Vec<i8>, Vec<f32>),
    /// Product-quantization codes `[n, m]`.
    Codes(Vec<u8>),
}

/// Which rows an update gave new vectors: every row from `first_new` on (appended), and the rows
/// of earlier updates in `revectored` (a file's own rows never change vectors).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VectorsChanged {
    /// The row count before the update: rows from here on are new.
    pub first_new: usize,
    /// Rows below `first_new` whose vectors the update set.
    pub revectored: Vec<usize>,
}

/// What applying an update did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverlayReport {
    /// Rows appended now.
    pub added: usize,
    /// Rows (of the file or of an earlier update) whose data changed.
    pub updated: usize,
    /// Rows that may not be recommended now.
    pub unavailable: usize,
}

impl Bundle {
    /// The `digest` the bundle file recorded (what an update names as its base).
    pub fn recorded_digest(&self) -> Option<&str> {
        self.metadata
            .get(super::digest::DIGEST_KEY)
            .map(String::as_str)
    }

    /// Whether this bundle is a catalog update (it names a base), not a model to load.
    pub fn is_delta(&self) -> bool {
        self.metadata.contains_key(DELTA_BASE_KEY)
    }

    /// Whether this bundle is a shard of a big catalog (a delta whose rows join the loaded
    /// bundle, see the module doc).
    pub fn is_shard(&self) -> bool {
        self.is_delta()
            && self.metadata.get(DELTA_KIND_KEY).map(String::as_str) == Some(DELTA_KIND_SHARD)
    }

    /// Applies a catalog update (`delta`, a bundle that [`Bundle::is_delta`]). Checks first that
    /// it is for this bundle file (`delta.base`, `delta.n_base`) and has this bundle's dimension;
    /// on error nothing changes.
    pub fn apply_overlay(&mut self, delta: &Bundle) -> Result<OverlayReport, BundleError> {
        self.apply_overlay_rows(delta).map(|(report, _)| report)
    }

    /// [`Bundle::apply_overlay`], also saying which rows got new vectors (for tables derived from
    /// them, kept by the caller: the rows from [`VectorsChanged::first_new`] on, and
    /// [`VectorsChanged::revectored`]).
    pub fn apply_overlay_rows(
        &mut self,
        delta: &Bundle,
    ) -> Result<(OverlayReport, VectorsChanged), BundleError> {
        let base = delta.metadata.get(DELTA_BASE_KEY);
        let n_base = delta.metadata.get(DELTA_N_BASE_KEY);
        if base.map(String::as_str) != self.recorded_digest()
            || n_base.map(String::as_str) != Some(self.n_base.to_string().as_str())
            || base.is_none()
        {
            return Err(BundleError::UpdateBase {
                update: base.map_or("none".into(), |b| b.chars().take(80).collect()),
                loaded: self.recorded_digest().unwrap_or("none").to_owned(),
            });
        }
        let d = self.dim;
        if delta.is_compact() && self.pq.is_none() {
            // An int8 bundle takes int8 rows; a compact one encodes either kind with its own
            // codebooks (a shard's codes, made with them, encode to themselves).
            return Err(BundleError::MissingTensor("item_emb"));
        }
        let shard = delta.is_shard();
        if self.file_rows.as_ref().is_some_and(|f| f.shards != shard) {
            return Err(BundleError::UpdateBase {
                update: format!(
                    "a {} (a sharded catalog is updated by sharding it again)",
                    if shard { "shard" } else { "catalog update" }
                ),
                loaded: format!(
                    "{} with {} applied",
                    self.recorded_digest().unwrap_or("none"),
                    if shard { "catalog updates" } else { "shards" }
                ),
            });
        }
        if delta.dim != d {
            return Err(BundleError::Shape {
                name: "item_emb".into(),
                expected: format!("[n, {d}] (the loaded bundle's dimension)"),
                found: vec![delta.n_items, delta.dim],
            });
        }
        // The file's own rows, as loaded (before any update changed them).
        let file = match &self.file_rows {
            Some(f) => f.as_ref().clone(),
            None => FileRows {
                avail: self.avail.clone(),
                categories: self.categories.as_ref().map(|c| c.item.clone()),
                prices: self.prices.clone(),
                shards: shard,
            },
        };

        // A compact delta made with these codebooks (a shard) gives its codes as they are: a
        // normalized reconstruction (`pq.unit_norm`) need not encode to itself. (Compared once:
        // the codebooks are k × d values.)
        let same_codebooks = match (&self.pq, &delta.pq) {
            (Some(a), Some(b)) => a.m == b.m && a.k == b.k && a.codebooks == b.codebooks,
            _ => false,
        };
        // Work on copies; the bundle changes only once everything checked out.
        let mut rows = self.vector_rows();
        let (mut ids, mut pop) = (self.ids.clone(), self.popularity().into_owned());
        let mut report = OverlayReport::default();
        // (row, delta row) of every product the delta lists.
        let mut listed: Vec<(u32, usize)> = Vec::with_capacity(delta.n_items);
        // Rows of earlier updates whose vectors this one sets (their norms are computed again).
        let mut revectored: Vec<usize> = Vec::new();
        let n_before = self.n_items;
        let delta_pop = delta.popularity();
        for (k, id) in delta.ids.iter().enumerate() {
            let row = match self.index.get(&self.ids, id) {
                Some(r) => {
                    let ru = r as usize;
                    if ru >= self.n_base {
                        // Added by an earlier update: its vector and popularity follow.
                        self.set_vector_row(&mut rows, ru, delta, k, same_codebooks);
                        pop[ru] = delta_pop[k];
                        revectored.push(ru);
                    }
                    report.updated += 1;
                    r
                }
                None => {
                    let r = ids.len() as u32;
                    if !ids.push(id) {
                        return Err(BundleError::Ids("more than 4 GiB of ids".into()));
                    }
                    self.set_vector_row(&mut rows, r as usize, delta, k, same_codebooks);
                    pop.push(delta_pop[k]);
                    report.added += 1;
                    r
                }
            };
            listed.push((row, k));
        }
        // The delta's ids are unique (its own load checks) and new ones were looked up first, so
        // this adds rows; on a repeat the index is back as it was.
        self.index
            .extend(&ids, n_before)
            .map_err(|_| BundleError::Ids("repeated id".into()))?;
        let n = ids.len();
        self.n_items = n;
        self.ids = ids;
        match rows {
            VectorRows::Int8(emb, scale) => {
                self.scale = F32Column::Owned(scale);
                self.emb_owned = Some(emb);
            }
            VectorRows::Codes(codes) => {
                if let Some(pq) = &mut self.pq {
                    pq.update_unit_norms(&codes, n_before, &revectored);
                    pq.codes_owned = Some(codes);
                }
            }
        }
        self.prior = popularity_prior(&pop);
        self.pop = Values::Floats(F32Column::Owned(pop));
        if let Some(t) = &mut self.trend {
            t.resize(n, 0.0);
            if let Some(dt) = delta.trend() {
                for &(row, k) in &listed {
                    if let (Some(slot), Some(&v)) = (t.get_mut(row as usize), dt.get(k)) {
                        *slot = v;
                    }
                }
            }
            self.trend_prior = Some(popularity_prior(t));
        }
        for lists in [&mut self.neighbours, &mut self.co_purchases]
            .into_iter()
            .flatten()
        {
            let last = lists.offsets.last().copied().unwrap_or(0);
            lists.offsets.resize(n + 1, last);
        }
        // Availability: the file's rows as the file says unless the delta says otherwise; rows of
        // earlier updates only while listed.
        let file_avail = |r: usize| file.avail.as_ref().is_none_or(|a| a.get(r) != Some(&false));
        // Rows added before: an earlier shard's stay as they are (a shard adds); an earlier
        // update's only while the current update lists them.
        let earlier = |r: usize| shard && self.avail.as_ref().and_then(|a| a.get(r)) == Some(&true);
        let mut avail: Vec<bool> = (0..n)
            .map(|r| match r < self.n_base {
                true => file_avail(r),
                false => earlier(r),
            })
            .collect();
        for &(row, k) in &listed {
            avail[row as usize] = delta.is_available(k);
        }
        self.unavailable = unavailable_rows(Some(&avail));
        report.unavailable = self.unavailable.len();
        self.avail = Some(avail);
        self.set_categories_and_prices(delta, &listed, &file);
        self.file_rows = Some(Box::new(file));
        Ok((
            report,
            VectorsChanged {
                first_new: n_before,
                revectored,
            },
        ))
    }

    /// Copies of this bundle's item vectors, to change.
    fn vector_rows(&self) -> VectorRows {
        match &self.pq {
            Some(pq) => VectorRows::Codes(pq.all_codes(&self.bytes).to_vec()),
            None => VectorRows::Int8(
                match &self.emb_owned {
                    Some(e) => e.clone(),
                    None => bytemuck::cast_slice::<u8, i8>(
                        self.bytes.get(self.emb.clone()).unwrap_or(&[]),
                    )
                    .to_vec(),
                },
                self.scales().to_vec(),
            ),
        }
    }

    /// Sets (or, at the end, appends) row `r` of `rows` to the delta's row `k`, in this bundle's
    /// form: int8 rows copied as they are (or quantized from a compact delta's reconstruction), a
    /// compact bundle's codes encoded with its own codebooks (or, `same_codebooks`, a compact
    /// delta's codes copied).
    fn set_vector_row(
        &self,
        rows: &mut VectorRows,
        r: usize,
        delta: &Bundle,
        k: usize,
        same_codebooks: bool,
    ) {
        let d = self.dim;
        match rows {
            VectorRows::Codes(codes) => {
                let Some(pq) = &self.pq else { return };
                let theirs = delta.pq.as_ref().filter(|_| same_codebooks);
                let c = match theirs
                    .and_then(|q| q.all_codes(&delta.bytes).get(k * q.m..(k + 1) * q.m))
                {
                    Some(c) => c.to_vec(),
                    None => pq.encode(&delta.dequantized_row(k)),
                };
                match codes.get_mut(r * pq.m..(r + 1) * pq.m) {
                    Some(slot) => slot.copy_from_slice(&c),
                    None => codes.extend_from_slice(&c),
                }
            }
            VectorRows::Int8(emb, scale) => {
                // A delta holds int8 rows (checked before anything changes).
                let (q, s) = (delta.row(k), delta.scales().get(k).copied().unwrap_or(0.0));
                match (emb.get_mut(r * d..(r + 1) * d), scale.get_mut(r)) {
                    (Some(slot), Some(sc)) if q.len() == d => {
                        slot.copy_from_slice(q);
                        *sc = s;
                    }
                    _ => {
                        emb.extend_from_slice(q);
                        scale.push(s);
                    }
                }
            }
        }
    }

    /// Sets the category and price of the listed rows from the delta (category names not yet known
    /// are appended) and of the file's unlisted rows from the file (an earlier update's change
    /// that this one no longer lists is undone); grows the per-row tables to the row count.
    fn set_categories_and_prices(
        &mut self,
        delta: &Bundle,
        listed: &[(u32, usize)],
        file: &FileRows,
    ) {
        let n = self.n_items;
        let n_base = self.n_base;
        if delta.categories.is_some() || self.categories.is_some() {
            let cats = self.categories.get_or_insert_with(|| Categories {
                item: CategoryColumn::default(),
                names: Vec::new(),
            });
            cats.item.resize(n);
            for r in 0..n_base.min(n) {
                cats.item
                    .set(r, file.categories.as_ref().and_then(|c| c.get(r)));
            }
            for &(row, k) in listed {
                let c = match delta
                    .category(k)
                    .and_then(|c| delta.category_names()?.get(c as usize))
                {
                    None => None,
                    Some(name) => Some(match cats.names.iter().position(|x| x == name) {
                        Some(c) => c as u32,
                        None => {
                            cats.names.push(name.clone());
                            (cats.names.len() - 1) as u32
                        }
                    }),
                };
                cats.item.set(row as usize, c);
            }
        }
        if delta.prices.is_some() || self.prices.is_some() {
            let prices = self.prices.get_or_insert_with(Vec::new);
            prices.resize(n, -1.0);
            for (r, slot) in prices.iter_mut().enumerate().take(n_base) {
                *slot = file
                    .prices
                    .as_ref()
                    .and_then(|p| p.get(r).copied())
                    .unwrap_or(-1.0);
            }
            for &(row, k) in listed {
                if let Some(slot) = prices.get_mut(row as usize) {
                    *slot = delta.price(k).unwrap_or(-1.0);
                }
            }
        }
    }
}
