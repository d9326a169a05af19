//! Ranking: candidates (the whole catalog, a list from the page, or the neighbourhood of one item)
//! → scores (the model from `score`, plus context and boosts) → business rules (filters,
//! exclusions, pins) → diversity (per-category cap, MMR) → top-k → results with explanations.
//!
//! Options arrive as [`RankOptions`] (plain data, as the page sends them) and are validated once,
//! against the bundle, into [`ValidRankOptions`]; everything below works on valid options only.
//! Policies (unknown ids, boosts, pins versus filters, diversity) are stated on the types and in
//! `docs/engine.md`.

mod candidates;
mod diversity;
mod explain;
mod options;
mod prepare;
mod response;
mod select;

use crate::bundle::Bundle;
use crate::error::RequestError;
use crate::kernels::dot_i8;
use crate::session::{SessionLog, SignalPolicy};

use candidates::FirstSeen;
use explain::explain_item;
use prepare::Prepared;

pub use options::{
    BoostOption, DiversityOptions, FilterOptions, PinOption, RankOptions, RecommendRequest,
    ValidRankOptions,
};
pub use response::{
    EventReason, Explanation, Part, RankResponse, RankedItem, RankedRow, RowResponse,
};

/// Largest `k` a request may ask for.
pub const MAX_K: usize = 10_000;
/// `k` when a `recommend` or `similar` request gives none.
pub const DEFAULT_K: usize = 10;
/// Most ids in one list of a request (candidates, allow, deny, exclude, a boost's items).
pub const MAX_IDS: usize = 100_000;
/// Most pins and most boosts in one request.
pub const MAX_RULES: usize = 1_000;
/// Largest MMR pool.
pub const MAX_MMR_POOL: usize = 5_000;
/// How many of the newest session events an explanation lists at most.
pub const MAX_EXPLAINED_EVENTS: usize = 5;

fn invalid(name: &'static str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidOption {
        name,
        why: why.into(),
    }
}

/// Everything a request ranks against: the bundle, the session, its signal policy, the items'
/// vector norms (for cosines) and where the session profile comes from.
#[derive(Debug, Clone, Copy)]
pub struct RankEnv<'a> {
    pub bundle: &'a Bundle,
    pub session: &'a SessionLog,
    pub signals: &'a SignalPolicy,
    /// ‖item vector‖ per row (dequantized); see [`item_norms`].
    pub norms: &'a [f32],
    /// The session's raw history, or a private release of its profile.
    pub profile: ProfileSource<'a>,
}

/// Where a request's session profile comes from.
///
/// With [`ProfileSource::Released`] or [`ProfileSource::Public`] nothing in the request reads the
/// raw history: scores come from the released vector (or the popularity prior), the session-based
/// exclusions (`excludeSeen`, `excludePurchased`, `excludeInCart`) are off, and explanations list
/// no events — all of it is post-processing of what was released (see `docs/PRIVACY.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProfileSource<'a> {
    /// The raw history (privacy off: `epsilon: Infinity`).
    Raw,
    /// A differentially private release of the pre-readout profile (`privacy::ProfileMechanism`).
    Released(&'a [f32]),
    /// An anchor item released by the exponential mechanism (`privacy::AnchorMechanism`).
    Anchor(u32),
    /// No session information at all (the budget allowed no release yet).
    Public,
}

/// ‖row i‖ of the dequantized embeddings, for every item (computed once per bundle).
pub fn item_norms(bundle: &Bundle) -> Vec<f32> {
    (0..bundle.n_items())
        .map(|i| item_norm(bundle, i))
        .collect()
}

/// The length of item `i`'s dequantized vector.
pub(crate) fn item_norm(bundle: &Bundle, i: usize) -> f32 {
    let r = bundle.row(i);
    bundle.scales()[i] * (dot_i8(r, r) as f32).sqrt()
}

/// What a request ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Recommend,
    Rerank,
    Similar(u32),
}

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

pub(crate) fn quote_list<S: AsRef<str>>(ids: &[S]) -> String {
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
