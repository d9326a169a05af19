//! The store's layer-0 export: a CSV with one row per exposed unit — an exposure ping joined with
//! the order it labelled, if any, and the store's own pre-period figures for that customer.
//!
//! | column | required | meaning |
//! | --- | --- | --- |
//! | `label` **or** `experiment` + `arm` | yes | the label the page attached (`exp:arm`), or its two parts |
//! | `converted` | yes | 1 if the unit placed the labelled order, else 0 |
//! | `revenue` | no | the labelled order's value (0 without an order) |
//! | `repeat_purchase` | no | 1 if the same customer ordered again within `repeat_days` |
//! | any other, e.g. `pre_revenue` | for `--covariate` | a pre-period figure (0 for unknown visitors) |

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::analyze::Layer0Arm;

/// Layer-0 moments by experiment (`""` when the file has no experiment column) and arm.
#[derive(Debug, Default)]
pub struct Orders {
    by_exp: BTreeMap<String, BTreeMap<String, Layer0Arm>>,
}

impl Orders {
    /// The arms of `experiment` (or of the whole file when it names no experiment).
    pub fn by_experiment(&self, experiment: &str) -> Option<&BTreeMap<String, Layer0Arm>> {
        self.by_exp.get(experiment).or_else(|| self.by_exp.get(""))
    }
}

fn number(field: &str, column: &str, line: u64) -> Result<f64> {
    let x: f64 = field
        .trim()
        .parse()
        .with_context(|| format!("line {line}: column '{column}' is not a number: '{field}'"))?;
    if !x.is_finite() {
        bail!("line {line}: column '{column}' is not finite");
    }
    Ok(x)
}

fn flag(field: &str, column: &str, line: u64) -> Result<f64> {
    match field.trim() {
        "0" | "false" => Ok(0.0),
        "1" | "true" => Ok(1.0),
        other => bail!("line {line}: column '{column}' must be 0 or 1, got '{other}'"),
    }
}

/// Reads the export (see the module docs; `-`: stdin).
pub fn read_orders(path: &Path, covariate: Option<&str>) -> Result<Orders> {
    let mut rdr = csv::Reader::from_reader(crate::files::open_input(path, "orders")?);
    let headers = rdr.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (label, experiment, arm) = (col("label"), col("experiment"), col("arm"));
    if label.is_none() && arm.is_none() {
        bail!(
            "{}: needs a 'label' column (exp:arm) or an 'arm' column",
            crate::files::input_name(path)
        );
    }
    let converted = col("converted")
        .with_context(|| format!("{}: no 'converted' column", crate::files::input_name(path)))?;
    let (revenue, repeat) = (col("revenue"), col("repeat_purchase"));
    let cov = match covariate {
        Some(c) => Some(col(c).with_context(|| {
            format!(
                "{}: no covariate column '{c}'",
                crate::files::input_name(path)
            )
        })?),
        None => None,
    };
    let mut orders = Orders::default();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec =
            rec.with_context(|| format!("{}: line {line}", crate::files::input_name(path)))?;
        let get = |c: usize| rec.get(c).unwrap_or("");
        let (exp, arm_name) = match label {
            Some(l) => {
                let text = get(l);
                let (e, a) = text
                    .split_once(':')
                    .with_context(|| format!("line {line}: label '{text}' is not exp:arm"))?;
                (e.to_string(), a.to_string())
            }
            None => (
                experiment.map(|e| get(e).to_string()).unwrap_or_default(),
                arm.map(|a| get(a).to_string()).unwrap_or_default(),
            ),
        };
        let y = flag(get(converted), "converted", line)?;
        let value = revenue
            .map(|c| number(get(c), "revenue", line))
            .transpose()?
            .unwrap_or(0.0);
        let x = cov
            .map(|c| number(get(c), covariate.unwrap_or(""), line))
            .transpose()?
            .unwrap_or(0.0);
        let m = orders
            .by_exp
            .entry(exp)
            .or_default()
            .entry(arm_name)
            .or_default();
        m.conversion.add(y, x);
        m.revenue.add(value, x);
        m.aov.add(value, y);
        if let Some(c) = repeat {
            m.repeat.add(flag(get(c), "repeat_purchase", line)?, x);
        }
    }
    Ok(orders)
}
