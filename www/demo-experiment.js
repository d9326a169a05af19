// The demo store's experiment (app.js, ?experiment=<collector URL>): the home shelf's options in the
// device's arm, what the shelf tallies, and the report sent once the experiment's window is over.

/** Sends the report of an experiment whose window is over (with consent) and shows where the device stands in `note`. */
export async function runExperiment(x, collector, note) {
  if (!x) return;
  note.hidden = false;
  if (!x.active) {
    note.textContent = x.inactiveReason === 'gpc' ? 'Experiment: not enrolled (Global Privacy Control).' : 'Experiment: none running.';
    return;
  }
  const id = x.ids[0];
  const a = x.assign(id);
  const taken = await x.takeReports();
  const sent = await x.flush(collector);
  const s = x.status();
  note.textContent =
    `Experiment ${id}: ${a.enrolled ? `arm “${a.arm}”` : `not enrolled (${a.reason})`}` +
    (x.measuring
      ? ` · label ${x.experimentLabel(id) ?? '—'} · measurement budget ε ${s.spentEpsilon} of ${s.budgetEpsilon} spent` +
        ` · reports sent ${sent.sent}${taken.length ? ' (just now)' : ''}${x.pendingReports ? `, ${x.pendingReports} waiting` : ''}`
      : ' · nothing leaves this device without consent');
  window.vitrineExperimentRuns = (window.vitrineExperimentRuns ?? 0) + 1;
}

/** The home shelf's options in the device's arm (none outside the experiment). */
export function experimentOptions(x) {
  if (!x?.active) return {};
  const a = x.assign(x.ids[0]);
  return a.enrolled ? (a.settings?.options ?? {}) : {};
}

/** Tallies what happens on the home shelf (every arm triggers where it renders). */
export function wireExperiment(x, home) {
  if (!x?.active) return;
  const id = x.ids[0];
  home.addEventListener('vitrine:render', () => x.trigger(id));
  home.addEventListener('vitrine:click', () => x.record(id, 'shelf_click'));
  home.addEventListener('vitrine:add-to-cart', () => x.record(id, 'shelf_add_to_cart'));
}
