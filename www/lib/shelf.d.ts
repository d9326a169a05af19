import type { Vitrine, IsolatedVitrine, Recommendation, RequestOptions, ConsentState, ShelfRanker } from './index.js';

/** The shelf's parts (::part() names). */
export type ShelfPart =
  | 'list' | 'empty' | 'card' | 'link' | 'image' | 'body' | 'badges' | 'badge' | 'category' | 'brand' | 'name'
  | 'prices' | 'price' | 'sale-price' | 'regular-price' | 'availability' | 'reason' | 'add-to-cart';

export type Availability = 'in_stock' | 'out_of_stock' | 'preorder' | 'backorder';

/**
 * A catalog record (the catalog format's field names; the older `name` is read as `title`).
 * `out_of_stock` records are never shown.
 */
export interface ShelfProduct {
  id: string;
  title?: string;
  /** Older catalogs: the product's name. */
  name?: string;
  /** A category id (named by `categories`) or a path "Home > Kitchen > Knives". */
  category?: string;
  brand?: string;
  price?: number;
  /** ISO 4217 ("EUR", "JPY"); else the shelf's `currency` attribute; else none. */
  currency?: string;
  /** Shown as the price, the regular one struck through, when below `price`. */
  sale_price?: number;
  image?: string;
  url?: string;
  availability?: Availability;
  badges?: string[];
  [key: string]: unknown;
}

export type ShelfCatalog =
  | ShelfProduct[]
  | { products: ShelfProduct[]; categories?: Array<{ id: string; name?: string }> }
  | Map<string, ShelfProduct>;

export interface ShelfItem extends Recommendation {
  /** The catalog record. */
  product: ShelfProduct;
  reason: string | null;
}

/** Every string the shelf shows (English defaults); `{name}` and `{price}` are replaced. */
export interface ShelfStrings {
  label: string;
  empty: string;
  addToCart: string;
  addToCartLabel: string;
  salePrice: string;
  regularPrice: string;
  preorder: string;
  backorder: string;
  reasonViewed: string;
  reasonAdded: string;
  reasonBought: string;
  reasonFeatured: string;
  reasonPopular: string;
}

export const DEFAULT_STRINGS: Readonly<ShelfStrings>;
/** Strings for a locale ('de', 'de-CH'): region, then language, then English. */
export function setShelfStrings(locale: string, strings: Partial<ShelfStrings>): void;

export interface ShelfItemEventDetail {
  id: string;
  /** 1-based position. */
  rank: number;
  placement: string;
  label?: string;
  product?: ShelfProduct;
  /** The id of the result set that showed the item. */
  recommendationId: string | null;
}

/**
 * What an isolated shelf (README "Isolated mode") tells the page about the shopper's click: the id
 * they chose, nothing about the ranking (no rank, no product record from the frame, no result id).
 */
export interface IsolatedShelfItemEventDetail {
  id: string;
  placement: string;
  label?: string;
  rank?: undefined;
  product?: undefined;
  recommendationId?: undefined;
}

export interface ShelfEventMap {
  /** Cancelable: preventDefault() stops the navigation. */
  'vitrine:click': CustomEvent<ShelfItemEventDetail | IsolatedShelfItemEventDetail>;
  'vitrine:add-to-cart': CustomEvent<ShelfItemEventDetail | IsolatedShelfItemEventDetail>;
  'vitrine:impression': CustomEvent<{
    placement: string;
    label?: string;
    recommendationId: string | null;
    items: Array<{ id: string; rank: number; product?: ShelfProduct }>;
  }>;
  'vitrine:render': CustomEvent<{ placement: string; ids: string[]; warnings: string[]; recommendationId: string | null }>;
  /** (An isolated shelf sends no impression or render events: they would name what it shows.) */
  'vitrine:error': CustomEvent<{ error: unknown; message: string }>;
}

/** The attributes of <vitrine-shelf> (for JSX and templates). */
export interface VitrineShelfAttributes {
  src?: string;
  catalog?: string;
  k?: number | string;
  placement?: string;
  mode?: 'recommend' | 'similar' | 'bought-together' | 'also-bought' | 'trending';
  item?: string;
  options?: string;
  reasons?: boolean | '';
  'href-template'?: string;
  label?: string;
  'empty-text'?: string;
  currency?: string;
  locale?: string;
  layout?: 'row' | 'grid';
  'add-to-cart'?: boolean | '';
  'track-clicks'?: boolean | '';
  template?: string;
  strings?: string;
  worker?: boolean | '';
  integrity?: string;
  consent?: ConsentState;
  /** Render in an isolated frame (README "Isolated mode"); with `src`, `frame-src` is the frame's URL. */
  isolated?: boolean | '';
  'frame-src'?: string;
  /** Isolated mode: ::part() declarations as JSON, {"card": {"border-radius": "4px"}}. */
  parts?: string;
  id?: string;
  class?: string;
  className?: string;
  style?: unknown;
  slot?: string;
  hidden?: boolean;
  children?: unknown;
}

/**
 * <vitrine-shelf src catalog k placement mode="recommend|similar|bought-together|also-bought|trending" item options reasons href-template
 *                label empty-text currency locale add-to-cart template strings worker integrity consent
 *                track-clicks layout="row|grid" isolated frame-src parts>
 */
export interface VitrineShelf extends HTMLElement {
  /** An IsolatedVitrine makes the shelf render in a frame of its own (isolated mode). */
  vitrine: Vitrine | IsolatedVitrine | null;
  /** Isolated mode: CSS declarations per part, passed to the frame (::part() rules cannot cross into it). */
  parts: Partial<Record<ShelfPart, Record<string, string>>> | null;
  /**
   * Optional: data, or a URL (as the `catalog` attribute), shown instead of the records the bundle
   * carries (`vitrine.catalog`, the default). Isolated mode: a URL only.
   */
  catalog: ShelfCatalog | string | null;
  options: RequestOptions;
  strings: Partial<ShelfStrings> | null;
  /** In mode="similar", "bought-together", "also-bought": the item(s) the shelf is about (an array for a cart); overrides `item`. */
  similarTo: string | string[] | null;
  /** Ranks instead of the mode's call, e.g. `experiments.ranker(id)` (not in isolated mode). */
  ranker: ShelfRanker | null;
  readonly items: ShelfItem[];
  /** The random id of the result set on display. */
  readonly recommendationId: string | null;
  k: number;
  placement: string;
  mode: 'recommend' | 'similar' | 'bought-together' | 'also-bought' | 'trending';
  /**
   * Settles once: resolves after the first render, or rejects with the error of a first attempt
   * that failed (the error of its `vitrine:error` event; later renders still happen).
   */
  readonly ready: Promise<void>;
  /** Resolves to the shelf's Vitrine instance once it has one (loaded from `src`, or set): e.g. fromDataLayer(shelf.vitrineReady). */
  readonly vitrineReady: Promise<Vitrine | IsolatedVitrine>;
  readonly renderCount: number;
  /** True while a render is scheduled, running, or deferred until the shelf is visible. */
  readonly pending: boolean;
  refresh(): Promise<void>;
  addEventListener<K extends keyof ShelfEventMap>(type: K, listener: (ev: ShelfEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener<K extends keyof HTMLElementEventMap>(type: K, listener: (ev: HTMLElementEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ShelfEventMap>(type: K, listener: (ev: ShelfEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

export interface VitrineShelfConstructor {
  new (): VitrineShelf;
  prototype: VitrineShelf;
  readonly observedAttributes: string[];
}

/**
 * Registers the element (default `vitrine-shelf`) and returns its class. Needs a browser: the
 * class is created here, so importing 'vitrine/shelf' on a server is safe.
 */
export function defineVitrineShelf(name?: string): VitrineShelfConstructor;

declare global {
  interface HTMLElementTagNameMap {
    'vitrine-shelf': VitrineShelf;
  }
}
