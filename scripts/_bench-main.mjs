// The command-line ending shared by the Node bench scripts that print a table or JSON
// (bench-load, bench-memory, bench-updates): bad usage exits 2 with the usage line, `--help`
// prints the usage, any other error exits 1 naming the script.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
