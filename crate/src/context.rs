//! Context signals: what the page knows about the visit (hour, weekday, device class, locale,
//! country, channel or referrer, weather, custom keys) turned into named features such as
//! `hour=13`, `device=mobile` or `custom:segment=vip`.
//!
//! The features change scores only through the bundle's context weights (`ctx_weights`, one row
//! per feature named in `ctx.features`, one column per category): an item of category `c` gets
//! `Σ_f ctx_weights[f, c]` over the request's features that the bundle names. Features the bundle
//! does not name, and every feature when the bundle has no context weights or no categories, change
//! nothing. Unknown keys are ignored (and reported); malformed values are errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::bundle::Bundle;
use crate::error::RequestError;
use crate::numfmt::Num;

/// Device classes accepted for `device`.
pub const DEVICES: [&str; 5] = ["mobile", "tablet", "desktop", "tv", "other"];
/// Longest token accepted for `channel`, `weather`, custom keys and custom values.
pub const MAX_TOKEN_CHARS: usize = 64;

/// The context the page passes with a request, before validation: a JSON object whose known keys
/// are `hour`, `weekday`, `device`, `locale`, `country`, `channel`, `referrer`, `weather` and
/// `custom` (an object of string keys). `null` means absent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct ContextInput(pub BTreeMap<String, Value>);

impl ContextInput {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one key (builder style), e.g. `ContextInput::new().with("hour", 13)`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// Checks every known key and turns the context into features. Unknown keys are left out and
    /// listed in [`ValidContext::ignored_keys`].
    pub fn validate(&self) -> Result<ValidContext, RequestError> {
        let mut features = Vec::new();
        let mut ignored = Vec::new();
        let mut country = None;
        let mut channel = None;
        let mut derived_channel = None;
        for (key, value) in &self.0 {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "hour" => features.push(format!("hour={}", whole(key, value, 0, 23)?)),
                "weekday" => features.push(format!("weekday={}", weekday(value)?)),
                "device" => {
                    let d = lower_str(key, value)?;
                    if !DEVICES.contains(&d.as_str()) {
                        return Err(bad(
                            key,
                            format!("expected one of {}, got '{d}'", DEVICES.join(", ")),
                        ));
                    }
                    features.push(format!("device={d}"));
                }
                "locale" => {
                    let (locale, lang, region) = locale(value)?;
                    features.push(format!("locale={locale}"));
                    if locale != lang {
                        features.push(format!("lang={lang}"));
                    }
                    if let Some(r) = region {
                        country.get_or_insert(r);
                    }
                }
                "country" => {
                    let c = str_value(key, value)?;
                    if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                        return Err(bad(
                            key,
                            format!("expected a two-letter country code, got '{c}'"),
                        ));
                    }
                    // An explicit country wins over the locale's region.
                    country = Some(c.to_ascii_uppercase());
                }
                "channel" => channel = Some(token(key, value)?.to_ascii_lowercase()),
                "referrer" => {
                    let (host, class) = referrer(value)?;
                    if let Some(h) = host {
                        features.push(format!("referrer={h}"));
                    }
                    derived_channel = Some(class);
                }
                "weather" => features.push(format!(
                    "weather={}",
                    token(key, value)?.to_ascii_lowercase()
                )),
                "custom" => {
                    let Value::Object(map) = value else {
                        return Err(bad(key, "expected an object of string keys"));
                    };
                    for (k, v) in map {
                        if v.is_null() {
                            continue;
                        }
                        check_token("custom key", k)?;
                        let v = match v {
                            Value::String(s) => s.clone(),
                            // Whole numbers without a fraction, however they arrived (a JS
                            // number is always a float: `3` must name the same feature as
                            // JSON's `3`).
                            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                                (Some(i), _) => i.to_string(),
                                (_, Some(u)) => u.to_string(),
                                _ => Num(n.as_f64().unwrap_or(f64::NAN)).to_string(),
                            },
                            Value::Bool(b) => b.to_string(),
                            _ => {
                                return Err(bad(
                                    &format!("custom.{k}"),
                                    "expected a string, number or boolean",
                                ))
                            }
                        };
                        check_token(&format!("custom.{k}"), &v)?;
                        features.push(format!("custom:{k}={v}"));
                    }
                }
                _ => ignored.push(key.clone()),
            }
        }
        if let Some(c) = country {
            features.push(format!("country={c}"));
        }
        if let Some(c) = channel.or(derived_channel.map(str::to_owned)) {
            features.push(format!("channel={c}"));
        }
        Ok(ValidContext {
            features,
            ignored_keys: ignored,
        })
    }
}

/// A validated context: its features, and the keys that were ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidContext {
    /// Feature names (`hour=13`, `device=mobile`, …), unique: the input's keys in alphabetical
    /// order, then the derived `country` and `channel`.
    pub features: Vec<String>,
    /// Keys of the input this engine does not know (ignored).
    pub ignored_keys: Vec<String>,
}

/// What a validated context does to scores with a given bundle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextEffect {
    /// Additive score per category (`Σ_f ctx_weights[f, c]`); empty when the context changes nothing.
    pub category_bias: Vec<f32>,
    /// The features the bundle knows, with their row in `ctx_weights`.
    pub matched: Vec<(String, usize)>,
}

impl ValidContext {
    /// The features' effect on scores with `bundle`: empty when the bundle has no context weights,
    /// no categories, or names none of the features.
    pub fn effect(&self, bundle: &Bundle) -> ContextEffect {
        let Some(ctx) = bundle.ctx_weights() else {
            return ContextEffect::default();
        };
        if bundle.n_categories() == 0 || self.features.is_empty() {
            return ContextEffect::default();
        }
        let mut bias = vec![0.0f32; ctx.n_categories()];
        let mut matched = Vec::new();
        for f in &self.features {
            let Some(row_index) = ctx.features().iter().position(|x| x == f) else {
                continue;
            };
            if let Some(row) = ctx.row(row_index) {
                bias.iter_mut().zip(row).for_each(|(b, w)| *b += w);
                matched.push((f.clone(), row_index));
            }
        }
        if matched.is_empty() {
            return ContextEffect::default();
        }
        ContextEffect {
            category_bias: bias,
            matched,
        }
    }
}

impl ContextEffect {
    /// True when the context changes no score.
    pub fn is_empty(&self) -> bool {
        self.category_bias.is_empty()
    }

    /// The context's additive part of item `i`'s score (0 for items without a category).
    pub fn item_bias(&self, bundle: &Bundle, i: u32) -> f32 {
        if self.is_empty() {
            return 0.0;
        }
        bundle
            .category(i as usize)
            .and_then(|c| self.category_bias.get(c as usize))
            .copied()
            .unwrap_or(0.0)
    }

    /// Per matched feature, its weight for item `i`'s category (explanations).
    pub fn item_parts(&self, bundle: &Bundle, i: u32) -> Vec<(String, f32)> {
        let (Some(ctx), Some(cat)) = (bundle.ctx_weights(), bundle.category(i as usize)) else {
            return Vec::new();
        };
        self.matched
            .iter()
            .filter_map(|(f, row)| Some((f.clone(), ctx.get(*row, cat)?)))
            .filter(|(_, w)| *w != 0.0)
            .collect()
    }
}

fn bad(key: &str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidContext {
        key: key.to_owned(),
        why: why.into(),
    }
}

fn whole(key: &str, v: &Value, lo: i64, hi: i64) -> Result<i64, RequestError> {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x >= lo as f64 && x <= hi as f64 => Ok(x as i64),
        _ => Err(bad(
            key,
            format!(
                "expected a whole number from {lo} to {hi}, got {}",
                describe(v)
            ),
        )),
    }
}

/// A short description of a value for error messages (without a JSON serializer).
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| "a number".into(), |x| Num(x).to_string()),
        Value::String(s) => format!("'{s}'"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn str_value<'a>(key: &str, v: &'a Value) -> Result<&'a str, RequestError> {
    v.as_str()
        .map(str::trim)
        .ok_or_else(|| bad(key, format!("expected a string, got {}", describe(v))))
}

fn lower_str(key: &str, v: &Value) -> Result<String, RequestError> {
    Ok(str_value(key, v)?.to_ascii_lowercase())
}

fn check_token(key: &str, t: &str) -> Result<(), RequestError> {
    let ok = !t.is_empty()
        && t.chars().count() <= MAX_TOKEN_CHARS
        && t.chars()
            .all(|c| c == ' ' || !(c.is_control() || c.is_whitespace() || c == '='))
        && !t.starts_with(' ')
        && !t.ends_with(' ');
    if ok {
        Ok(())
    } else {
        Err(bad(
            key,
            format!(
                "expected 1 to {MAX_TOKEN_CHARS} characters without '=', control characters or \
                 surrounding spaces, got {}",
                quoted(t)
            ),
        ))
    }
}

fn token<'a>(key: &str, v: &'a Value) -> Result<&'a str, RequestError> {
    let t = str_value(key, v)?;
    check_token(key, t)?;
    Ok(t)
}

/// 0 = Sunday … 6 = Saturday (as JavaScript's `Date.getDay()`), or an English day name or its
/// three-letter abbreviation.
fn weekday(v: &Value) -> Result<i64, RequestError> {
    const NAMES: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    if let Some(s) = v.as_str() {
        let s = s.trim().to_ascii_lowercase();
        if let Some(d) = NAMES
            .iter()
            .position(|n| *n == s || (s.len() == 3 && n.starts_with(&s)))
        {
            return Ok(d as i64);
        }
        return Err(bad(
            "weekday",
            format!("expected 0 (Sunday) to 6 (Saturday) or a day name, got '{s}'"),
        ));
    }
    whole("weekday", v, 0, 6)
}

/// `fr-FR`, `fr_fr`, `zh-Hant-TW`, `en` → (normalized locale, language, region).
fn locale(v: &Value) -> Result<(String, String, Option<String>), RequestError> {
    let raw = str_value("locale", v)?;
    let err = || {
        bad(
            "locale",
            format!("expected a language tag such as 'fr-FR' or 'en', got '{raw}'"),
        )
    };
    let mut parts = raw.split(['-', '_']);
    let lang = parts.next().unwrap_or("");
    if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(err());
    }
    let lang = lang.to_ascii_lowercase();
    let mut out = lang.clone();
    let mut region = None;
    for p in parts {
        let sub = if p.len() == 4 && p.chars().all(|c| c.is_ascii_alphabetic()) && region.is_none()
        {
            // Script: title case.
            // (No `&s[..1]`: a str slice brings core's panic message with `{:?}` of a char, and
            // with it Unicode tables, into the wasm.)
            let mut s = p.to_ascii_lowercase();
            if let Some(first) = s.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            s
        } else if (p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()))
            || (p.len() == 3 && p.chars().all(|c| c.is_ascii_digit()))
        {
            let r = p.to_ascii_uppercase();
            if p.len() == 2 {
                region.get_or_insert(r.clone());
            }
            r
        } else if (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()) {
            p.to_ascii_lowercase()
        } else {
            return Err(err());
        };
        out.push('-');
        out.push_str(&sub);
    }
    Ok((out, lang, region))
}
/// `s` in double quotes with quotes, backslashes and control characters escaped (what `{:?}`
/// shows for these strings, without the Unicode tables `Debug` pulls into the wasm).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A referrer URL or host (`document.referrer`) → (host without `www.`, channel class). An empty
/// referrer is a direct visit.
fn referrer(v: &Value) -> Result<(Option<String>, &'static str), RequestError> {
    let raw = str_value("referrer", v)?;
    if raw.is_empty() {
        return Ok((None, "direct"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) || raw.len() > 2048 {
        return Err(bad(
            "referrer",
            format!("expected a URL or host name, got {}", quoted(raw)),
        ));
    }
    // After "://" when there is one (a byte search: `split_once("://")` would bring core's
    // substring searcher and its str-slicing panic into the wasm).
    let rest = raw
        .as_bytes()
        .windows(3)
        .position(|w| w == b"://")
        .and_then(|i| raw.get(i + 3..))
        .unwrap_or(raw);
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("");
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(bad(
            "referrer",
            format!("expected a URL or host name, got {}", quoted(raw)),
        ));
    }
    let class = referrer_class(&host);
    Ok((Some(host), class))
}

/// The channel a referrer host implies: `email`, `search`, `social` or `referral` (checked in that
/// order, on the host's dot-separated labels: `mail.google.com` is email, `google.fr` search).
fn referrer_class(host: &str) -> &'static str {
    const EMAIL: [&str; 4] = ["mail", "outlook", "gmail", "webmail"];
    const SEARCH: [&str; 9] = [
        "google",
        "bing",
        "duckduckgo",
        "yahoo",
        "baidu",
        "yandex",
        "ecosia",
        "qwant",
        "startpage",
    ];
    const SOCIAL: [&str; 9] = [
        "facebook",
        "instagram",
        "twitter",
        "linkedin",
        "pinterest",
        "tiktok",
        "reddit",
        "youtube",
        "snapchat",
    ];
    let has = |names: &[&str]| host.split('.').any(|l| names.contains(&l));
    if has(&EMAIL) {
        "email"
    } else if has(&SEARCH) {
        "search"
    } else if has(&SOCIAL) || host == "t.co" || host == "x.com" || host.ends_with(".x.com") {
        "social"
    } else {
        "referral"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_shows_what_debug_shows() {
        for s in [
            "",
            "red shoes",
            "a\"b\\c",
            "tab\there\nnew\rline",
            "\u{1}\u{7f}\u{9f}",
            "é 😀",
        ] {
            assert_eq!(quoted(s), format!("{s:?}"));
        }
    }

    fn features(json: &str) -> Vec<String> {
        let input: ContextInput = serde_json::from_str(json).unwrap();
        let mut f = input.validate().unwrap().features;
        f.sort();
        f
    }

    fn error(json: &str) -> String {
        let input: ContextInput = serde_json::from_str(json).unwrap();
        input.validate().unwrap_err().to_string()
    }

    #[test]
    fn custom_numbers_name_the_same_feature_from_js_and_json() {
        // A JS number reaches the core as a float (web.rs): 3 must be `3`, as JSON's 3 is.
        for (x, want) in [
            (3.0, "custom:visits=3"),
            (2.5, "custom:visits=2.5"),
            (-0.125, "custom:visits=-0.125"),
        ] {
            let mut custom = serde_json::Map::new();
            custom.insert("visits".into(), Value::from(x));
            let input = ContextInput(
                [("custom".to_owned(), Value::Object(custom))]
                    .into_iter()
                    .collect(),
            );
            assert_eq!(input.validate().unwrap().features, [want]);
        }
    }

    #[test]
    fn every_key_becomes_a_feature() {
        assert_eq!(
            features(
                r#"{"hour":13,"weekday":"Mon","device":"Mobile","locale":"fr_fr","channel":"Email",
                    "weather":"rain","custom":{"segment":"vip","visits":3,"member":true,"gone":null}}"#
            ),
            [
                "channel=email",
                "country=FR",
                "custom:member=true",
                "custom:segment=vip",
                "custom:visits=3",
                "device=mobile",
                "hour=13",
                "lang=fr",
                "locale=fr-FR",
                "weather=rain",
                "weekday=1",
            ]
        );
        assert_eq!(
            features(r#"{"locale":"zh-hant-tw","country":"sg"}"#),
            ["country=SG", "lang=zh", "locale=zh-Hant-TW"]
        );
        assert_eq!(features(r#"{"locale":"en"}"#), ["locale=en"]);
        assert_eq!(features(r#"{"weekday":0}"#), ["weekday=0"]);
        assert_eq!(features(r#"{"hour":null}"#), Vec::<String>::new());
    }

    #[test]
    fn referrer_implies_a_channel_unless_one_is_given() {
        assert_eq!(
            features(r#"{"referrer":"https://www.google.fr/search?q=x"}"#),
            ["channel=search", "referrer=google.fr"]
        );
        assert_eq!(
            features(r#"{"referrer":"https://t.co/abc"}"#),
            ["channel=social", "referrer=t.co"]
        );
        assert_eq!(
            features(r#"{"referrer":"https://blog.example.com:8080/post"}"#),
            ["channel=referral", "referrer=blog.example.com"]
        );
        assert_eq!(features(r#"{"referrer":""}"#), ["channel=direct"]);
        assert_eq!(
            features(r#"{"referrer":"mail.yahoo.com","channel":"newsletter"}"#),
            ["channel=newsletter", "referrer=mail.yahoo.com"]
        );
        assert_eq!(referrer_class("mail.yahoo.com"), "email");
        assert_eq!(referrer_class("l.facebook.com"), "social");
        assert_eq!(referrer_class("x.com"), "social");
        assert_eq!(referrer_class("max.com"), "referral");
    }

    #[test]
    fn unknown_keys_are_ignored_and_listed() {
        let input: ContextInput =
            serde_json::from_str(r#"{"hour":1,"mood":"happy","temperature":20}"#).unwrap();
        let v = input.validate().unwrap();
        assert_eq!(v.features, ["hour=1"]);
        assert_eq!(v.ignored_keys, ["mood", "temperature"]);
    }

    #[test]
    fn malformed_values_are_errors() {
        for (json, needle) in [
            (r#"{"hour":25}"#, "'hour'"),
            (r#"{"hour":-1}"#, "'hour'"),
            (r#"{"hour":1.5}"#, "'hour'"),
            (r#"{"hour":"13"}"#, "'hour'"),
            (r#"{"weekday":"x"}"#, "'weekday'"),
            (r#"{"weekday":7}"#, "'weekday'"),
            (r#"{"device":"toaster"}"#, "'device'"),
            (r#"{"device":3}"#, "'device'"),
            (r#"{"locale":"french"}"#, "'locale'"),
            (r#"{"locale":"fr-FR!"}"#, "'locale'"),
            (r#"{"country":"FRA"}"#, "'country'"),
            (r#"{"channel":""}"#, "'channel'"),
            (r#"{"channel":"a=b"}"#, "'channel'"),
            (r#"{"weather":"x\ny"}"#, "'weather'"),
            (r#"{"referrer":"not a url"}"#, "'referrer'"),
            (r#"{"custom":"vip"}"#, "'custom'"),
            (r#"{"custom":{"a=b":"c"}}"#, "'custom key'"),
            (r#"{"custom":{"tags":["a"]}}"#, "'custom.tags'"),
        ] {
            let e = error(json);
            assert!(e.contains(needle), "{json}: {e}");
            assert!(e.starts_with("invalid context"), "{e}");
        }
    }
}
