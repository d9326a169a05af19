// Timing helpers shared by the bench page (bench.js) and the A/B page (ab.js).
import { stats } from './report.js';

/** performance.now()'s resolution: the median of 200 successive distinct readings' gaps (ms). */
export function timerResolution() {
  const gaps = [];
  let last = performance.now();
  while (gaps.length < 200) {
    const t = performance.now();
    if (t !== last) {
      gaps.push(t - last);
      last = t;
    }
  }
  return { median: stats(gaps).p50, min: stats(gaps).min };
}

/**
 * Times `fn` (sync, or async when `isAsync`): `warmup` untimed calls, then a batch size making a
 * sample last ≥ max(50 ticks, 1 ms), then `runs` samples of the batch's mean per call. Returns
 * stats (ms). `res` is the timer resolution in ms.
 */
export async function measure(fn, { res, isAsync = false, runs = 50, warmup = 5 }) {
  const call = isAsync ? fn : () => fn();
  for (let i = 0; i < warmup; i++) await call();
  const target = Math.max(50 * res, 1);
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let b = 0; b < batch; b++) await call();
    const dt = performance.now() - t0;
    if (dt >= target || batch >= 1 << 16) break;
    batch = dt <= 0 ? batch * 16 : Math.min(batch * 16, Math.ceil((batch * target * 1.2) / dt));
  }
  const samples = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    if (isAsync) for (let b = 0; b < batch; b++) await fn();
    else for (let b = 0; b < batch; b++) fn();
    samples.push((performance.now() - t0) / batch);
  }
  return { ...stats(samples), runs, batch };
}

/**
 * Times `fn(list)` where every call takes the next, never used, list of `lists`: warm-up calls
 * (as many as leave `runs` lists), then up to `runs` samples of `batch` calls each (batched up to 8
 * when the timer is coarse, and only as far as the lists allow).
 */
export function measureFresh(fn, lists, { res, runs = 50, warmup = 3 }) {
  let next = 0;
  const take = () => lists[next++];
  const warm = Math.min(warmup, Math.max(0, lists.length - runs));
  const t0 = performance.now();
  for (let i = 0; i < warm; i++) fn(take());
  const one = warm > 0 ? Math.max((performance.now() - t0) / warm, res) : res;
  const room = Math.max(1, Math.floor((lists.length - next) / runs));
  const batch = Math.min(8, room, Math.max(1, Math.ceil(Math.max(50 * res, 0.2) / one)));
  const samples = [];
  while (samples.length < runs && next + batch <= lists.length) {
    const t = performance.now();
    for (let b = 0; b < batch; b++) fn(take());
    samples.push((performance.now() - t) / batch);
  }
  return { ...stats(samples), runs: samples.length, batch };
}
