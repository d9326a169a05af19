// The stylesheet of <vitrine-shelf>'s shadow root. Theming: the custom properties on :host and the
// parts (README "Theming").

let sheet = null;
/** Gives a shadow root the shelf's stylesheet (one constructed sheet shared by every shelf; else a <style>). */
export function adoptStyle(root) {
  try {
    sheet ??= new CSSStyleSheet();
    if (!sheet.cssRules.length) sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
  } catch {
    const el = document.createElement('style');
    el.textContent = STYLE;
    root.append(el);
  }
}

export const STYLE = `
:host {
  --vitrine-card-width: 168px;
  --vitrine-gap: 12px;
  --vitrine-radius: 12px;
  --vitrine-card-bg: #fff;
  --vitrine-card-border: 1px solid #e3e6eb;
  --vitrine-shadow: 0 1px 2px rgba(16, 24, 40, 0.05), 0 1px 3px rgba(16, 24, 40, 0.06);
  --vitrine-shadow-hover: 0 6px 16px rgba(16, 24, 40, 0.1);
  --vitrine-image-bg: #eef0f3;
  --vitrine-muted: #6a7280;
  --vitrine-accent: #4f46e5;
  --vitrine-reason: #4338ca;
  --vitrine-price: inherit;
  --vitrine-sale: #b42318;
  --vitrine-badge-bg: #eef2ff;
  --vitrine-badge-color: #3730a3;
  display: block;
  font: inherit;
  color: inherit;
}
:host([hidden]) { display: none; }
.list {
  display: grid;
  grid-auto-flow: column;
  grid-auto-columns: var(--vitrine-card-width);
  gap: var(--vitrine-gap);
  overflow-x: auto;
  padding: 4px 2px 10px;
  scroll-snap-type: x proximity;
  scroll-padding-inline: 2px;
}
:host([layout="grid"]) .list {
  grid-auto-flow: row;
  grid-template-columns: repeat(auto-fill, minmax(var(--vitrine-card-width), 1fr));
  overflow: visible;
}
.card {
  scroll-snap-align: start;
  display: flex;
  flex-direction: column;
  min-width: 0;
  background: var(--vitrine-card-bg);
  border: var(--vitrine-card-border);
  border-radius: var(--vitrine-radius);
  box-shadow: var(--vitrine-shadow);
  overflow: hidden;
  transition: transform 0.15s ease, box-shadow 0.15s ease;
}
.card:hover { transform: translateY(-2px); box-shadow: var(--vitrine-shadow-hover); }
.card.fresh { animation: fresh 0.4s ease-out; }
@keyframes fresh { from { opacity: 0; transform: translateY(6px); } to { opacity: 1; transform: none; } }
.link {
  display: flex; flex-direction: column; flex: 1; min-width: 0;
  color: inherit; text-decoration: none; font: inherit; text-align: left;
  background: none; border: 0; padding: 0; margin: 0; cursor: pointer;
}
.link:focus-visible { outline: 3px solid var(--vitrine-accent); outline-offset: -3px; border-radius: var(--vitrine-radius); }
.image { display: block; width: 100%; height: auto; aspect-ratio: 4 / 3; object-fit: cover; background: var(--vitrine-image-bg); }
.body { display: flex; flex-direction: column; gap: 2px; padding: 8px 10px 10px; min-width: 0; flex: 1; }
.category { font-size: 0.68rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--vitrine-muted); font-weight: 600; }
.name {
  font-weight: 600; font-size: 0.86rem; line-height: 1.3; min-height: 2.6em;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden;
}
.brand { font-size: 0.74rem; color: var(--vitrine-muted); }
.prices { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px; margin-top: 2px; }
.price { font-weight: 700; font-variant-numeric: tabular-nums; color: var(--vitrine-price); }
.price.sale { color: var(--vitrine-sale); }
.regular { font-size: 0.8rem; color: var(--vitrine-muted); font-variant-numeric: tabular-nums; }
.badges { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 2px; }
.badge { font-size: 0.66rem; font-weight: 700; line-height: 1.4; padding: 1px 6px; border-radius: 999px; background: var(--vitrine-badge-bg); color: var(--vitrine-badge-color); }
.availability { font-size: 0.72rem; color: var(--vitrine-muted); }
.add {
  margin: 0 10px 10px; padding: 6px 10px; font: inherit; font-size: 0.8rem; font-weight: 600; cursor: pointer;
  color: var(--vitrine-accent); background: transparent; border: 1px solid currentColor; border-radius: 999px;
}
.add:focus-visible { outline: 3px solid var(--vitrine-accent); outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
[hidden] { display: none !important; }
.reason { font-size: 0.72rem; line-height: 1.3; color: var(--vitrine-reason); margin-top: 4px; }
.reason:empty { display: none; }
.placeholder { height: 250px; border-radius: var(--vitrine-radius); background: linear-gradient(90deg, #eef0f3, #f7f8fa, #eef0f3); background-size: 200% 100%; animation: shimmer 1.2s linear infinite; }
@keyframes shimmer { from { background-position: 100% 0; } to { background-position: -100% 0; } }
.empty { margin: 0; padding: 12px 2px; color: var(--vitrine-muted); font-size: 0.88rem; }
@media (prefers-reduced-motion: reduce) { .card, .card.fresh, .placeholder { transition: none; animation: none; } }
`;
