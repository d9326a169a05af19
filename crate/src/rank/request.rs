//! The ranking entry points: `recommend`, `rerank`, `similar` and `explain` on a [`RankEnv`].

use super::candidates::{DistinctIds, FirstSeen};
use super::env::{Kind, RankEnv, Related};
use super::explain::explain_item;
use super::options::{invalid, ValidRankOptions, DEFAULT_K, MAX_ANCHORS, MAX_IDS};
use super::prepare::Prepared;
use super::response::{Explanation, RankedRow, RowResponse};
use super::select;
use crate::error::RequestError;

impl<'a> RankEnv<'a> {
    /// The top `k` of the whole catalog for this session and context (rows: ids are attached by
    /// [`RowResponse::into_response`]).
    pub fn recommend_rows(&self, opts: &ValidRankOptions) -> RowResponse {
        let p = Prepared::new(*self, opts, Kind::Recommend, &[]);
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
        let mut unknown = DistinctIds::default();
        // Duplicates: keep the first occurrence.
        let mut seen = FirstSeen::with_capacity(ids.len());
        let mut duplicates: Vec<u32> = Vec::new();
        for (position, (id, row)) in ids.iter().zip(bundle.indices_of(ids)).enumerate() {
            let id = id.as_ref();
            match row {
                Some(i) => {
                    if seen.insert(i, position as u32) {
                        duplicates.push(i);
                    }
                }
                None => {
                    unknown.insert(id);
                }
            }
        }
        let rows = &seen.rows;
        let p = Prepared::new(*self, opts, Kind::Rerank, &[]);
        let k = opts.k.unwrap_or(rows.len()).min(rows.len().max(1));
        let mut extra = Vec::new();
        if !duplicates.is_empty() {
            let names: Vec<&str> = duplicates
                .iter()
                .map(|&d| &bundle.ids()[d as usize])
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
        // The options' unknown ids first, then the list's.
        let mut all = DistinctIds::of(std::mem::take(&mut response.unknown_ids));
        all.extend(unknown.into_vec());
        response.unknown_ids = all.into_vec();
        Ok(response)
    }

    /// Items like `id` (item-to-item: embedding cosine, plus the bundle's neighbour list when it
    /// has one), under the same rules, context and boosts. An unknown `id` falls back to
    /// [`RankEnv::recommend_rows`] and is reported in `unknown_ids` and `warnings`.
    pub fn similar_rows(&self, id: &str, opts: &ValidRankOptions) -> RowResponse {
        self.related_rows(Related::Similar, &[id], opts)
    }

    /// A scenario around the page's items `ids` (ignored for [`Related::Trending`]): `similar`
    /// of several items (a cart), bought-together, trending. Reads no history. The items asked
    /// about are left out of the results; unknown ids are reported in `unknown_ids`; when no id
    /// is known, `similar` and bought-together fall back to [`RankEnv::recommend_rows`] (with a
    /// warning). At most [`MAX_ANCHORS`] ids (more: only the last [`MAX_ANCHORS`] count, with a
    /// warning — a cart's newest items).
    pub fn related_rows<S: AsRef<str>>(
        &self,
        related: Related,
        ids: &[S],
        opts: &ValidRankOptions,
    ) -> RowResponse {
        let k = opts.k.unwrap_or(DEFAULT_K);
        if related == Related::Trending {
            let p = Prepared::new(*self, opts, Kind::Related(related), &[]);
            return self.finish(&p, k, None, Vec::new());
        }
        let mut warnings = Vec::new();
        let used = if ids.len() > MAX_ANCHORS {
            warnings.push(format!(
                "only the last {MAX_ANCHORS} of {} item ids were used",
                ids.len()
            ));
            &ids[ids.len() - MAX_ANCHORS..]
        } else {
            ids
        };
        let mut anchors: Vec<u32> = Vec::with_capacity(used.len());
        let mut unknown: Vec<String> = Vec::new();
        for id in used {
            let id = id.as_ref();
            match self.bundle.index_of(id) {
                Some(i) if !anchors.contains(&i) => anchors.push(i),
                Some(_) => {}
                None if !unknown.iter().any(|u| u == id) => unknown.push(id.to_owned()),
                None => {}
            }
        }
        let mut r = if anchors.is_empty() {
            let mut r = self.recommend_rows(opts);
            r.warnings.push(match unknown.as_slice() {
                [] => "no item ids given; showing recommendations instead".to_owned(),
                [id] => format!(
                    "{}: item '{id}' is not in the bundle; showing recommendations instead",
                    related.name()
                ),
                _ => format!(
                    "{}: none of the items is in the bundle; showing recommendations instead",
                    related.name()
                ),
            });
            r
        } else {
            let p = Prepared::new(*self, opts, Kind::Related(related), &anchors);
            self.finish(&p, k, None, Vec::new())
        };
        for (at, u) in unknown.into_iter().enumerate() {
            if !r.unknown_ids.contains(&u) {
                r.unknown_ids.insert(at.min(r.unknown_ids.len()), u);
            }
        }
        r.warnings.extend(warnings);
        r
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
        let p = Prepared::new(*self, opts, Kind::Recommend, &[]);
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
            propensity: None,
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
