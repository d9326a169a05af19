//! The safetensors header JSON, read by a parser for exactly its grammar: one object whose members
//! are `"__metadata__"` (an object of strings) or a tensor entry (`dtype`, `shape`, `data_offsets`;
//! other fields are skipped). It accepts and rejects the same texts as `serde_json` with the serde
//! derive this replaced (a differential test below checks that on mutated headers), and costs a
//! fraction of its wasm: no generic deserializer, no float parsing or formatting.
//!
//! Hostile input is normal input: nothing here indexes without a check, nothing recurses (unknown
//! fields' values are skipped with an explicit stack), and every error names the header byte
//! offset.

use crate::bundle::Metadata;

use super::{Entry, Header};

/// Parses the header text. The error is a message with the header byte offset.
pub(super) fn parse(text: &str) -> Result<Header, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let header = p
        .header()
        .map_err(|why| format!("{why} at header byte {}", p.i))?;
    Ok(header)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    /// The next non-whitespace byte (not consumed).
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.s.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    /// Consumes `c` (after whitespace) or fails naming it.
    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{}'", c as char)))
        }
    }

    fn unexpected(&mut self, expected: &str) -> String {
        match self.peek() {
            None => format!("unexpected end of header, expected {expected}"),
            Some(_) => format!("expected {expected}"),
        }
    }

    /// `{ member, … }` calling `member` for each key; handles the commas and the braces.
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, String) -> Result<(), String>,
    ) -> Result<(), String> {
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a string key"));
            }
            let key = self.string()?;
            self.eat(b':')?;
            member(self, key)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("',' or '}'")),
            }
        }
    }

    fn header(&mut self) -> Result<Header, String> {
        let mut metadata: Option<Metadata> = None;
        let mut entries = Vec::new();
        if self.peek() != Some(b'{') {
            return Err(self.unexpected("a JSON object of tensor entries and __metadata__"));
        }
        self.object(|p, key| {
            if key == "__metadata__" {
                if metadata.is_some() {
                    return Err("__metadata__ appears twice".into());
                }
                let mut map = Metadata::new();
                p.object(|p, k| {
                    if p.peek() != Some(b'"') {
                        return Err(format!("metadata value of '{k}' must be a string"));
                    }
                    let v = p.string()?;
                    map.insert(k, v);
                    Ok(())
                })?;
                metadata = Some(map);
            } else {
                entries.push(p.entry(key)?);
            }
            Ok(())
        })?;
        if self.peek().is_some() {
            return Err("trailing characters after the header object".into());
        }
        Ok(Header {
            metadata: metadata.unwrap_or_default(),
            entries,
        })
    }

    /// A tensor entry: `{"dtype": …, "shape": […], "data_offsets": [begin, end]}`, other fields
    /// skipped, each known field exactly once.
    fn entry(&mut self, name: String) -> Result<Entry, String> {
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        if self.peek() != Some(b'{') {
            return Err(self.unexpected(&format!("an object for tensor '{name}'")));
        }
        self.object(|p, field| {
            let twice = |f: &str| Err(format!("tensor '{name}': duplicate field `{f}`"));
            match field.as_str() {
                "dtype" if dtype.is_some() => return twice("dtype"),
                "shape" if shape.is_some() => return twice("shape"),
                "data_offsets" if offsets.is_some() => return twice("data_offsets"),
                "dtype" => {
                    if p.peek() != Some(b'"') {
                        return Err(format!("tensor '{name}': dtype must be a string"));
                    }
                    let d = p.string()?;
                    dtype = Some(
                        crate::bundle::dtype::parse(&d)
                            .ok_or_else(|| format!("tensor '{name}': unknown dtype '{d}'"))?,
                    );
                }
                "shape" => shape = Some(p.uints(&name, "shape")?),
                "data_offsets" => {
                    let v = p.uints(&name, "data_offsets")?;
                    match v[..] {
                        [b, e] => offsets = Some((b, e)),
                        _ => {
                            return Err(format!(
                                "tensor '{name}': data_offsets must hold 2 numbers, not {}",
                                v.len()
                            ))
                        }
                    }
                }
                _ => p.skip()?,
            }
            Ok(())
        })?;
        let missing = |f: &str| format!("tensor '{name}': missing field `{f}`");
        Ok(Entry {
            dtype: dtype.ok_or_else(|| missing("dtype"))?,
            shape: shape.ok_or_else(|| missing("shape"))?,
            offsets: offsets.ok_or_else(|| missing("data_offsets"))?,
            name,
        })
    }

    /// `[n, …]` of non-negative integers that fit a `usize`.
    fn uints(&mut self, name: &str, field: &str) -> Result<Vec<usize>, String> {
        let bad = || format!("tensor '{name}': {field} must be an array of non-negative integers");
        self.eat(b'[').map_err(|_| bad())?;
        let mut out = Vec::new();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(out);
        }
        loop {
            self.peek();
            out.push(self.uint().ok_or_else(bad)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    /// A JSON integer ≥ 0 without sign, fraction or exponent that fits a `usize` (serde_json
    /// reads `-0` as a float, so it is refused too); `None` for anything else.
    fn uint(&mut self) -> Option<usize> {
        let start = self.i;
        let mut value: usize = 0;
        while let Some(&c) = self.s.get(self.i).filter(|c| c.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(usize::from(c - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        let leading_zero = digits > 1 && self.s.get(start) == Some(&b'0');
        let fraction = matches!(self.s.get(self.i), Some(b'.' | b'e' | b'E'));
        if digits == 0 || leading_zero || fraction {
            return None;
        }
        Some(value)
    }

    /// A JSON string (after whitespace), unescaped.
    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let start = self.i;
            while let Some(&c) = self.s.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.extend_from_slice(self.s.get(start..self.i).unwrap_or_default());
            let Some(&c) = self.s.get(self.i) else {
                return Err("unterminated string".into());
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err("unterminated string".into());
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err("invalid escape in string".into()),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => return Err("control character in string".into()),
            }
        }
        // The input is a `&str` and escapes add whole characters, so this cannot fail.
        String::from_utf8(out).map_err(|_| "string is not UTF-8".into())
    }

    /// The 4 hex digits after `\u` (and a low surrogate's `\uXXXX` after a high one).
    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        let code = match hi {
            0xD800..=0xDBFF => {
                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                    return Err("lone leading surrogate in hex escape".into());
                }
                self.i += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err("invalid low surrogate in hex escape".into());
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err("lone trailing surrogate in hex escape".into()),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| "invalid hex escape".into())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .s
                .get(self.i)
                .and_then(|&c| char::from(c).to_digit(16))
                .ok_or("invalid hex escape")?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    /// Skips a string, checking only its syntax (as serde_json does for an ignored value: `\u`
    /// needs 4 hex digits, surrogates are not paired).
    fn skip_string(&mut self) -> Result<(), String> {
        self.eat(b'"')?;
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err("unterminated string".into());
            };
            self.i += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    let e = self.s.get(self.i).copied();
                    self.i += 1;
                    match e {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                        Some(b'u') => drop(self.hex4()?),
                        _ => return Err("invalid escape in string".into()),
                    }
                }
                0..=0x1f => return Err("control character in string".into()),
                _ => {}
            }
        }
    }

    /// Skips any JSON value (an unknown field's), checking its syntax. Iterative, like
    /// serde_json's: nesting costs one byte of stack per level, not a call frame.
    fn skip(&mut self) -> Result<(), String> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => self.skip_string()?,
                Some(c @ (b'{' | b'[')) => {
                    self.i += 1;
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        open.push(close);
                        if close == b'}' {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.unexpected("a value")),
            }
            // A value ended: close what it ends, or go on after a comma.
            loop {
                let Some(&close) = open.last() else {
                    return Ok(());
                };
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if close == b'}' {
                            self.skip_key()?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        self.i += 1;
                        open.pop();
                    }
                    _ => return Err(self.unexpected(&format!("',' or '{}'", close as char))),
                }
            }
        }
    }

    /// An ignored object's `"key":`.
    fn skip_key(&mut self) -> Result<(), String> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string key"));
        }
        self.skip_string()?;
        self.eat(b':')
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        if self.s.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err("invalid literal".into())
        }
    }

    /// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<(), String> {
        let digits = |p: &mut Self| {
            let start = p.i;
            while p.s.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i - start
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s.get(int_start) == Some(&b'0')) {
            return Err("invalid number".into());
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err("invalid number".into());
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err("invalid number".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Differential tests against the serde_json + serde derive reader this parser replaced.
    use super::*;
    use proptest::prelude::*;
    use safetensors::Dtype;
    use std::collections::BTreeMap;

    #[derive(serde::Deserialize)]
    struct RawEntry {
        dtype: Dtype,
        shape: Vec<usize>,
        data_offsets: (usize, usize),
    }

    /// What the serde reader produced: metadata and (name, dtype, shape, offsets).
    type Parsed = (
        BTreeMap<String, String>,
        Vec<(String, Dtype, Vec<usize>, (usize, usize))>,
    );

    fn reference(text: &str) -> Option<Parsed> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Parsed;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a header")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Parsed, A::Error> {
                let mut metadata = None;
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "__metadata__" {
                        if metadata.is_some() {
                            return Err(serde::de::Error::custom("twice"));
                        }
                        metadata = Some(map.next_value::<BTreeMap<String, String>>()?);
                    } else {
                        let r: RawEntry = map.next_value()?;
                        entries.push((key, r.dtype, r.shape, r.data_offsets));
                    }
                }
                Ok((metadata.unwrap_or_default(), entries))
            }
        }
        struct W(Parsed);
        impl<'de> serde::Deserialize<'de> for W {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_map(V).map(W)
            }
        }
        serde_json::from_str::<W>(text).ok().map(|w| w.0)
    }

    fn ours(text: &str) -> Option<Parsed> {
        parse(text).ok().map(|h| {
            let entries = h
                .entries
                .into_iter()
                .map(|e| (e.name, e.dtype, e.shape, e.offsets))
                .collect();
            (h.metadata.into(), entries)
        })
    }

    fn same(text: &str) {
        assert_eq!(ours(text), reference(text), "header: {text:?}");
    }

    const GOOD: &str = r#"{"__metadata__":{"format":"vitrine-bundle","digest":"sha256:ab","k\u00e9y":"v\n\"\\\/\ud83d\ude00"},"item_emb":{"dtype":"I8","shape":[3,2],"data_offsets":[0,6]},"item_pop":{"data_offsets":[6,18],"shape":[3],"dtype":"F32","note":{"a":[1,-2.5e3,true,false,null,"x"]}}}"#;

    #[test]
    fn reads_what_serde_json_reads() {
        assert!(ours(GOOD).is_some());
        same(GOOD);
        for text in [
            "{}",
            " { } ",
            "",
            "[]",
            "{} x",
            r#"{"__metadata__":null}"#,
            r#"{"__metadata__":{"a":1}}"#,
            r#"{"__metadata__":{},"__metadata__":{}}"#,
            r#"{"__metadata__":{"a":"1","a":"2"}}"#,
            r#"{"t":{"dtype":"I8","shape":[],"data_offsets":[0,1]}}"#,
            r#"{"t":{"dtype":"I8","shape":[-0],"data_offsets":[0,0]}}"#,
            r#"{"t":{"dtype":"I8","shape":[-1],"data_offsets":[0,0]}}"#,
            r#"{"t":{"dtype":"I8","shape":[01],"data_offsets":[0,1]}}"#,
            r#"{"t":{"dtype":"I8","shape":[1.0],"data_offsets":[0,1]}}"#,
            r#"{"t":{"dtype":"I8","shape":[1e0],"data_offsets":[0,1]}}"#,
            r#"{"t":{"dtype":"I8","shape":[18446744073709551616],"data_offsets":[0,1]}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1,2]}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0]}}"#,
            r#"{"t":{"dtype":"I9","shape":[1],"data_offsets":[0,1]}}"#,
            r#"{"t":{"dtype":"I8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#,
            r#"{"t":{"shape":[1],"data_offsets":[0,1]}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":[[[[]]]]}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":01}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":"\ud800"}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":"\udc00"}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":"\q"}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":tru}}"#,
            r#"{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1],}}"#,
            r#"{"t":{"dtype":"I8","shape":[1,],"data_offsets":[0,1]}}"#,
            "{\"t\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":\"\t\"}}",
            "{\"t\"\n:\r{\"dtype\" :\t\"I8\" , \"shape\":[ 1 ],\"data_offsets\":[0 ,1]} }\n",
            r#"{"t":[]}"#,
            r#"{"t":null}"#,
        ] {
            same(text);
        }
        let deep = format!(
            r#"{{"t":{{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":{}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        same(&deep);
        let ok_deep = format!(
            r#"{{"t":{{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":{}{}}}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        same(&ok_deep);
    }

    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "-",
        "0",
        "1",
        "9",
        ".",
        "e",
        "null",
        "true",
        " ",
        "\\u",
        "d800",
        "__metadata__",
        "dtype",
        "shape",
        "data_offsets",
        "\u{e9}",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn mutated_headers_read_the_same(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0..3u8, 0..TOKENS.len()), 1..5)
        ) {
            let mut text = GOOD.to_owned();
            for (at, op, tok) in edits {
                let mut i = at.index(text.len() + 1);
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                match op {
                    0 => text.insert_str(i, TOKENS[tok]),
                    1 => {
                        let mut j = i + 1;
                        while j < text.len() && !text.is_char_boundary(j) {
                            j += 1;
                        }
                        if j <= text.len() {
                            text.replace_range(i..j, "");
                        }
                    }
                    _ => text.truncate(i),
                }
            }
            same(&text);
        }
    }
}
