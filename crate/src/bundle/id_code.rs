//! Compact item ids (`item_ids` of a compact bundle, named by the `ids.coding` metadata key):
//!
//! - `delta`: every id is a decimal integer in canonical form (`0`, or no leading zero; at most
//!   `u64::MAX`). The tensor holds, per row, the difference to the previous row's id (the first
//!   to 0), wrapping in 64 bits, zigzag-mapped (`0, −1, 1, −2, … → 0, 1, 2, 3, …`) and written as
//!   a LEB128 varint (7 bits per byte, low bits first, high bit = more bytes follow; at most 10
//!   bytes). Rows in ascending id order take one byte per id when the ids are dense.
//! - `front`: per row, a varint `p` (bytes shared with the previous id, `0` for the first row),
//!   a varint `s` and `s` bytes: the id is the previous id's first `p` bytes then those `s`
//!   bytes. Each id must be valid UTF-8, 1 to [`MAX_FRONT_ID_BYTES`] bytes, without `\n`.
//!
//! Either way the tensor must decode to exactly `n` ids and end there; ids are distinct (checked
//! by the reader's id index, as for plain ids).

use super::id_list::IdList;
use crate::error::BundleError;

/// Longest id a front-coded list may hold, in bytes (bounds what a small tensor can expand to).
pub const MAX_FRONT_ID_BYTES: usize = 256;

/// How `item_ids` is coded (the `ids.coding` metadata key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdCoding {
    /// Zigzag varint deltas of decimal ids.
    Delta,
    /// Front-coded byte strings.
    Front,
}

impl IdCoding {
    /// The metadata value.
    pub fn name(self) -> &'static str {
        match self {
            IdCoding::Delta => "delta",
            IdCoding::Front => "front",
        }
    }
}

fn bad(index: usize, why: &str) -> BundleError {
    BundleError::Ids(format!("coded ids: {why} (at byte {index})"))
}

/// The delta a zigzag-mapped varint holds (`0, 1, 2, 3, … → 0, −1, 1, −2, …`, as a wrapping u64).
fn unzigzag(z: u64) -> u64 {
    (z >> 1) ^ (z & 1).wrapping_neg()
}

/// Reads one LEB128 varint at `*at` (at most 10 bytes, no bits past 64).
fn varint(data: &[u8], at: &mut usize) -> Result<u64, BundleError> {
    let start = *at;
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let &b = data
            .get(*at)
            .ok_or_else(|| bad(start, "ends inside a number"))?;
        *at += 1;
        let bits = u64::from(b & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(bad(start, "number above 2^64"));
        }
        v |= bits << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad(start, "number longer than 10 bytes"))
}

/// Decodes `n` coded ids (see the module docs). Every failure is [`BundleError::Ids`].
///
/// The list is allocated once at its size, measured first from the varints alone
/// ([`decoded_len`]). (Growing it by doubling from an estimate held 12 MB for the 7 MB of a
/// million six-digit ids, and the freed 3 and 6 MB blocks stayed in the wasm memory.)
pub fn decode(data: &[u8], coding: IdCoding, n: usize) -> Result<IdList, BundleError> {
    // Every id takes at least one byte: a tensor shorter than `n` cannot hold them (checked before
    // allocating for `n`).
    if data.len() < n {
        return Err(bad(
            data.len(),
            &format!("{} bytes for {n} ids", data.len()),
        ));
    }
    let bytes = decoded_len(data, coding, n);
    let mut ids = IdList::try_with_capacity(n, bytes)
        .ok_or_else(|| bad(data.len(), "the ids do not fit in memory (at most 4 GiB)"))?;
    let mut at = 0usize;
    match coding {
        IdCoding::Delta => {
            let mut prev = 0u64;
            for _ in 0..n {
                prev = prev.wrapping_add(unzigzag(varint(data, &mut at)?));
                let mut digits = [0u8; 20];
                let i = decimal(prev, &mut digits);
                let id = std::str::from_utf8(digits.get(i..).unwrap_or_default());
                if !ids.push(id.unwrap_or_default()) {
                    return Err(bad(at, "more than 4 GiB of ids"));
                }
            }
        }
        IdCoding::Front => {
            let mut prev: Vec<u8> = Vec::new();
            for _ in 0..n {
                let start = at;
                let p = varint(data, &mut at)?;
                let s = varint(data, &mut at)?;
                let p = usize::try_from(p).ok().filter(|&p| p <= prev.len());
                let Some(p) = p else {
                    return Err(bad(start, "shares more bytes than the previous id has"));
                };
                let end = usize::try_from(s)
                    .ok()
                    .and_then(|s| at.checked_add(s))
                    .filter(|&e| e <= data.len())
                    .ok_or_else(|| bad(start, "suffix beyond the end"))?;
                prev.truncate(p);
                prev.extend_from_slice(data.get(at..end).unwrap_or_default());
                at = end;
                if prev.is_empty() || prev.len() > MAX_FRONT_ID_BYTES || prev.contains(&b'\n') {
                    return Err(bad(start, "an id must be 1 to 256 bytes without '\\n'"));
                }
                let id = std::str::from_utf8(&prev).map_err(|_| bad(start, "id not UTF-8"))?;
                if !ids.push(id) {
                    return Err(bad(start, "more than 4 GiB of ids"));
                }
            }
        }
    }
    if at != data.len() {
        return Err(bad(at, "bytes after the last id"));
    }
    Ok(ids)
}

/// The bytes of the `n` ids `data` decodes to (separators not counted), from the varints alone:
/// no digit formatted, no byte copied or checked. Exact for valid data; for malformed data a
/// finite figure (at most 20, or [`MAX_FRONT_ID_BYTES`], bytes per id) that [`decode`] then refuses.
fn decoded_len(data: &[u8], coding: IdCoding, n: usize) -> usize {
    let mut at = 0usize;
    let mut total = 0usize;
    match coding {
        IdCoding::Delta => {
            let mut prev = 0u64;
            for _ in 0..n {
                let Ok(z) = varint(data, &mut at) else { break };
                prev = prev.wrapping_add(unzigzag(z));
                total += prev.checked_ilog10().map_or(1, |l| l as usize + 1);
            }
        }
        IdCoding::Front => {
            let mut prev = 0usize;
            for _ in 0..n {
                let (Ok(p), Ok(s)) = (varint(data, &mut at), varint(data, &mut at)) else {
                    break;
                };
                let s = usize::try_from(s).unwrap_or(usize::MAX);
                at = at.saturating_add(s);
                if at > data.len() {
                    break;
                }
                let p = usize::try_from(p).unwrap_or(usize::MAX).min(prev);
                prev = p.saturating_add(s).min(MAX_FRONT_ID_BYTES);
                total += prev;
            }
        }
    }
    total
}

/// `v` in decimal at the end of `digits`, without an allocation; returns where it starts. Below
/// 2^32 in 32-bit arithmetic: wasm has no 64-bit multiply-high, so a 64-bit division by 10 stays a
/// division there (six per six-digit id made them most of a compact bundle's id decoding).
fn decimal(mut v: u64, digits: &mut [u8; 20]) -> usize {
    let mut i = digits.len();
    while v > u64::from(u32::MAX) {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let mut w = v as u32;
    loop {
        i -= 1;
        digits[i] = b'0' + (w % 10) as u8;
        w /= 10;
        if w == 0 {
            return i;
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The id as a canonical decimal `u64`, if it is one.
fn canonical_number(id: &str) -> Option<u64> {
    let v: u64 = id.parse().ok()?;
    (v.to_string() == id).then_some(v)
}

/// Codes ids: `delta` when every id is a canonical decimal number, else `front` (`None` when an
/// id is longer than [`MAX_FRONT_ID_BYTES`]).
pub fn encode(ids: &[String]) -> Option<(IdCoding, Vec<u8>)> {
    let mut out = Vec::with_capacity(ids.len() * 2);
    if let Some(numbers) = ids
        .iter()
        .map(|id| canonical_number(id))
        .collect::<Option<Vec<u64>>>()
    {
        let mut prev = 0u64;
        for v in numbers {
            let d = v.wrapping_sub(prev) as i64;
            put_varint(&mut out, ((d << 1) ^ (d >> 63)) as u64);
            prev = v;
        }
        return Some((IdCoding::Delta, out));
    }
    let mut prev: &[u8] = &[];
    for id in ids {
        let b = id.as_bytes();
        if b.len() > MAX_FRONT_ID_BYTES {
            return None;
        }
        let p = prev.iter().zip(b).take_while(|(x, y)| x == y).count();
        put_varint(&mut out, p as u64);
        put_varint(&mut out, (b.len() - p) as u64);
        out.extend_from_slice(&b[p..]);
        prev = b;
    }
    Some((IdCoding::Front, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ids: &[&str]) -> IdCoding {
        let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        let (coding, bytes) = encode(&ids).unwrap();
        assert_eq!(decode(&bytes, coding, ids.len()).unwrap().to_vec(), ids);
        coding
    }

    #[test]
    fn both_codings_round_trip() {
        assert_eq!(
            round_trip(&["1", "2", "3", "10", "0", "18446744073709551615", "7"]),
            IdCoding::Delta
        );
        assert_eq!(
            round_trip(&["sku-001", "sku-002", "sku-0020", "a", "é", "01"]),
            IdCoding::Front
        );
        let dense: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
        assert_eq!(
            encode(&dense).unwrap().1.len(),
            1000,
            "one byte per dense ascending id"
        );
    }

    /// A decoded list is allocated once at its size (it grew by doubling from an estimate before:
    /// 12 MB for the 7 MB of a million six-digit ids).
    #[test]
    fn decoded_ids_take_the_room_they_need() {
        let ids: Vec<String> = (100_000..300_000).map(|i| i.to_string()).collect();
        let (coding, bytes) = encode(&ids).unwrap();
        let list = decode(&bytes, coding, ids.len()).unwrap();
        let text = ids.len() * 7 - 1;
        assert!(
            (text..text + 64).contains(&list.text_capacity()),
            "{} bytes reserved for {text}",
            list.text_capacity()
        );
        let words: Vec<String> = (0..5_000).map(|i| format!("sku-{i:05}")).collect();
        let (coding, bytes) = encode(&words).unwrap();
        assert_eq!(coding, IdCoding::Front);
        let list = decode(&bytes, coding, words.len()).unwrap();
        assert!(list.text_capacity() < 5_000 * 10 + 64);
        assert_eq!(list.to_vec(), words);
    }

    #[test]
    fn hostile_codes_are_errors() {
        for (data, coding, n) in [
            (&[0x80u8][..], IdCoding::Delta, 1),   // ends inside a number
            (&[0xff; 11][..], IdCoding::Delta, 1), // longer than 10 bytes
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..],
                IdCoding::Delta,
                1,
            ),
            (&[2, 4][..], IdCoding::Delta, 1), // bytes after the last id
            (&[2][..], IdCoding::Delta, 2),    // too short for n
            (&[1, 1, b'a'][..], IdCoding::Front, 1), // shares more than exists
            (&[0, 5, b'a'][..], IdCoding::Front, 1), // suffix beyond the end
            (&[0, 0, 0][..], IdCoding::Front, 1), // empty id
            (&[0, 1, b'\n'][..], IdCoding::Front, 1), // newline
            (&[0, 1, 0xff][..], IdCoding::Front, 1), // not UTF-8
        ] {
            assert!(
                matches!(decode(data, coding, n), Err(BundleError::Ids(_))),
                "{data:?}"
            );
        }
        // An id grown past the limit one byte at a time.
        let mut data = vec![0, 1, b'a'];
        for i in 1..=MAX_FRONT_ID_BYTES {
            put_varint(&mut data, i as u64);
            data.extend([1, b'b']);
        }
        let n = MAX_FRONT_ID_BYTES + 1;
        assert!(decode(&data, IdCoding::Front, n).is_err());
    }
}
