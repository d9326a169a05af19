//! The inputs of `vitrine pack`, read and checked in full: embeddings (.npy or .safetensors, by
//! extension, or by magic from stdin), ids, popularity and the catalog CSV. Every error names the
//! file (or `stdin`), what was expected and what was found.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{bail, Context, Result};
use safetensors::{Dtype, SafeTensors};
use vitrine::bundle::CategoryParts;

use crate::files;
use crate::progress::Progress;

/// Row-major embeddings as read from a file.
pub(crate) struct Embeddings {
    pub rows: usize,
    pub dim: usize,
    pub values: Vec<f32>,
    /// What was read, for the metadata (`pack.source`).
    pub source: String,
}

fn file_name(path: &Path) -> String {
    if files::is_stdio(path) {
        return "stdin".into();
    }
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| files::input_name(path).to_string())
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

pub(crate) fn read_embeddings(path: &Path, tensor: Option<&str>) -> Result<Embeddings> {
    let bytes = files::read_input(path, "embeddings")?;
    let format = if files::is_stdio(path) {
        if bytes.starts_with(NPY_MAGIC) {
            "npy".to_owned()
        } else {
            "safetensors".to_owned()
        }
    } else {
        extension(path)
    };
    let emb = match format.as_str() {
        "npy" => {
            if tensor.is_some() {
                crate::exit::fail!(
                    Usage,
                    "--tensor applies to .safetensors embeddings only, not {}",
                    files::input_name(path)
                );
            }
            read_npy_matrix(path, &bytes)?
        }
        "safetensors" => read_safetensors_matrix(path, &bytes, tensor)?,
        other => bail!(
            "{}: expected a .npy or .safetensors file, found extension '{other}'",
            files::input_name(path)
        ),
    };
    if emb.rows == 0 || emb.dim == 0 || emb.dim > vitrine::bundle::MAX_DIM {
        bail!(
            "{}: expected at least one row and 1 to {} columns, found shape [{}, {}]",
            files::input_name(path),
            vitrine::bundle::MAX_DIM,
            emb.rows,
            emb.dim
        );
    }
    if let Some(k) = emb.values.iter().position(|x| !x.is_finite()) {
        bail!(
            "{}: expected finite numbers, found {} at row {}, column {}",
            files::input_name(path),
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
        .with_context(|| format!("{}: not a valid .npy file", files::input_name(path)))?;
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
            files::input_name(path),
            found()
        );
    }
    let type_char = match &npy.dtype() {
        npyz::DType::Plain(t) => t.type_char(),
        _ => bail!(
            "{}: expected {want}, found {}",
            files::input_name(path),
            found()
        ),
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
        _ => bail!(
            "{}: expected {want}, found {}",
            files::input_name(path),
            found()
        ),
    }
    .with_context(|| {
        format!(
            "{}: cannot read the array data ({})",
            files::input_name(path),
            found()
        )
    })?;
    if Some(values.len() as u64) != count {
        bail!(
            "{}: the data holds {} values, the header declares {}",
            files::input_name(path),
            values.len(),
            found()
        );
    }
    Ok((shape, values, fortran))
}

fn read_npy_matrix(path: &Path, bytes: &[u8]) -> Result<Embeddings> {
    const WANT: &str = "a 2-D float32 or float64 array [items, dim]";
    let npy = npyz::NpyFile::new(bytes)
        .with_context(|| format!("{}: not a valid .npy file", files::input_name(path)))?;
    let descr = npy.dtype().descr();
    let is_float = matches!(&npy.dtype(), npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && matches!(t.num_bytes(), Some(4 | 8)));
    if !is_float || npy.shape().len() != 2 {
        bail!(
            "{}: expected {WANT}, found dtype {descr}, shape {:?}",
            files::input_name(path),
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
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a valid safetensors file ({e})",
            files::input_name(path)
        )
    })?;
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
                    files::input_name(path),
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
                    files::input_name(path),
                    if listing.is_empty() {
                        "no tensors"
                    } else {
                        &listing
                    }
                ),
                many => bail!(
                    "{}: several 2-D float tensors ({}); choose one with --tensor NAME",
                    files::input_name(path),
                    many.join(", ")
                ),
            }
        }
    };
    let t = st
        .tensor(&name)
        .map_err(|e| anyhow::anyhow!("{}: tensor '{name}': {e}", files::input_name(path)))?;
    if !is_matrix(t.dtype(), t.shape()) {
        bail!(
            "{}: expected tensor '{name}' to be a 2-D float tensor (F32, F64, F16 or BF16) [items, dim], found {:?} {:?}",
            files::input_name(path),
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

/// The first bytes of every .npy file.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

fn read_text(path: &Path, what: &str) -> Result<String> {
    text_of(path, files::read_input(path, what)?)
}

fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        anyhow::anyhow!(
            "{}: expected UTF-8 text, found an invalid byte on line {line}",
            files::input_name(path)
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

pub(crate) fn read_ids(path: &Path) -> Result<Vec<String>> {
    let text = read_text(path, "ids")?;
    let ids = lines(&text);
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() {
            bail!(
                "{} line {}: expected an item id, found an empty line",
                files::input_name(path),
                i + 1
            );
        }
        if let Some(first) = seen.insert(id, i) {
            bail!(
                "{} line {}: id '{id}' already appeared on line {}; ids must be unique",
                files::input_name(path),
                i + 1,
                first + 1
            );
        }
    }
    if ids.is_empty() {
        bail!(
            "{}: expected one item id per line, found no ids",
            files::input_name(path)
        );
    }
    Ok(ids.into_iter().map(str::to_owned).collect())
}

pub(crate) fn read_popularity(path: &Path, n: usize) -> Result<Vec<f32>> {
    let bytes = files::read_input(path, "popularity")?;
    let is_npy = if files::is_stdio(path) {
        bytes.starts_with(NPY_MAGIC)
    } else {
        extension(path) == "npy"
    };
    let values: Vec<f64> = if is_npy {
        let (shape, values, _) = read_npy(path, &bytes, "a 1-D numeric array [items]")?;
        if !(shape.len() == 1 || (shape.len() == 2 && shape[1] == 1)) {
            bail!(
                "{}: expected a 1-D numeric array [items], found shape {shape:?}",
                files::input_name(path)
            );
        }
        values
    } else {
        let text = text_of(path, bytes)?;
        lines(&text)
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.trim().parse::<f64>().map_err(|_| {
                    anyhow::anyhow!(
                        "{} line {}: expected a number, found '{l}'",
                        files::input_name(path),
                        i + 1
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    if values.len() != n {
        bail!(
            "{}: expected {n} popularity values (one per id), found {}",
            files::input_name(path),
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
            files::input_name(path),
            i,
            i + 1
        );
    }
    Ok(values.into_iter().map(|v| v as f32).collect())
}

pub(crate) struct Catalog {
    pub categories: Option<CategoryParts>,
    pub prices: Option<Vec<Option<f32>>>,
}

pub(crate) fn read_catalog(
    path: &Path,
    index: &HashMap<&str, usize>,
    progress: &Progress,
) -> Result<Catalog> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(files::open_input(path, "catalog")?);
    let header = reader
        .headers()
        .with_context(|| format!("{}: cannot read the CSV header", files::input_name(path)))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(id_col) = col("id") else {
        bail!(
            "{}: expected a header naming an 'id' column (and optionally 'category', 'price'), found: {}",
            files::input_name(path),
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
        let record = record.with_context(|| {
            format!("{} line {line}: malformed CSV row", files::input_name(path))
        })?;
        let id = record.get(id_col).unwrap_or("");
        let Some(&row) = index.get(id) else {
            unknown += 1;
            continue;
        };
        if !seen.insert(row) {
            bail!(
                "{} line {line}: id '{id}' appears twice in the catalog",
                files::input_name(path)
            );
        }
        if let Some(c) = cat_col
            .and_then(|c| record.get(c))
            .filter(|c| !c.is_empty())
        {
            if c.contains('\n') {
                bail!(
                    "{} line {line}: a category name cannot contain a newline",
                    files::input_name(path)
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
                    files::input_name(path)
                ),
            }
        }
    }
    if unknown > 0 {
        progress.println(format!(
            "note: {}: {unknown} rows name ids that are not in --ids; they were ignored",
            files::input_name(path)
        ));
    }
    Ok(Catalog {
        categories: cat_col.map(|_| CategoryParts {
            names,
            item: item_cat,
        }),
        prices: price_col.map(|_| prices),
    })
}
