// The Node scripts read their command line with util.parseArgs: --help prints the usage and exits
// 0, an unknown option or a bad value exits 2 with a message naming it.
//
//   node --test tests/scripts.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { REPO } from './_browser.mjs';

const SCRIPTS = {
  'scripts/serve.mjs': { bad: ['--port', '70000'], badMessage: /--port must be 0\.\.65535/ },
  'scripts/bench.mjs': { bad: ['--sizes', '10'], badMessage: /--sizes: whole numbers ≥ 300/ },
  'www/gen-demo-data.mjs': { bad: ['--sessions', '0'], badMessage: /--sessions must be a positive integer/ },
};

const run = (script, args) => spawnSync(process.execPath, [path.join(REPO, script), ...args], { encoding: 'utf8', timeout: 20_000 });

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
