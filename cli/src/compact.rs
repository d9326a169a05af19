//! Compact bundles: product quantization of the item vectors as a step applied to a trained
//! model's parts (`vitrine train --compact`, `vitrine pack --compact`, `vitrine compact` on an
//! existing bundle). The codebooks are trained here by k-means per sub-space — seeded and
//! deterministic (this is training, not privacy randomness) — and the writer encodes every item
//! against them (`vitrine::bundle::CompactParts`, format in `docs/bundle.md`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rand::rngs::SmallRng;
use rand::seq::index::sample;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::Serialize;
use vitrine::bundle::{write_bundle, BundleParts, CompactParts, MAX_CENTROIDS};

use crate::bundle_parts;
use crate::compact_tune::{TuneReport, TuneSessions};
use crate::exit::{self, ExitKind, ResultExt};
use crate::files;
use crate::output;

/// The sub-space count used when none is given, for `dim` dimensions: the most code bytes that
/// keep Diginetica's compact bundle within 24 bytes per item (the codebooks and the readout grow
/// with the dimension): 21 up to [`COMPACT_DIM`] (23.8 bytes per item at 48), 20 above (23.2 at
/// 64), never more than the dimension (`docs/quality.md`, "Compact bundles").
pub fn default_subspaces(dim: usize) -> usize {
    let m = if dim <= COMPACT_DIM { 21 } else { 20 };
    m.min(dim)
}

/// The embedding dimension `vitrine train --compact` uses unless told: 48 dimensions in 21
/// sub-spaces reconstruct the vectors closer than 64 in 20, for the same bytes, and the 48-d
/// model ranks as well as the 64-d one (validation on Diginetica, `docs/quality.md`, "Compact
/// bundles").
pub const COMPACT_DIM: usize = 48;

/// Co-occurrence neighbours per item `vitrine train` keeps unless told (`--neighbours`): 10, or
/// none for a compact bundle, whose lists would not be compacted (13.8 bytes per item on
/// Diginetica: 37.6 instead of 23.8). Without them the compact bundle's session terms still rank
/// above the int8 bundle without terms (`docs/quality.md`, "Compact bundles").
pub fn default_neighbours(compact: bool) -> usize {
    if compact {
        0
    } else {
        10
    }
}

/// The default weight of the error along an item's own vector (chosen with the sub-spaces).
pub const DEFAULT_ETA: f32 = 2.0;

/// Fine-tuning epochs by default: none. On a Diginetica validation split one epoch moved HR@20
/// by +0.02 to +0.05 points (`docs/quality.md`, "Compact bundles"): within that split's noise, so
/// not worth a default's extra training time.
pub const DEFAULT_TUNE_EPOCHS: usize = 0;

/// The fine-tuning's learning rate (the best of 0.001–0.02 on that split).
pub const DEFAULT_TUNE_LEARNING_RATE: f32 = 0.001;

/// The compaction options shared by `train`, `pack` and `compact`.
#[derive(clap::Args, Clone, Debug)]
pub struct CompactOptions {
    /// Code bytes per item (sub-spaces of the product quantization), 1 to the dimension
    /// [default: 21 up to 48 dimensions, 20 above, at most the dimension].
    #[arg(long)]
    pub pq_subspaces: Option<usize>,
    /// Centroids per sub-space (1 to 256).
    #[arg(long, default_value_t = MAX_CENTROIDS)]
    pub pq_centroids: usize,
    /// k-means iterations per sub-space.
    #[arg(long, default_value_t = 25)]
    pub pq_iterations: usize,
    /// Seed of the k-means initialization (training randomness, not privacy: results are
    /// reproducible).
    #[arg(long, default_value_t = 1)]
    pub pq_seed: u64,
    /// How much each item counts in the k-means (its share of the reconstruction error the
    /// codebooks minimize).
    #[arg(long, value_enum, default_value = "uniform")]
    pub pq_weighting: Weighting,
    /// Weight η of the error along each item's own vector when encoding it (score-aware
    /// quantization); 1: nearest centroids.
    #[arg(long, default_value_t = DEFAULT_ETA)]
    pub pq_eta: f32,
    /// Epochs of quantization-aware fine-tuning: the codebooks and the session readout trained
    /// again through the fixed codes on the training sessions (`train --compact`, or `compact
    /// --events`); 0: none.
    #[arg(long, default_value_t = DEFAULT_TUNE_EPOCHS)]
    pub pq_tune_epochs: usize,
    /// Learning rate of that fine-tuning.
    #[arg(long, default_value_t = DEFAULT_TUNE_LEARNING_RATE)]
    pub pq_tune_learning_rate: f32,
}

/// Weight of an item in the codebook training.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weighting {
    /// Every item counts the same.
    Uniform,
    /// `ln(1 + popularity)`: items shoppers see often are reconstructed better.
    LogPopularity,
    /// `sqrt(popularity)`.
    SqrtPopularity,
}

impl Weighting {
    fn of(self, pop: f32) -> f32 {
        match self {
            Weighting::Uniform => 1.0,
            Weighting::LogPopularity => pop.max(0.0).ln_1p(),
            Weighting::SqrtPopularity => pop.max(0.0).sqrt(),
        }
    }
}

/// `--compact` and its options, for `train` and `pack`.
#[derive(clap::Args, Clone, Debug)]
pub struct CompactFlag {
    /// Write a compact bundle (format version 3): product-quantized vectors (codebooks in the
    /// bundle), coded ids, one byte per popularity and trending count (`docs/bundle.md`).
    #[arg(long)]
    pub compact: bool,
    #[command(flatten)]
    pub options: CompactOptions,
}

impl CompactFlag {
    /// Compacts `parts` when `--compact` was given (fine-tuned on `tune`'s sessions when given);
    /// returns what was done.
    pub fn apply(
        &self,
        parts: &mut BundleParts,
        tune: Option<&TuneSessions<'_>>,
    ) -> Result<Option<CompactReport>> {
        self.compact
            .then(|| compact_parts(parts, &self.options, tune))
            .transpose()
    }
}

/// What compaction did.
#[derive(Debug, Clone, Serialize)]
pub struct CompactReport {
    pub subspaces: usize,
    pub centroids: usize,
    pub eta: f32,
    /// Seconds to train the codebooks.
    pub codebook_seconds: f64,
    /// The quantization-aware fine-tuning, when there were sessions to tune on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<TuneReport>,
}

impl CompactReport {
    pub fn line(&self) -> String {
        let mut line = format!(
            "compact: {} sub-spaces × {} centroids (η {}), codebooks trained and items encoded in {:.1}s",
            self.subspaces, self.centroids, self.eta, self.codebook_seconds
        );
        if let Some(t) = &self.fine_tune {
            line.push('\n');
            line.push_str(&t.line());
        }
        line
    }
}

/// Trains codebooks for `parts`' vectors and marks the parts compact (the writer encodes them).
/// With `tune` and `--pq-tune-epochs` > 0, the codebooks and the session readout are then
/// fine-tuned through the codes on those sessions ([`crate::compact_tune`]).
pub fn compact_parts(
    parts: &mut BundleParts,
    o: &CompactOptions,
    tune: Option<&TuneSessions<'_>>,
) -> Result<CompactReport> {
    let d = parts.dim;
    let m = o.pq_subspaces.unwrap_or(default_subspaces(d));
    if !(1..=d).contains(&m) {
        bail!("--pq-subspaces {m} must be 1 to the dimension {d}");
    }
    if !(1..=MAX_CENTROIDS).contains(&o.pq_centroids) {
        bail!("--pq-centroids must be 1 to {MAX_CENTROIDS}");
    }
    if !(o.pq_eta.is_finite() && o.pq_eta >= 1.0) {
        bail!("--pq-eta must be a number ≥ 1");
    }
    let started = Instant::now();
    let weights: Vec<f32> = parts
        .popularity
        .iter()
        .map(|&p| o.pq_weighting.of(p))
        .collect();
    let c = train_codebooks(
        &parts.embeddings,
        &weights,
        d,
        m,
        o.pq_centroids,
        o.pq_iterations,
        o.pq_seed,
    );
    let mut c = c;
    let tune = tune.filter(|_| o.pq_tune_epochs > 0);
    if o.pq_eta != 1.0 || tune.is_some() {
        c.codes = Some(crate::compact_encode::encode(
            &parts.embeddings,
            d,
            &c,
            o.pq_eta,
            4,
        ));
    }
    let codebook_seconds = started.elapsed().as_secs_f64();
    let fine_tune = match tune {
        Some(t) => Some(crate::compact_tune::fine_tune(
            parts,
            &mut c,
            t,
            o.pq_tune_epochs,
            o.pq_tune_learning_rate,
            o.pq_seed,
        )?),
        None => None,
    };
    let report = CompactReport {
        subspaces: m,
        centroids: c.centroids,
        eta: o.pq_eta,
        codebook_seconds,
        fine_tune,
    };
    parts.compact = Some(c);
    Ok(report)
}

/// Most training points per sub-space (a seeded sample above this): 256 per centroid.
const MAX_TRAIN_POINTS: usize = 256 * MAX_CENTROIDS;

/// k-means per sub-space of the rows `emb` (`[n, d]`): `k` centroids (fewer when there are fewer
/// rows), initialized on distinct seeded rows, `iterations` rounds of assignment and update; an
/// emptied cluster takes the point farthest from its centroid. Sub-spaces train in parallel, each
/// with its own seed: the result depends only on the inputs.
pub fn train_codebooks(
    emb: &[f32],
    weights: &[f32],
    d: usize,
    m: usize,
    k: usize,
    iterations: usize,
    seed: u64,
) -> CompactParts {
    let n = emb.len() / d.max(1);
    let k = k.min(n).max(1);
    let mut rng = SmallRng::seed_from_u64(seed);
    let rows: Vec<usize> = if n > MAX_TRAIN_POINTS {
        let mut r = sample(&mut rng, n, MAX_TRAIN_POINTS).into_vec();
        r.sort_unstable();
        r
    } else {
        (0..n).collect()
    };
    let books: Vec<Vec<f32>> = (0..m)
        .into_par_iter()
        .map(|j| {
            let (lo, hi) = (j * d / m, (j + 1) * d / m);
            let sub = hi - lo;
            let points: Vec<f32> = rows
                .iter()
                .flat_map(|&r| emb[r * d + lo..r * d + hi].iter().copied())
                .collect();
            let w: Vec<f64> = rows
                .iter()
                .map(|&r| f64::from(weights.get(r).copied().unwrap_or(1.0)))
                .collect();
            kmeans(
                &points,
                &w,
                sub,
                k,
                iterations,
                seed ^ (j as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )
        })
        .collect();
    // Side by side: row c holds centroid c of every sub-space.
    let mut codebooks = vec![0.0f32; k * d];
    for (j, book) in books.iter().enumerate() {
        let (lo, hi) = (j * d / m, (j + 1) * d / m);
        for (c, centroid) in book.chunks_exact(hi - lo).enumerate() {
            codebooks[c * d + lo..c * d + hi].copy_from_slice(centroid);
        }
    }
    CompactParts {
        subspaces: m,
        centroids: k,
        codebooks,
        codes: None,
    }
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Lloyd's k-means of `points` (`[p, sub]`, weight `w` each) into `k ≤ p` centroids
/// (`[k, sub]`): each centroid is the weighted mean of its points (the plain mean when their
/// weights sum to 0).
fn kmeans(
    points: &[f32],
    w: &[f64],
    sub: usize,
    k: usize,
    iterations: usize,
    seed: u64,
) -> Vec<f32> {
    let p = points.len() / sub;
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut centroids: Vec<f32> = sample(&mut rng, p, k)
        .into_iter()
        .flat_map(|i| points[i * sub..(i + 1) * sub].iter().copied())
        .collect();
    let mut assign = vec![0usize; p];
    let mut dist = vec![0.0f32; p];
    for _ in 0..iterations {
        for (i, x) in points.chunks_exact(sub).enumerate() {
            let mut best = (f32::INFINITY, 0usize);
            for (c, y) in centroids.chunks_exact(sub).enumerate() {
                let e = dist2(x, y);
                if e < best.0 {
                    best = (e, c);
                }
            }
            (dist[i], assign[i]) = best;
        }
        let mut sums = vec![0.0f64; k * sub];
        let mut plain = vec![0.0f64; k * sub];
        let mut counts = vec![0usize; k];
        let mut mass = vec![0.0f64; k];
        for ((x, &a), &wi) in points.chunks_exact(sub).zip(&assign).zip(w) {
            counts[a] += 1;
            mass[a] += wi;
            for ((s, p), &v) in sums[a * sub..(a + 1) * sub]
                .iter_mut()
                .zip(&mut plain[a * sub..(a + 1) * sub])
                .zip(x)
            {
                *s += wi * f64::from(v);
                *p += f64::from(v);
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                // Re-seed an empty cluster with the worst-served point.
                let far = (0..p)
                    .max_by(|&a, &b| dist[a].total_cmp(&dist[b]).then(b.cmp(&a)))
                    .unwrap_or(0);
                dist[far] = 0.0;
                centroids[c * sub..(c + 1) * sub]
                    .copy_from_slice(&points[far * sub..(far + 1) * sub]);
                continue;
            }
            let (src, total) = if mass[c] > 0.0 {
                (&sums, mass[c])
            } else {
                (&plain, counts[c] as f64)
            };
            for (y, s) in centroids[c * sub..(c + 1) * sub]
                .iter_mut()
                .zip(&src[c * sub..(c + 1) * sub])
            {
                *y = (*s / total) as f32;
            }
        }
    }
    centroids
}

/// `vitrine compact`: an existing bundle, compacted.
#[derive(clap::Args)]
pub struct CompactArgs {
    /// The bundle to compact (.vtr; `-`: stdin). A compact bundle gets new codebooks from its
    /// reconstructed vectors.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Where to write the compact bundle (`-`: stdout).
    #[arg(long)]
    pub out: PathBuf,
    /// A training event log (the `vitrine train` CSV) to fine-tune the codebooks and the
    /// session readout on (`--pq-tune-epochs`); its events of items not in the bundle are skipped.
    #[arg(long)]
    pub events: Option<PathBuf>,
    #[command(flatten)]
    pub options: CompactOptions,
    #[arg(long, help = output::JSON_HELP)]
    pub json: bool,
}

#[derive(Serialize)]
struct CompactSummary {
    out: String,
    items: usize,
    bytes_before: usize,
    bytes: usize,
    bytes_per_item: f64,
    seconds: f64,
    /// Events of `--events` skipped: their item is not in the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    events_unknown_item: Option<usize>,
    #[serde(flatten)]
    report: CompactReport,
}

pub fn run(args: &CompactArgs) -> Result<()> {
    let started = Instant::now();
    let bytes = files::read_input(&args.bundle, "bundle")?;
    let before = bytes.len();
    let bundle = vitrine::Bundle::from_bytes(bytes)
        .with_context(|| files::input_name(&args.bundle))
        .kind(ExitKind::Input)?;
    let mut parts = bundle_parts::parts_of(&bundle)?;
    parts.metadata.remove("quant.mean_cosine");
    let log = match &args.events {
        Some(_) if args.options.pq_tune_epochs == 0 => exit::fail!(
            Usage,
            "--events is the log to fine-tune on: give --pq-tune-epochs N (N ≥ 1) with it"
        ),
        Some(path) => Some(crate::events::EventLog::read(path)?),
        None => None,
    };
    let tuning = log
        .as_ref()
        .map(|log| crate::compact_tune::sessions_of_log(log, &parts.ids));
    let tune = tuning.as_ref().map(|(sessions, counts, _)| TuneSessions {
        sessions,
        counts,
        model: None,
    });
    let report = compact_parts(&mut parts, &args.options, tune.as_ref()).kind(ExitKind::Usage)?;
    let out = write_bundle(&parts)
        .context("could not build the compact bundle")
        .kind(ExitKind::Input)?;
    files::write_output(&args.out, &out, "bundle")?;
    let n = bundle.n_items();
    let summary = CompactSummary {
        out: files::output_name(&args.out),
        items: n,
        bytes_before: before,
        bytes: out.len(),
        bytes_per_item: out.len() as f64 / n as f64,
        seconds: started.elapsed().as_secs_f64(),
        events_unknown_item: tuning.as_ref().map(|t| t.2),
        report,
    };
    if args.json {
        return output::print_json(&summary);
    }
    let mut text = String::new();
    output::outln!(text, "{}", summary.report.line());
    output::outln!(
        text,
        "compacted {n} items: {} → {} bytes ({:.1} bytes/item) in {:.1}s → {}",
        before,
        out.len(),
        summary.bytes_per_item,
        summary.seconds,
        summary.out
    );
    output::print_text(&text)
}
