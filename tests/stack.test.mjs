// The wasm's stack is sized from a measurement (.cargo/config.toml: 128 KiB instead of the
// linker's 1 MiB, which every page paid in memory). This test keeps the measurement true: it runs
// the engine's deepest calls on the shipped build (www/pkg) and fails when the deepest stack use
// passes half of the configured size.
//
// How: the wasm32 target puts the stack first in linear memory ([0, size), growing down from
// `size`), and a fresh instance's memory is zero there; the lowest non-zero byte after the calls
// is the deepest the stack reached.
//
//   node --test tests/stack.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO } from './_browser.mjs';
import { loadBuild } from '../scripts/_bench-node.mjs';

/** The stack size the wasm is linked with (bytes), from .cargo/config.toml. */
function configuredStack() {
  const config = fs.readFileSync(path.join(REPO, '.cargo', 'config.toml'), 'utf8');
  const m = /zstack-size=(\d+)/.exec(config);
  assert.ok(m, '.cargo/config.toml sets the wasm stack size (-zstack-size)');
  return Number(m[1]);
}

/** Bytes of the stack written so far: `size` minus the lowest non-zero address below it. */
function stackUsed(wasm, size) {
  const m = new Uint8Array(wasm.memory.buffer, 0, size);
  const lowest = m.findIndex((b) => b !== 0);
  return lowest < 0 ? 0 : size - lowest;
}

/** `{custom: {deep: [[…[1]…]]}}` with `levels` arrays. */
function nestedContext(levels) {
  let v = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return { custom: { deep: v } };
}

test('the deepest engine calls use at most half of the wasm stack', async () => {
  const size = configuredStack();
  const { glue, wasm } = await loadBuild(path.join(REPO, 'www', 'pkg'), 'stack');
  assert.ok(wasm.memory.buffer.byteLength > size, 'the memory holds the stack and the data after it');
  assert.equal(stackUsed(wasm, size), 0, 'nothing but the stack lives below its top (stack first)');

  const bytes = fs.readFileSync(path.join(REPO, 'www', 'data', 'store.vtr'));
  const used = {};
  const step = (name, f) => {
    try {
      f();
    } catch (e) {
      assert.ok(e.code, `${name}: a typed error, not a trap (${e.message})`);
    }
    used[name] = stackUsed(wasm, size);
  };
  let rec;
  step('fromBytes', () => (rec = glue.Recommender.fromBytes(bytes, { verifyDigest: true })));
  step('fromStream', () => {
    const stream = new glue.BundleStream(bytes.length);
    for (let at = 0; at < bytes.length; at += 65_536) stream.push(bytes.subarray(at, at + 65_536));
    glue.Recommender.fromStream(stream, {}).free();
  });
  const ids = rec.recommend({ k: 40 }).map((r) => r.id);
  for (const item of ids.slice(0, 12)) step('track', () => rec.track({ type: 'click', item }));
  step('recommend (private, explained, diverse)', () => rec.recommend({ k: 20, explain: true, diversity: { lambda: 0.5 } }));
  step('rerank', () => rec.rerank(ids, { k: 20, explain: true }));
  step('similar', () => rec.similar(ids.slice(0, 3), { k: 20 }));
  step('boughtTogether', () => rec.boughtTogether(ids.slice(0, 3), { k: 20 }));
  step('trending', () => rec.trending({ k: 20 }));
  step('explain', () => rec.explain(ids[3], {}));
  const state = rec.exportState();
  step('importState', () => rec.importState(state));
  step('gaussian release', () => {
    rec.configure({ privacy: { epsilon: 2, mechanism: 'gaussian', unit: 'history' } });
    rec.track({ type: 'click', item: ids[20] });
    rec.recommend({ k: 20 });
  });
  // The deepest input the readers accept, and the first they refuse: context values nested to
  // the reader's limit (128 levels), and JSON state nested past serde_json's.
  step('context at the nesting limit', () => rec.recommend({ k: 5, context: nestedContext(125) }));
  step('context past the nesting limit', () => rec.recommend({ k: 5, context: nestedContext(10_000) }));
  step('state nested past the limit', () => rec.importState(`{"format":${'['.repeat(5_000)}${']'.repeat(5_000)}}`));
  assert.equal(rec.recommend({ k: 3 }).length, 3, 'the engine still answers');

  const deepest = Math.max(...Object.values(used));
  console.log(`wasm stack: ${size} bytes; deepest use ${deepest} bytes`, used);
  // The probe sees the stack: a load writes to it. (The nested context was the deepest call while
  // the reader walked it recursively: 26-33 KB at 128 levels; it now walks with a heap stack.)
  assert.ok(used.fromBytes > 1024, `a load uses the stack (${used.fromBytes} bytes seen)`);
  assert.ok(deepest <= size / 2, `the deepest call used ${deepest} of ${size} bytes of stack: more than half`);
});

test('the experiments module stays within half of its stack too', async () => {
  const size = configuredStack();
  const { glue, wasm } = await loadBuild(path.join(REPO, 'www', 'pkg-exp'), 'stack', 'vitrine_exp');
  assert.equal(stackUsed(wasm, size), 0, 'stack first');
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'experiments.example.json'), 'utf8'));
  const withContext = (levels) => {
    const m = structuredClone(manifest);
    m.experiments[0].arms[0].settings.options.context = nestedContext(levels);
    return m;
  };
  const used = {};
  const step = (name, f) => {
    try {
      f()?.free?.();
    } catch (e) {
      assert.ok(e.code, `${name}: a typed error, not a trap (${e.message})`);
    }
    used[name] = stackUsed(wasm, size);
  };
  step('manifest', () => new glue.Experiments(manifest, undefined, undefined, false));
  step('arm context at the limit', () => new glue.Experiments(withContext(125), undefined, undefined, false));
  step('arm context past the limit', () => new glue.Experiments(withContext(10_000), undefined, undefined, false));
  step('state nested deep', () => new glue.Experiments(manifest, JSON.parse(`{"v":${'['.repeat(5_000)}${']'.repeat(5_000)}}`), undefined, false));
  const deepest = Math.max(...Object.values(used));
  console.log(`experiments wasm stack: ${size} bytes; deepest use ${deepest} bytes`, used);
  assert.ok(deepest <= size / 2, `the deepest call used ${deepest} of ${size} bytes of stack: more than half`);
});
