// The Node scripts read their command line with util.parseArgs: --help prints the usage and exits
// 0, an unknown option or a bad value exits 2 with a message naming it.
//
//   node --test tests/scripts.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { REPO } from './_browser.mjs';

const SCRIPTS = {
  'scripts/serve.mjs': { bad: ['--port', '70000'], badMessage: /--port must be 0\.\.65535/ },
  'scripts/bench.mjs': { bad: ['--sizes', '10'], badMessage: /--sizes: whole numbers ≥ 300/ },
  'www/gen-demo-data.mjs': { bad: ['--sessions', '0'], badMessage: /--sessions must be a positive integer/ },
};

const run = (script, args) => spawnSync(process.execPath, [path.join(REPO, script), ...args], { encoding: 'utf8', timeout: 20_000 });

/** `--help` exits 0 and prints the script's usage line first. */
function printsUsage(script) {
  const help = run(script, ['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, new RegExp(`^usage: node ${script.replace('.', '\\.')}`));
}

/**
 * `script` run with `args` and the demo bundle with its last byte flipped fails the digest
 * check: exit 1, the script's name, then the engine's message.
 */
function refusesATamperedBundle(script, args) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${path.basename(script, '.mjs')}-`));
  try {
    const bytes = fs.readFileSync(path.join(REPO, 'www/data/store.vtr'));
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(path.join(tmp, 'bad.vtr'), bytes);
    const bad = run(script, [...args, path.join(tmp, 'bad.vtr')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, new RegExp(`^${path.basename(script, '.mjs')}: .*digest`, 'i'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

for (const [script, { bad, badMessage }] of Object.entries(SCRIPTS)) {
  test(`${script}: --help, unknown options and bad values`, () => {
    const help = run(script, ['--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^usage: node ${script.replace('.', '\\.')}`));
    assert.match(help.stdout, /-h, --help/);
    assert.equal(run(script, ['-h']).stdout, help.stdout);

    const unknown = run(script, ['--no-such-option']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /Unknown option '--no-such-option'/);
    assert.match(unknown.stderr, /\(--help for more\)/);

    const positional = run(script, ['stray']);
    assert.equal(positional.status, 2);
    assert.match(positional.stderr, /Unexpected argument 'stray'/);

    const value = run(script, bad);
    assert.equal(value.status, 2);
    assert.match(value.stderr, badMessage);
  });
}

test('scripts/bench-memory.mjs: measures a bundle in a fresh instance, refuses bad input', () => {
  const script = 'scripts/bench-memory.mjs';
  printsUsage(script);
  const unknown = run(script, ['--no-such-option']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Unknown option '--no-such-option'.*\n.*\(--help for more\)/);
  const none = run(script, []);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no bundle given/);

  // The demo store's bundle, twice: each load gets its own instance (the same figures).
  const bundle = path.join(REPO, 'www/data/store.vtr');
  const out = run(script, ['--json', bundle, bundle]);
  assert.equal(out.status, 0, out.stderr);
  const rows = JSON.parse(out.stdout);
  assert.equal(rows.length, 2);
  const size = fs.statSync(bundle).size;
  for (const r of rows) {
    assert.equal(r.bytes, size);
    assert.ok(r.after > r.before && r.before > 0, JSON.stringify(r));
    assert.equal(r.ratio, r.after / r.bytes);
  }
  assert.deepEqual(rows[0], rows[1]);
  assert.match(run(script, [bundle]).stdout, /^\| bundle \| file \|[^\n]*\n[^\n]*\n\| store\.vtr \|/);

  refusesATamperedBundle(script, []);
});

test('scripts/bench-updates.mjs: joins every shard of a set in both digest modes, refuses bad input', () => {
  const script = 'scripts/bench-updates.mjs';
  printsUsage(script);
  assert.equal(run(script, ['--no-such-option']).status, 2);
  const none = run(script, []);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /expected one shard set directory/);
  assert.match(run(script, ['--rounds', '0', 'x']).stderr, /--rounds must be a positive integer/);

  // The demo bundle cut into a head of 100 products and shards by category (the CLI from
  // scripts/build): every product is loaded at the end, in both modes.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-updates-'));
  try {
    const bin = path.join(REPO, 'target', 'release', 'vitrine');
    const cut = spawnSync(bin, ['catalog', 'shard', '--bundle', path.join(REPO, 'www/data/store.vtr'), '--head', '100', '--out-dir', path.join(tmp, 'set')], { encoding: 'utf8' });
    assert.equal(cut.status, 0, cut.stderr);
    const manifest = JSON.parse(fs.readFileSync(path.join(tmp, 'set', 'shards.json'), 'utf8'));
    const out = run(script, ['--rounds', '1', '--json', path.join(tmp, 'set')]);
    assert.equal(out.status, 0, out.stderr);
    const r = JSON.parse(out.stdout);
    assert.equal(r.shards, manifest.shards.length);
    assert.ok(r.shards > 0);
    assert.equal(r.items, manifest.items);
    for (const m of ['wasm', 'platform']) assert.ok(r.modes[m].allMs > 0 && r.modes[m].perShardP50 > 0, JSON.stringify(r));
    // A shard changed in transit is refused by its digest in either mode: exit 1.
    const first = path.join(tmp, 'set', manifest.shards[0].url);
    const bytes = fs.readFileSync(first);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(first, bytes);
    const bad = run(script, ['--rounds', '1', path.join(tmp, 'set')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^bench-updates: .*digest/i);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('scripts/bench-load.mjs: times loads of two builds side by side, refuses bad input', () => {
  const script = 'scripts/bench-load.mjs';
  printsUsage(script);
  assert.equal(run(script, ['--no-such-option']).status, 2);
  assert.match(run(script, ['x.vtr']).stderr, /--a and --b are required/);
  const pkg = path.join(REPO, 'www', 'pkg');
  assert.match(run(script, ['--a', pkg, '--b', pkg]).stderr, /no bundle given/);
  assert.match(run(script, ['--a', pkg, '--b', pkg, '--rounds', '0', 'x.vtr']).stderr, /--rounds must be a positive integer/);

  // The demo bundle with the package against itself: both columns measured, ratios of the two.
  const bundle = path.join(REPO, 'www/data/store.vtr');
  const out = run(script, ['--a', pkg, '--b', pkg, '--rounds', '2', '--json', bundle]);
  assert.equal(out.status, 0, out.stderr);
  const [row] = JSON.parse(out.stdout);
  assert.equal(row.bytes, fs.statSync(bundle).size);
  for (const mode of ['verified', 'unverified']) {
    const m = row[mode];
    assert.ok(m.a > 0 && m.b > 0, JSON.stringify(row));
    assert.equal(m.ratio, m.b / m.a);
  }
  refusesATamperedBundle(script, ['--a', pkg, '--b', pkg]);
});

test('scripts/bench-stream.mjs: times a streamed load against a whole-body one, refuses bad input', () => {
  const script = 'scripts/bench-stream.mjs';
  printsUsage(script);
  assert.equal(run(script, ['--no-such-option']).status, 2);
  assert.match(run(script, []).stderr, /no bundle given/);
  assert.match(run(script, ['--rates', '5,x', 'x.vtr']).stderr, /--rates must list numbers ≥ 0/);
  assert.match(run(script, ['--rates=-1', 'x.vtr']).stderr, /--rates must list numbers ≥ 0/);
  assert.match(run(script, ['--rounds', '0', 'x.vtr']).stderr, /--rounds must be a positive integer/);

  // The demo bundle at a slow rate and at once: both paths timed, after the download's end.
  const bundle = path.join(REPO, 'www/data/store.vtr');
  const out = run(script, ['--rates', '2,0', '--rounds', '2', '--json', bundle]);
  assert.equal(out.status, 0, out.stderr);
  const rows = JSON.parse(out.stdout);
  assert.deepEqual(rows.map((r) => r.rate), [2, 0]);
  for (const r of rows) {
    assert.equal(r.bytes, fs.statSync(bundle).size);
    assert.ok(r.whole > 0 && r.streamed > 0, JSON.stringify(r));
    assert.equal(r.ratio, r.streamed / r.whole);
  }
  refusesATamperedBundle(script, ['--rates', '0', '--rounds', '1']);
  // With the file's integrity hash: both paths check it, and say so.
  const sri = run(script, ['--integrity', '--rates', '0', '--rounds', '1', '--json', bundle]);
  assert.equal(sri.status, 0, sri.stderr);
  const [withSri] = JSON.parse(sri.stdout);
  assert.equal(withSri.integrity, true);
  assert.ok(withSri.whole > 0 && withSri.streamed > 0, JSON.stringify(withSri));

  // In Chromium, on real fetches from the throttling server: the page's totals come back too.
  const browser = run(script, ['--browser', '--rates', '4,0', '--rounds', '1', '--json', bundle]);
  assert.equal(browser.status, 0, browser.stderr);
  const inPage = JSON.parse(browser.stdout);
  assert.deepEqual(inPage.map((r) => r.rate), [4, 0]);
  for (const r of inPage) {
    assert.match(r.browser, /^Chromium /);
    assert.ok(r.totals.download > 0 && r.totals.whole > 0 && r.totals.streamed > 0, JSON.stringify(r));
    assert.equal(r.streamed, r.totals.streamed - r.totals.download);
  }
  // At 4 MB/s the 81 KB bundle takes about 20 ms to arrive.
  assert.ok(inPage[0].totals.download >= 15, JSON.stringify(inPage[0]));
});

test('scripts/check-layout.mjs: finds import circles and long files; a crate re-exported at the root is not a file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-layout-'));
  const write = (files) => {
    fs.rmSync(path.join(dir, 'src'), { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'src'));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'src', name), text);
  };
  const check = () => run('scripts/check-layout.mjs', ['--max-lines', '20', path.join(dir, 'src')]);
  try {
    // `crate::kernels::…` goes to another crate (vitrine's layout), and a → b is one way.
    write({
      'lib.rs': 'pub use vitrine_kernels as kernels;\nmod a;\nmod b;\npub use a::X;\n',
      'a.rs': 'use crate::kernels::top_k;\nuse crate::b::Y;\npub struct X;\n',
      'b.rs': 'use crate::kernels::Scored;\npub struct Y;\n',
    });
    const ok = check();
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /layout: ok/);

    // b → a closes a circle.
    write({
      'lib.rs': 'mod a;\nmod b;\n',
      'a.rs': 'use crate::b::Y;\npub struct X;\n',
      'b.rs': 'use crate::a::X;\npub struct Y;\n',
    });
    const circle = check();
    assert.equal(circle.status, 1);
    assert.match(circle.stdout, /import circle: src\/a\.rs ↔ src\/b\.rs/);

    // A file past --max-lines.
    write({ 'lib.rs': '//\n'.repeat(21) });
    const long = check();
    assert.equal(long.status, 1);
    assert.match(long.stdout, /lib\.rs: 22 lines \(more than 20\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
