//! `vitrine inspect`: what a bundle holds (metadata, every tensor with dtype/shape/bytes, bytes per
//! item, optional parts), whether its digest matches, and the quantization error `pack`/`train`
//! recorded. A catalog update (`vitrine catalog update --delta`) is reported too, with the bundle
//! it applies to. Exits 3 when the input is not a bundle, 4 when its digest is missing or wrong
//! (after printing the report, which says so).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use vitrine::bundle::{digest, BundleOptions, DigestStatus, DELTA_BASE_KEY, DELTA_N_BASE_KEY};
use vitrine::Bundle;

use crate::files;
use crate::output;

/// Arguments of `vitrine inspect`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["bundle", "path"])))]
pub struct InspectArgs {
    /// The bundle (.vtr; `-` reads stdin).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Deprecated: the bundle as a positional argument (use --bundle).
    #[arg(value_name = "BUNDLE", conflicts_with = "bundle")]
    pub path: Option<PathBuf>,
    #[arg(long, help = crate::output::JSON_HELP)]
    pub json: bool,
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let path = match (&args.bundle, &args.path) {
        (Some(b), _) => b,
        (None, Some(p)) => {
            eprintln!(
                "warning: `vitrine inspect PATH` is deprecated; use `vitrine inspect --bundle PATH`"
            );
            p
        }
        (None, None) => crate::exit::fail!(Usage, "give the bundle with --bundle"),
    };
    let name = files::input_name(path);
    let bytes = files::read_input(path, "bundle")?;
    let status = digest::check(&bytes).with_context(|| name.clone())?;
    let options = BundleOptions {
        verify_digest: false,
        ..BundleOptions::default()
    };
    let bundle = Bundle::from_bytes_any_with(bytes, &options).with_context(|| name.clone())?;
    let report = report(name.clone(), &bundle, &status);
    if args.json {
        output::print_json(&report)?;
    } else {
        output::print_text(&text(&report))?;
    }
    match status {
        DigestStatus::Valid(_) => Ok(()),
        DigestStatus::Missing { .. } => crate::exit::fail!(
            Integrity,
            "{name}: the bundle has no digest; readers reject it unless digest verification is turned off"
        ),
        DigestStatus::Mismatch { recorded, computed } => crate::exit::fail!(
            Integrity,
            "{name}: digest mismatch: metadata says {recorded}, contents hash to {computed} (altered or corrupted)"
        ),
    }
}

fn report(path: String, b: &Bundle, status: &DigestStatus) -> Value {
    let n = b.n_items();
    let digest = match status {
        DigestStatus::Valid(d) => json!({"status": "valid", "value": d}),
        DigestStatus::Missing { computed } => json!({"status": "missing", "computed": computed}),
        DigestStatus::Mismatch { recorded, computed } => {
            json!({"status": "mismatch", "recorded": recorded, "computed": computed})
        }
    };
    let mut in_file_order: Vec<_> = b.tensors().iter().collect();
    in_file_order.sort_by_key(|t| t.offset);
    let tensors: Vec<Value> = in_file_order
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name, "dtype": t.dtype, "shape": t.shape, "bytes": t.bytes,
                "bytes_per_item": t.bytes as f64 / n as f64, "offset": t.offset, "known": t.known,
            })
        })
        .collect();
    let mut parts = serde_json::Map::new();
    if let Some(names) = b.category_names() {
        let with = (0..n).filter(|&i| b.category(i).is_some()).count();
        parts.insert(
            "categories".into(),
            json!({"count": names.len(), "items_with_category": with}),
        );
    }
    if b.tensors().iter().any(|t| t.name == "item_price") {
        let known = (0..n).filter(|&i| b.price(i).is_some()).count();
        parts.insert("prices".into(), json!({"items_with_price": known}));
    }
    if b.has_neighbours() {
        let nnz = b.n_neighbour_entries();
        parts.insert(
            "neighbours".into(),
            json!({"entries": nnz, "mean_per_item": nnz as f64 / n as f64, "scale": b.metadata().get("nbr.scale")}),
        );
    }
    if let Some(pq) = b.pq() {
        parts.insert(
            "compact".into(),
            json!({"subspaces": pq.subspaces(), "centroids": pq.centroids(),
                   "ids_coding": b.metadata().get("ids.coding").map_or("lines", String::as_str)}),
        );
    }
    if let Some(w) = b.session_pos_weights() {
        parts.insert("session_pos_weights".into(), json!(w));
    }
    if b.session_readout().is_some() {
        parts.insert(
            "session_readout".into(),
            json!({"shape": [b.dim(), b.dim()]}),
        );
    }
    if let Some((names, weights)) = b.head() {
        let head: serde_json::Map<String, Value> = names
            .iter()
            .cloned()
            .zip(weights.iter().map(|w| json!(w)))
            .collect();
        parts.insert("head".into(), Value::Object(head));
    }
    if let Some(ctx) = b.ctx_weights() {
        parts.insert(
            "ctx_weights".into(),
            json!({"features": ctx.features(), "categories": ctx.n_categories()}),
        );
    }
    let cosine = b
        .metadata()
        .get("quant.mean_cosine")
        .and_then(|c| c.parse::<f64>().ok());
    let update = b.is_delta().then(|| {
        json!({
            "base": b.metadata().get(DELTA_BASE_KEY),
            "base_items": b.metadata().get(DELTA_N_BASE_KEY).and_then(|n| n.parse::<u64>().ok()),
        })
    });
    json!({
        "path": path,
        "kind": match (b.is_shard(), update.is_some()) {
            (true, _) => "shard",
            (false, true) => "catalog_update",
            (false, false) => "bundle",
        },
        "catalog_update": update,
        "file_bytes": b.file_len(),
        "header_bytes": b.header_len(),
        "format": b.metadata().get("format"),
        "format_version": b.metadata().get("format_version"),
        "items": n,
        "dim": b.dim(),
        "bytes_per_item": b.file_len() as f64 / n as f64,
        "digest": digest,
        "quantization": {"mean_cosine": cosine, "kind": if b.is_compact() { "product" } else { "int8" }},
        "optional_parts": parts,
        "tensors": tensors,
        "metadata": b.metadata(),
    })
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The report as text.
fn text(r: &Value) -> String {
    let mut out = String::new();
    crate::output::outln!(
        out,
        "bundle        {} ({} bytes, header {} bytes)",
        s(&r["path"]),
        r["file_bytes"],
        r["header_bytes"]
    );
    if let Some(u) = r["catalog_update"].as_object() {
        crate::output::outln!(
            out,
            "{:<14}{} ({} rows): apply with {}",
            if r["kind"] == "shard" {
                "shard of"
            } else {
                "update of"
            },
            s(&u["base"]),
            s(&u["base_items"]),
            if r["kind"] == "shard" {
                "loadShards (the npm package, from the set's shards.json)"
            } else {
                "applyUpdate or vitrine catalog update"
            }
        );
    }
    crate::output::outln!(
        out,
        "format        {} v{}",
        s(&r["format"]),
        s(&r["format_version"])
    );
    crate::output::outln!(
        out,
        "items         {} × {} dims, {:.1} bytes/item",
        r["items"],
        r["dim"],
        r["bytes_per_item"].as_f64().unwrap_or(0.0)
    );
    let d = &r["digest"];
    match d["status"].as_str() {
        Some("valid") => crate::output::outln!(out, "digest        valid ({})", s(&d["value"])),
        Some("missing") => crate::output::outln!(
            out,
            "digest        MISSING (would be {})",
            s(&d["computed"])
        ),
        _ => crate::output::outln!(
            out,
            "digest        MISMATCH (recorded {}, contents {})",
            s(&d["recorded"]),
            s(&d["computed"])
        ),
    }
    match r["quantization"]["mean_cosine"].as_f64() {
        Some(c) => {
            let rows = if r["quantization"]["kind"] == "product" {
                "product-quantized rows"
            } else {
                "int8 rows"
            };
            crate::output::outln!(
                out,
                "quantization  mean cosine {c:.6} between {rows} and the source vectors"
            )
        }
        None => crate::output::outln!(out, "quantization  not recorded"),
    }
    let parts = r["optional_parts"].as_object().cloned().unwrap_or_default();
    if parts.is_empty() {
        crate::output::outln!(out, "optional      none");
    } else {
        for (k, v) in parts {
            crate::output::outln!(out, "optional      {k}: {v}");
        }
    }
    crate::output::outln!(out, "tensors");
    crate::output::outln!(
        out,
        "  {:<22} {:<5} {:<16} {:>12} {:>10}",
        "name",
        "dtype",
        "shape",
        "bytes",
        "bytes/item"
    );
    for t in r["tensors"].as_array().into_iter().flatten() {
        crate::output::outln!(
            out,
            "  {:<22} {:<5} {:<16} {:>12} {:>10.2}{}",
            s(&t["name"]),
            s(&t["dtype"]),
            t["shape"].to_string(),
            t["bytes"].to_string(),
            t["bytes_per_item"].as_f64().unwrap_or(0.0),
            if t["known"].as_bool() == Some(false) {
                "  (unknown, skipped)"
            } else {
                ""
            }
        );
    }
    crate::output::outln!(out, "metadata");
    for (k, v) in r["metadata"].as_object().into_iter().flatten() {
        let v = s(v);
        let shown: String = v.chars().take(100).collect();
        let more = if shown.len() < v.len() { "…" } else { "" };
        crate::output::outln!(out, "  {k} = {shown}{more}");
    }
    out
}
