//! `vitrine eval`: the next-item protocol through the engine's own request path ([`protocol`]),
//! its privacy flags ([`privacy_args`]), device-only histories ([`device_history`]) and metrics
//! ([`metrics`]); the recommendation scenarios and target filters ([`scenarios`]).

mod device_history;
mod metrics;
mod privacy_args;
mod protocol;
pub mod scenarios;
mod table;

pub use device_history::DeviceHistory;
pub use privacy_args::{parse_epsilon, PrivacyArgs};
pub use protocol::{evaluate, Devices};
pub use table::eval_table;
