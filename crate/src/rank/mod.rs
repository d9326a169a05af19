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
mod env;
mod explain;
mod options;
mod prepare;
mod request;
mod response;
mod select;

pub use env::{item_norm, item_norms, item_norms_of, ProfileSource, RankEnv, Related};
pub use explain::MAX_EXPLAINED_EVENTS;
pub use options::{
    BoostOption, DiversityOptions, FilterOptions, OpeOption, PinOption, RankOptions,
    RecommendRequest, ValidRankOptions, DEFAULT_K, MAX_ANCHORS, MAX_IDS, MAX_K, MAX_MMR_POOL,
    MAX_RULES,
};
pub use response::{
    EventReason, Explanation, Part, RankResponse, RankedItem, RankedRow, RowResponse,
};
