//! `vitrine pack`: turns embeddings trained elsewhere (Spark ALS item factors, a PyTorch model, …)
//! into a bundle. Inputs are read and checked in full first; the bundle is written atomically, so a
//! failed run leaves nothing behind.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use safetensors::{Dtype, SafeTensors};
use vitrine::bundle::{write_bundle, BundleParts, CategoryParts};

/// Arguments of `vitrine pack`.
#[derive(clap::Args, Debug)]
pub struct PackArgs {
    /// Item embeddings: a .npy file (float32/float64, shape [items, dim]) or a .safetensors file
    /// with a 2-D float tensor (F32/F64/F16/BF16).
    #[arg(long)]
    pub embeddings: PathBuf,
    /// With a .safetensors file holding several 2-D float tensors: which one.
    #[arg(long)]
    pub tensor: Option<String>,
    /// Item ids, one per line, in the row order of the embeddings.
    #[arg(long)]
    pub ids: PathBuf,
    /// Popularity per item: one non-negative number per line, or a 1-D .npy (default: all 0,
    /// i.e. no popularity prior).
    #[arg(long)]
    pub popularity: Option<PathBuf>,
    /// Catalog CSV with a header naming `id` and optionally `category` and `price` (other columns
    /// are ignored; an empty cell means none / unknown).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Keep the vectors' norms instead of scaling each to unit length (the scorer treats the dot
    /// product as a cosine, so unit length is the default).
    #[arg(long)]
    pub keep_norms: bool,
    /// Where to write the bundle (.vtr). Written atomically: nothing is left behind on error.
    #[arg(long)]
    pub out: PathBuf,
}

/// Row-major embeddings as read from a file.
struct Embeddings {
    rows: usize,
    dim: usize,
    values: Vec<f32>,
    /// What was read, for the metadata (`pack.source`).
    source: String,
}

pub fn run(args: &PackArgs) -> Result<()> {
    let emb = read_embeddings(&args.embeddings, args.tensor.as_deref())?;
    let ids = read_ids(&args.ids)?;
    if ids.len() != emb.rows {
        bail!(
            "{}: {} ids, but the embeddings ({}) have {} rows; expected one id per row",
            args.ids.display(),
            ids.len(),
            args.embeddings.display(),
            emb.rows
        );
    }
    let popularity = match &args.popularity {
        Some(p) => read_popularity(p, emb.rows)?,
        None => vec![0.0; emb.rows],
    };
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let catalog = match &args.catalog {
        Some(p) => Some(read_catalog(p, &index)?),
        None => None,
    };

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
    let bytes = write_bundle(&parts).context("could not build the bundle")?;
    crate::files::write_atomically(&args.out, &bytes)?;
    let n = parts.ids.len();
    // write_bundle records it; read it back for the summary.
    let cosine = vitrine::Bundle::from_bytes(bytes.clone())
        .ok()
        .and_then(|b| b.metadata().get("quant.mean_cosine").cloned())
        .unwrap_or_else(|| "?".into());
    println!(
        "packed {n} items × {} dims from {} → {} ({} bytes, {:.1} bytes/item; int8 mean cosine {cosine})",
        emb.dim,
        emb.source,
        args.out.display(),
        bytes.len(),
        bytes.len() as f64 / n as f64,
    );
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn read_embeddings(path: &Path, tensor: Option<&str>) -> Result<Embeddings> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read embeddings {}", path.display()))?;
    let emb = match extension(path).as_str() {
        "npy" => {
            if tensor.is_some() {
                bail!(
                    "--tensor applies to .safetensors embeddings only, not {}",
                    path.display()
                );
            }
            read_npy_matrix(path, &bytes)?
        }
        "safetensors" => read_safetensors_matrix(path, &bytes, tensor)?,
        other => bail!(
            "{}: expected a .npy or .safetensors file, found extension '{other}'",
            path.display()
        ),
    };
    if emb.rows == 0 || emb.dim == 0 || emb.dim > vitrine::bundle::MAX_DIM {
        bail!(
            "{}: expected at least one row and 1 to {} columns, found shape [{}, {}]",
            path.display(),
            vitrine::bundle::MAX_DIM,
            emb.rows,
            emb.dim
        );
    }
    if let Some(k) = emb.values.iter().position(|x| !x.is_finite()) {
        bail!(
            "{}: expected finite numbers, found {} at row {}, column {}",
            path.display(),
            emb.values[k],
            k / emb.dim,
            k % emb.dim
        );
    }
    Ok(emb)
}

/// A 1- or 2-D numeric .npy read as f64 (with its shape), or an error naming what was found.
fn read_npy(path: &Path, bytes: &[u8], want: &str) -> Result<(Vec<u64>, Vec<f64>, bool)> {
    let npy = npyz::NpyFile::new(bytes)
        .with_context(|| format!("{}: not a valid .npy file", path.display()))?;
    let shape = npy.shape().to_vec();
    let fortran = npy.order() == npyz::Order::Fortran;
    let descr = npy.dtype().descr();
    let found = || format!("dtype {descr}, shape {shape:?}");
    // Never trust the header's element count further than the file's size.
    let count = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    let elem = match &npy.dtype() {
        npyz::DType::Plain(t) => t.num_bytes().unwrap_or(0) as u64,
        _ => 0,
    };
    if elem == 0
        || count
            .and_then(|c| c.checked_mul(elem))
            .is_none_or(|b| b > bytes.len() as u64)
    {
        bail!(
            "{}: expected {want}, found {} (truncated or unsupported)",
            path.display(),
            found()
        );
    }
    let type_char = match &npy.dtype() {
        npyz::DType::Plain(t) => t.type_char(),
        _ => bail!("{}: expected {want}, found {}", path.display(), found()),
    };
    use npyz::TypeChar;
    let values: Vec<f64> = match (type_char, elem) {
        (TypeChar::Float, 4) => npy
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        (TypeChar::Float, 8) => npy.into_vec::<f64>(),
        (TypeChar::Int, 4) => npy
            .into_vec::<i32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        (TypeChar::Int, 8) => npy
            .into_vec::<i64>()
            .map(|v| v.into_iter().map(|x| x as f64).collect()),
        (TypeChar::Uint, 4) => npy
            .into_vec::<u32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        (TypeChar::Uint, 8) => npy
            .into_vec::<u64>()
            .map(|v| v.into_iter().map(|x| x as f64).collect()),
        _ => bail!("{}: expected {want}, found {}", path.display(), found()),
    }
    .with_context(|| {
        format!(
            "{}: cannot read the array data ({})",
            path.display(),
            found()
        )
    })?;
    if Some(values.len() as u64) != count {
        bail!(
            "{}: the data holds {} values, the header declares {}",
            path.display(),
            values.len(),
            found()
        );
    }
    Ok((shape, values, fortran))
}

fn read_npy_matrix(path: &Path, bytes: &[u8]) -> Result<Embeddings> {
    const WANT: &str = "a 2-D float32 or float64 array [items, dim]";
    let npy = npyz::NpyFile::new(bytes)
        .with_context(|| format!("{}: not a valid .npy file", path.display()))?;
    let descr = npy.dtype().descr();
    let is_float = matches!(&npy.dtype(), npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && matches!(t.num_bytes(), Some(4 | 8)));
    if !is_float || npy.shape().len() != 2 {
        bail!(
            "{}: expected {WANT}, found dtype {descr}, shape {:?}",
            path.display(),
            npy.shape()
        );
    }
    let (shape, values, fortran) = read_npy(path, bytes, WANT)?;
    let (rows, dim) = (shape[0] as usize, shape[1] as usize);
    let values: Vec<f32> = if fortran {
        // Column-major on disk: element (r, c) is at c * rows + r.
        let mut out = vec![0.0f32; rows * dim];
        for (k, v) in values.iter().enumerate() {
            out[(k % rows) * dim + k / rows] = *v as f32;
        }
        out
    } else {
        values.iter().map(|&v| v as f32).collect()
    };
    Ok(Embeddings {
        rows,
        dim,
        values,
        source: file_name(path),
    })
}

fn read_safetensors_matrix(path: &Path, bytes: &[u8], wanted: Option<&str>) -> Result<Embeddings> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a valid safetensors file ({e})", path.display()))?;
    let is_matrix = |dtype: Dtype, shape: &[usize]| {
        matches!(dtype, Dtype::F32 | Dtype::F64 | Dtype::F16 | Dtype::BF16) && shape.len() == 2
    };
    let mut names = st.names();
    names.sort();
    let describe = |name: &str| {
        st.tensor(name)
            .map(|t| format!("{name} {:?} {:?}", t.dtype(), t.shape()))
            .unwrap_or_else(|_| name.to_owned())
    };
    let listing = names
        .iter()
        .map(|n| describe(n))
        .collect::<Vec<_>>()
        .join(", ");
    let name = match wanted {
        Some(w) => {
            if !names.contains(&w) {
                bail!(
                    "{}: no tensor named '{w}'; the file holds: {}",
                    path.display(),
                    if listing.is_empty() {
                        "nothing"
                    } else {
                        &listing
                    }
                );
            }
            w.to_owned()
        }
        None => {
            let candidates: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| st.tensor(n).is_ok_and(|t| is_matrix(t.dtype(), t.shape())))
                .collect();
            match candidates.as_slice() {
                [one] => (*one).to_owned(),
                [] => bail!(
                    "{}: expected a 2-D float tensor (F32, F64, F16 or BF16), found: {}",
                    path.display(),
                    if listing.is_empty() {
                        "no tensors"
                    } else {
                        &listing
                    }
                ),
                many => bail!(
                    "{}: several 2-D float tensors ({}); choose one with --tensor NAME",
                    path.display(),
                    many.join(", ")
                ),
            }
        }
    };
    let t = st
        .tensor(&name)
        .map_err(|e| anyhow::anyhow!("{}: tensor '{name}': {e}", path.display()))?;
    if !is_matrix(t.dtype(), t.shape()) {
        bail!(
            "{}: expected tensor '{name}' to be a 2-D float tensor (F32, F64, F16 or BF16) [items, dim], found {:?} {:?}",
            path.display(),
            t.dtype(),
            t.shape()
        );
    }
    let (rows, dim) = (t.shape()[0], t.shape()[1]);
    let data = t.data();
    let values: Vec<f32> = match t.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_le_bytes(b) as f32
            })
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => data
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
    };
    Ok(Embeddings {
        rows,
        dim,
        values,
        source: format!("{}:{name}", file_name(path)),
    })
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        anyhow::anyhow!(
            "{}: expected UTF-8 text, found an invalid byte on line {line}",
            path.display()
        )
    })
}

/// Lines of a text file: `\r\n` or `\n` endings, one final newline allowed.
fn lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

fn read_ids(path: &Path) -> Result<Vec<String>> {
    let text = read_text(path, "ids")?;
    let ids = lines(&text);
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() {
            bail!(
                "{} line {}: expected an item id, found an empty line",
                path.display(),
                i + 1
            );
        }
        if let Some(first) = seen.insert(id, i) {
            bail!(
                "{} line {}: id '{id}' already appeared on line {}; ids must be unique",
                path.display(),
                i + 1,
                first + 1
            );
        }
    }
    if ids.is_empty() {
        bail!(
            "{}: expected one item id per line, found no ids",
            path.display()
        );
    }
    Ok(ids.into_iter().map(str::to_owned).collect())
}

fn read_popularity(path: &Path, n: usize) -> Result<Vec<f32>> {
    let values: Vec<f64> = if extension(path) == "npy" {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read popularity {}", path.display()))?;
        let (shape, values, _) = read_npy(path, &bytes, "a 1-D numeric array [items]")?;
        if !(shape.len() == 1 || (shape.len() == 2 && shape[1] == 1)) {
            bail!(
                "{}: expected a 1-D numeric array [items], found shape {shape:?}",
                path.display()
            );
        }
        values
    } else {
        let text = read_text(path, "popularity")?;
        lines(&text)
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.trim().parse::<f64>().map_err(|_| {
                    anyhow::anyhow!(
                        "{} line {}: expected a number, found '{l}'",
                        path.display(),
                        i + 1
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    if values.len() != n {
        bail!(
            "{}: expected {n} popularity values (one per id), found {}",
            path.display(),
            values.len()
        );
    }
    if let Some((i, v)) = values
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v < 0.0 || **v > f64::from(f32::MAX))
    {
        bail!(
            "{}: expected finite non-negative numbers, found {v} for item {} (line/index {})",
            path.display(),
            i,
            i + 1
        );
    }
    Ok(values.into_iter().map(|v| v as f32).collect())
}

struct Catalog {
    categories: Option<CategoryParts>,
    prices: Option<Vec<Option<f32>>>,
}

fn read_catalog(path: &Path, index: &HashMap<&str, usize>) -> Result<Catalog> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read catalog {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("{}: cannot read the CSV header", path.display()))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(id_col) = col("id") else {
        bail!(
            "{}: expected a header naming an 'id' column (and optionally 'category', 'price'), found: {}",
            path.display(),
            header.iter().collect::<Vec<_>>().join(",")
        );
    };
    let (cat_col, price_col) = (col("category"), col("price"));
    let n = index.len();
    let mut item_cat: Vec<Option<u32>> = vec![None; n];
    let mut names: Vec<String> = Vec::new();
    let mut name_index: HashMap<String, u32> = HashMap::new();
    let mut prices: Vec<Option<f32>> = vec![None; n];
    let mut seen = HashSet::new();
    let mut unknown = 0usize;
    for (r, record) in reader.records().enumerate() {
        let line = r + 2;
        let record =
            record.with_context(|| format!("{} line {line}: malformed CSV row", path.display()))?;
        let id = record.get(id_col).unwrap_or("");
        let Some(&row) = index.get(id) else {
            unknown += 1;
            continue;
        };
        if !seen.insert(row) {
            bail!(
                "{} line {line}: id '{id}' appears twice in the catalog",
                path.display()
            );
        }
        if let Some(c) = cat_col
            .and_then(|c| record.get(c))
            .filter(|c| !c.is_empty())
        {
            if c.contains('\n') {
                bail!(
                    "{} line {line}: a category name cannot contain a newline",
                    path.display()
                );
            }
            let next = names.len() as u32;
            let k = *name_index.entry(c.to_owned()).or_insert_with(|| {
                names.push(c.to_owned());
                next
            });
            item_cat[row] = Some(k);
        }
        if let Some(p) = price_col
            .and_then(|c| record.get(c))
            .filter(|p| !p.is_empty())
        {
            match p.parse::<f32>() {
                Ok(v) if v.is_finite() && v >= 0.0 => prices[row] = Some(v),
                _ => bail!(
                    "{} line {line}: expected a price ≥ 0 (or an empty cell), found '{p}'",
                    path.display()
                ),
            }
        }
    }
    if unknown > 0 {
        eprintln!(
            "note: {}: {unknown} rows name ids that are not in --ids; they were ignored",
            path.display()
        );
    }
    Ok(Catalog {
        categories: cat_col.map(|_| CategoryParts {
            names,
            item: item_cat,
        }),
        prices: price_col.map(|_| prices),
    })
}
