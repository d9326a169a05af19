//! One shopper's state ([`Shopper`]): the session log, the validated settings, the privacy state
//! and the versions that say whether the last release still describes the history. The request
//! path ([`request`]) is a function of `(&Model, &mut Shopper, request)`: the browser API, `vitrine
//! eval`, `vitrine recommend` and the tests all go through it.

mod lifecycle;
mod request;
mod settings;
mod stored;

pub use lifecycle::Shopper;
pub use request::ItemExplanation;
pub use settings::{ShopperOptions, WeightOverrides};
pub use stored::{check_envelope, StoredState, STATE_FORMAT, STATE_VERSION};
