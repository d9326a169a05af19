//! What applying a catalog update did, as the page sees it (`applyUpdate()`'s result).

use serde::Serialize;

crate::wire! {
    /// The result of a catalog update.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
    pub struct UpdateReport {
        /// Products added to the engine by this update.
        added: usize = "added",
        /// Products (of the bundle or of an earlier update) whose data this update changed.
        updated: usize = "updated",
        /// Products that may not be recommended now (out of stock, no longer sold).
        unavailable: usize = "unavailable",
        /// Products the engine knows now.
        items: usize = "items",
        /// Pending events (of products unknown until now) that joined the session.
        promoted: usize = "promoted",
    }
}
