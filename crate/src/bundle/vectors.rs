//! One query against every item vector, whatever the bundle stores: int8 rows with a scale each,
//! or a compact bundle's product-quantized codes. The engine prepares an [`ItemQuery`] once per
//! request and scores items through it.

use super::loaded::Bundle;
use super::pq::Pq;
use crate::kernels::{
    adc_rows, dot_i8, dot_i8_gather, dot_i8_rows_scale_add, scalar::adc_one, scale_add,
};

/// A query vector prepared for one bundle's items: `query · v_i` for every item `i`.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemQuery {
    /// int8 rows: the query quantized to int8 and its scale (`q · v_i ≈ scale · dot(q, row_i) ·
    /// item_scale_i`).
    Int8(Vec<i8>, f32),
    /// Product-quantized codes: the lookup table `[m][256]` (`q · v_i ≈ Σ_j table[j][code_ij]`).
    Table(Vec<f32>),
}

impl Bundle {
    /// Whether the item vectors are product-quantized (a compact bundle, format version 3).
    pub fn is_compact(&self) -> bool {
        self.pq.is_some()
    }

    /// A compact bundle's codebooks.
    pub fn pq(&self) -> Option<&Pq> {
        self.pq.as_ref()
    }

    /// `item_dot(i, i)` for every row `i` in `rows`, batched (the same bits), for a compact
    /// bundle; `None` for an int8 one (whose norms are one int8 dot each).
    pub fn compact_square_norms(&self, rows: std::ops::Range<usize>) -> Option<Vec<f32>> {
        let pq = self.pq.as_ref()?;
        let factors = pq.unit_norm().then_some(&pq.inv_norms[..]);
        Some(pq.square_norms(pq.all_codes(&self.bytes), rows, factors))
    }

    /// Item `i`'s codes (`m` bytes); empty for an int8 bundle or a row out of range.
    pub fn codes(&self, i: usize) -> &[u8] {
        let Some(pq) = &self.pq else {
            return &[];
        };
        let m = pq.m;
        pq.all_codes(&self.bytes)
            .get(i * m..(i + 1) * m)
            .unwrap_or_default()
    }

    /// Prepares `v` (length `d`) as a query: int8 with one symmetric scale, or the lookup table
    /// of a compact bundle.
    pub fn query_for(&self, v: &[f32]) -> ItemQuery {
        match &self.pq {
            Some(pq) => ItemQuery::Table(pq.table(v)),
            None => {
                let (q, s) = quantize_query(v);
                ItemQuery::Int8(q, s)
            }
        }
    }

    /// `query · v_i` for item `i` (`i < n_items`).
    #[inline]
    pub fn query_dot(&self, query: &ItemQuery, i: u32) -> f32 {
        match query {
            ItemQuery::Int8(q, q_scale) => {
                q_scale * self.scales()[i as usize] * dot_i8(q, self.row(i as usize)) as f32
            }
            ItemQuery::Table(t) => {
                let f = self.pq.as_ref().map_or(1.0, |pq| pq.row_factor(i as usize));
                let s = adc_one(t, self.codes(i as usize));
                if f == 1.0 {
                    s
                } else {
                    s * f
                }
            }
        }
    }

    /// `out[j] = query · v_rows[j]` for the listed items (`out.len() == rows.len()`, every row
    /// `< n_items`), equal to [`Bundle::query_dot`] for each: int8 rows through the gather kernel,
    /// so that the rows' loads overlap (a `rerank` of ids new to the cache).
    pub fn query_dot_rows(&self, query: &ItemQuery, rows: &[u32], out: &mut [f32]) {
        match (query, self.embeddings().ok().and_then(|m| m.to_slice())) {
            (ItemQuery::Int8(q, q_scale), Some(matrix)) if self.pq.is_none() => {
                dot_i8_gather(q, matrix, rows, out);
                let scales = self.scales();
                for (o, &i) in out.iter_mut().zip(rows) {
                    *o *= q_scale * scales[i as usize];
                }
            }
            _ => {
                for (o, &i) in out.iter_mut().zip(rows) {
                    *o = self.query_dot(query, i);
                }
            }
        }
    }

    /// `out[i] = query · v_i` for every item (`out.len() == n_items`), with the batched kernels;
    /// equal to [`Bundle::query_dot`] for each item.
    pub fn query_dot_all(&self, query: &ItemQuery, out: &mut [f32]) {
        self.query_dot_all_plus(query, None, out);
    }

    /// [`Bundle::query_dot_all`] plus `w · add[i]` when `plus = Some((add, w))`, in the same pass
    /// that turns the kernel's raw dots into scores ([`scale_add`]): what [`Bundle::query_dot`]
    /// then `+ w · add[i]` gives, bit for bit.
    pub fn query_dot_all_plus(
        &self,
        query: &ItemQuery,
        plus: Option<(&[f32], f32)>,
        out: &mut [f32],
    ) {
        match (query, &self.pq) {
            (ItemQuery::Table(t), Some(pq)) => {
                adc_rows(t, pq.all_codes(&self.bytes), out);
                let norms = pq.unit_norm().then_some((&pq.inv_norms[..], 1.0));
                scale_add(out, norms, plus);
            }
            (ItemQuery::Int8(q, q_scale), None) => {
                match self.embeddings().ok().and_then(|m| m.to_slice()) {
                    Some(rows) => {
                        dot_i8_rows_scale_add(q, rows, out, Some((self.scales(), *q_scale)), plus);
                    }
                    None => {
                        out.iter_mut().for_each(|o| *o = 0.0);
                        scale_add(out, None, plus);
                    }
                }
            }
            // A query prepared for another kind of bundle matches nothing.
            _ => {
                out.iter_mut().for_each(|o| *o = 0.0);
                scale_add(out, None, plus);
            }
        }
    }

    /// The dot product of items `a` and `b`'s vectors (dequantized or reconstructed).
    pub fn item_dot(&self, a: usize, b: usize) -> f32 {
        match &self.pq {
            None => {
                dot_i8(self.row(a), self.row(b)) as f32
                    * self.scales().get(a).copied().unwrap_or(0.0)
                    * self.scales().get(b).copied().unwrap_or(0.0)
            }
            // An item with itself (its norm: `rank::item_norms`, every item at load) without the
            // two decoded copies; the same bits.
            Some(pq) if a == b => pq.scaled_square_norm(self.codes(a), pq.row_factor(a)),
            Some(_) => {
                let (va, vb) = (self.dequantized_row(a), self.dequantized_row(b));
                va.iter().zip(&vb).map(|(x, y)| x * y).sum()
            }
        }
    }
}

/// Quantizes a query vector to int8 with one scale (symmetric).
pub(crate) fn quantize_query(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if max <= 0.0 || !max.is_finite() {
        return (vec![0; v.len()], 0.0);
    }
    let scale = max / 127.0;
    (
        v.iter()
            .map(|&x| (x / scale).round().clamp(-127.0, 127.0) as i8)
            .collect(),
        scale,
    )
}
