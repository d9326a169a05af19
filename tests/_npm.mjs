// Shared helpers for the tests of the packed npm package (not a test file itself): the tarball
// (scripts/pack-npm, once per process) and the scratch project in target/npm-scratch that installs
// its tools from the npm registry once (kept between runs) and the tarball every time.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { REPO } from './_browser.mjs';

export const SCRATCH = path.join(REPO, 'target', 'npm-scratch');
export const NPM_FLAGS = ['--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'];

/** What the scratch project installs from the registry: package -> major version it must have. */
export const TOOLS = {
  vite: '7',
  typescript: '5',
  react: '19',
  'react-dom': '19',
  '@types/react': '19',
  '@types/react-dom': '19',
  '@segment/analytics-next': '1',
};

export function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: SCRATCH, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000, ...opts });
}

let tarball = null;
/** Builds the package once per test process; returns the tarball's path. */
export function pack() {
  tarball ??= execFileSync(path.join(REPO, 'scripts', 'pack-npm'), { encoding: 'utf8' }).trim().split('\n').at(-1);
  return tarball;
}

const installedMajor = (dir, name) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version.split('.')[0];
  } catch {
    return null;
  }
};

let scratchReady = false;
/** The scratch project with TOOLS and the freshly packed tarball installed. */
export function scratch() {
  if (scratchReady) return SCRATCH;
  const tgz = pack();
  fs.mkdirSync(SCRATCH, { recursive: true });
  fs.writeFileSync(path.join(SCRATCH, 'package.json'), JSON.stringify({ name: 'vitrine-scratch', private: true, type: 'module' }, null, 2));
  const specs = Object.entries(TOOLS).map(([name, major]) => `${name}@${major}`);
  const missing = Object.entries(TOOLS).some(([name, major]) => installedMajor(SCRATCH, name) !== major);
  if (missing) run('npm', ['install', ...NPM_FLAGS, ...specs]);
  run('npm', ['install', ...NPM_FLAGS, '--prefer-offline', ...specs, tgz]);
  scratchReady = true;
  return SCRATCH;
}

/** Copies the demo bundle and a catalog (without images, which the scratch pages do not serve) into `dir`. */
export function demoData(dir, WWW) {
  const catalog = JSON.parse(fs.readFileSync(path.join(WWW, 'data', 'catalog.json'), 'utf8'));
  const slim = { products: catalog.products.map(({ image, ...p }) => p), categories: catalog.categories };
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(WWW, 'data', 'store.vtr'), path.join(dir, 'store.vtr'));
  fs.writeFileSync(path.join(dir, 'catalog.json'), JSON.stringify(slim));
  return slim;
}
