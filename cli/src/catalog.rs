//! The catalog format (`docs/catalog.md`): one record per product, as JSON Lines or CSV, read by
//! `vitrine train --catalog` and `vitrine catalog update` (not `pack`, whose `--catalog` is a CSV of
//! id, category and price: `pack_inputs`), stored in the
//! bundle (the `catalog` tensor, covered by its digest) and read from there by `<vitrine-shelf>`.
//!
//! | field | JSON Lines | CSV column | |
//! | --- | --- | --- | --- |
//! | `id` | string or number | `id` | required, unique |
//! | `title` | string | `title` | |
//! | `category` | `"A > B > C"` or `["A", "B", "C"]` | `category` (`A > B > C`) | a path, broadest first |
//! | `brand` | string | `brand` | |
//! | `price`, `sale_price` | number ≥ 0 (or a numeric string) | | |
//! | `currency` | ISO 4217 code | | |
//! | `image`, `url` | string | | |
//! | `availability` | `in_stock`, `out_of_stock`, `preorder`, `backorder` | | default `in_stock` |
//! | `badges` | array of strings | `badges` (`|`-separated) | |
//! | `attributes` | object of strings, numbers, booleans | `attr.NAME` columns | free attributes |
//!
//! Every bad row is an error naming its line (all of them are collected, up to [`MAX_ERRORS`]);
//! a repeated id is an error naming both lines; unknown fields or columns are reported as
//! warnings and ignored. Empty values mean "absent".

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

/// Errors listed before the reader gives up on a file.
pub const MAX_ERRORS: usize = 20;
/// Longest value of any text field, in bytes.
pub const MAX_TEXT: usize = 2048;

/// Whether a product may be recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Availability {
    #[default]
    InStock,
    OutOfStock,
    Preorder,
    Backorder,
}

impl Availability {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in_stock" => Self::InStock,
            "out_of_stock" => Self::OutOfStock,
            "preorder" => Self::Preorder,
            "backorder" => Self::Backorder,
            _ => return None,
        })
    }

    /// The format's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InStock => "in_stock",
            Self::OutOfStock => "out_of_stock",
            Self::Preorder => "preorder",
            Self::Backorder => "backorder",
        }
    }

    /// Whether the engine may recommend it (everything but `out_of_stock`).
    pub fn recommendable(self) -> bool {
        self != Self::OutOfStock
    }
}

/// One product.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Product {
    pub id: String,
    pub title: Option<String>,
    /// Category path, broadest first (trimmed, non-empty steps).
    pub category: Vec<String>,
    pub brand: Option<String>,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub sale_price: Option<f64>,
    pub image: Option<String>,
    pub url: Option<String>,
    pub availability: Availability,
    pub badges: Vec<String>,
    pub attributes: BTreeMap<String, String>,
}

impl Product {
    /// The price a shopper pays: the sale price when below the regular one.
    pub fn effective_price(&self) -> Option<f64> {
        match (self.price, self.sale_price) {
            (Some(p), Some(s)) if s < p => Some(s),
            (None, Some(s)) => Some(s),
            (p, _) => p,
        }
    }

    /// The record as the bundle's `catalog` tensor stores it (one JSON object, the format's field
    /// names, absent fields left out, the category as a `" > "`-joined path).
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), self.id.clone().into());
        let mut text = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                o.insert(k.into(), v.clone().into());
            }
        };
        text("title", &self.title);
        text("brand", &self.brand);
        text("currency", &self.currency);
        text("image", &self.image);
        text("url", &self.url);
        if !self.category.is_empty() {
            o.insert("category".into(), self.category.join(" > ").into());
        }
        for (k, v) in [("price", self.price), ("sale_price", self.sale_price)] {
            if let Some(x) = v.and_then(serde_json::Number::from_f64) {
                o.insert(k.into(), Value::Number(x));
            }
        }
        if self.availability != Availability::InStock {
            o.insert("availability".into(), self.availability.as_str().into());
        }
        if !self.badges.is_empty() {
            o.insert("badges".into(), self.badges.clone().into());
        }
        if !self.attributes.is_empty() {
            let a: Map<String, Value> = self
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            o.insert("attributes".into(), Value::Object(a));
        }
        Value::Object(o)
    }
}

/// A catalog read from a file: products in file order, and what was ignored.
#[derive(Debug, Default)]
pub struct Catalog {
    pub products: Vec<Product>,
    /// Fields (JSON Lines) or columns (CSV) the format does not know, with how many rows had them.
    pub unknown_fields: BTreeMap<String, usize>,
}

impl Catalog {
    /// Row of each product id.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect()
    }

    /// Warnings for the unknown fields (one line each).
    pub fn warnings(&self, name: &str) -> Vec<String> {
        self.unknown_fields
            .iter()
            .map(|(f, n)| {
                format!("{name}: unknown field '{f}' ignored ({n} rows; free attributes go under 'attributes' / 'attr.NAME')")
            })
            .collect()
    }

    /// The products as JSON Lines (the bundle's `catalog` tensor).
    pub fn to_jsonl<'a>(products: impl IntoIterator<Item = &'a Product>) -> Vec<u8> {
        let mut out = Vec::new();
        for p in products {
            if !out.is_empty() {
                out.push(b'\n');
            }
            out.extend_from_slice(p.to_json().to_string().as_bytes());
        }
        out
    }
}

/// The catalog file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogFormat {
    Jsonl,
    Csv,
}

impl CatalogFormat {
    /// By extension: `.jsonl`, `.ndjson`, `.json` → JSON Lines, else CSV.
    pub fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => Self::Jsonl,
            _ => Self::Csv,
        }
    }
}

/// Reads a catalog file (format by extension).
pub fn read(path: &Path) -> Result<Catalog> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open catalog {}", path.display()))?;
    let name = path.display().to_string();
    match CatalogFormat::from_path(path) {
        CatalogFormat::Jsonl => read_jsonl(file, &name),
        CatalogFormat::Csv => read_csv(file, &name),
    }
}

/// Collects row errors and checks ids for repeats.
struct Collector<'a> {
    name: &'a str,
    errors: Vec<String>,
    more: usize,
    seen: HashMap<String, usize>,
    catalog: Catalog,
}

impl<'a> Collector<'a> {
    fn new(name: &'a str) -> Self {
        Self {
            name,
            errors: Vec::new(),
            more: 0,
            seen: HashMap::new(),
            catalog: Catalog::default(),
        }
    }

    fn error(&mut self, line: usize, why: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(format!("{}:{line}: {why}", self.name));
        } else {
            self.more += 1;
        }
    }

    fn row(&mut self, line: usize, row: Result<Product, String>) {
        match row {
            Err(why) => self.error(line, why),
            Ok(p) => match self.seen.get(&p.id) {
                Some(&first) => {
                    let why = format!("id '{}' repeats the product of line {first}", p.id);
                    self.error(line, why)
                }
                None => {
                    self.seen.insert(p.id.clone(), line);
                    self.catalog.products.push(p);
                }
            },
        }
    }

    fn finish(self) -> Result<Catalog> {
        if !self.errors.is_empty() {
            let more = if self.more > 0 {
                format!("\n… and {} more", self.more)
            } else {
                String::new()
            };
            bail!(
                "the catalog has {} bad rows:\n{}{more}",
                self.errors.len() + self.more,
                self.errors.join("\n")
            );
        }
        if self.catalog.products.is_empty() {
            bail!("{}: the catalog has no products", self.name);
        }
        Ok(self.catalog)
    }
}

fn text(v: &str, field: &str) -> Result<Option<String>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() > MAX_TEXT {
        return Err(format!("{field} is longer than {MAX_TEXT} bytes"));
    }
    Ok(Some(v.to_owned()))
}

fn amount(v: &str, field: &str) -> Result<Option<f64>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
        _ => Err(format!("{field} '{v}' is not a number ≥ 0")),
    }
}

/// Checks and completes one product from its fields as text.
fn product(
    fields: &BTreeMap<&str, String>,
    attributes: BTreeMap<String, String>,
    badges: Vec<String>,
    category: Vec<String>,
) -> Result<Product, String> {
    let get = |k: &str| fields.get(k).map_or("", String::as_str);
    let id = get("id").trim();
    if id.is_empty() {
        return Err("the id is empty or missing".into());
    }
    if id.contains('\n') || id.len() > MAX_TEXT {
        return Err(format!(
            "id '{}' has a newline or is too long",
            id.chars().take(40).collect::<String>()
        ));
    }
    let currency = match text(get("currency"), "currency")? {
        Some(c) => {
            let c = c.to_ascii_uppercase();
            if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "currency '{c}' is not an ISO 4217 code (three letters)"
                ));
            }
            Some(c)
        }
        None => None,
    };
    let availability = match get("availability").trim() {
        "" => Availability::InStock,
        a => Availability::parse(a).ok_or_else(|| {
            format!("availability '{a}' is not one of in_stock, out_of_stock, preorder, backorder")
        })?,
    };
    if let Some(step) = category.iter().find(|s| s.len() > MAX_TEXT) {
        return Err(format!(
            "category step '{}…' is too long",
            step.chars().take(40).collect::<String>()
        ));
    }
    Ok(Product {
        id: id.to_owned(),
        title: text(get("title"), "title")?,
        category,
        brand: text(get("brand"), "brand")?,
        price: amount(get("price"), "price")?,
        currency,
        sale_price: amount(get("sale_price"), "sale_price")?,
        image: text(get("image"), "image")?,
        url: text(get("url"), "url")?,
        availability,
        badges,
        attributes,
    })
}

/// The text fields of the format (besides `category`, `badges`, `attributes`).
const TEXT_FIELDS: [&str; 9] = [
    "id",
    "title",
    "brand",
    "price",
    "currency",
    "sale_price",
    "image",
    "url",
    "availability",
];

fn path_of(s: &str) -> Vec<String> {
    s.split('>')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// JSON Lines: one object per line; blank lines are skipped.
pub fn read_jsonl<R: Read>(reader: R, name: &str) -> Result<Catalog> {
    let mut c = Collector::new(name);
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line_no = i + 1;
        let line = line.with_context(|| format!("{name}:{line_no}: cannot read the line"))?;
        if line.trim().is_empty() {
            continue;
        }
        let row = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(o)) => jsonl_product(o, &mut c.catalog.unknown_fields),
            Ok(_) => Err("expected a JSON object".into()),
            Err(e) => Err(format!("not JSON ({e})")),
        };
        c.row(line_no, row);
    }
    c.finish()
}

fn scalar_text(v: &Value, field: &str) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("{field} must be a string or a number")),
    }
}

fn jsonl_product(
    o: Map<String, Value>,
    unknown: &mut BTreeMap<String, usize>,
) -> Result<Product, String> {
    let mut fields: BTreeMap<&str, String> = BTreeMap::new();
    let (mut category, mut badges, mut attributes) = (Vec::new(), Vec::new(), BTreeMap::new());
    for (k, v) in &o {
        if let Some(&f) = TEXT_FIELDS.iter().find(|f| **f == k) {
            fields.insert(f, scalar_text(v, f)?);
            continue;
        }
        match (k.as_str(), v) {
            (_, Value::Null) => {}
            ("category", Value::String(s)) => category = path_of(s),
            ("category", Value::Array(a)) => {
                for step in a {
                    match step {
                        Value::String(s) if !s.trim().is_empty() => {
                            category.push(s.trim().to_owned())
                        }
                        _ => return Err("category steps must be non-empty strings".into()),
                    }
                }
            }
            ("category", _) => {
                return Err("category must be a path string or an array of strings".into())
            }
            ("badges", Value::Array(a)) => {
                for b in a {
                    match b {
                        Value::String(s) if !s.trim().is_empty() => {
                            badges.push(s.trim().to_owned())
                        }
                        _ => return Err("badges must be non-empty strings".into()),
                    }
                }
            }
            ("badges", _) => return Err("badges must be an array of strings".into()),
            ("attributes", Value::Object(a)) => {
                for (name, value) in a {
                    let v = scalar_text(value, &format!("attributes.{name}"))?;
                    if !v.trim().is_empty() {
                        attributes.insert(name.trim().to_owned(), v.trim().to_owned());
                    }
                }
            }
            ("attributes", _) => return Err("attributes must be an object".into()),
            (other, _) => *unknown.entry(other.to_owned()).or_default() += 1,
        }
    }
    product(&fields, attributes, badges, category)
}

/// CSV with a header naming `id` and any of the format's columns (`attr.NAME` for attributes).
pub fn read_csv<R: Read>(reader: R, name: &str) -> Result<Catalog> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .headers()
        .with_context(|| format!("{name}:1: cannot read the header line"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if !headers.iter().any(|h| h == "id") {
        bail!(
            "{name}:1: the header must name an 'id' column (found: {})",
            headers.join(",")
        );
    }
    let mut c = Collector::new(name);
    for h in &headers {
        let known = TEXT_FIELDS.contains(&h.as_str())
            || h == "category"
            || h == "badges"
            || (h.starts_with("attr.") && h.len() > 5);
        if !known {
            c.catalog.unknown_fields.insert(h.clone(), 0);
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        let more = match rdr.read_record(&mut record) {
            Ok(m) => m,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                c.error(line, format!("malformed CSV ({e})"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) || c.errors.len() >= MAX_ERRORS {
                    break;
                }
                continue;
            }
        };
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let mut fields: BTreeMap<&str, String> = BTreeMap::new();
        let (mut category, mut badges, mut attributes) = (Vec::new(), Vec::new(), BTreeMap::new());
        for (h, v) in headers.iter().zip(record.iter()) {
            if let Some(&f) = TEXT_FIELDS.iter().find(|f| **f == h.as_str()) {
                fields.insert(f, v.to_owned());
            } else if h == "category" {
                category = path_of(v);
            } else if h == "badges" {
                badges = v
                    .split('|')
                    .map(str::trim)
                    .filter(|b| !b.is_empty())
                    .map(str::to_owned)
                    .collect();
            } else if let Some(a) = h.strip_prefix("attr.") {
                if !v.trim().is_empty() && !a.is_empty() {
                    attributes.insert(a.to_owned(), v.trim().to_owned());
                }
            } else if !v.trim().is_empty() {
                if let Some(n) = c.catalog.unknown_fields.get_mut(h) {
                    *n += 1;
                }
            }
        }
        let row = product(&fields, attributes, badges, category);
        c.row(line, row);
    }
    c.catalog.unknown_fields.retain(|_, n| *n > 0);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_reads_every_field() {
        let text = r#"{"id":"p1","title":"Red shoe","category":"Shoes > Running","brand":"Acme","price":"59.5","currency":"eur","sale_price":49,"image":"/i/1.jpg","url":"/p/1","availability":"preorder","badges":["New"],"attributes":{"color":"red","size":42}}

{"id":2,"category":["Home","Kitchen"],"colour":"blue"}
"#;
        let c = read_jsonl(text.as_bytes(), "c.jsonl").unwrap();
        assert_eq!(c.products.len(), 2);
        let p = &c.products[0];
        assert_eq!(p.category, ["Shoes", "Running"]);
        assert_eq!(
            (p.price, p.sale_price, p.effective_price()),
            (Some(59.5), Some(49.0), Some(49.0))
        );
        assert_eq!(p.currency.as_deref(), Some("EUR"));
        assert_eq!(p.availability, Availability::Preorder);
        assert_eq!(p.attributes["size"], "42");
        assert_eq!(c.products[1].id, "2");
        assert_eq!(c.unknown_fields["colour"], 1);
        let json = p.to_json();
        assert_eq!(json["category"], "Shoes > Running");
        assert_eq!(json["availability"], "preorder");
    }

    #[test]
    fn bad_rows_are_errors_with_line_numbers() {
        let text = "{\"id\":\"a\"}\n{\"id\":\"b\",\"price\":-1}\nnot json\n{\"id\":\"a\"}\n{\"title\":\"x\"}\n{\"id\":\"c\",\"availability\":\"gone\"}\n";
        let e = read_jsonl(text.as_bytes(), "c.jsonl")
            .unwrap_err()
            .to_string();
        for want in [
            "c.jsonl:2: price '-1'",
            "c.jsonl:3: not JSON",
            "c.jsonl:4: id 'a' repeats the product of line 1",
            "c.jsonl:5: the id is empty",
            "c.jsonl:6: availability 'gone'",
            "5 bad rows",
        ] {
            assert!(e.contains(want), "{want} in {e}");
        }
    }

    #[test]
    fn csv_reads_paths_badges_attributes_and_reports_unknown_columns() {
        let text = "id,title,category,price,badges,attr.color,shelf\np1,Shoe,Shoes > Running,10,New|Sale,red,A3\np2,,,,,,\n";
        let c = read_csv(text.as_bytes(), "c.csv").unwrap();
        assert_eq!(c.products[0].badges, ["New", "Sale"]);
        assert_eq!(c.products[0].attributes["color"], "red");
        assert_eq!(c.products[1].title, None);
        assert_eq!(c.unknown_fields["shelf"], 1);
        assert!(c.warnings("c.csv")[0].contains("'shelf'"));
        let e = read_csv("title\nx\n".as_bytes(), "c.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.csv:1:") && e.contains("'id'"), "{e}");
        let e = read_csv("id,price\na,1\nb,x\na,2\n".as_bytes(), "c.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.csv:3: price 'x'") && e.contains("c.csv:4: id 'a' repeats"),
            "{e}"
        );
    }
}
