// Types for 'vitrine/react'. Importing this entry (or `import type {} from 'vitrine/react'`) also
// declares <vitrine-shelf> for React's JSX.

import type { CSSProperties, ForwardRefExoticComponent, ReactNode, RefAttributes, DetailedHTMLProps, HTMLAttributes } from 'react';
import type { Vitrine, LoadOptions, RequestOptions, Recommendation } from './index.js';
import type { ShelfCatalog, ShelfStrings, ShelfEventMap, VitrineShelf as VitrineShelfElement, VitrineShelfAttributes } from './shelf.js';

export interface VitrineShelfProps {
  /** An instance to use (else `src` loads one). */
  vitrine?: Vitrine | null;
  src?: string;
  /** Catalog data, or its URL. */
  catalog?: ShelfCatalog | string;
  options?: RequestOptions;
  strings?: Partial<ShelfStrings>;
  /** In mode="similar": the item(s) to be similar to (an array for a cart). */
  similarTo?: string | string[];
  k?: number;
  placement?: string;
  mode?: 'recommend' | 'similar';
  item?: string;
  label?: string;
  currency?: string;
  locale?: string;
  layout?: 'row' | 'grid';
  integrity?: string;
  consent?: 'granted' | 'denied' | 'pending';
  /** Id of a <template> in the document used for every card. */
  template?: string;
  hrefTemplate?: string;
  emptyText?: string;
  reasons?: boolean;
  addToCart?: boolean;
  trackClicks?: boolean;
  worker?: boolean;
  id?: string;
  className?: string;
  style?: CSSProperties;
  children?: ReactNode;
  onItemClick?: (event: ShelfEventMap['vitrine:click']) => void;
  onAddToCart?: (event: ShelfEventMap['vitrine:add-to-cart']) => void;
  onImpression?: (event: ShelfEventMap['vitrine:impression']) => void;
  onRender?: (event: ShelfEventMap['vitrine:render']) => void;
  onError?: (event: ShelfEventMap['vitrine:error']) => void;
}

/** <vitrine-shelf> as a React component; the ref is the element. */
export const VitrineShelf: ForwardRefExoticComponent<VitrineShelfProps & RefAttributes<VitrineShelfElement>>;

/** Loads a bundle once per (src, options); null until ready (and on the server). */
export function useVitrine(src: string | URL, options?: LoadOptions, onError?: (error: Error) => void): Vitrine | null;

export interface RecommendationsState {
  items: Recommendation[];
  recommendationId: string | null;
  /** True until the first result (always during server rendering). */
  loading: boolean;
  error: Error | null;
  refresh(): void;
}

/** Results for your own markup, re-ranked after every change of the instance. */
export function useRecommendations(
  vitrine: Vitrine | null | undefined,
  options?: RequestOptions & { mode?: 'recommend' | 'similar'; item?: string | string[] },
): RecommendationsState;

type ShelfJsx = DetailedHTMLProps<HTMLAttributes<VitrineShelfElement>, VitrineShelfElement> &
  Omit<VitrineShelfAttributes, 'style' | 'children' | 'className' | 'class' | 'id' | 'hidden' | 'slot'> & { class?: string };

declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'vitrine-shelf': ShelfJsx;
    }
  }
}
