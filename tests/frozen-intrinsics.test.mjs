// A page whose scripts froze the intrinsics (`Object.freeze(Error.prototype)`, as a SES
// `lockdown()` does) or replaced `Date.now` with one that throws: the shipped builds (www/pkg,
// www/pkg-exp) still throw their own coded errors, and a failed call does not break the
// recommender. Before: assigning `name` to the error threw a TypeError through the wasm frames
// mid-call, the recommender's borrow stayed held, and every later call failed with "recursive use
// of an object detected"; a throwing `Date.now` did the same. The scenario runs in its own
// process (tests/fixtures/frozen-intrinsics.mjs): Node's own internals fail once `Error` is
// frozen.
//
//   node --test tests/frozen-intrinsics.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { REPO } from './_browser.mjs';

test('frozen Error.prototype and a throwing Date.now: coded errors, and the engine keeps working', () => {
  const run = spawnSync(process.execPath, [path.join(REPO, 'tests', 'fixtures', 'frozen-intrinsics.mjs')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  const msg = JSON.stringify(out, null, 1);
  assert.equal(out.frozen.threw?.type, 'TypeError', `the intrinsics are frozen: ${msg}`);
  assert.deepEqual([out.badTrack.threw?.name, out.badTrack.threw?.code], ['VitrineError', 'unknown_event_type'], msg);
  assert.equal(out.goodTrack.ok, 'tracked', msg);
  assert.equal(out.recommend.ok, 3, msg);
  assert.deepEqual([out.badLoad.threw?.name, out.badLoad.threw?.code], ['VitrineError', 'bundle'], msg);
  assert.equal(out.badAssign.threw?.name, 'VitrineError', msg);
  assert.equal(typeof out.badAssign.threw?.code, 'string', msg);
  assert.equal(typeof out.badAssign.threw?.path, 'string', msg);
  assert.equal(out.assign.ok, 'boolean', msg);
  assert.equal(out.recommendNoClock.ok, 3, `the clock falls back to new Date().getTime(): ${msg}`);
  assert.equal(out.statusNoClock.ok, 'object', msg);
  assert.deepEqual([out.badOptionNoClock.threw?.name, out.badOptionNoClock.threw?.code], ['VitrineError', 'invalid_option'], msg);
  assert.equal(out.after.ok, 2, msg);
});
