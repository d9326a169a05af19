// Types for the `vitrine` package. Every method is async and identical in main-thread and worker mode.

export type ConsentState = 'granted' | 'denied' | 'pending';
/** 'persistent': on this device across visits (consent); 'visit': this tab until it closes (before a choice); 'memory': this page. */
export type StorageMode = 'persistent' | 'visit' | 'memory';

export type EventType = 'view' | 'click' | 'add_to_cart' | 'remove_from_cart' | 'purchase' | 'search' | (string & {});

/** A shopper event. `ts` is milliseconds since the Unix epoch (default: now). */
export interface TrackEvent {
  type: EventType;
  item?: string;
  ts?: number;
  dwellMs?: number;
  quantity?: number;
  price?: number;
  query?: string;
}

/** Context the page passes per request (the bundle decides what matters). */
export interface RequestContext {
  hour?: number;
  weekday?: number | string;
  device?: 'mobile' | 'tablet' | 'desktop' | 'tv' | 'other' | (string & {});
  locale?: string;
  country?: string;
  channel?: string;
  referrer?: string;
  weather?: string;
  custom?: Record<string, string | number | boolean>;
}

export interface RequestOptions {
  /** How many results (1–10,000). */
  k?: number;
  context?: RequestContext;
  filters?: {
    categories?: string[];
    excludeCategories?: string[];
    priceMin?: number;
    priceMax?: number;
    allow?: string[];
    deny?: string[];
  };
  exclude?: string[];
  boosts?: Array<{ items?: string[]; categories?: string[]; weight: number }>;
  pins?: Array<{ item: string; rank: number }>;
  diversity?: { maxPerCategory?: number; lambda?: number; pool?: number };
  excludeSeen?: boolean;
  excludePurchased?: boolean;
  excludeInCart?: boolean;
  /** Attach `why` to each result. */
  explain?: boolean;
  /** Request time in ms (decay). */
  now?: number;
  /**
   * Off-policy evaluation (`Experiments.ranker` sets it from the manifest's `report.ope`): a share
   * of fresh releases drawn at a lower ε, and the probabilities of the release under a candidate ε
   * in the results' `propensity`. `unit: 'device'` with the shelf cut only (else a warning).
   */
  ope?: { share: number; epsilon: number; candidateEpsilon: number };
  [option: string]: unknown;
}

/** The probabilities of a fresh release (the `ope` option): device-only data, for `Experiments`. */
export interface Propensity {
  /** Probability of the released shelf cut under the setting that ran (exploration included). */
  logging: number;
  /** Probability of the same release under the candidate ε. */
  candidate: number;
  /** Whether the release shows the device record's key item. */
  keyShown: boolean;
  /** Probability that the candidate's release shows the key item. */
  candidateKeyShown: number;
}

export interface EventReason {
  type: EventType;
  item: string;
  ts: number;
  weight: number;
  similarity: number;
  contribution: number;
}

export interface Explanation {
  id?: string;
  score?: number;
  contributions: Array<{ feature: string; value: number }>;
  events: EventReason[];
  context: Array<{ feature: string; value: number }>;
  personalized: boolean;
  pinned: boolean;
  [key: string]: unknown;
}

export interface Recommendation {
  id: string;
  score: number;
  /** 1-based position. */
  rank?: number;
  pinned?: boolean;
  boosted?: boolean;
  why?: Explanation;
  /** In an interleaved experiment's list (`Experiments.ranker`): the arm that picked it, 0 or 1. */
  team?: 0 | 1;
}

/** Results, best first, plus the ids the request named that the bundle does not know, and warnings. */
export interface Recommendations extends Array<Recommendation> {
  unknownIds: string[];
  warnings: string[];
  /** With the `ope` option, after a fresh release: its probabilities. */
  propensity?: Propensity;
  /**
   * A fresh random id (UUID v4 from the browser's CSPRNG) for this result set, derived from nothing
   * about the shopper; the shelf's click and impression events repeat it.
   */
  recommendationId: string;
}

/** What the engine's privacyStatus() reports (differential privacy; see docs/PRIVACY.md). */
export interface PrivacyStatus {
  /** False only in the explicit non-private mode (epsilon: Infinity). */
  private?: boolean;
  mechanism?: string;
  unit?: string;
  /** ε and δ of one release. */
  epsilon?: number | null;
  delta?: number | null;
  budget?: {
    epsilon: number;
    delta: number;
    periodMs?: number | null;
    spentEpsilon: number;
    spentDelta?: number;
    remainingEpsilon: number;
    releases?: number;
    periodEndsMs?: number | null;
    [key: string]: unknown;
  } | null;
  releasesLeft?: number | null;
  lastSource?: 'fresh' | 'cached' | 'public' | 'notPrivate' | null;
  /** With `experiments` given to `load`: the measurement budget of the experiment reports. */
  measurement?: MeasurementStatus | null;
  [key: string]: unknown;
}

export interface ImportReport {
  imported?: number;
  unknownItems?: number;
  expired?: number;
  overLimit?: number;
  [key: string]: unknown;
}

export interface LoadProgress {
  phase: 'bundle' | 'verify' | 'engine' | 'ready';
  loaded: number;
  /** null when the server did not say how big the bundle is. */
  total: number | null;
}

/** A key/value store for the session (bring your own). `set` may throw QuotaExceededError. */
export interface StorageAdapter {
  name?: string;
  /** True when set() and remove() have done their work when they return (Web Storage): written from `pagehide`. */
  sync?: boolean;
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
}

export interface StorageIssue {
  kind: 'corrupt' | 'expired' | 'schema' | 'quota' | 'unavailable' | 'write_failed' | 'rejected' | 'unsupported';
  message: string;
  code?: string;
}

export interface LoadOptions {
  /**
   * Subresource-Integrity string, e.g. "sha256-…" (checked with crypto.subtle before the engine sees a
   * byte). Bytes that match it skip the bundle's own digest check (the same bytes, already vouched
   * for: about half the load time); every other check of the bundle still runs.
   */
  integrity?: string;
  /** Run the engine in a module Web Worker (same async API, same results). */
  worker?: boolean;
  /** Default 'pending': in memory only until the shopper decides. */
  consent?: ConsentState;
  /** Where the session goes once consent is granted. Default 'localStorage'; false = never store (nor the visit). */
  storage?: 'localStorage' | 'sessionStorage' | 'indexedDB' | 'memory' | StorageAdapter | false;
  /**
   * Where the current visit goes while consent is 'pending' (never with 'denied' or Global Privacy
   * Control). Default 'sessionStorage' (this tab, gone when it closes); false keeps it in the page's memory.
   */
  visitStorage?: 'sessionStorage' | 'memory' | StorageAdapter | false;
  /** Changes are written at most this often, in ms (default 500); hiding or leaving the page writes at once. */
  saveDelay?: number;
  /** Storage key (default 'vitrine:session'). */
  storageKey?: string;
  /** Time to live of a stored session in ms (default 30 days). */
  ttl?: number;
  /** Where the engine's .wasm comes from (default: next to the package's glue, via import.meta.url). */
  wasm?: string | URL | BufferSource | WebAssembly.Module;
  /** Where the worker script comes from (default: the package's lib/worker.js). */
  workerUrl?: string | URL;
  /** Session settings passed to the engine's configure() (maxEvents, halfLifeS, weights, …). */
  settings?: Record<string, unknown>;
  /** Extra options for fetch() of the bundle. */
  fetchOptions?: RequestInit;
  onProgress?: (progress: LoadProgress) => void;
  /** Storage problems found while loading (also dispatched later as 'storageissue'). */
  onStorageIssue?: (issue: StorageIssue) => void;
  /**
   * Isolated mode (README "Isolated mode"): the engine, its storage and the shelves run in frames
   * served from another origin; `load` resolves to an IsolatedVitrine.
   */
  isolation?: IsolationOptions;
  /** The page's `Experiments`: `privacyStatus()` then shows their measurement budget and `forget()` clears their tallies. */
  experiments?: Experiments;
}

export interface IsolationOptions {
  /** The frame's URL (lib/isolated/frame.html of the package, served from a second origin you control). */
  frame: string | URL;
  /** How long load() waits for the frame, in ms (default 30,000). */
  timeout?: number;
}

/** The options isolated mode takes: the frame fetches the bundle (a URL, relative to the frame's) and keeps the storage. */
export interface IsolatedLoadOptions {
  isolation: IsolationOptions;
  integrity?: string;
  /** Run the engine in a Web Worker inside the frame (default true there). */
  worker?: boolean;
  consent?: ConsentState;
  storage?: 'localStorage' | 'sessionStorage' | 'indexedDB' | 'memory' | false;
  visitStorage?: 'sessionStorage' | 'memory' | false;
  storageKey?: string;
  ttl?: number;
  saveDelay?: number;
  settings?: Record<string, unknown>;
}

/** Codes of the isolated mode's `error` events and rejections (the protocol's refusals and the frame's problems). */
export type IsolationErrorCode =
  | 'bad_origin' | 'bad_source' | 'bad_schema' | 'bad_version' | 'unknown_kind' | 'unknown_field' | 'too_large'
  | 'rate_limited' | 'not_ready' | 'already_initialized' | 'origin_not_allowed' | 'not_configured'
  | 'source_not_allowed' | 'catalog_failed' | 'engine_unavailable' | 'frame_timeout' | 'engine_error' | VitrineErrorCode;

export interface IsolationErrorDetail {
  code: IsolationErrorCode;
  message: string;
  /** The `ref` of the message it answers, when it answers one. */
  ref?: number;
}

/**
 * A Vitrine whose engine and history live in an isolated frame: the page sends events, consent
 * and forget(); the rankings are shown only by <vitrine-shelf> inside frames. The methods that
 * would read the history reject with VitrineError code 'isolated'.
 */
export class IsolatedVitrine extends EventTarget {
  private constructor();
  static load(source: string | URL, options: IsolatedLoadOptions): Promise<IsolatedVitrine>;
  readonly isolated: true;
  readonly mode: 'isolated';
  readonly frameUrl: string;
  readonly frameOrigin: string;
  readonly itemCount: null;
  readonly capabilities: Array<'track' | 'forget' | 'applyUpdate' | 'loadShards'>;
  readonly info: { isolated: true; frameOrigin: string; capabilities: Array<'track' | 'forget' | 'applyUpdate' | 'loadShards'> };
  readonly consent: ConsentState;
  readonly globalPrivacyControl: boolean;
  readonly storageMode: StorageMode;
  /** Error codes the frames reported so far (also dispatched as 'error' events). */
  readonly errors: IsolationErrorDetail[];
  supports(method: string): boolean;
  /** Resolves once posted; an engine refusal (invalid_event…) arrives as an 'error' event. */
  track(event: TrackEvent): Promise<void>;
  setConsent(consent: ConsentState): Promise<void>;
  /** Resolves to null: the page is told no count. */
  forget(): Promise<null>;
  /** Resolves when the frame has handled every earlier message and written its storage. */
  flush(): Promise<void>;
  /**
   * Applies a catalog update in the frame (its engine and every shelf). The frame fetches the
   * delta: its URL is relative to the frame's and must be on the frame's `sources`. Rejects with
   * `update_mismatch` (another bundle's delta), `bundle` (corrupt), `integrity`, `source_not_allowed`…;
   * nothing changes then.
   */
  applyUpdate(source: string | URL, options?: { integrity?: string }): Promise<IsolatedUpdateReport>;
  /** A sharded catalog (the frame was given a `shards.json`): the frame fetches these categories' shards. Counts only. */
  loadShards(which?: 'all' | { categories: string[] }): Promise<{ shards: number; added: number; items: number }>;
  recommend(options?: RequestOptions): Promise<never>;
  rerank(ids: string[], options?: RequestOptions): Promise<never>;
  similar(idOrIds: string | string[], options?: RequestOptions): Promise<never>;
  frequentlyBoughtTogether(ids: string[], options?: RequestOptions): Promise<never>;
  alsoBought(id: string, options?: RequestOptions): Promise<never>;
  trending(options?: RequestOptions): Promise<never>;
  explain(id: string, options?: RequestOptions): Promise<never>;
  privacyStatus(): Promise<never>;
  exportState(): Promise<never>;
  importState(json: string): Promise<never>;
  configure(settings: Record<string, unknown>): Promise<never>;
  destroy(): void;
  addEventListener(type: 'error', listener: (ev: CustomEvent<IsolationErrorDetail>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'change', listener: (ev: CustomEvent<{ reason: 'track' | 'forget' | 'catalog'; event?: TrackEvent; update?: IsolatedUpdateReport }>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

export type VitrineErrorCode =
  | 'fetch_failed'
  | 'http_error'
  | 'content_type'
  | 'integrity'
  | 'bad_bundle'
  | 'engine_load_failed'
  | 'worker_failed'
  | 'unsupported'
  | 'invalid_argument'
  | 'destroyed'
  | 'isolated'
  | 'unknown_item'
  | 'unknown_event_type'
  | 'invalid_event'
  | 'invalid_context'
  | 'invalid_option'
  | 'state_corrupt'
  | 'state_foreign'
  | 'state_too_new'
  /** applyUpdate(): the delta was made for another bundle (nothing changed). */
  | 'update_mismatch'
  /** applyUpdate(): a corrupt delta (the engine's bundle checks). */
  | 'bundle'
  /** Vitrine.load() of a shard manifest (`shards.json`) that is not one. */
  | 'invalid_manifest'
  | (string & {});

export class VitrineError extends Error {
  readonly name: 'VitrineError';
  readonly code: VitrineErrorCode;
  /** Experiments: the JSON path of the manifest field at fault, e.g. "experiments[0].arms[1].allocation". */
  path?: string;
  constructor(code: VitrineErrorCode, message: string, options?: { cause?: unknown });
}

export interface VitrineEventMap {
  /** `catalog`: after applyUpdate(), with its report as `update`. */
  change: CustomEvent<{ reason: 'track' | 'import' | 'forget' | 'configure' | 'catalog'; event?: TrackEvent; update?: UpdateReport }>;
  consentchange: CustomEvent<{ consent: ConsentState; previous: ConsentState; storageMode: StorageMode; globalPrivacyControl: boolean }>;
  storageissue: CustomEvent<StorageIssue>;
}

/** What `applyUpdate()` did. */
export interface UpdateReport {
  added: number;
  updated: number;
  unavailable: number;
  items: number;
  /** Events of products unknown until now (kept pending since `track()`) that now count. */
  promoted: number;
}

/**
 * What `applyUpdate()` did, as an isolated frame says it: the counts of the bundle and the delta
 * (public). `promoted` counts the shopper's pending events: it stays in the frame (null).
 */
export interface IsolatedUpdateReport extends Omit<UpdateReport, 'promoted'> {
  promoted: null;
}

export type EngineMethod =
  | 'track' | 'recommend' | 'rerank' | 'similar' | 'explain' | 'privacyStatus'
  | 'exportState' | 'importState' | 'forget' | 'reset' | 'configure'
  | 'applyUpdate' | 'boughtTogether' | 'trending';

export class Vitrine extends EventTarget {
  private constructor();
  static load(source: string | URL, options: IsolatedLoadOptions): Promise<IsolatedVitrine>;
  static load(source: string | URL | ArrayBuffer | ArrayBufferView, options?: LoadOptions): Promise<Vitrine>;

  readonly mode: 'main' | 'worker';
  readonly itemCount: number;
  readonly capabilities: EngineMethod[];
  readonly info: { itemCount: number; capabilities: EngineMethod[]; sessionLength?: number; categories?: string[]; contextFeatures?: string[]; kernel?: string };
  readonly consent: ConsentState;
  readonly globalPrivacyControl: boolean;
  readonly storageMode: StorageMode;
  readonly storageIssues: StorageIssue[];
  /** The engine's report for the session restored at load, if any. */
  readonly lastImport?: ImportReport;

  supports(method: EngineMethod): boolean;
  setConsent(consent: ConsentState): Promise<void>;
  flush(): Promise<void>;

  /** Session and privacy settings (maxEvents, halfLifeS, weights, privacy: {epsilon, delta, budget}, …). */
  configure(settings: Record<string, unknown>): Promise<void>;
  /**
   * Records a shopper event. `pending` is true when the bundle does not know the item yet: the
   * event is kept (bounded) and counts once a catalog update knows the id — not an error.
   */
  track(event: TrackEvent): Promise<{ pending: boolean }>;
  recommend(options?: RequestOptions): Promise<Recommendations>;
  rerank(ids: string[], options?: RequestOptions): Promise<Recommendations>;
  /** Items like `id`, or like every item of a list (a cart: mean cosine plus neighbours), the listed items left out. */
  similar(idOrIds: string | string[], options?: RequestOptions): Promise<Recommendations>;
  /** Items frequently bought with these (co-purchase lists of the bundle), the ids left out. */
  frequentlyBoughtTogether(ids: string[], options?: RequestOptions): Promise<Recommendations>;
  /** "Customers who bought this also bought": the co-purchase neighbours of one product. */
  alsoBought(id: string, options?: RequestOptions): Promise<Recommendations>;
  /** What is popular lately (recency-weighted counts written at training time). */
  trending(options?: RequestOptions): Promise<Recommendations>;
  /** Applies a catalog update (`vitrine catalog update --delta`) to the loaded engine; shelves re-render. */
  applyUpdate(source: string | URL | ArrayBuffer | ArrayBufferView, options?: { integrity?: string; fetchOptions?: RequestInit }): Promise<UpdateReport>;
  /**
   * A sharded catalog (`Vitrine.load('…/shards.json')`, docs/scale.md): fetches the shards holding
   * these categories (or every shard) that this page has not fetched, each checked against the
   * manifest's hash. Chosen from the argument only, never from the shopper's history. A request's
   * `filters.categories` calls it first.
   */
  loadShards(which?: 'all' | { categories: string[] }): Promise<{ shards: string[]; added: number; items: number }>;
  /** The shard set of a sharded load (`null` for a single bundle). */
  readonly shards: { total: number; loaded: number; items: number | null; categories: string[] } | null;
  /** The catalog records the bundle carries, with every applied update's. */
  readonly catalog: Array<Record<string, unknown> & { id: string }>;
  explain(id: string, options?: RequestOptions): Promise<Explanation>;
  privacyStatus(): Promise<PrivacyStatus>;
  /** The `Experiments` given to `load` (or null). */
  readonly experiments: Experiments | null;
  exportState(): Promise<string>;
  importState(json: string): Promise<ImportReport>;
  /** Erases the session in memory and on this device; resolves to how many entries were erased (or null). */
  forget(): Promise<number | null>;
  destroy(): void;

  addEventListener<K extends keyof VitrineEventMap>(type: K, listener: (ev: VitrineEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof VitrineEventMap>(type: K, listener: (ev: VitrineEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** "Because you viewed Trail Runner 2", "Popular right now", or null. */
export function reasonText(why: Explanation | null | undefined, nameOf?: (id: string) => string | undefined): string | null;
export function globalPrivacyControl(nav?: Navigator): boolean;
export function memoryAdapter(): StorageAdapter;
export function localStorageAdapter(options?: { storage?: Storage }): StorageAdapter;
export function sessionStorageAdapter(options?: { storage?: Storage }): StorageAdapter;
/** A fresh random result-set id (UUID v4 from the CSPRNG). */
export function newRecommendationId(): string;

// ---- analytics adapters ----------------------------------------------------------------------

export interface TrackingHandle {
  /** Stops reading (the dataLayer's push is restored when nobody wrapped it since). */
  stop(): void;
  /** Resolves when every event seen so far has reached the engine. */
  idle(): Promise<void>;
  /** Engine events recorded in the session so far (one per item of an items[] list). */
  readonly tracked: number;
  /**
   * Events of products the bundle does not know yet: kept pending by the engine (no error) until a
   * catalog update (`applyUpdate`) knows the id; then they count. Always 0 in isolated mode: the
   * frame does not say, and every event it accepted counts in `tracked`.
   */
  readonly pending: number;
  /** Events the engine refused (a bad field, an unknown event type…), reported to onError. */
  readonly skipped: number;
}

export interface AdapterOptions<Item> {
  /** The bundle id of an analytics item (default: GA4 `item_id`, Segment `product_id` ?? `sku`). */
  itemId?: (item: Item) => string | null | undefined;
  onError?: (error: Error, source: unknown) => void;
}

/** GA4 ecommerce events (dataLayer objects and gtag() calls) → track(), items[] expanded. */
export function fromDataLayer(
  vitrine: Vitrine | IsolatedVitrine | Promise<Vitrine | IsolatedVitrine>,
  options?: AdapterOptions<Record<string, unknown>> & { dataLayer?: unknown[] },
): TrackingHandle;

/** A Segment analytics.js plugin: `analytics.register(segmentPlugin(vitrine))`. */
export function segmentPlugin(
  vitrine: Vitrine | IsolatedVitrine | Promise<Vitrine | IsolatedVitrine>,
  options?: AdapterOptions<Record<string, unknown>>,
): {
  name: string;
  type: 'destination';
  version: string;
  isLoaded(): boolean;
  load(): Promise<void>;
  track<C extends { event: { event?: string; properties?: Record<string, unknown> } }>(ctx: C): C;
  idle(): Promise<void>;
  readonly tracked: number;
  readonly pending: number;
  readonly skipped: number;
};

/** Shelf impressions / clicks → GA4 view_item_list / select_item (item_list_id = placement, recommendation_id). */
export function shelfEventsToDataLayer(options?: { target?: EventTarget; dataLayer?: unknown[]; currency?: string }): { stop(): void };

/** Shelf impressions / clicks → Segment Product List Viewed / Product Clicked (list_id = placement, recommendation_id). */
export function shelfEventsToSegment(
  analytics: { track(event: string, properties?: Record<string, unknown>): unknown },
  options?: { target?: EventTarget; currency?: string },
): { stop(): void };
export function indexedDBAdapter(options?: { dbName?: string; storeName?: string; indexedDB?: IDBFactory }): StorageAdapter;
export const STORAGE_SCHEMA: number;
export const VERSION: string;

// -- experiments (docs/EXPERIMENTS.md, "In the page") ------------------------------------------

/** The measurement budget: the total ε of the experiment reports this device may send, and what it spent. */
export interface MeasurementStatus {
  budgetEpsilon: number;
  spentEpsilon: number;
  /** Experiments the device was triggered in. */
  experiments: number;
  /** Reports built. */
  reports: number;
}

export interface ExperimentsOptions {
  /** Subresource-Integrity string of experiments.json ("sha256-…"), checked before it is read. */
  integrity?: string;
  /** 'granted': the device id and the state are stored, labels and reports may leave. Default 'pending'. */
  consent?: ConsentState;
  /** Where the state is kept with consent (default 'localStorage'; an adapter like the session's). */
  storage?: 'localStorage' | 'sessionStorage' | 'indexedDB' | 'memory' | StorageAdapter | false;
  /** Storage key (default 'vitrine:experiments'). */
  storageKey?: string;
  /**
   * Where the experiments wasm comes from (default: the package's pkg-exp/vitrine_exp_bg.wasm, next
   * to its glue; it is fetched only once a manifest is loaded). Not the engine's wasm.
   */
  wasm?: string | URL | BufferSource | WebAssembly.Module;
  /** Extra options for fetch() of the manifest. */
  fetchOptions?: RequestInit;
  /** The clock, ms since the epoch (default Date.now). */
  clock?: () => number;
}

export type ExperimentEvent = 'shelf_click' | 'shelf_add_to_cart' | 'purchase' | 'interleaving';

/** The settings of an arm, as the manifest gives them (apply them to the shelf). */
export interface ArmSettings {
  bundle?: string;
  options?: RequestOptions;
  privacy?: Record<string, unknown>;
}

export interface Enrollment {
  experiment: string;
  enrolled: boolean;
  interleaved: boolean;
  /** The arm label (`interleaved` in interleaving experiments). */
  arm?: string;
  armIndex?: number;
  settings?: ArmSettings;
  reason?: 'gpc' | 'no_manifest' | 'destroyed' | 'dates' | 'namespace' | 'unallocated' | null;
}

/** One local-DP report: one randomized bit per layer-1 metric; no item id, no timestamp, no device id. */
export interface ExperimentReport {
  v: 1;
  experiment: string;
  arm: string;
  /** Random per report: the collector stores it once. */
  id: string;
  epsilon: number;
  values: Record<string, 0 | 1>;
}

/** What `<vitrine-shelf>`'s `ranker` is: ranks instead of the shelf's mode. Items of an interleaved list carry `team` (0 or 1). */
export type ShelfRanker = (options: RequestOptions, vitrine: Vitrine) => Promise<Recommendations>;

export class Experiments {
  static load(url: string | URL, options?: ExperimentsOptions): Promise<Experiments>;
  static fromManifest(manifest: unknown, options?: Omit<ExperimentsOptions, 'integrity' | 'fetchOptions'>): Promise<Experiments>;
  readonly active: boolean;
  readonly inactiveReason: 'no_manifest' | 'gpc' | 'destroyed' | null;
  readonly ids: string[];
  /** Consent 'granted' and no GPC: labels and reports may leave the device. */
  readonly measuring: boolean;
  readonly pendingReports: number;
  storageIssues: Array<{ code: string; message: string }>;
  assign(experiment: string): Enrollment;
  trigger(experiment: string): Promise<boolean>;
  record(experiment: string, event: ExperimentEvent, value?: number): Promise<boolean>;
  recordOrder(value: number): Promise<number>;
  experimentLabel(experiment: string): string | null;
  orderLabel(experiment: string): Promise<string | null>;
  /**
   * A `<vitrine-shelf>` ranker showing this device's side of `experiment`: the shelf's own ranking
   * when not enrolled, the arm's options for an arm, a team draft of both arms when interleaved
   * (`vitrines[i]`: the instance for arm i, default the shelf's). With the manifest's
   * `report.ope`, an arm's fresh releases are logged for off-policy evaluation (a `shelf_click`
   * recorded afterwards is that release's reward).
   */
  ranker(experiment: string, options?: { vitrines?: [Vitrine, Vitrine] }): ShelfRanker;
  /** Credits a click on an item of the experiment's last interleaved shelf to its team. */
  creditClick(experiment: string, itemId: string): Promise<boolean>;
  takeReports(): Promise<ExperimentReport[]>;
  flush(url: string | URL): Promise<{ sent: number; refused: number; failed: number }>;
  status(): MeasurementStatus | null;
  forget(): Promise<void>;
  setConsent(consent: ConsentState, options?: { storage?: ExperimentsOptions['storage'] }): Promise<void>;
  destroy(): void;
}

export const EXPERIMENTS_KEY: 'vitrine:experiments';
export const EXPERIMENTS_SCHEMA: 1;
export const EXPERIMENT_EVENTS: readonly ExperimentEvent[];
