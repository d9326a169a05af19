// A real `vitrine exp collect` for the experiment tests: started on a free loopback port with a
// fresh SQLite file, stopped when the test ends.

import assert from 'node:assert/strict';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';

import { REPO } from './_browser.mjs';

/** The CLI the collector runs (VITRINE_BIN, else the release build). */
export const CLI = process.env.VITRINE_BIN ?? path.join(REPO, 'target', 'release', 'vitrine');

/** Starts `vitrine exp collect --manifest manifest` with its database in `dir`; resolves to {url, db}. */
export async function collector(t, dir, manifest) {
  const db = path.join(dir, 'reports.sqlite');
  const child = spawn(CLI, ['exp', 'collect', '--manifest', manifest, '--db', db, '--listen', '127.0.0.1:0', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill());
  const lines = readline.createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`vitrine exp collect exited ${code}`)));
  });
  const { url } = JSON.parse(first);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1\/reports$/);
  return { url, db };
}
