//! Catalog updates applied to a loaded bundle ([`Overlay`], read from a delta by
//! `crate::catalog`): new rows appended, categories and prices changed, availability set. Rows
//! never move: a row added by one update keeps its number when a later update (deltas are
//! cumulative against the bundle file) lists it again, so a shopper's history and a private
//! release that name rows stay valid; a row a later update no longer lists becomes unavailable.

use super::id_index::IdIndex;
use super::loaded::{popularity_prior, unavailable_rows, Bundle};
use super::tables::Categories;
use crate::error::BundleError;

/// One product a catalog update adds (or lists again).
#[derive(Debug, Clone, PartialEq)]
pub struct AddedItem {
    pub id: String,
    /// Int8 vector (`dim` values) and its scale.
    pub emb: Vec<i8>,
    pub scale: f32,
    pub pop: f32,
    /// Category name (`None`: none).
    pub category: Option<String>,
    /// Price (`None`: unknown).
    pub price: Option<f32>,
}

/// A validated catalog update against one bundle file (cumulative: the whole difference between
/// the file and the current catalog).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlay {
    /// The `digest` of the bundle file it applies to.
    pub base_digest: String,
    /// Rows of that file.
    pub n_base: usize,
    /// Products not in the file, in the update's order (rows `n_base..` in a fresh engine).
    pub added: Vec<AddedItem>,
    /// Rows of the file whose category or price changed: `(row, category, price)`.
    pub changed: Vec<(u32, Option<String>, Option<f32>)>,
    /// Ids (of the file or added) that may not be recommended: out of stock or no longer sold.
    pub unavailable_ids: Vec<String>,
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

    /// Applies a catalog update. Checks first that it is for this bundle file (`base_digest`,
    /// `n_base`) and that every vector has this bundle's dimension; on error nothing changes.
    pub fn apply_overlay(&mut self, o: &Overlay) -> Result<OverlayReport, BundleError> {
        if self.recorded_digest() != Some(o.base_digest.as_str()) || o.n_base != self.n_base {
            return Err(BundleError::UpdateBase {
                update: o.base_digest.chars().take(80).collect(),
                loaded: self.recorded_digest().unwrap_or("none").to_owned(),
            });
        }
        if let Some((i, _)) = o
            .added
            .iter()
            .enumerate()
            .find(|(_, a)| a.emb.len() != self.dim || !(a.scale.is_finite() && a.scale >= 0.0))
        {
            return Err(BundleError::Value {
                name: "add_emb".into(),
                index: i,
                why: format!("expected {} values and a finite scale ≥ 0", self.dim),
            });
        }
        let d = self.dim;
        // Work on copies; the bundle changes only once everything checked out.
        let mut emb: Vec<i8> = match &self.emb_owned {
            Some(e) => e.clone(),
            None => bytemuck::cast_slice::<u8, i8>(self.bytes.get(self.emb.clone()).unwrap_or(&[]))
                .to_vec(),
        };
        let (mut ids, mut scale, mut pop) =
            (self.ids.clone(), self.scale.clone(), self.pop.clone());
        let mut report = OverlayReport {
            updated: o.changed.len(),
            ..OverlayReport::default()
        };
        let mut listed: Vec<u32> = Vec::with_capacity(o.added.len());
        let mut touched: Vec<(u32, Option<String>, Option<f32>)> = o.changed.clone();
        for a in &o.added {
            let row = match self.index.get(&self.ids, &a.id) {
                Some(r) => {
                    // Listed again (or an id of the file): its data is updated in place.
                    let ru = r as usize;
                    if ru >= self.n_base {
                        emb[ru * d..(ru + 1) * d].copy_from_slice(&a.emb);
                        scale[ru] = a.scale;
                        pop[ru] = a.pop;
                    }
                    report.updated += 1;
                    r
                }
                None => {
                    let r = ids.len() as u32;
                    ids.push(a.id.clone());
                    emb.extend_from_slice(&a.emb);
                    scale.push(a.scale);
                    pop.push(a.pop);
                    report.added += 1;
                    r
                }
            };
            listed.push(row);
            touched.push((row, a.category.clone(), a.price));
        }
        let index = IdIndex::build(&ids).map_err(|(_, row)| {
            BundleError::Ids(format!(
                "the update lists id '{}' twice",
                ids.get(row).map(String::as_str).unwrap_or_default()
            ))
        })?;
        self.index = index;
        self.scale = scale;
        self.pop = pop;
        let n = ids.len();
        self.n_items = n;
        self.ids = ids;
        self.emb_owned = Some(emb);
        self.prior = popularity_prior(&self.pop);
        if let Some(t) = &mut self.trend {
            t.resize(n, 0.0);
            self.trend_prior = Some(popularity_prior(t));
        }
        for lists in [&mut self.neighbours, &mut self.co_purchases]
            .into_iter()
            .flatten()
        {
            let last = lists.offsets.last().copied().unwrap_or(0);
            lists.offsets.resize(n + 1, last);
        }
        self.set_categories_and_prices(&touched);
        // Availability: everything, less what the update names, less rows of earlier updates it
        // no longer lists.
        let mut avail = vec![true; n];
        for a in avail.iter_mut().skip(self.n_base) {
            *a = false;
        }
        for &r in &listed {
            if let Some(a) = avail.get_mut(r as usize) {
                *a = true;
            }
        }
        for id in &o.unavailable_ids {
            if let Some(r) = self.index.get(&self.ids, id) {
                avail[r as usize] = false;
            }
        }
        self.unavailable = unavailable_rows(Some(&avail));
        report.unavailable = self.unavailable.len();
        self.avail = Some(avail);
        Ok(report)
    }

    /// Sets the category and price of the rows listed (names not yet known are appended to the
    /// category names); grows the per-row tables to the row count.
    fn set_categories_and_prices(&mut self, rows: &[(u32, Option<String>, Option<f32>)]) {
        let n = self.n_items;
        let any_cat = rows.iter().any(|r| r.1.is_some());
        if any_cat || self.categories.is_some() {
            let cats = self.categories.get_or_insert_with(|| Categories {
                item: Vec::new(),
                names: Vec::new(),
            });
            cats.item.resize(n, -1);
            for (row, name, _) in rows {
                let c = match name {
                    None => -1,
                    Some(name) => match cats.names.iter().position(|x| x == name) {
                        Some(c) => c as i32,
                        None => {
                            cats.names.push(name.clone());
                            (cats.names.len() - 1) as i32
                        }
                    },
                };
                if let Some(slot) = cats.item.get_mut(*row as usize) {
                    *slot = c;
                }
            }
        }
        let any_price = rows.iter().any(|r| r.2.is_some());
        if any_price || self.prices.is_some() {
            let prices = self.prices.get_or_insert_with(Vec::new);
            prices.resize(n, -1.0);
            for (row, _, price) in rows {
                if let Some(slot) = prices.get_mut(*row as usize) {
                    *slot = price.filter(|p| p.is_finite() && *p >= 0.0).unwrap_or(-1.0);
                }
            }
        }
    }
}
