#!/usr/bin/env node
// Checks the layout rules of the Rust sources (run by scripts/test's lint layer):
//   - no .rs file under the given roots is longer than --max-lines (700) lines;
//   - no import circle between modules: a graph of files, with an edge a → b when a names an item
//     of b (`use crate::x::y`, `crate::x::y`, `super::y`, `self::y` paths), must have no cycle.
// A module's face (`mod.rs`) naming its children is the normal direction; a child naming its
// parent's own items (`super::Thing` defined in mod.rs) closes a circle and is reported, so a face
// holds declarations and re-exports, and the items live in the children.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, dirname, basename } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    'max-lines': { type: 'string', default: '700' },
    verbose: { type: 'boolean', short: 'v' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});
if (values.help || positionals.length === 0) {
  console.log('usage: scripts/check-layout.mjs [--max-lines N] CRATE_SRC_DIR...  (e.g. crate/src cli/src)');
  process.exit(values.help ? 0 : 2);
}
const maxLines = Number(values['max-lines']);

function files(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.rs') ? [p] : [];
  });
}

/** The module path of a file, relative to its crate root (`lib.rs`/`main.rs` → []). */
function modPath(root, file) {
  const rel = relative(root, file).replace(/\.rs$/, '').split('/');
  if (rel.at(-1) === 'mod' || ((rel.at(-1) === 'lib' || rel.at(-1) === 'main') && rel.length === 1)) rel.pop();
  return rel;
}

/** Drops comments and string literals (so paths inside them do not count). */
function code(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/r(#*)"[\s\S]*?"\1/g, '""')
    .replace(/"(?:\\.|[^"\\])*"/g, '""');
}

/** Removes `#[cfg(test)] mod tests { … }` blocks (tests may name anything). */
function withoutTests(text) {
  const at = text.search(/#\[cfg\(test\)\]\s*mod\s+\w+\s*\{/);
  return at < 0 ? text : text.slice(0, at);
}

let failed = false;
for (const root of positionals) {
  const all = files(root);
  const byPath = new Map(all.map((f) => [modPath(root, f).join('::'), f]));
  const edges = new Map(all.map((f) => [f, new Set()]));
  // Re-exports of faces: `pub use child::{A, B}` / `pub use child::A` → (face, A) → child module.
  const reexports = new Map();
  for (const f of all) {
    const me = modPath(root, f);
    const body = withoutTests(code(readFileSync(f, 'utf8')));
    for (const m of body.matchAll(/\bpub(?:\([^)]*\))?\s+use\s+((?:\w+::)+)(?:\{([^}]*)\}|(\w+))(?:\s+as\s+(\w+))?\s*;/g)) {
      const prefix = m[1].split('::').filter(Boolean);
      if (['crate', 'super', 'self', 'std', 'core', 'alloc'].includes(prefix[0])) continue;
      const names = m[2] ? m[2].split(',').map((x) => x.trim()).filter(Boolean) : [m[4] ? `${m[3]} as ${m[4]}` : m[3]];
      for (const n of names) {
        const [orig, , alias] = n.split(/\s+/);
        const parts = orig.split('::');
        reexports.set(`${me.join('::')}|${alias ?? parts.at(-1)}`, [...me, ...prefix, ...parts.slice(0, -1)].join('::'));
      }
    }
  }
  // Other crates re-exported whole at the root (`pub use vitrine_kernels as kernels;`): a path
  // through them (`crate::kernels::top_k`) names no file of this crate.
  const rootFile = byPath.get('');
  const externalAtRoot = new Set();
  if (rootFile) {
    const body = withoutTests(code(readFileSync(rootFile, 'utf8')));
    for (const m of body.matchAll(/\bpub(?:\([^)]*\))?\s+use\s+(\w+)(?:\s+as\s+(\w+))?\s*;/g)) {
      if (!['crate', 'super', 'self'].includes(m[1])) externalAtRoot.add(m[2] ?? m[1]);
    }
  }
  /** Follows re-exports from module `mod` for item `name` to the module that defines it. */
  const definer = (mod, name, depth = 0) => {
    const next = reexports.get(`${mod}|${name}`);
    return next && depth < 8 && byPath.has(next) ? definer(next, name, depth + 1) : mod;
  };
  for (const f of all) {
    const text = readFileSync(f, 'utf8');
    const lines = text.split('\n').length;
    if (lines > maxLines) {
      console.log(`${f}: ${lines} lines (more than ${maxLines})`);
      failed = true;
    }
    const me = modPath(root, f);
    const isFace = basename(f) === 'mod.rs' || me.length === 0;
    const body = withoutTests(code(text));
    // Paths: crate::a::b, super::a, super::super::a, self::a; and `use` trees `use x::{a, b}`.
    const paths = [];
    for (const m of body.matchAll(/\b(crate|super|self)((?:::(?:super|\w+))*)(::\{([^}]*)\})?/g)) {
      const head = [m[1], ...(m[2] ? m[2].slice(2).split('::') : [])];
      if (m[4]) for (const part of m[4].split(',')) paths.push([...head, ...part.trim().split('::')[0].split(' ')[0]].filter(Boolean));
      else if (head.length > 1) paths.push(head);
    }
    for (const p of paths) {
      // Resolve to an absolute module path.
      let base;
      let rest;
      if (p[0] === 'crate') { base = []; rest = p.slice(1); }
      else {
        // `self`/`super` are relative to the module the file is (a face is its own module).
        base = me.slice();
        let i = 0;
        if (p[0] === 'self') i = 1;
        while (p[i] === 'super') { base.pop(); i++; }
        rest = p.slice(i);
      }
      if (base.length === 0 && externalAtRoot.has(rest[0])) continue;
      // The longest prefix naming a file is the target.
      let target = null;
      for (let k = rest.length; k >= 0; k--) {
        let key = [...base, ...rest.slice(0, k)].join('::');
        if (byPath.has(key)) {
          if (k < rest.length) key = definer(key, rest[k]);
          target = byPath.get(key);
          break;
        }
      }
      if (target && target !== f) edges.get(f).add(target);
    }
    // Child modules named without a prefix (`use prepare::Prepared`, `interop::read(…)`).
    if (isFace) {
      for (const m of body.matchAll(/\bmod\s+(\w+)\s*;/g)) {
        const child = byPath.get([...me, m[1]].join('::'));
        if (child && new RegExp(`(?<![:\\w])${m[1]}::`).test(body)) edges.get(f).add(child);
      }
    }
  }
  // Cycles: Tarjan's strongly connected components.
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set(), sccs = [];
  const strong = (v) => {
    idx.set(v, index); low.set(v, index); index++; stack.push(v); on.add(v);
    for (const w of edges.get(v)) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do { w = stack.pop(); on.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1) sccs.push(c);
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) strong(v);
  for (const c of sccs) {
    console.log(`import circle: ${c.map((f) => relative(dirname(root), f)).sort().join(' ↔ ')}`);
    if (values.verbose) {
      const inside = new Set(c);
      for (const f of c) for (const t of edges.get(f)) if (inside.has(t)) console.log(`    ${relative(root, f)} → ${relative(root, t)}`);
    }
    failed = true;
  }
}
if (failed) process.exit(1);
console.log('layout: ok (no file over', maxLines, 'lines, no import circle)');
