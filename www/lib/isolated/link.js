// Isolated mode, the frame's end of the page protocol (used by frame.js, engine-host.js, view.js).

import { FloodGate, LIMITS, TO_FRAME, envelope, originAllowed, validateMessage } from './protocol.js';

/**
 * The frame's end of the page protocol. A message is taken only from the parent window, from an
 * allowed origin (pinned by the first `init`), within the flood limit, and when it validates; every
 * refusal is reported to the parent as an error code (at most LIMITS.errorsPerSecond of them) and
 * nothing the page sends can throw here.
 */
export class ParentLink {
  #role;
  #config;
  #handler = null;
  #gate = new FloodGate();
  #errors = new FloodGate({ burst: LIMITS.errorsPerSecond, perSecond: LIMITS.errorsPerSecond });
  #refusedParent = false;
  /** The parent's origin, once an allowed parent sent `init`. */
  parentOrigin = null;

  constructor(role, config) {
    this.#role = role;
    this.#config = config;
    globalThis.addEventListener('message', (e) => {
      try {
        this.#receive(e);
      } catch {
        this.report('bad_schema');
      }
    });
  }

  /** Sets the function that gets every accepted message. */
  onMessage(handler) {
    this.#handler = handler;
  }

  #receive(e) {
    if (!this.#gate.take()) return this.report('rate_limited');
    if (this.parentOrigin !== null && e.origin !== this.parentOrigin) return this.report('bad_origin');
    if (e.source !== globalThis.parent || globalThis.parent === globalThis) return this.report('bad_source');
    // A parent of the frame's own origin could read the frame's document: that is no isolation.
    if (this.parentOrigin === null && (e.origin === globalThis.location.origin || !originAllowed(e.origin, this.#config.parents))) {
      // Tell a page that may not use this frame so, once; it learns nothing else.
      if (!this.#refusedParent) {
        this.#refusedParent = true;
        e.source.postMessage(envelope('error', { code: 'origin_not_allowed' }), e.origin);
      }
      return;
    }
    if (e.ports?.length) return this.report('bad_schema', null, e.origin);
    const v = validateMessage(e.data, TO_FRAME[this.#role]);
    const ref = Number.isInteger(e.data?.ref) && e.data.ref >= 0 ? e.data.ref : null;
    if (!v.ok) return this.report(v.code, ref, e.origin);
    if (v.message.kind === 'init') {
      if (this.parentOrigin !== null) return this.report('already_initialized', ref);
      this.parentOrigin = e.origin;
    } else if (this.parentOrigin === null) {
      return this.report('not_ready', ref, e.origin);
    }
    this.#handler?.(v.message);
  }

  /** Posts `kind` to the parent (only once it is known). */
  post(kind, fields = {}, origin = this.parentOrigin) {
    if (origin === null || globalThis.parent === globalThis) return;
    globalThis.parent.postMessage(envelope(kind, fields), origin);
  }

  /** Reports an error code to the parent, within the error rate limit. */
  report(code, ref = null, origin = this.parentOrigin) {
    if (origin === null || !this.#errors.take()) return;
    this.post('error', ref == null ? { code } : { code, ref }, origin);
  }
}

/**
 * Posts a reply `QUANTUM_MS`-aligned after `t0` (the time the request arrived), so that how long
 * the engine took (which grows with the history it restores or scores) is hidden unless it crosses
 * a boundary: the page sees whole multiples of the quantum.
 */
export const QUANTUM_MS = 100;
export function quantized(t0, fn) {
  const dt = performance.now() - t0;
  const due = Math.max(1, Math.ceil(dt / QUANTUM_MS)) * QUANTUM_MS;
  setTimeout(fn, due - dt);
}
