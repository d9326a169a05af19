//! `vitrine catalog shard --bundle B --head N --out-dir DIR`: a big catalog on demand. The `N`
//! most popular products of B become a **head bundle** that renders the first shelf; the others
//! are grouped by category into **shards** (`delta.kind` = `shard`, see `vitrine::bundle` overlay)
//! that a page fetches later with `loadShards()`, each named with its SRI hash in the manifest
//! `DIR/shards.json` (and checked by the engine's own digest). A compact B gives a compact head
//! and compact shards (codes made with the head's codebooks).
//!
//! Which shard a page fetches depends only on what the page itself asks for (a category it names);
//! the manifest therefore maps categories, not product ids, to shards (`docs/scale.md`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use base64::Engine as _;
use sha2::{Digest, Sha384};
use vitrine::bundle::{
    write_bundle, Bundle, BundleParts, CategoryParts, CompactParts, ExtraTensor, DELTA_BASE_KEY,
    DELTA_KIND_KEY, DELTA_KIND_SHARD, DELTA_N_BASE_KEY,
};
use vitrine::catalog::CATALOG_TENSOR;

use crate::bundle_parts::parts_of;
use crate::exit::{ExitKind, ResultExt as _};

/// The manifest's `format`.
pub const MANIFEST_FORMAT: &str = "vitrine-shards";

#[derive(clap::Args)]
pub struct ShardArgs {
    /// The full bundle (.vtr).
    #[arg(long)]
    bundle: PathBuf,
    /// Products in the head bundle: the most popular ones (ties: the earlier row).
    #[arg(long)]
    head: usize,
    /// The directory to write `head.vtr`, `shards/NNNN.vtr` and `shards.json` to (created; files
    /// written atomically, the manifest last).
    #[arg(long)]
    out_dir: PathBuf,
    /// Most products per shard: a bigger category is split into several shards (all fetched for
    /// it), smaller ones share a shard up to this size.
    #[arg(long, default_value_t = 20_000)]
    max_shard_items: usize,
    #[arg(long, help = crate::output::JSON_HELP)]
    json: bool,
}

impl ShardArgs {
    pub fn json(&self) -> bool {
        self.json
    }
}

/// One file of the set, as the manifest names it.
#[derive(Debug, serde::Serialize)]
struct FileEntry {
    /// Relative to the manifest.
    url: String,
    /// SRI (`sha384-…`) of the file's bytes.
    integrity: String,
    items: usize,
    bytes: usize,
    /// Shards: the categories whose products it holds (empty: products without a category).
    #[serde(skip_serializing_if = "Option::is_none")]
    categories: Option<Vec<String>>,
}

/// `shards.json` (also what `--json` prints, with `seconds`).
#[derive(Debug, serde::Serialize)]
struct Manifest {
    format: &'static str,
    version: u32,
    /// The full bundle's digest (what the set was cut from).
    source_digest: String,
    items: usize,
    head: FileEntry,
    shards: Vec<FileEntry>,
}

pub fn run(args: &ShardArgs) -> Result<()> {
    let started = Instant::now();
    if args.head == 0 || args.max_shard_items == 0 {
        crate::exit::fail!(Usage, "--head and --max-shard-items must be at least 1");
    }
    let bytes = crate::files::read_input(&args.bundle, "bundle")?;
    let bundle = Bundle::from_bytes(bytes)
        .with_context(|| crate::files::input_name(&args.bundle))
        .kind(ExitKind::Input)?;
    let n = bundle.n_items();
    if args.head >= n {
        crate::exit::fail!(
            Usage,
            "--head {} keeps every product of the bundle ({n}): nothing to shard",
            args.head
        );
    }
    let mut parts = parts_of(&bundle)?;
    // A compact bundle's codes are carried over as they are (each file re-encoding its
    // dequantized rows took 20 s for 1M items, and could pick other centroids for the
    // normalized rows).
    if let Some(c) = parts.compact.as_mut() {
        c.codes = Some(
            (0..n)
                .flat_map(|r| bundle.codes(r).iter().copied())
                .collect(),
        );
    }
    let records = record_lines(&parts);

    // Head: the most popular rows, in their original order (a stable cut).
    let pop = bundle.popularity();
    let mut by_pop: Vec<usize> = (0..n).collect();
    by_pop.sort_by(|&a, &b| pop[b].total_cmp(&pop[a]).then(a.cmp(&b)));
    let mut head_rows = by_pop[..args.head].to_vec();
    head_rows.sort_unstable();
    let mut in_head = vec![false; n];
    for &r in &head_rows {
        in_head[r] = true;
    }
    let head_parts = subset(&parts, &head_rows, &records, None);
    let head_bytes = write_bundle(&head_parts).context("could not write the head bundle")?;
    let head_digest = Bundle::from_bytes(head_bytes.clone())
        .context("the head bundle does not read back")?
        .recorded_digest()
        .unwrap_or_default()
        .to_owned();

    // Shards: the other rows grouped by category name (sorted; no category last), packed.
    let mut groups: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for r in (0..n).filter(|&r| !in_head[r]) {
        let name = bundle
            .category(r)
            .and_then(|c| bundle.category_names()?.get(c as usize).cloned());
        groups.entry(name).or_default().push(r);
    }
    let uncategorized = groups.remove(&None);
    let mut packs: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
    for (name, rows) in groups {
        let name = name.unwrap_or_default();
        for chunk in rows.chunks(args.max_shard_items) {
            match packs.last_mut() {
                Some((names, r))
                    if r.len() + chunk.len() <= args.max_shard_items
                        && chunk.len() == rows.len() =>
                {
                    names.push(name.clone());
                    r.extend_from_slice(chunk);
                }
                _ => packs.push((vec![name.clone()], chunk.to_vec())),
            }
        }
    }
    for chunk in uncategorized
        .iter()
        .flat_map(|r| r.chunks(args.max_shard_items))
    {
        packs.push((Vec::new(), chunk.to_vec()));
    }

    let dir = &args.out_dir;
    std::fs::create_dir_all(dir.join("shards"))
        .with_context(|| format!("could not create {}", dir.join("shards").display()))
        .kind(ExitKind::Io)?;
    let shard_meta = |name: &str| {
        BTreeMap::from([
            (DELTA_BASE_KEY.to_owned(), head_digest.clone()),
            (DELTA_N_BASE_KEY.to_owned(), args.head.to_string()),
            (DELTA_KIND_KEY.to_owned(), DELTA_KIND_SHARD.to_owned()),
            ("shard.name".to_owned(), name.to_owned()),
        ])
    };
    let mut shards = Vec::with_capacity(packs.len());
    for (i, (names, rows)) in packs.iter().enumerate() {
        let url = format!("shards/{i:04}.vtr");
        let p = subset(&parts, rows, &records, Some(shard_meta(&format!("{i:04}"))));
        let b = write_bundle(&p).with_context(|| format!("could not write shard {url}"))?;
        write(dir, &url, &b)?;
        shards.push(entry(url, &b, rows.len(), Some(names.clone())));
    }
    write(dir, "head.vtr", &head_bytes)?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        version: 1,
        source_digest: bundle.recorded_digest().unwrap_or_default().to_owned(),
        items: n,
        head: entry("head.vtr".into(), &head_bytes, args.head, None),
        shards,
    };
    let text = serde_json::to_string_pretty(&manifest)?;
    write(dir, "shards.json", format!("{text}\n").as_bytes())?;
    if args.json {
        let mut v = serde_json::to_value(&manifest)?;
        v["seconds"] = started.elapsed().as_secs_f64().into();
        v["out_dir"] = crate::files::output_name(dir).into();
        return crate::output::print_json(&v);
    }
    let shard_bytes: usize = manifest.shards.iter().map(|s| s.bytes).sum();
    crate::output::print_text(&format!(
        "head {} products ({} bytes), {} shards of {} products ({} bytes) in {:.1}s → {}\n",
        manifest.head.items,
        manifest.head.bytes,
        manifest.shards.len(),
        n - args.head,
        shard_bytes,
        started.elapsed().as_secs_f64(),
        crate::files::output_name(&dir.join("shards.json"))
    ))
}

fn entry(url: String, bytes: &[u8], items: usize, categories: Option<Vec<String>>) -> FileEntry {
    let sri = base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes));
    FileEntry {
        url,
        integrity: format!("sha384-{sri}"),
        items,
        bytes: bytes.len(),
        categories,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    crate::files::write_output(&dir.join(name), bytes, "shard set file")
}

/// The catalog records (JSON Lines) by product id.
fn record_lines(parts: &BundleParts) -> HashMap<String, String> {
    let Some(t) = parts.extra.iter().find(|t| t.name == CATALOG_TENSOR) else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&t.data)
        .lines()
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let id = match v.get("id")? {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((id, line.to_owned()))
        })
        .collect()
}

/// The parts of `rows` of `parts` (in that order). With `shard` metadata: a shard (its own
/// category names, the model's tables left out); without: the head (every table, neighbour lists
/// kept where both ends stay, the full list of category names so context weights keep their
/// columns).
fn subset(
    parts: &BundleParts,
    rows: &[usize],
    records: &HashMap<String, String>,
    shard: Option<BTreeMap<String, String>>,
) -> BundleParts {
    let d = parts.dim;
    let pick = |v: &[f32]| rows.iter().map(|&r| v[r]).collect::<Vec<f32>>();
    let mut new_row = vec![u32::MAX; parts.ids.len()];
    for (k, &r) in rows.iter().enumerate() {
        new_row[r] = k as u32;
    }
    let lists = |l: &Option<Vec<Vec<(u32, f32)>>>| {
        l.as_ref().map(|l| {
            rows.iter()
                .map(|&r| {
                    l[r].iter()
                        .filter_map(|&(j, w)| {
                            let k = new_row[j as usize];
                            (k != u32::MAX).then_some((k, w))
                        })
                        .collect()
                })
                .collect()
        })
    };
    let mut lines = String::new();
    for &r in rows {
        if let Some(line) = records.get(&parts.ids[r]) {
            lines.push_str(line);
            lines.push('\n');
        }
    }
    let mut extra: Vec<ExtraTensor> = Vec::new();
    if !lines.is_empty() {
        extra.push(ExtraTensor {
            name: CATALOG_TENSOR.into(),
            dtype: vitrine::bundle::ExtraDtype::U8,
            shape: vec![lines.len()],
            data: lines.into_bytes(),
        });
    }
    let categories = parts.categories.as_ref().map(|c| {
        let item: Vec<Option<u32>> = rows.iter().map(|&r| c.item[r]).collect();
        if shard.is_none() {
            return CategoryParts {
                names: c.names.clone(),
                item,
            };
        }
        // A shard names only its own categories (the engine maps them to the head's by name).
        let mut names: Vec<String> = Vec::new();
        let item = item
            .iter()
            .map(|c_| {
                c_.map(|i| {
                    let name = &c.names[i as usize];
                    match names.iter().position(|x| x == name) {
                        Some(k) => k as u32,
                        None => {
                            names.push(name.clone());
                            (names.len() - 1) as u32
                        }
                    }
                })
            })
            .collect();
        CategoryParts { names, item }
    });
    let mut out = BundleParts {
        ids: rows.iter().map(|&r| parts.ids[r].clone()).collect(),
        dim: d,
        embeddings: rows
            .iter()
            .flat_map(|&r| parts.embeddings[r * d..(r + 1) * d].iter().copied())
            .collect(),
        popularity: pick(&parts.popularity),
        scale_dtype: parts.scale_dtype,
        categories,
        prices: parts
            .prices
            .as_ref()
            .map(|p| rows.iter().map(|&r| p[r]).collect()),
        availability: parts
            .availability
            .as_ref()
            .map(|a| rows.iter().map(|&r| a[r]).collect()),
        trend: parts.trend.as_deref().map(pick),
        compact: parts.compact.as_ref().map(|c| CompactParts {
            subspaces: c.subspaces,
            centroids: c.centroids,
            codebooks: c.codebooks.clone(),
            codes: c.codes.as_ref().map(|all| {
                let m = c.subspaces;
                rows.iter()
                    .flat_map(|&r| all[r * m..(r + 1) * m].iter().copied())
                    .collect()
            }),
        }),
        extra,
        ..Default::default()
    };
    match shard {
        Some(metadata) => out.metadata = metadata,
        None => {
            out.params = parts.params.clone();
            out.metadata = parts.metadata.clone();
            out.neighbours = lists(&parts.neighbours);
            out.co_purchases = lists(&parts.co_purchases);
            out.session_pos_weights = parts.session_pos_weights.clone();
            out.session_readout = parts.session_readout.clone();
            out.head = parts.head.clone();
            out.context = parts.context.clone();
            // The content tower and other native tensors stay with the head.
            out.extra.extend(
                parts
                    .extra
                    .iter()
                    .filter(|t| t.name != CATALOG_TENSOR)
                    .cloned(),
            );
        }
    }
    out
}
