// The bundle's digest computed with the platform's SHA-256 (www/lib/digest.js, following the
// engine's `digestPlan`) and checked by the engine (`fromBytes(bytes, {computedDigest})`), run in
// Node on the real wasm package: the same value as the specification's JavaScript implementation
// (www/bench/bundle-gen.js) and as the engine's own hashing, and the same refusal of a tampered
// bundle; and a catalog update (or a shard) hashed the same way before `applyUpdate`.
//
//   node --test tests/digest.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO } from './_browser.mjs';
import { nativeDigest } from '../www/lib/digest.js';
import { EngineCore } from '../www/lib/core.js';
import { syntheticCatalog, writeBundle, bundleDigest } from '../www/bench/bundle-gen.js';

const glue = await import('../www/pkg/vitrine.js');
glue.initSync({ module: fs.readFileSync(path.join(REPO, 'www', 'pkg', 'vitrine_bg.wasm')) });
const { Recommender } = glue;

/** The glue, recording the options each `fromBytes` call gets. */
function spied() {
  const calls = [];
  const R = {
    digestPlan: (...a) => Recommender.digestPlan(...a),
    fromBytes: (bytes, options) => {
      calls.push(options);
      return options === undefined ? Recommender.fromBytes(bytes) : Recommender.fromBytes(bytes, options);
    },
  };
  return { glue: { Recommender: R }, calls };
}

const dec = new TextDecoder();
/** The bundle's recorded digest and its tensors, read as the spec's implementation takes them. */
function spec(bytes) {
  const hl = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(dec.decode(bytes.subarray(8, 8 + hl)));
  const data = bytes.subarray(8 + hl);
  const tensors = Object.fromEntries(
    Object.entries(header)
      .filter(([k]) => k !== '__metadata__')
      .map(([n, e]) => [n, { dtype: e.dtype, shape: e.shape, data: data.subarray(...e.data_offsets) }]),
  );
  return { recorded: header.__metadata__.digest, tensors, metadata: header.__metadata__ };
}

const bundles = {
  demo: new Uint8Array(fs.readFileSync(path.join(REPO, 'www', 'data', 'store.vtr'))),
  synthetic: await writeBundle(syntheticCatalog({ n: 2000, d: 16, seed: 3 }), { seed: 3 }),
};

test('the platform digest equals the recorded one, the specification\'s and the engine\'s own', async () => {
  for (const [name, bytes] of Object.entries(bundles)) {
    const { recorded, tensors, metadata } = spec(bytes);
    const computed = await nativeDigest(Recommender, bytes);
    assert.match(computed, /^sha256:[0-9a-f]{64}$/, name);
    assert.equal(computed, recorded, name);
    assert.equal(computed, await bundleDigest(tensors, metadata), name);
    const { glue, calls } = spied();
    const core = await EngineCore.create(glue, bytes);
    assert.deepEqual(calls, [{ computedDigest: recorded }], `${name}: the engine checks the computed digest`);
    assert.ok(core.info().itemCount > 0);
    core.free();
  }
});

test('a tampered byte anywhere is refused as the engine\'s own hashing refuses it', async () => {
  const bytes = bundles.demo;
  const hl = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  for (const at of [8 + hl, 8 + hl + 1000, bytes.length - 1]) {
    const bad = bytes.slice();
    bad[at] ^= 1;
    const own = (() => {
      try {
        new EngineCore({ Recommender }, bad);
      } catch (err) {
        return err;
      }
    })();
    assert.ok(own, `byte ${at}: the engine's own hashing refuses it`);
    await assert.rejects(EngineCore.create({ Recommender }, bad), (err) => {
      assert.equal(err.code, 'bad_bundle');
      assert.match(err.message, /digest mismatch/i);
      // The same record, and the same hash of the tampered bytes.
      assert.equal(err.message, own.message);
      return true;
    });
  }
});

test('without digestPlan or crypto.subtle the engine hashes; a malformed computedDigest is an invalid option', async () => {
  const bytes = bundles.demo;
  assert.equal(await nativeDigest({}, bytes), null, 'an engine build without digestPlan');
  const subtle = Object.getOwnPropertyDescriptor(globalThis.crypto, 'subtle');
  Object.defineProperty(globalThis.crypto, 'subtle', { value: undefined, configurable: true });
  try {
    assert.equal(await nativeDigest(Recommender, bytes), null, 'no crypto.subtle (not a secure context)');
    const { glue, calls } = spied();
    const core = await EngineCore.create(glue, bytes);
    assert.deepEqual(calls, [undefined], 'the engine hashes the bytes itself');
    core.free();
  } finally {
    if (subtle) Object.defineProperty(globalThis.crypto, 'subtle', subtle);
    else delete globalThis.crypto.subtle; // the prototype's getter shows through again
  }
  assert.equal(await nativeDigest(Recommender, bytes.subarray(0, 100)), null, 'a header the engine refuses');
  // The copy of the whole file failing (a device short of memory): no digest, the engine hashes.
  let reads = 0;
  const failingCopy = () => {
    if (reads++ > 0) throw new RangeError('Array buffer allocation failed');
    return bytes;
  };
  assert.equal(await nativeDigest(Recommender, failingCopy), null, 'a failed copy');
  assert.throws(() => Recommender.fromBytes(bytes, { computedDigest: 'sha256:abc' }), (err) => err.code === 'invalid_option' && /computedDigest/.test(err.message));
  assert.throws(() => Recommender.digestPlan(bytes.subarray(0, 4), bytes.length), /truncated/i);
});

test('a catalog update (or a shard) is hashed with the platform SHA-256 and checked by the engine', async (t) => {
  // A delta from the CLI: the demo bundle with one product less, then a catalog update adding it.
  const { vitrine, catalogJsonl } = await import('./_catalog.mjs');
  const dir = fs.mkdtempSync(path.join(REPO, 'target', 'digest-delta-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const demo = JSON.parse(fs.readFileSync(path.join(REPO, 'www', 'data', 'catalog.json'), 'utf8'));
  const newId = demo.products.at(-1).id;
  const events = fs.readFileSync(path.join(REPO, 'www', 'data', 'events.csv'), 'utf8').split('\n');
  fs.writeFileSync(path.join(dir, 'events.csv'), events.filter((l) => !l.includes(`,${newId},`)).join('\n'));
  catalogJsonl(path.join(dir, 'v1.jsonl'), { without: [newId] });
  catalogJsonl(path.join(dir, 'v2.jsonl'));
  vitrine('train', '--events', path.join(dir, 'events.csv'), '--catalog', path.join(dir, 'v1.jsonl'), '--out', path.join(dir, 'v1.vtr'), '--epochs', '1');
  vitrine('catalog', 'update', '--bundle', path.join(dir, 'v1.vtr'), '--catalog', path.join(dir, 'v2.jsonl'), '--out', path.join(dir, 'v2.vtr'), '--delta', path.join(dir, 'v2.delta'));
  const base = new Uint8Array(fs.readFileSync(path.join(dir, 'v1.vtr')));
  const delta = new Uint8Array(fs.readFileSync(path.join(dir, 'v2.delta')));

  const core = await EngineCore.create({ Recommender }, base);
  t.after(() => core.free());
  const before = core.info().itemCount;
  const hl = Number(new DataView(delta.buffer, delta.byteOffset, 8).getBigUint64(0, true));
  const { recorded } = Recommender.digestPlan(delta.subarray(0, 8 + hl), delta.length);
  assert.deepEqual(await core.prepare('applyUpdate', [delta]), [delta, { computedDigest: recorded }], 'the delta is hashed outside the engine');
  assert.deepEqual(await core.prepare('recommend', [{ k: 3 }]), [{ k: 3 }], 'other calls are left as they are');

  // A byte changed in transit: the platform's digest of it is not the recorded one.
  const bad = delta.slice();
  bad[bad.length - 1] ^= 1;
  const prepared = await core.prepare('applyUpdate', [bad]);
  assert.notEqual(prepared[1]?.computedDigest, recorded);
  assert.throws(() => core.call('applyUpdate', prepared), (err) => err.code === 'bundle' && /digest mismatch/i.test(err.message));
  assert.throws(() => core.call('applyUpdate', [delta, { computedDigest: `sha256:${'0'.repeat(64)}` }]), (err) => err.code === 'bundle');
  assert.throws(() => core.call('applyUpdate', [delta, { computedDigest: 'sha256:abc' }]), (err) => err.code === 'invalid_option');
  assert.equal(core.info().itemCount, before, 'nothing changed');

  const report = core.call('applyUpdate', await core.prepare('applyUpdate', [delta]));
  assert.equal(report.added, 1);
  assert.equal(core.info().itemCount, before + 1);
});

/** `bytes` as a response body: CHUNK-byte chunks, each `delayMs` after the last (0: all at once). */
function body(bytes, chunk, delayMs) {
  let at = 0;
  return new ReadableStream({
    async pull(c) {
      if (at >= bytes.length) return c.close();
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

/** The glue, recording the options each `fromStream` call gets and what was left to hash. */
function spiedStream() {
  const calls = [];
  const R = {
    digestPlan: (...a) => Recommender.digestPlan(...a),
    fromStream: (stream, options) => {
      calls.push({ options, unhashed: stream.unhashed, received: stream.received });
      return Recommender.fromStream(stream, options);
    },
  };
  return { glue: { Recommender: R, BundleStream: glue.BundleStream }, calls };
}

test('a streamed load hashes in wasm while the network is slower, with the platform SHA-256 when it outran it', async () => {
  for (const [name, bytes] of Object.entries(bundles)) {
    const reference = await EngineCore.create({ Recommender }, bytes);
    const fingerprint = (core) => JSON.stringify(core.call('trending', [{ k: 10 }]));
    // A slow download: the engine hashed what came while waiting, and finishes the digest itself.
    const slow = spiedStream();
    const a = await EngineCore.fromStream(slow.glue, body(bytes, 4096, 1), { sizeHint: bytes.length });
    assert.equal(slow.calls.length, 1);
    assert.deepEqual(slow.calls[0].options, { verifyDigest: true }, `${name}: the engine computes the digest`);
    assert.ok(slow.calls[0].unhashed <= slow.calls[0].received / 3, `${name}: most was hashed on the way (${JSON.stringify(slow.calls[0])})`);
    // Every chunk at once (a cached response): the platform hashes the file.
    const fast = spiedStream();
    const b = await EngineCore.fromStream(fast.glue, body(bytes, bytes.length, 0));
    const recorded = spec(bytes).recorded;
    assert.deepEqual(fast.calls[0].options, { computedDigest: recorded }, `${name}: the platform's digest, checked by the engine`);
    assert.equal(fast.calls[0].unhashed, fast.calls[0].received - (8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true))));
    assert.equal(fingerprint(a), fingerprint(reference), name);
    assert.equal(fingerprint(b), fingerprint(reference), name);
    for (const c of [a, b, reference]) c.free();
  }
});

test('a streamed load refuses a tampered, short or overlong bundle, each with the engine\'s reason', async () => {
  const bytes = bundles.demo;
  const tampered = bytes.slice();
  tampered[tampered.length - 1] ^= 1;
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  for (const [what, b, reason] of [
    ['tampered, slow', body(tampered, 4096, 1), /digest mismatch/],
    ['tampered, at once', body(tampered, tampered.length, 0), /digest mismatch/],
    ['short', body(bytes.subarray(0, bytes.length - 1), 4096, 0), /truncated/],
    ['overlong', body(longer, 4096, 0), /more bytes than the header declares/],
  ]) {
    await assert.rejects(EngineCore.fromStream({ Recommender, BundleStream: glue.BundleStream }, b), (err) => {
      assert.equal(err.code, 'bad_bundle', what);
      assert.match(err.message, reason, what);
      return true;
    });
  }
  // A download that breaks off is the network's failure, not the bundle's.
  const broken = new ReadableStream({
    start(c) {
      c.enqueue(bytes.slice(0, 1000));
      c.error(new TypeError('network error'));
    },
  });
  await assert.rejects(EngineCore.fromStream({ Recommender, BundleStream: glue.BundleStream }, broken), (err) => {
    assert.equal(err.code, 'fetch_failed');
    assert.match(err.message, /broke off: network error/);
    return true;
  });
});
