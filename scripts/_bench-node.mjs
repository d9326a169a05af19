// What the Node bench scripts that print a table or JSON share (bench-load, bench-memory,
// bench-updates): their command line (util.parseArgs with --json and --help; bad usage exits 2
// with the usage line, any other error exits 1 naming the script), loading a wasm build, medians.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * `util.parseArgs` of `argv` (strict, positionals allowed) with the script's `options` plus
 * `--json` and `-h, --help`; throws a TypeError on bad usage.
 * @returns {{values: Record<string, any>, positionals: string[]}}
 */
export function parseBenchArgs(argv, options) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      ...options,
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/** `text` as a positive integer, or a TypeError naming `flag`. */
export function positiveInteger(text, flag) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${flag} must be a positive integer, not ${text}`);
  return n;
}

/**
 * The wasm-pack build in `dir` (`<name>.js`, `<name>_bg.wasm`; the engine's `vitrine` unless
 * named, e.g. `vitrine_exp`), initialized: `{glue, wasm}`. With `instance`, a fresh instance of
 * its own (a query string makes Node import the glue anew).
 */
export async function loadBuild(dir, instance, name = 'vitrine') {
  const url = pathToFileURL(path.join(dir, `${name}.js`)).href;
  const glue = await import(instance === undefined ? url : `${url}?instance=${instance}`);
  const wasm = glue.initSync({ module: fs.readFileSync(path.join(dir, `${name}_bg.wasm`)) });
  return { glue, wasm };
}

/** The median of `values` (the upper one of an even count). */
export const median = (values) => [...values].sort((x, y) => x - y)[values.length >> 1];

/**
 * Runs the script when `moduleUrl` is the file Node was started with (not when a test imports it):
 * `parseCli(argv)` (throws on bad usage; `{help: true}` for `--help`), then `run(args)`, printed as
 * JSON with `args.json`, else through `markdown`.
 * @param {string} moduleUrl the script's `import.meta.url`
 * @param {{name: string, usage: string, parseCli: (argv: string[]) => any,
 *   run: (args: any) => Promise<unknown>, markdown: (result: any) => string}} script
 */
export function benchMain(moduleUrl, { name, usage, parseCli, run, markdown }) {
  if (!process.argv[1] || path.resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  let args;
  try {
    args = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(`${name}: ${e.message}\n${usage.split('\n')[0]} (--help for more)`);
    process.exit(2);
  }
  if (args.help) {
    console.log(usage);
    return;
  }
  run(args)
    .then((result) => console.log(args.json ? JSON.stringify(result, null, 2) : markdown(result)))
    .catch((e) => {
      console.error(`${name}: ${e.message}`);
      process.exit(1);
    });
}
