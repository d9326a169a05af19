// The catalog records a bundle (or a catalog update) carries: its `catalog` tensor, JSON Lines of
// the catalog format (docs/catalog.md), read straight from the safetensors file in JS — no second
// file to keep in step with the bundle, and no code in the wasm. Call it on bytes the engine has
// accepted (their digest was checked by the engine, or by the page's `integrity`).
//
// Nothing here touches the DOM: it runs anywhere.

const decoder = typeof TextDecoder === 'undefined' ? null : new TextDecoder();

/**
 * The records of the `catalog` tensor of a safetensors file, in file order; `[]` when the file has
 * none. Malformed lines are skipped (the CLI wrote them; a hand-made file may not be perfect).
 * @param {Uint8Array} bytes
 * @returns {object[]}
 */
export function catalogRecords(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length < 8 || !decoder) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (!(headerLen > 0 && 8 + headerLen <= bytes.length)) return [];
  let header;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    return [];
  }
  const entry = header?.catalog;
  const [begin, end] = Array.isArray(entry?.data_offsets) ? entry.data_offsets : [];
  const start = 8 + headerLen + begin;
  if (entry?.dtype !== 'U8' || !(Number.isInteger(begin) && Number.isInteger(end) && begin <= end) || 8 + headerLen + end > bytes.length) return [];
  const out = [];
  for (const line of decoder.decode(bytes.subarray(start, 8 + headerLen + end)).split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line);
      if (r && typeof r === 'object' && r.id != null) out.push(r);
    } catch {
      /* skipped */
    }
  }
  return out;
}
