//! `vitrine pack`: turns embeddings trained elsewhere (Spark ALS item factors, a PyTorch model, …)
//! into a bundle. Inputs are read and checked in full first; the bundle is written atomically, so a
//! failed run leaves nothing behind.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use vitrine::bundle::{write_bundle, BundleParts};

use crate::exit::{ExitKind, ResultExt};
use crate::files;
use crate::output;
use crate::pack_inputs::{read_catalog, read_embeddings, read_ids, read_popularity};
use crate::progress::Progress;

/// Arguments of `vitrine pack`.
#[derive(clap::Args, Debug)]
pub struct PackArgs {
    /// Item embeddings: a .npy file (float32/float64, shape [items, dim]) or a .safetensors file
    /// with a 2-D float tensor (F32/F64/F16/BF16); `-` reads stdin (either format, by its magic).
    #[arg(long)]
    pub embeddings: PathBuf,
    /// With a .safetensors file holding several 2-D float tensors: which one.
    #[arg(long)]
    pub tensor: Option<String>,
    /// Item ids, one per line, in the row order of the embeddings (`-`: stdin).
    #[arg(long)]
    pub ids: PathBuf,
    /// Popularity per item: one non-negative number per line, or a 1-D .npy (default: all 0,
    /// i.e. no popularity prior; `-`: stdin).
    #[arg(long)]
    pub popularity: Option<PathBuf>,
    /// Catalog CSV with a header naming `id` and optionally `category` and `price` (other columns
    /// are ignored; an empty cell means none / unknown; `-`: stdin).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Keep the vectors' norms instead of scaling each to unit length (the scorer treats the dot
    /// product as a cosine, so unit length is the default).
    #[arg(long)]
    pub keep_norms: bool,
    /// Where to write the bundle (.vtr; `-`: stdout). Written atomically: nothing is left behind
    /// on error.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub compact: crate::compact::CompactFlag,
    #[arg(long, help = crate::output::JSON_HELP)]
    pub json: bool,
}

/// What `vitrine pack --json` prints.
#[derive(Debug, Serialize)]
struct PackReport {
    out: String,
    items: usize,
    dim: usize,
    /// What was read (`file` or `file:tensor`).
    source: String,
    normalized: bool,
    bytes: usize,
    bytes_per_item: f64,
    /// Mean cosine between the int8 rows and the source vectors (as `write_bundle` records it).
    mean_cosine: Option<f64>,
}

/// The steps `pack` shows on its progress.
const STEPS: u64 = 6;

pub fn run(args: &PackArgs) -> Result<()> {
    files::stdin_at_most_once(&[
        ("--embeddings", Some(&args.embeddings)),
        ("--ids", Some(&args.ids)),
        ("--popularity", args.popularity.as_deref()),
        ("--catalog", args.catalog.as_deref()),
    ])?;
    files::stdout_free_for_json(&args.out, "--out", args.json)?;
    let progress = Progress::new("pack", STEPS, "steps");
    progress.set_message("reading the embeddings");
    let emb = read_embeddings(&args.embeddings, args.tensor.as_deref()).kind(ExitKind::Input)?;
    progress.inc(1);
    progress.set_message("reading the ids");
    let ids = read_ids(&args.ids).kind(ExitKind::Input)?;
    if ids.len() != emb.rows {
        crate::exit::fail!(
            Input,
            "{}: {} ids, but the embeddings ({}) have {} rows; expected one id per row",
            files::input_name(&args.ids),
            ids.len(),
            files::input_name(&args.embeddings),
            emb.rows
        );
    }
    progress.inc(1);
    progress.set_message("reading the popularity");
    let popularity = match &args.popularity {
        Some(p) => read_popularity(p, emb.rows).kind(ExitKind::Input)?,
        None => vec![0.0; emb.rows],
    };
    progress.inc(1);
    progress.set_message("reading the catalog");
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let catalog = match &args.catalog {
        Some(p) => Some(read_catalog(p, &index, &progress).kind(ExitKind::Input)?),
        None => None,
    };
    progress.inc(1);

    progress.set_message("building the bundle");
    let mut values = emb.values;
    if !args.keep_norms {
        for row in values.chunks_mut(emb.dim) {
            let norm = row
                .iter()
                .map(|x| f64::from(*x).powi(2))
                .sum::<f64>()
                .sqrt();
            if norm > 0.0 {
                row.iter_mut()
                    .for_each(|x| *x = (f64::from(*x) / norm) as f32);
            }
        }
    }
    let mut parts = BundleParts {
        ids,
        dim: emb.dim,
        embeddings: values,
        popularity,
        ..Default::default()
    };
    parts.metadata.insert("model".into(), "packed".into());
    parts
        .metadata
        .insert("pack.source".into(), emb.source.clone());
    parts
        .metadata
        .insert("pack.normalized".into(), (!args.keep_norms).to_string());
    if let Some(c) = catalog {
        if let Some(categories) = c.categories {
            parts.categories = Some(categories);
        }
        parts.prices = c.prices;
    }
    args.compact.apply(&mut parts, None).kind(ExitKind::Usage)?;
    let bytes = write_bundle(&parts)
        .context("could not build the bundle")
        .kind(ExitKind::Input)?;
    progress.inc(1);
    progress.set_message("writing");
    files::write_output(&args.out, &bytes, "bundle")?;
    progress.inc(1);
    progress.set_message("");
    progress.finish();
    let n = parts.ids.len();
    // write_bundle records it; read it back for the summary.
    let cosine = vitrine::Bundle::from_bytes(bytes.clone())
        .ok()
        .and_then(|b| b.metadata().get("quant.mean_cosine").cloned());
    let report = PackReport {
        out: files::output_name(&args.out),
        items: n,
        dim: emb.dim,
        source: emb.source.clone(),
        normalized: !args.keep_norms,
        bytes: bytes.len(),
        bytes_per_item: bytes.len() as f64 / n as f64,
        mean_cosine: cosine.as_deref().and_then(|c| c.parse().ok()),
    };
    if args.json {
        return output::print_json(&report);
    }
    let line =
        format!(
        "packed {n} items × {} dims from {} → {} ({} bytes, {:.1} bytes/item; {} mean cosine {})",
        emb.dim,
        emb.source,
        report.out,
        bytes.len(),
        report.bytes_per_item,
        if args.compact.compact { "compact" } else { "int8" },
        cosine.as_deref().unwrap_or("?"),
    );
    if files::is_stdio(&args.out) {
        eprintln!("{line}");
        Ok(())
    } else {
        output::print_text(&format!("{line}\n"))
    }
}
