//! What a request returns: results as bundle rows ([`RowResponse`], what the ranking selects) or
//! with their ids attached ([`RankResponse`]), and the explanation of a score ([`Explanation`]).

use serde::Serialize;

use crate::bundle::Bundle;
use crate::privacy::Propensity;

crate::wire! {
    /// One named additive part of a score.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Part {
        /// `similarity`, `popularity`, `context`, `boost`, `neighbour`, or a context feature name.
        feature: String = "feature",
        /// What it adds.
        value: f32 = "value",
    }
}

crate::wire! {
    /// A session event behind a score: how similar its item is to the result, and how much that
    /// adds to the similarity term (`weight · (W u_event) · v_item / ‖Σ weight · W u‖`, `W` the
    /// bundle's readout or the identity; the parts of all events sum to the `similarity`
    /// contribution up to int8 rounding).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct EventReason {
        /// Event type.
        kind: &'static str = "type",
        /// The event's item id.
        item: String = "item",
        /// When (ms since the Unix epoch).
        ts: f64 = "ts",
        /// The event's effective weight (type × position × decay × dwell).
        weight: f32 = "weight",
        /// Cosine between the event's item and the result.
        similarity: f32 = "similarity",
        /// Its share of the `similarity` contribution.
        contribution: f32 = "contribution",
    }
}

crate::wire! {
    /// Why an item got its score.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Explanation {
        /// Additive parts that sum to the score (`similarity`, `popularity`, `context`, `boost`,
        /// `neighbour`).
        contributions: Vec<Part> = "contributions",
        /// The session events that weigh most on the `similarity` part, by |contribution|.
        events: Vec<EventReason> = "events",
        /// The context features behind the `context` part, with their weight for the item's
        /// category.
        context: Vec<Part> = "context",
        /// True when the session shaped the score (false: popularity and context only).
        personalized: bool = "personalized",
        /// True when the item was placed by a pin.
        pinned: bool = "pinned",
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedItem {
    /// The item id.
    pub id: String,
    /// Higher is better; comparable within one response only. With MMR, results follow the MMR
    /// order and this stays the relevance score.
    pub score: f32,
    /// 1-based position in the response.
    pub rank: u32,
    /// Placed by a pin.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// A boost changed its score.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub boosted: bool,
    /// Why (when `explain` was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<Explanation>,
}

/// A result before its id is attached: the bundle row (what [`super::RankEnv`] selects; the wasm layer
/// reads ids straight from the bundle instead of cloning them into [`RankedItem`]s).
#[derive(Debug, Clone, PartialEq)]
pub struct RankedRow {
    /// Row of the item in the bundle.
    pub index: u32,
    /// As [`RankedItem::score`].
    pub score: f32,
    /// 1-based position in the response.
    pub rank: u32,
    /// Placed by a pin.
    pub pinned: bool,
    /// A boost changed its score.
    pub boosted: bool,
    /// For `rerank`: the position of the item's first occurrence in the candidate list.
    pub position: Option<u32>,
    /// Why (when `explain` was asked for).
    pub why: Option<Explanation>,
}

/// A response of [`RankedRow`]s; [`RowResponse::into_response`] attaches the ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowResponse {
    /// Results, best first.
    pub rows: Vec<RankedRow>,
    /// As [`RankResponse::unknown_ids`].
    pub unknown_ids: Vec<String>,
    /// As [`RankResponse::warnings`].
    pub warnings: Vec<String>,
    /// As [`RankResponse::propensity`].
    pub propensity: Option<Propensity>,
}

impl RowResponse {
    /// The response with each row's id from `bundle` (the bundle the rows came from).
    pub fn into_response(self, bundle: &Bundle) -> RankResponse {
        RankResponse {
            items: self
                .rows
                .into_iter()
                .map(|r| RankedItem {
                    id: bundle.ids()[r.index as usize].to_owned(),
                    score: r.score,
                    rank: r.rank,
                    pinned: r.pinned,
                    boosted: r.boosted,
                    why: r.why,
                })
                .collect(),
            unknown_ids: self.unknown_ids,
            warnings: self.warnings,
            propensity: self.propensity,
        }
    }
}

/// A response: the results, best first, plus what could not be used.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RankResponse {
    /// Results, best first.
    pub items: Vec<RankedItem>,
    /// Ids in the request that the bundle does not know (in order of appearance, deduplicated):
    /// they were not ranked, filtered, boosted or pinned.
    pub unknown_ids: Vec<String>,
    /// Things to know about this response (ignored context keys, dropped pins, …).
    pub warnings: Vec<String>,
    /// With the `ope` option, when this request made a fresh release: its probabilities
    /// (device-only data, for the experiments module).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propensity: Option<Propensity>,
}

/// A response is its list of results; `unknown_ids` and `warnings` say what was left out.
impl std::ops::Deref for RankResponse {
    type Target = [RankedItem];
    fn deref(&self) -> &[RankedItem] {
        &self.items
    }
}
