// What shelves load by URL, shared between them: one engine per bundle URL and options, one
// catalog per URL. A failed load is forgotten, so the next shelf tries again. Browser-only when
// called (document.baseURI); importing it does nothing.

import { Vitrine } from './index.js';

// Shelves that name the same bundle URL (and options) share one engine.
const sharedEngines = new Map();
export function sharedEngine(src, options) {
  const key = JSON.stringify([new URL(src, document.baseURI).href, options]);
  if (!sharedEngines.has(key)) {
    const p = Vitrine.load(src, options);
    p.catch(() => sharedEngines.delete(key));
    sharedEngines.set(key, p);
  }
  return sharedEngines.get(key);
}

const catalogs = new Map();
export function fetchCatalog(url) {
  const href = new URL(url, document.baseURI).href;
  if (!catalogs.has(href)) {
    const p = fetch(href, { credentials: 'same-origin' }).then(async (res) => {
      if (!res.ok) throw new Error(`could not fetch the catalog ${url}: HTTP ${res.status}`);
      return res.json();
    });
    p.catch(() => catalogs.delete(href));
    catalogs.set(href, p);
  }
  return catalogs.get(href);
}
