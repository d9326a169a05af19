//! The content tower: maps a product's catalog attributes to the collaborative model's embedding
//! space, so a product without interactions gets a useful vector and a sparse one blends the two.
//!
//! A product's features are keys: each step of its category path (`c:home`, `c:home>kitchen`),
//! its brand (`b:acme`), a price bucket (`p:7`, half-octaves of the effective price), the words of
//! its title (`t:shoe`) and its free attributes (`a:color=red`). Only keys shared by at least
//! [`MIN_SUPPORT`] trained products are kept (public aggregates: a key never describes a single
//! product's interactions). The tower is an embedding bag: `t(p) = Σ_{f ∈ p} W_f`, fitted so that
//! its direction matches each trained product's (unit) collaborative vector — weighted by
//! `count / (count + 5)`, the cosine loss, Adam — on 90 % of the products; the other 10 % measure
//! `ρ`, the mean cosine between a product's tower direction and its collaborative vector. Then the
//! tower is fitted again on all of them.
//!
//! A new product's vector is `s · t̂(p)`, with `s` (`content.cold_scale`) chosen by a cold-start
//! simulation on the validation split (`cold_scale.rs`; ρ, the least-squares estimate, when there
//! is none); a trained product with `c` interactions gets `α · e + (1 − α) · s · t̂(p)` with
//! `α = c / (c + τ)`.
//!
//! In the bundle (native tools' tensors, skipped by the engine): `content_keys` (U8, keys joined
//! by `\n`), `content_emb` (I8 `[F, d]`) and `content_scale` (F32 `[F]`), symmetric per-row int8
//! like `item_emb`; metadata `content.rho`, `content.blend`, `content.cold_scale`.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use vitrine::bundle::{quantize_rows, Bundle, ExtraDtype, ExtraTensor};

use crate::catalog::Product;

/// Trained products a key must appear in to be kept.
pub const MIN_SUPPORT: usize = 2;
/// Tensor names.
pub const KEYS: &str = "content_keys";
pub const EMB: &str = "content_emb";
pub const SCALE: &str = "content_scale";
/// Metadata keys.
pub const RHO_KEY: &str = "content.rho";
pub const BLEND_KEY: &str = "content.blend";
pub const COLD_SCALE_KEY: &str = "content.cold_scale";

/// A fitted tower.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentTower {
    pub dim: usize,
    pub keys: Vec<String>,
    index: HashMap<String, usize>,
    /// Row-major `[keys, dim]`.
    pub weights: Vec<f32>,
    /// Mean cosine between the tower's direction and held-out products' collaborative vectors.
    pub rho: f32,
    /// τ of the blend for trained products (`α = c / (c + τ)`; 0: no blend).
    pub blend: f32,
    /// The length of a new product's vector (`cold_scale · t̂`): chosen by `vitrine train` on a
    /// cold-start simulation (`cold_scale.rs`); ρ until then.
    pub cold_scale: f32,
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
}

/// The feature keys of a product (deduplicated, sorted).
pub fn features(p: &Product) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = String::new();
    for step in &p.category {
        if !path.is_empty() {
            path.push('>');
        }
        path.push_str(&step.to_lowercase());
        out.push(format!("c:{path}"));
    }
    if let Some(b) = &p.brand {
        out.push(format!("b:{}", b.to_lowercase()));
    }
    if let Some(price) = p.effective_price() {
        out.push(format!("p:{}", (2.0 * (1.0 + price).log2()).floor() as i64));
    }
    if let Some(t) = &p.title {
        out.extend(words(t).map(|w| format!("t:{w}")));
    }
    for (k, v) in &p.attributes {
        out.push(format!("a:{}={}", k.to_lowercase(), v.to_lowercase()));
    }
    out.retain(|k| !k.contains('\n'));
    out.sort();
    out.dedup();
    out
}

/// One training example: feature rows, the unit collaborative vector, the example's weight.
struct Example<'a> {
    feats: Vec<usize>,
    target: &'a [f32],
    weight: f32,
}

impl ContentTower {
    /// Fits the tower on `products` whose collaborative vector is known: `trained[i] = Some((unit
    /// vector, interaction count))` for product `i`. `None` when no key has enough support.
    pub fn fit(
        products: &[Product],
        trained: &[Option<(&[f32], f32)>],
        dim: usize,
        blend: f32,
        seed: u64,
    ) -> Option<Self> {
        let feats: Vec<Vec<String>> = products.iter().map(features).collect();
        let mut support: BTreeMap<&str, usize> = BTreeMap::new();
        for (f, t) in feats.iter().zip(trained) {
            if t.is_some() {
                for k in f {
                    *support.entry(k).or_default() += 1;
                }
            }
        }
        let keys: Vec<String> = support
            .into_iter()
            .filter(|(_, n)| *n >= MIN_SUPPORT)
            .map(|(k, _)| k.to_owned())
            .collect();
        if keys.is_empty() {
            return None;
        }
        let index: HashMap<String, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let examples: Vec<Example<'_>> = feats
            .iter()
            .zip(trained)
            .filter_map(|(f, t)| {
                let (target, count) = (*t)?;
                let feats: Vec<usize> = f.iter().filter_map(|k| index.get(k).copied()).collect();
                (!feats.is_empty()).then_some(Example {
                    feats,
                    target,
                    weight: count / (count + 5.0),
                })
            })
            .collect();
        if examples.is_empty() {
            return None;
        }
        // ρ on a held-out tenth of the products, then the tower on all of them.
        let mut rng = SmallRng::seed_from_u64(seed);
        let held: Vec<bool> = (0..examples.len())
            .map(|_| rng.random::<f32>() < 0.1)
            .collect();
        let mut tower = Self {
            dim,
            keys,
            index,
            weights: Vec::new(),
            rho: 1.0,
            blend,
            cold_scale: 1.0,
        };
        let fit_part: Vec<&Example<'_>> = examples
            .iter()
            .zip(&held)
            .filter(|(_, h)| !**h)
            .map(|(e, _)| e)
            .collect();
        tower.weights = fit_weights(&fit_part, tower.keys.len(), dim, seed);
        let (mut sum, mut n) = (0f64, 0usize);
        for (e, _) in examples.iter().zip(&held).filter(|(_, h)| **h) {
            if let Some(u) = tower.direction(&e.feats) {
                sum += f64::from(dot(&u, e.target));
                n += 1;
            }
        }
        let rho = if n > 0 { (sum / n as f64) as f32 } else { 0.0 };
        tower.rho = rho.clamp(0.0, 1.0);
        tower.cold_scale = tower.rho;
        let all: Vec<&Example<'_>> = examples.iter().collect();
        tower.weights = fit_weights(&all, tower.keys.len(), dim, seed);
        Some(tower)
    }

    /// The unit direction of a product's known features, `None` when it has none.
    fn direction(&self, feats: &[usize]) -> Option<Vec<f32>> {
        let d = self.dim;
        let mut u = vec![0f32; d];
        for &f in feats {
            for (a, w) in u.iter_mut().zip(&self.weights[f * d..(f + 1) * d]) {
                *a += w;
            }
        }
        let n = dot(&u, &u).sqrt();
        (n > 1e-12 && n.is_finite()).then(|| u.iter().map(|x| x / n).collect())
    }

    /// The keys of `p` the tower knows, as rows.
    fn known(&self, p: &Product) -> Vec<usize> {
        features(p)
            .iter()
            .filter_map(|k| self.index.get(k).copied())
            .collect()
    }

    /// A product's content vector `ρ · t̂(p)`, `None` when the tower knows none of its features.
    pub fn vector(&self, p: &Product) -> Option<Vec<f32>> {
        let u = self.direction(&self.known(p))?;
        Some(u.into_iter().map(|x| x * self.cold_scale).collect())
    }

    /// A trained product's vector blended with its content vector: `α e + (1 − α) ρ t̂` with
    /// `α = count / (count + τ)` (`e` itself when τ = 0 or the tower knows nothing of it).
    pub fn blended(&self, p: &Product, e: &[f32], count: f32) -> Vec<f32> {
        if self.blend <= 0.0 {
            return e.to_vec();
        }
        match self.vector(p) {
            None => e.to_vec(),
            Some(c) => {
                let a = count / (count + self.blend);
                e.iter()
                    .zip(&c)
                    .map(|(x, y)| a * x + (1.0 - a) * y)
                    .collect()
            }
        }
    }

    /// The bundle tensors and metadata holding the tower.
    pub fn to_parts(&self) -> (Vec<ExtraTensor>, BTreeMap<String, String>) {
        let (q, scales) = quantize_rows(&self.weights, self.dim);
        let keys = self.keys.join("\n").into_bytes();
        let tensors = vec![
            ExtraTensor {
                name: KEYS.into(),
                dtype: ExtraDtype::U8,
                shape: vec![keys.len()],
                data: keys,
            },
            ExtraTensor {
                name: EMB.into(),
                dtype: ExtraDtype::I8,
                shape: vec![self.keys.len(), self.dim],
                data: q.iter().map(|&x| x as u8).collect(),
            },
            ExtraTensor {
                name: SCALE.into(),
                dtype: ExtraDtype::F32,
                shape: vec![self.keys.len()],
                data: scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
            },
        ];
        let mut meta = BTreeMap::new();
        meta.insert(RHO_KEY.into(), format!("{}", self.rho));
        meta.insert(BLEND_KEY.into(), format!("{}", self.blend));
        meta.insert(COLD_SCALE_KEY.into(), format!("{}", self.cold_scale));
        (tensors, meta)
    }

    /// The tower a bundle holds (`Ok(None)` when it has none); every part is checked.
    pub fn from_bundle(bundle: &Bundle) -> Result<Option<Self>> {
        let tensor = |name: &str| {
            bundle
                .tensors()
                .iter()
                .find(|t| t.name == name)
                .map(|t| (t, &bundle.bytes()[t.offset..t.offset + t.bytes]))
        };
        let (Some((kt, kb)), Some((et, eb)), Some((st, sb))) =
            (tensor(KEYS), tensor(EMB), tensor(SCALE))
        else {
            if tensor(KEYS).is_some() || tensor(EMB).is_some() || tensor(SCALE).is_some() {
                bail!("the bundle's content tower is incomplete (content_keys, content_emb, content_scale)");
            }
            return Ok(None);
        };
        let keys: Vec<String> = std::str::from_utf8(kb)
            .map_err(|_| anyhow::anyhow!("content_keys is not UTF-8"))?
            .split('\n')
            .map(str::to_owned)
            .collect();
        let (f, d) = (keys.len(), bundle.dim());
        if kt.dtype != "U8"
            || et.dtype != "I8"
            || et.shape != [f, d]
            || st.dtype != "F32"
            || st.shape != [f]
        {
            bail!("the bundle's content tower has the wrong dtypes or shapes (expected U8, I8 [{f}, {d}], F32 [{f}])");
        }
        let scales: Vec<f32> = sb
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
            bail!("content_scale holds a value that is not finite and ≥ 0");
        }
        let weights: Vec<f32> = eb
            .iter()
            .enumerate()
            .map(|(i, &q)| f32::from(q as i8) * scales[i / d])
            .collect();
        let number = |key: &str| -> Result<f32> {
            let v = bundle.metadata().get(key).ok_or_else(|| {
                anyhow::anyhow!("the bundle's content tower lacks metadata '{key}'")
            })?;
            match v.parse::<f32>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                _ => bail!("metadata '{key}' = '{v}' is not a number ≥ 0"),
            }
        };
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        Ok(Some(Self {
            dim: d,
            index,
            keys,
            weights,
            rho: number(RHO_KEY)?.min(1.0),
            blend: number(BLEND_KEY)?,
            cold_scale: number(COLD_SCALE_KEY)?.min(4.0),
        }))
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fits the bag's rows: maximize Σ weight · cos(Σ W_f, target) (Adam, 40 epochs).
fn fit_weights(examples: &[&Example<'_>], n_keys: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0xc0ffee);
    let std = 0.1 / (d as f32).sqrt();
    let mut w: Vec<f32> = (0..n_keys * d)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * std)
        .collect();
    let (mut m, mut v) = (vec![0f32; w.len()], vec![0f32; w.len()]);
    let (lr, b1, b2, eps) = (0.01f32, 0.9f32, 0.999f32, 1e-8f32);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut t = 0i32;
    let mut u = vec![0f32; d];
    let mut g = vec![0f32; d];
    for _ in 0..40 {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for &k in &order {
            let e = examples[k];
            u.iter_mut().for_each(|x| *x = 0.0);
            for &f in &e.feats {
                for (a, x) in u.iter_mut().zip(&w[f * d..(f + 1) * d]) {
                    *a += x;
                }
            }
            let n = dot(&u, &u).sqrt().max(1e-12);
            let c = dot(&u, e.target) / n;
            // d(−cos)/du = −(target − cos · û) / ‖u‖, times the example's weight.
            for j in 0..d {
                g[j] = -e.weight * (e.target[j] - c * u[j] / n) / n;
            }
            t += 1;
            let bc1 = 1.0 - b1.powi(t.min(10_000));
            let bc2 = 1.0 - b2.powi(t.min(10_000));
            for &f in &e.feats {
                for (j, &gj) in g.iter().enumerate() {
                    let i = f * d + j;
                    m[i] = b1 * m[i] + (1.0 - b1) * gj;
                    v[i] = b2 * v[i] + (1.0 - b2) * gj * gj;
                    w[i] -= lr * (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
                }
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, cat: &[&str], title: &str) -> Product {
        Product {
            id: id.into(),
            title: Some(title.into()),
            category: cat.iter().map(|s| s.to_string()).collect(),
            price: Some(10.0),
            ..Default::default()
        }
    }

    #[test]
    fn features_cover_path_brand_price_words_attributes() {
        let mut p = product("x", &["Home", "Kitchen"], "Steel knife, 20cm");
        p.brand = Some("Acme".into());
        p.attributes.insert("Color".into(), "Red".into());
        let f = features(&p);
        for k in [
            "c:home",
            "c:home>kitchen",
            "b:acme",
            "p:6",
            "t:steel",
            "t:knife",
            "t:20cm",
            "a:color=red",
        ] {
            assert!(f.contains(&k.to_string()), "{k} in {f:?}");
        }
    }

    /// Two categories with opposite vectors: a new product of either gets a vector close to its
    /// category's, shrunk by ρ, and the tower survives the bundle round trip.
    #[test]
    fn a_new_product_lands_near_its_category() {
        let d = 4;
        let a = [1.0f32, 0.0, 0.0, 0.0];
        let b = [0.0f32, 1.0, 0.0, 0.0];
        let mut products = Vec::new();
        let mut trained = Vec::new();
        for i in 0..40 {
            let (cat, v) = if i % 2 == 0 {
                ("shoes", &a)
            } else {
                ("hats", &b)
            };
            products.push(product(&format!("p{i}"), &[cat], "item"));
            trained.push(Some((&v[..], 10.0f32)));
        }
        let tower = ContentTower::fit(&products, &trained, d, 2.0, 7).unwrap();
        assert!(tower.rho > 0.9, "ρ = {}", tower.rho);
        let v = tower
            .vector(&product("new", &["hats"], "new item"))
            .unwrap();
        assert!(v[1] > 0.85 && v[0].abs() < 0.2, "{v:?}");
        let odd = Product {
            price: None,
            ..product("odd", &["boots"], "zz")
        };
        assert!(tower.vector(&odd).is_none(), "no known feature, no vector");
        // A trained product with one interaction is a third its own vector (τ = 2).
        let e = [0.0f32, 0.0, 1.0, 0.0];
        let p1 = product("p1", &["hats"], "item");
        let bl = tower.blended(&p1, &e, 1.0);
        let c = tower.vector(&p1).unwrap();
        for j in 0..d {
            assert!(
                (bl[j] - (e[j] / 3.0 + 2.0 * c[j] / 3.0)).abs() < 1e-6,
                "{bl:?}"
            );
        }
        // Round trip through a bundle.
        let (extra, meta) = tower.to_parts();
        let parts = vitrine::BundleParts {
            ids: vec!["p0".into(), "p1".into()],
            dim: d,
            embeddings: vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            popularity: vec![1.0, 1.0],
            metadata: meta,
            extra,
            ..Default::default()
        };
        let bundle = Bundle::from_bytes(vitrine::bundle::write_bundle(&parts).unwrap()).unwrap();
        let back = ContentTower::from_bundle(&bundle).unwrap().unwrap();
        assert_eq!(back.keys, tower.keys);
        let w = back.vector(&product("new", &["hats"], "new item")).unwrap();
        assert!(dot(&v, &w) > 0.99 * dot(&v, &v), "{v:?} vs {w:?}");
    }
}
