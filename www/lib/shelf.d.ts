import type { Vitrine, Recommendation, RequestOptions } from './index.js';

export interface ShelfProduct {
  id: string;
  name: string;
  price?: number;
  image?: string;
  url?: string;
  category?: string;
  [key: string]: unknown;
}

export type ShelfCatalog = ShelfProduct[] | { products: ShelfProduct[]; categories?: Array<{ id: string; name?: string }> } | Map<string, ShelfProduct>;

export interface ShelfItem extends Recommendation {
  product: ShelfProduct;
  reason: string | null;
}

export interface ShelfEventMap {
  'vitrine:click': CustomEvent<{ id: string; rank: number; placement: string; product?: ShelfProduct }>;
  'vitrine:impression': CustomEvent<{ placement: string; items: Array<{ id: string; rank: number }> }>;
  'vitrine:render': CustomEvent<{ placement: string; ids: string[]; ms: number; warnings: string[] }>;
  'vitrine:error': CustomEvent<{ error: unknown; message: string }>;
}

/**
 * <vitrine-shelf src catalog k placement mode="recommend|similar" item options reasons href-template
 *                label currency locale worker integrity consent track-clicks layout="row|grid" empty-text>
 */
export class VitrineShelf extends HTMLElement {
  static observedAttributes: string[];
  vitrine: Vitrine | null;
  catalog: ShelfCatalog | null;
  options: RequestOptions;
  readonly items: ShelfItem[];
  readonly k: number;
  readonly placement: string;
  readonly mode: 'recommend' | 'similar';
  /** Resolves after the first render. */
  readonly ready: Promise<void>;
  readonly renderCount: number;
  /** True while a render is scheduled, running, or deferred until the shelf is visible. */
  readonly pending: boolean;
  refresh(): Promise<void>;
  addEventListener<K extends keyof ShelfEventMap>(type: K, listener: (ev: ShelfEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener<K extends keyof HTMLElementEventMap>(type: K, listener: (ev: HTMLElementEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

/** Registers the element (default `vitrine-shelf`); returns its constructor. */
export function defineVitrineShelf(name?: string): typeof VitrineShelf;

declare global {
  interface HTMLElementTagNameMap {
    'vitrine-shelf': VitrineShelf;
  }
}
