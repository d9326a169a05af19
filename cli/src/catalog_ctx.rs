//! Categories and context weights learned from the event log's own columns (e.g. Instacart's
//! `department_id`, `order_dow`, `order_hour_of_day`): per-item aggregates only.
//!
//! Context weights are smoothed log-lifts: for a context feature f (e.g. `weekday=6`) and a
//! category k, `W[f, k] = ln(P(k | f) / P(k)) / κ`, where P(k | f) shrinks toward P(k) with
//! `PSEUDO_COUNT` pseudo-events. Dividing by the model's softmax temperature κ makes the term a
//! log-odds correction in the units of the engine's cosine score (the model's logit is κ·cos), so
//! no extra weight needs tuning.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use vitrine::bundle::{CategoryParts, ContextParts};
use vitrine::context::ContextInput;

use crate::events::EventLog;

/// Pseudo-events pulling P(k | f) toward P(k).
const PSEUDO_COUNT: f64 = 50.0;
/// Context values seen in fewer events than this get no feature (aggregates need support).
pub const MIN_SUPPORT: usize = 20;

/// `KEY=COLUMN` pairs of `--context`.
pub fn parse_context_spec(spec: &[String]) -> Result<Vec<(String, String)>> {
    spec.iter()
        .map(|s| match s.split_once('=') {
            Some((k, c)) if !k.trim().is_empty() && !c.trim().is_empty() => {
                Ok((k.trim().to_owned(), c.trim().to_owned()))
            }
            _ => crate::exit::fail!(
                Usage,
                "--context expects KEY=COLUMN pairs (e.g. weekday=order_dow), got '{s}'"
            ),
        })
        .collect()
}

/// Each session's context as a page would pass it (`{weekday: 6, hour: 8}`), from its first
/// event's extra columns from `first_col` on (in the order of `context`); numbers where the value
/// is numeric.
pub fn session_contexts(
    log: &EventLog,
    context: &[(String, String)],
    first_col: usize,
) -> Vec<ContextInput> {
    log.sessions
        .iter()
        .map(|s| {
            let mut input = ContextInput::new();
            if let Some(first) = s.first() {
                for (i, (key, _)) in context.iter().enumerate() {
                    let v = log.extra[first.seq as usize][first_col + i].as_str();
                    if v.is_empty() {
                        continue;
                    }
                    input = match v.parse::<f64>() {
                        Ok(x) => input.with(key, x),
                        Err(_) => input.with(key, v),
                    };
                }
            }
            input
        })
        .collect()
}

/// Each item's most frequent non-empty value of extra column `col` (ties: the smaller name).
pub fn item_categories(log: &EventLog, col: usize) -> CategoryParts {
    let mut per_item: Vec<HashMap<&str, usize>> = vec![HashMap::new(); log.items.len()];
    for s in &log.sessions {
        for e in s {
            let v = log.extra[e.seq as usize][col].as_str();
            if !v.is_empty() {
                *per_item[e.item as usize].entry(v).or_default() += 1;
            }
        }
    }
    let mut names: Vec<String> = per_item
        .iter()
        .flat_map(|m| m.keys().map(|k| k.to_string()))
        .collect();
    names.sort();
    names.dedup();
    let index: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let item = per_item
        .iter()
        .map(|m| {
            m.iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .and_then(|(v, _)| index.get(v).copied())
        })
        .collect();
    CategoryParts { names, item }
}

/// Context × category weights and the sessions whose context the engine refused.
pub struct ContextWeights {
    pub parts: ContextParts,
    /// Sessions whose context values the engine's validation refused (e.g. `hour = 25`): they
    /// count for the categories but give no feature.
    pub refused: usize,
}

/// Context × category log-lifts (see the module doc). `contexts` are the sessions' contexts as a
/// page would pass them ([`session_contexts`]); their features are named by the engine's own
/// validation, so the bundle's `ctx.features` are exactly the names requests produce. A context
/// key the engine does not read is an error.
pub fn context_weights(
    log: &EventLog,
    categories: &CategoryParts,
    contexts: &[ContextInput],
    scale: f32,
) -> Result<ContextWeights> {
    let k = categories.names.len();
    let mut per_cat = vec![0usize; k];
    let mut per_feature: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut total = 0usize;
    let mut refused = 0usize;
    for (s, ctx) in log.sessions.iter().zip(contexts) {
        let features = match ctx.validate() {
            Ok(v) => {
                if let Some(key) = v.ignored_keys.first() {
                    crate::exit::fail!(
                        Usage,
                        "--context key '{key}' is not one the engine reads (hour, weekday, device, locale, country, channel, referrer, weather, custom)"
                    );
                }
                v.features
            }
            Err(_) => {
                refused += 1;
                Vec::new()
            }
        };
        for e in s {
            let Some(cat) = categories.item[e.item as usize] else {
                continue;
            };
            per_cat[cat as usize] += 1;
            total += 1;
            for f in &features {
                per_feature.entry(f.clone()).or_insert_with(|| vec![0; k])[cat as usize] += 1;
            }
        }
    }
    let mut features = Vec::new();
    let mut weights = Vec::new();
    for (f, counts) in per_feature {
        let n_f: usize = counts.iter().sum();
        if n_f < MIN_SUPPORT || total == 0 {
            continue;
        }
        features.push(f);
        for (c, &n_fk) in counts.iter().enumerate() {
            let p_k = per_cat[c] as f64 / total as f64;
            let p_k_given_f = (n_fk as f64 + PSEUDO_COUNT * p_k) / (n_f as f64 + PSEUDO_COUNT);
            let lift = if p_k > 0.0 {
                (p_k_given_f / p_k).ln()
            } else {
                0.0
            };
            weights.push((lift / f64::from(scale)) as f32);
        }
    }
    Ok(ContextWeights {
        parts: ContextParts { features, weights },
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifts_follow_the_log() {
        // Weekends (weekday=6) buy category "b"; weekdays buy "a" and "b" equally.
        let mut csv = String::from("session_id,item_id,dow,cat\n");
        for s in 0..200 {
            let dow = if s % 2 == 0 { 6 } else { 2 };
            for (item, cat) in [("x", "a"), ("y", "b")] {
                if dow == 6 && cat == "a" {
                    continue;
                }
                csv += &format!("{s},{item},{dow},{cat}\n");
            }
        }
        let log =
            EventLog::from_reader_with(csv.as_bytes(), "t.csv", &["dow".into(), "cat".into()])
                .unwrap();
        let cats = item_categories(&log, 1);
        assert_eq!(cats.names, ["a", "b"]);
        let cat_of = |id: &str| cats.item[log.items.iter().position(|i| i == id).unwrap()];
        assert_eq!((cat_of("x"), cat_of("y")), (Some(0), Some(1)));
        let spec = [("weekday".to_owned(), "dow".to_owned())];
        let ctx = context_weights(&log, &cats, &session_contexts(&log, &spec, 0), 1.0)
            .unwrap()
            .parts;
        assert_eq!(ctx.features, ["weekday=2", "weekday=6"]);
        let w = |f: usize, c: usize| ctx.weights[f * 2 + c];
        assert!(
            w(1, 1) > 0.2 && w(1, 0) < -0.5,
            "weekends lift b, sink a: {:?}",
            ctx.weights
        );
        assert!(w(0, 0) > 0.0 && w(0, 1) < 0.0);
    }

    /// Feature names come from the engine's validation: a day name, a device in capitals and an
    /// hour written `08` name the features requests produce; a key the engine does not read is an
    /// error; a value it refuses is counted, not a crash.
    #[test]
    fn features_are_named_by_the_engine() {
        let mut csv = String::from("session_id,item_id,dow,dev,hr,cat\n");
        for s in 0..60 {
            csv += &format!("{s},x,Saturday,Mobile,08,a\n{s},y,Saturday,Mobile,08,b\n");
        }
        csv += "99,x,Saturday,Mobile,25,a\n";
        let cols: Vec<String> = ["dow", "dev", "hr", "cat"].map(String::from).into();
        let log = EventLog::from_reader_with(csv.as_bytes(), "t.csv", &cols).unwrap();
        let cats = item_categories(&log, 3);
        let spec: Vec<(String, String)> = [("weekday", "dow"), ("device", "dev"), ("hour", "hr")]
            .map(|(k, c)| (k.to_owned(), c.to_owned()))
            .into();
        let ctx = context_weights(&log, &cats, &session_contexts(&log, &spec, 0), 1.0).unwrap();
        assert_eq!(ctx.parts.features, ["device=mobile", "hour=8", "weekday=6"]);
        assert_eq!(ctx.refused, 1);
        let engine = ContextInput::new()
            .with("weekday", "saturday")
            .with("device", "MOBILE")
            .with("hour", 8)
            .validate()
            .unwrap();
        assert_eq!(engine.features, ctx.parts.features);
        let bad = [("mood".to_owned(), "dow".to_owned())];
        assert!(context_weights(&log, &cats, &session_contexts(&log, &bad, 0), 1.0).is_err());
    }
}
