'use client'; // (React Server Components: these are client components)
// React bindings: `<VitrineShelf>` (the <vitrine-shelf> element with React props and callbacks),
// `useRecommendations()` (results for your own markup) and `useVitrine()` (load an engine once).
//
//   import { VitrineShelf, useVitrine, useRecommendations } from 'vitrine/react';
//
// Server-side rendering: nothing here touches a browser API while rendering. The server renders
// <vitrine-shelf …attributes> (and the hooks their loading state); in the browser the element is
// defined and filled after hydration, so the server's markup and the first client render agree.
// Works with React 18 and 19 (objects and callbacks go through properties and listeners, never
// through attributes). Written without JSX, so it needs no build step.
//
// React is an optional peer dependency: it is imported when this module loads, and when it is not
// installed the module still loads (e.g. `node -e "import('vitrine/react')"` in a project without
// React) and its exports throw a clear error when used.

import { Vitrine } from './index.js';
import { defineVitrineShelf } from './shelf.js';

let React = null;
try {
  const mod = await import('react');
  React = typeof mod.createElement === 'function' ? mod : mod.default;
} catch {
  /* not installed: see need() */
}

function need() {
  if (!React) throw new Error("vitrine/react needs React 18 or newer: npm install react react-dom");
  return React;
}

const EVENTS = {
  onItemClick: 'vitrine:click',
  onAddToCart: 'vitrine:add-to-cart',
  onImpression: 'vitrine:impression',
  onRender: 'vitrine:render',
  onError: 'vitrine:error',
};

/** Props passed as attributes: prop name -> attribute name. */
const ATTRIBUTES = {
  src: 'src',
  k: 'k',
  placement: 'placement',
  mode: 'mode',
  item: 'item',
  label: 'label',
  currency: 'currency',
  locale: 'locale',
  layout: 'layout',
  integrity: 'integrity',
  consent: 'consent',
  template: 'template',
  hrefTemplate: 'href-template',
  emptyText: 'empty-text',
};
const FLAGS = { reasons: 'reasons', addToCart: 'add-to-cart', trackClicks: 'track-clicks', worker: 'worker' };

/**
 * The shelf as a React component. `vitrine`, `catalog` (data, or a URL string), `options`,
 * `strings` and `similarTo` are set as properties; `onItemClick`, `onAddToCart`, `onImpression`,
 * `onRender` and `onError` receive the element's events. The ref is the <vitrine-shelf> element.
 */
function VitrineShelfRender(props, ref) {
  const { createElement, useEffect, useImperativeHandle, useRef } = need();
  const { vitrine, catalog, options, strings, similarTo, id, className, style } = props;
  const el = useRef(null);
  useImperativeHandle(ref, () => el.current, []);
  const handlers = useRef({});
  handlers.current = props;

  // The element exists in the browser only: define it after the first (hydrating) render.
  useEffect(() => {
    defineVitrineShelf();
  }, []);
  useEffect(() => {
    const node = el.current;
    const listeners = Object.entries(EVENTS).map(([prop, type]) => {
      const fn = (e) => handlers.current[prop]?.(e);
      node.addEventListener(type, fn);
      return [type, fn];
    });
    return () => listeners.forEach(([type, fn]) => node.removeEventListener(type, fn));
  }, []);
  useEffect(() => {
    if (vitrine) el.current.vitrine = vitrine;
  }, [vitrine]);
  useEffect(() => {
    if (catalog != null && typeof catalog !== 'string') el.current.catalog = catalog;
  }, [catalog]);
  const optionsKey = JSON.stringify(options ?? null);
  useEffect(() => {
    if (options !== undefined) el.current.options = options;
  }, [optionsKey]); // eslint-disable-line react-hooks/exhaustive-deps -- compared by value
  const stringsKey = JSON.stringify(strings ?? null);
  useEffect(() => {
    if (strings !== undefined) el.current.strings = strings;
  }, [stringsKey]); // eslint-disable-line react-hooks/exhaustive-deps
  const similarKey = JSON.stringify(similarTo ?? null);
  useEffect(() => {
    if (similarTo !== undefined) el.current.similarTo = similarTo;
  }, [similarKey]); // eslint-disable-line react-hooks/exhaustive-deps

  const attrs = { ref: el, id, className, style };
  for (const [prop, name] of Object.entries(ATTRIBUTES)) if (props[prop] != null) attrs[name] = String(props[prop]);
  for (const [prop, name] of Object.entries(FLAGS)) if (props[prop]) attrs[name] = '';
  if (typeof catalog === 'string') attrs.catalog = catalog;
  return createElement('vitrine-shelf', attrs, props.children);
}

export const VitrineShelf = React
  ? React.forwardRef(VitrineShelfRender)
  : function VitrineShelf() {
      need();
    };

const loads = new Map();

/**
 * Loads a bundle once per (src, options) and returns the Vitrine instance, or null until it is
 * ready (and on the server). A failed load is thrown into `onError` (and logged) and returns null.
 */
export function useVitrine(src, options = {}, onError) {
  const { useEffect, useState } = need();
  const [vitrine, setVitrine] = useState(null);
  const key = JSON.stringify([String(src), options]);
  useEffect(() => {
    let live = true;
    if (!loads.has(key)) {
      const p = Vitrine.load(src, options);
      p.catch(() => loads.delete(key));
      loads.set(key, p);
    }
    loads.get(key).then(
      (v) => live && setVitrine(v),
      (err) => {
        if (!live) return;
        if (onError) onError(err);
        else console.error(err);
      },
    );
    return () => {
      live = false;
    };
  }, [key]); // eslint-disable-line react-hooks/exhaustive-deps -- compared by value
  return vitrine;
}

/**
 * Recommendations for your own markup. Re-ranks after every change of the instance (track(),
 * configure(), forget()…) and when `options` change (compared by value).
 *
 * @param {Vitrine|null|undefined} vitrine
 * @param {{mode?: 'recommend'|'similar', item?: string|string[], k?: number, [option: string]: unknown}} [options]
 * @returns {{items: Array<object>, recommendationId: string|null, loading: boolean, error: Error|null, refresh: () => void}}
 *   `loading` is true until the first result (always on the server).
 */
export function useRecommendations(vitrine, options = {}) {
  const { useCallback, useEffect, useState } = need();
  const [state, setState] = useState({ items: [], recommendationId: null, loading: true, error: null });
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  const key = JSON.stringify(options);
  useEffect(() => {
    if (!vitrine) return undefined;
    vitrine.addEventListener('change', refresh);
    return () => vitrine.removeEventListener('change', refresh);
  }, [vitrine, refresh]);
  useEffect(() => {
    if (!vitrine) return undefined;
    let live = true;
    const { mode = 'recommend', item, ...request } = options;
    const run = mode === 'similar' ? (item == null ? null : vitrine.similar(item, request)) : vitrine.recommend(request);
    if (!run) return undefined;
    run.then(
      (list) => live && setState({ items: [...list], recommendationId: list.recommendationId ?? null, loading: false, error: null }),
      (error) => live && setState((s) => ({ ...s, loading: false, error })),
    );
    return () => {
      live = false;
    };
  }, [vitrine, key, tick]); // eslint-disable-line react-hooks/exhaustive-deps -- options compared by value
  return { ...state, refresh };
}
