//! `vitrine catalog update --bundle B --catalog C --out B2 [--delta D]`: the catalog changes
//! without retraining. Products of C that B lacks get their content vector from B's content
//! tower; products of B that C lacks, or lists out of stock, become unavailable; categories,
//! prices and the records the shelf shows follow C. B2 is the full bundle for pages loading
//! afresh; D the small delta (a bundle naming B) pages that already loaded B apply with
//! `applyUpdate()`. Deltas are cumulative against B: make each one from B, not from B2.
//!
//! `vitrine catalog check --catalog C` reads a catalog and reports what `train` and `update` would see.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::exit::ResultExt as _;
use vitrine::bundle::{write_bundle, Bundle, CategoryParts, ExtraDtype, ExtraTensor};
use vitrine::catalog::{write_delta, DeltaItem, DeltaParts, CATALOG_TENSOR};

use crate::bundle_parts::{extra_bytes, parts_of};
use crate::catalog::{self, Catalog, Product};
use crate::content::ContentTower;

/// `vitrine catalog …`.
#[derive(clap::Subcommand)]
pub enum CatalogCommand {
    /// Apply a new catalog to a bundle without retraining: a full bundle (--out) and, for pages
    /// that already loaded the bundle, a small delta (--delta) for `applyUpdate()`.
    Update(UpdateArgs),
    /// Read a catalog file and report its products, categories and problems.
    Check(CheckArgs),
    /// Split a big catalog's bundle into a head bundle (the most popular products, for the first
    /// shelf) and shards by category that pages fetch on demand (`loadShards()`), with a manifest.
    Shard(crate::catalog_shard::ShardArgs),
}

impl CatalogCommand {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        match self {
            CatalogCommand::Update(a) => a.json,
            CatalogCommand::Check(a) => a.json,
            CatalogCommand::Shard(a) => a.json(),
        }
    }
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The catalog (JSON Lines or CSV, docs/catalog.md; `-` for stdin).
    #[arg(long)]
    catalog: PathBuf,
    #[arg(long, help = crate::output::JSON_HELP)]
    json: bool,
}

/// What `vitrine catalog check --json` prints.
#[derive(serde::Serialize)]
struct CheckSummary {
    catalog: String,
    products: usize,
    top_level_categories: usize,
    out_of_stock: usize,
    /// Unknown fields and how many rows had each.
    unknown_fields: std::collections::BTreeMap<String, usize>,
    warnings: Vec<String>,
}

/// What `vitrine catalog update --json` prints.
#[derive(serde::Serialize)]
struct UpdateSummary {
    out: String,
    bytes: usize,
    products: usize,
    added: usize,
    added_with_vector: usize,
    changed: usize,
    removed: usize,
    unavailable: usize,
    delta: Option<String>,
    delta_bytes: Option<usize>,
    seconds: f64,
}

#[derive(clap::Args)]
pub struct UpdateArgs {
    /// The bundle pages load (.vtr).
    #[arg(long)]
    bundle: PathBuf,
    /// The current catalog (JSON Lines or CSV).
    #[arg(long)]
    catalog: PathBuf,
    /// Where to write the updated bundle (atomically).
    #[arg(long)]
    out: PathBuf,
    /// Where to write the delta against --bundle (atomically).
    #[arg(long)]
    delta: Option<PathBuf>,
    /// How new products get a vector: from the content tower (default), or — a baseline for
    /// benchmarks — the vector of the most popular product of their top-level category.
    #[arg(long, value_enum, default_value = "tower")]
    cold_vectors: ColdVectors,
    #[arg(long, help = crate::output::JSON_HELP)]
    json: bool,
}

/// Where a new product's vector comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColdVectors {
    /// The bundle's content tower (`ρ · t̂(product)`).
    Tower,
    /// The vector of the most popular product of the same top-level category (a baseline:
    /// "popularity within the category").
    CategoryBestseller,
}

pub fn run(command: &CatalogCommand) -> Result<()> {
    match command {
        CatalogCommand::Update(args) => update(args),
        CatalogCommand::Shard(args) => crate::catalog_shard::run(args),
        CatalogCommand::Check(CheckArgs { catalog, json }) => {
            let c = catalog::read(catalog)?;
            let warnings = c.warnings(&catalog.display().to_string());
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            let mut top: BTreeMap<&str, usize> = BTreeMap::new();
            for p in &c.products {
                *top.entry(p.category.first().map_or("(none)", String::as_str))
                    .or_default() += 1;
            }
            let out = c
                .products
                .iter()
                .filter(|p| !p.availability.recommendable())
                .count();
            if *json {
                return crate::output::print_json(&CheckSummary {
                    catalog: crate::files::input_name(catalog),
                    products: c.products.len(),
                    top_level_categories: top.len(),
                    out_of_stock: out,
                    unknown_fields: c.unknown_fields.clone().into_iter().collect(),
                    warnings: warnings.iter().map(|w| w.to_string()).collect(),
                });
            }
            crate::output::print_text(&format!(
                "{}: {} products, {} top-level categories, {out} out of stock, {} unknown fields\n",
                crate::files::input_name(catalog),
                c.products.len(),
                top.len(),
                c.unknown_fields.len()
            ))
        }
    }
}

/// What the bundle said about a product, to tell what changed.
#[derive(PartialEq)]
struct State {
    category: Option<String>,
    price: Option<f32>,
    available: bool,
    record: Option<String>,
}

fn update(args: &UpdateArgs) -> Result<()> {
    let started = Instant::now();
    crate::files::stdin_at_most_once(&[
        ("--bundle", Some(&args.bundle)),
        ("--catalog", Some(&args.catalog)),
    ])?;
    crate::files::stdout_free_for_json(&args.out, "--out", args.json)?;
    if let Some(d) = &args.delta {
        crate::files::stdout_free_for_json(d, "--delta", args.json)?;
        if crate::files::is_stdio(d) && crate::files::is_stdio(&args.out) {
            crate::exit::fail!(Usage, "--out and --delta cannot both be stdout");
        }
    }
    let bytes = crate::files::read_input(&args.bundle, "bundle")?;
    let bundle = Bundle::from_bytes(bytes)
        .with_context(|| crate::files::input_name(&args.bundle))
        .kind(crate::exit::ExitKind::Input)?;
    let cat = catalog::read(&args.catalog)?;
    for w in cat.warnings(&args.catalog.display().to_string()) {
        eprintln!("warning: {w}");
    }
    let tower = ContentTower::from_bundle(&bundle)?;
    if tower.is_none() && args.cold_vectors == ColdVectors::Tower {
        eprintln!(
            "warning: {} has no content tower (train with --catalog): new products get no vector and rank only by popularity",
            args.bundle.display()
        );
    }
    let old_records: HashMap<String, String> = extra_bytes(&bundle, CATALOG_TENSOR)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            Some((v.get("id")?.as_str()?.to_owned(), line.to_owned()))
        })
        .collect();
    let before = |r: usize| State {
        category: bundle
            .category(r)
            .and_then(|c| bundle.category_names()?.get(c as usize).cloned()),
        price: bundle.price(r),
        available: bundle.is_available(r),
        record: old_records.get(&bundle.ids()[r]).cloned(),
    };
    let after = |p: Option<&Product>| match p {
        None => State {
            category: None,
            price: None,
            available: false,
            record: None,
        },
        Some(p) => State {
            category: p.category.first().cloned(),
            price: p.effective_price().map(|x| x as f32),
            available: p.availability.recommendable(),
            record: Some(p.to_json().to_string()),
        },
    };

    let by_id = cat.index();
    let n_base = bundle.n_items();
    let d = bundle.dim();
    let mut parts = parts_of(&bundle)?;
    let mut names: Vec<String> = parts
        .categories
        .as_ref()
        .map(|c| c.names.clone())
        .unwrap_or_default();
    let name_index = |n: &str, names: &mut Vec<String>| -> u32 {
        match names.iter().position(|x| x == n) {
            Some(i) => i as u32,
            None => {
                names.push(n.to_owned());
                (names.len() - 1) as u32
            }
        }
    };
    let mut delta_items: Vec<DeltaItem> = Vec::new();
    let (mut changed, mut removed) = (0usize, 0usize);
    let mut item_cat: Vec<Option<u32>> = Vec::with_capacity(n_base);
    let mut prices = Vec::with_capacity(n_base);
    let mut avail = Vec::with_capacity(n_base);
    // Read once: a compact bundle's popularity is decoded on each read.
    let pop = bundle.popularity();
    for r in 0..n_base {
        let p = by_id.get(&bundle.ids()[r]).map(|&k| &cat.products[k]);
        let (was, now) = (before(r), after(p));
        removed += usize::from(p.is_none());
        if was != now {
            changed += 1;
            delta_items.push(DeltaItem {
                id: bundle.ids()[r].to_owned(),
                embedding: None,
                popularity: pop[r],
                category: now.category.clone(),
                price: now.price,
                available: now.available,
            });
        }
        item_cat.push(now.category.as_deref().map(|n| name_index(n, &mut names)));
        prices.push(now.price);
        avail.push(now.available);
    }
    // For the baseline: each top-level category's most popular product of the bundle.
    let mut bestseller: HashMap<String, usize> = HashMap::new();
    for r in 0..n_base {
        if let Some(c) = bundle
            .category(r)
            .and_then(|c| bundle.category_names()?.get(c as usize))
        {
            let best = bestseller.entry(c.clone()).or_insert(r);
            if pop[r] > pop[*best] {
                *best = r;
            }
        }
    }
    let cold_vector = |p: &Product| -> Option<Vec<f32>> {
        match args.cold_vectors {
            ColdVectors::Tower => tower.as_ref().and_then(|t| t.vector(p)),
            ColdVectors::CategoryBestseller => {
                let r = *bestseller.get(p.category.first()?)?;
                Some(bundle.dequantized_row(r))
            }
        }
    };
    let mut added = 0usize;
    let mut added_with_vector = 0usize;
    let mut records: Vec<&Product> = Vec::new();
    for p in &cat.products {
        if bundle.index_of(&p.id).is_some() {
            continue;
        }
        added += 1;
        let v = cold_vector(p);
        added_with_vector += usize::from(v.is_some());
        let v = v.unwrap_or_else(|| vec![0.0; d]);
        delta_items.push(DeltaItem {
            id: p.id.clone(),
            embedding: Some(v.clone()),
            popularity: 0.0,
            category: p.category.first().cloned(),
            price: p.effective_price().map(|x| x as f32),
            available: p.availability.recommendable(),
        });
        parts.ids.push(p.id.clone());
        parts.embeddings.extend(v);
        parts.popularity.push(0.0);
        if let Some(t) = &mut parts.trend {
            t.push(0.0);
        }
        for lists in [&mut parts.neighbours, &mut parts.co_purchases]
            .into_iter()
            .flatten()
        {
            lists.push(Vec::new());
        }
        item_cat.push(p.category.first().map(|n| name_index(n, &mut names)));
        prices.push(p.effective_price().map(|x| x as f32));
        avail.push(p.availability.recommendable());
    }
    // The full bundle.
    let unavailable = avail.iter().filter(|a| !**a).count();
    parts.categories = (!names.is_empty()).then_some(CategoryParts {
        names,
        item: item_cat,
    });
    parts.prices = prices.iter().any(Option::is_some).then_some(prices);
    parts.availability = Some(avail);
    for r in 0..parts.ids.len() {
        if let Some(&k) = by_id.get(parts.ids[r].as_str()) {
            records.push(&cat.products[k]);
        }
    }
    let jsonl = Catalog::to_jsonl(records.iter().copied());
    parts.extra.retain(|t| t.name != CATALOG_TENSOR);
    parts.extra.push(ExtraTensor {
        name: CATALOG_TENSOR.into(),
        dtype: ExtraDtype::U8,
        shape: vec![jsonl.len()],
        data: jsonl,
    });
    parts.metadata.insert(
        "catalog.updated_from".into(),
        bundle.recorded_digest().unwrap_or("").to_owned(),
    );
    let out = write_bundle(&parts).context("could not build the updated bundle")?;
    crate::files::write_output(&args.out, &out, "bundle")?;
    let mut summary = UpdateSummary {
        out: crate::files::output_name(&args.out),
        bytes: out.len(),
        products: cat.products.len(),
        added,
        added_with_vector,
        changed,
        removed,
        unavailable,
        delta: None,
        delta_bytes: None,
        seconds: 0.0,
    };
    let mut text = format!(
        "{} products: {added} added ({added_with_vector} with a content vector), {changed} of the bundle's {n_base} changed ({removed} no longer in the catalog), {unavailable} not recommendable → {} ({} bytes)\n",
        cat.products.len(),
        summary.out,
        out.len()
    );
    if let Some(path) = &args.delta {
        if delta_items.is_empty() {
            // A delta lists at least one product: the bundle's first, as it is.
            let p = by_id.get(&bundle.ids()[0]).map(|&k| &cat.products[k]);
            let now = after(p);
            delta_items.push(DeltaItem {
                id: bundle.ids()[0].to_owned(),
                embedding: None,
                popularity: pop[0],
                category: now.category,
                price: now.price,
                available: now.available,
            });
        }
        let listed: Vec<&Product> = delta_items
            .iter()
            .filter_map(|i| by_id.get(i.id.as_str()).map(|&k| &cat.products[k]))
            .collect();
        let delta = write_delta(&DeltaParts {
            base_digest: bundle.recorded_digest().unwrap_or("").to_owned(),
            n_base,
            dim: d,
            items: delta_items,
            catalog: Catalog::to_jsonl(listed),
        })
        .context("could not build the delta")?;
        crate::files::write_output(path, &delta, "delta")?;
        summary.delta = Some(crate::files::output_name(path));
        summary.delta_bytes = Some(delta.len());
        text += &format!(
            "delta against {}: {} ({} bytes)\n",
            crate::files::input_name(&args.bundle),
            crate::files::output_name(path),
            delta.len()
        );
    }
    summary.seconds = started.elapsed().as_secs_f64();
    if args.json {
        return crate::output::print_json(&summary);
    }
    text += &format!("catalog update in {:.2}s\n", summary.seconds);
    if crate::files::is_stdio(&args.out)
        || args.delta.as_deref().is_some_and(crate::files::is_stdio)
    {
        // Stdout carries a bundle: the report goes to stderr.
        eprint!("{text}");
        Ok(())
    } else {
        crate::output::print_text(&text)
    }
}
