//! The ranking entry points: `recommend`, `rerank`, `similar` and `explain` on a [`RankEnv`].

use super::candidates::FirstSeen;
use super::env::{Kind, RankEnv};
use super::explain::explain_item;
use super::options::{invalid, ValidRankOptions, DEFAULT_K, MAX_IDS};
use super::prepare::Prepared;
use super::response::{Explanation, RankedRow, RowResponse};
use super::select;
use crate::error::RequestError;

impl<'a> RankEnv<'a> {
    /// The top `k` of the whole catalog for this session and context (rows: ids are attached by
    /// [`RowResponse::into_response`]).
    pub fn recommend_rows(&self, opts: &ValidRankOptions) -> RowResponse {
        let p = Prepared::new(*self, opts, Kind::Recommend);
        let k = opts.k.unwrap_or(DEFAULT_K);
        self.finish(&p, k, None, Vec::new())
    }

    /// The given candidates, reordered (and filtered) for this session and context, each with its
    /// position in `ids`. Unknown ids are reported in `unknown_ids`; duplicates are ranked once
    /// (and reported in `warnings`).
    pub fn rerank_rows<S: AsRef<str>>(
        &self,
        ids: &[S],
        opts: &ValidRankOptions,
    ) -> Result<RowResponse, RequestError> {
        if ids.len() > MAX_IDS {
            return Err(invalid(
                "candidates",
                format!("at most {MAX_IDS} ids, got {}", ids.len()),
            ));
        }
        let bundle = self.bundle;
        let mut unknown: Vec<String> = Vec::new();
        // Duplicates: keep the first occurrence.
        let mut seen = FirstSeen::with_capacity(ids.len());
        let mut duplicates: Vec<u32> = Vec::new();
        for (position, id) in ids.iter().enumerate() {
            let id = id.as_ref();
            match bundle.index_of(id) {
                Some(i) => {
                    if seen.insert(i, position as u32) {
                        duplicates.push(i);
                    }
                }
                None => {
                    if !unknown.iter().any(|u| u == id) {
                        unknown.push(id.to_owned());
                    }
                }
            }
        }
        let rows = &seen.rows;
        let p = Prepared::new(*self, opts, Kind::Rerank);
        let k = opts.k.unwrap_or(rows.len()).min(rows.len().max(1));
        let mut extra = Vec::new();
        if !duplicates.is_empty() {
            let names: Vec<&str> = duplicates
                .iter()
                .map(|&d| bundle.ids()[d as usize].as_str())
                .collect();
            extra.push(format!(
                "duplicate candidate ids ranked once: {}",
                quote_list(&names)
            ));
        }
        let mut response = self.finish(&p, k, Some(rows), extra);
        for r in &mut response.rows {
            r.position = seen.position(r.index);
        }
        for u in unknown {
            if !response.unknown_ids.contains(&u) {
                response.unknown_ids.push(u);
            }
        }
        Ok(response)
    }

    /// Items like `id` (item-to-item: embedding cosine, plus the bundle's neighbour list when it
    /// has one), under the same rules, context and boosts. An unknown `id` falls back to
    /// [`RankEnv::recommend_rows`] and is reported in `unknown_ids` and `warnings`.
    pub fn similar_rows(&self, id: &str, opts: &ValidRankOptions) -> RowResponse {
        let k = opts.k.unwrap_or(DEFAULT_K);
        match self.bundle.index_of(id) {
            Some(anchor) => {
                let p = Prepared::new(*self, opts, Kind::Similar(anchor));
                self.finish(&p, k, None, Vec::new())
            }
            None => {
                let mut r = self.recommend_rows(opts);
                r.unknown_ids.insert(0, id.to_owned());
                r.warnings.push(format!(
                    "similar: item '{id}' is not in the bundle; showing recommendations instead"
                ));
                r
            }
        }
    }

    /// Why `id` would get its score in a `recommend` with these options (whether or not it makes
    /// the top k). Unknown ids are errors here: the item is the request's subject.
    pub fn explain(
        &self,
        id: &str,
        opts: &ValidRankOptions,
    ) -> Result<(f32, Explanation), RequestError> {
        let i = self
            .bundle
            .index_of(id)
            .ok_or_else(|| RequestError::UnknownItem(id.to_owned()))?;
        let p = Prepared::new(*self, opts, Kind::Recommend);
        let pinned = opts.pins.iter().any(|&(r, _)| r == i);
        Ok((p.score(i), explain_item(&p, i, pinned)))
    }

    /// Rules, diversity, top-k, pins, then the response.
    fn finish(
        &self,
        p: &Prepared<'_>,
        k: usize,
        list: Option<&[u32]>,
        mut warnings: Vec<String>,
    ) -> RowResponse {
        let opts = p.opts;
        warnings.extend(opts.warnings.iter().cloned());
        let order = select::select(p, k, list, &mut warnings);
        let rows = order
            .into_iter()
            .enumerate()
            .map(|(r, (c, pinned))| RankedRow {
                index: c.index,
                score: c.score,
                rank: r as u32 + 1,
                pinned,
                boosted: p.boost(c.index) != 0.0,
                position: None,
                why: opts.explain.then(|| explain_item(p, c.index, pinned)),
            })
            .collect();
        RowResponse {
            rows,
            unknown_ids: opts.unknown_ids.clone(),
            warnings,
        }
    }
}

fn quote_list<S: AsRef<str>>(ids: &[S]) -> String {
    let shown: Vec<String> = ids
        .iter()
        .take(10)
        .map(|i| format!("'{}'", i.as_ref()))
        .collect();
    let more = ids.len().saturating_sub(10);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
