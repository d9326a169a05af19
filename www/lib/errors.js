// Errors the package throws. Every failure is a `VitrineError` with a stable `code` (for programs)
// and a message that says what went wrong and what to check (for people).

/**
 * Codes:
 *  - `fetch_failed`      the bundle (or catalog) could not be fetched at all (network, CORS, offline)
 *  - `http_error`        the server answered with a non-2xx status
 *  - `content_type`      the server answered with something that is not a bundle (e.g. an HTML page)
 *  - `integrity`         the bytes do not match the `integrity` option
 *  - `bad_bundle`        the engine refused the bytes (not a bundle, truncated, digest mismatch, …)
 *  - `engine_load_failed` the WebAssembly engine could not be loaded or instantiated
 *  - `worker_failed`     the Web Worker could not be started or died
 *  - `unsupported`       the method does not exist in this engine build
 *  - `invalid_argument`  a bad argument to the JS layer
 *  - `destroyed`         the instance was destroyed
 *  - `invalid_json`      experiments.json is not JSON (Experiments.load)
 *  - experiments         the manifest's codes (`allocation`, `salt`, `unknown_field`, …, with
 *                        `path`: the JSON path of the field), `state_corrupt`, `unknown_experiment`
 *                        (docs/EXPERIMENTS.md)
 *  - anything else       passed through from the engine (`invalid_event`, `invalid_option`,
 *                        `update_mismatch`: a catalog update made for another bundle, …)
 */
export class VitrineError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'VitrineError';
    this.code = code;
  }
}

/** Turns anything thrown by the engine into a VitrineError, keeping the engine's code and text. */
export function fromEngineError(err, fallbackCode = 'engine_error') {
  if (err instanceof VitrineError) return err;
  const message = err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
  const code = err && typeof err === 'object' && typeof err.code === 'string' ? err.code : fallbackCode;
  return new VitrineError(code, message, { cause: err });
}

/** Plain-object form for postMessage (Errors do not keep `code` through structured clone everywhere). */
export function errorToWire(err) {
  const e = fromEngineError(err);
  return { code: e.code, message: e.message };
}

export function errorFromWire(w) {
  return new VitrineError(w?.code ?? 'engine_error', w?.message ?? 'unknown error in the engine worker');
}

export function unsupported(method) {
  return new VitrineError(
    'unsupported',
    `${method}() is not supported by this engine build (the loaded wasm has no ${method} method); ` +
      'update the vitrine package and rebuild the engine.',
  );
}
