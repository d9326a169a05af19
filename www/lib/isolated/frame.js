// Isolated mode, the frame's side: the entry script of frame.html (served from origin B). Reads the
// frame's configuration (the JSON block #vitrine-frame-config: which parent origins may embed it,
// where it fetches from), takes its role from the URL's fragment (#engine: the engine and its
// storage; #view: one rendered shelf) and talks to its parent through ParentLink only.

import { envelope, readFrameConfig } from './protocol.js';
import { ParentLink } from './link.js';
import { startEngine } from './engine-host.js';
import { startView } from './view.js';

function main() {
  const role = { '#engine': 'engine', '#view': 'view' }[location.hash] ?? null;
  const block = document.getElementById('vitrine-frame-config');
  const read = readFrameConfig(block?.textContent, location.origin);
  if (!read.ok || !role || globalThis.parent === globalThis) {
    console.error(`[vitrine frame] not started: ${!read.ok ? read.reason : !role ? 'the URL must end in #engine or #view' : 'open it in a frame'}`);
    // Nothing else is known about the parent: the code alone, to any origin.
    if (globalThis.parent !== globalThis) globalThis.parent.postMessage(envelope('error', { code: 'not_configured' }), '*');
    return;
  }
  const link = new ParentLink(role, read.config);
  if (role === 'engine') startEngine(link, read.config);
  else startView(link, read.config);
}

main();
