#!/usr/bin/env python3
"""Tables and plot for scripts/bench-privacy: reads target/quality/privacy/*.json (one
`vitrine eval --json` each) and writes a markdown report and a PNG. Only measured numbers are
printed; the bound column is computed from the measured best-fixed-list oracle."""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src, md_path, png_path = sys.argv[1], sys.argv[2], sys.argv[3]


def load(name):
    path = os.path.join(src, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def pct(x):
    return f"{100 * x:.2f}"


def eps_label(e):
    return "∞" if e == math.inf else f"{e:g}"


raw = load("raw")
if raw is None:
    sys.exit("privacy-report: no raw.json (run scripts/bench-privacy)")
best_hr, best_mrr = raw["best_fixed_list_hit_rate"], raw["best_fixed_list_mrr"]
delta = 1e-6

eps_values = []
for f in os.listdir(src):
    if f.startswith("exp-") and f.endswith(".json") and not f.startswith("exp-all-"):
        e = f[4:-5]
        if e != "inf":
            eps_values.append(float(e))
eps_values = sorted(set(eps_values))

lines = []
w = lines.append
w(f"Bundle: `target/quality/diginetica.vtr`; test: Diginetica `test.csv`, {raw['predictions']} "
  f"next-item predictions; k = {raw['k']}.")
w("")
w(f"Non-private (raw history): HR@20 **{pct(raw['hit_rate'])} %**, MRR@20 **{pct(raw['mrr'])} %**. "
  f"Best fixed list (an oracle that reads the test labels): HR@20 {pct(best_hr)} %, "
  f"MRR@20 {pct(best_mrr)} %.")
w("")
w("### Per release, unit = the whole local history")
w("")
w("| ε per release | exponential HR@20 % | exponential MRR@20 % | candidates / top set m | Gaussian HR@20 % | Gaussian MRR@20 % | bound on any ε-DP HR@20 % | bound MRR@20 % |")
w("| --- | --- | --- | --- | --- | --- | --- | --- |")
curve = []
for e in eps_values + [math.inf]:
    name = eps_label(e) if e != math.inf else "inf"
    ex = load(f"exp-{name}")
    ga = load(f"gauss-{name}") if e != math.inf else None
    if ex is None:
        continue
    bound_hr = 1.0 if e == math.inf else min(1.0, math.exp(e) * best_hr + delta)
    bound_mrr = 1.0 if e == math.inf else min(1.0, math.exp(e) * best_mrr + delta)
    pr = ex.get("privacy", {})
    m = f"{pr['candidates']:,} / {pr['top_m']}" if pr.get("top_m") is not None else None
    row = [
        eps_label(e) + (" (not private)" if e == math.inf else ""),
        pct(ex["hit_rate"]),
        pct(ex["mrr"]),
        str(m) if m is not None else "–",
        pct(ga["hit_rate"]) if ga else ("= exp." if e == math.inf else "–"),
        pct(ga["mrr"]) if ga else ("= exp." if e == math.inf else "–"),
        "100" if bound_hr >= 1 else pct(bound_hr),
        "100" if bound_mrr >= 1 else pct(bound_mrr),
    ]
    w("| " + " | ".join(row) + " |")
    curve.append((e, ex, ga, bound_hr, bound_mrr))
w("")

pool = [(e, load(f"exp-{e}"), load(f"exp-all-{e}")) for e in (4, 6, 8, 12, 16)]
if any(p[2] for p in pool):
    w("### Exponential mechanism: the candidate pool")
    w("")
    w("| ε | default pool (4,000 most popular items below ε = ln(items − 1) ≈ 10.7, the whole catalog from there): HR@20 % / MRR@20 % (m) | whole catalog: HR@20 % / MRR@20 % (m) |")
    w("| --- | --- | --- |")
    for e, r_pool, r_all in pool:
        if r_pool and r_all:
            w(f"| {e} | {pct(r_pool['hit_rate'])} / {pct(r_pool['mrr'])} ({r_pool['privacy']['top_m']}) "
              f"| {pct(r_all['hit_rate'])} / {pct(r_all['mrr'])} ({r_all['privacy']['top_m']}) |")
    w("")

ev = [(e, load(f"gauss-event-{e}"), load(f"gauss-{e}")) for e in (1, 8, 64)]
if any(x[1] for x in ev):
    w("### Gaussian mechanism: one-event neighbours (weaker unit) against whole-history neighbours")
    w("")
    w("| ε per release | unit = one event: HR@20 % / MRR@20 % | unit = history: HR@20 % / MRR@20 % |")
    w("| --- | --- | --- |")
    for e, r_ev, r_h in ev:
        if r_ev:
            hist = f"{pct(r_h['hit_rate'])} / {pct(r_h['mrr'])}" if r_h else "–"
            w(f"| {e} | {pct(r_ev['hit_rate'])} / {pct(r_ev['mrr'])} | {hist} |")
    w("")

sess = [(b, load(f"session-{b}-x1"), load(f"session-{b}-x4")) for b in (1, 4, 8, 16, 32)]
if any(x[1] for x in sess):
    w("### A budget per test session (exponential mechanism)")
    w("")
    w("Every prefix of a test session is one more request of the same shopper; the session has one "
      "accountant with budget ε_B (pure composition: releases add up their ε). Once it is spent the "
      "session's later requests reuse its last release.")
    w("")
    w("| ε_B per session | one release of ε_B: HR@20 % / MRR@20 % (fresh / cached) | four of ε_B/4: HR@20 % / MRR@20 % (fresh / cached) | bound on any ε_B-DP HR@20 % |")
    w("| --- | --- | --- | --- |")
    for b, x1, x4 in sess:
        def cell(r):
            if not r:
                return "–"
            p = r["privacy"]
            return (f"{pct(r['hit_rate'])} / {pct(r['mrr'])} "
                    f"({p['fresh_releases']} / {p['cached_releases']})")
        bound = min(1.0, math.exp(b) * best_hr + delta)
        w(f"| {b} | {cell(x1)} | {cell(x4)} | {'100' if bound >= 1 else pct(bound)} |")
    w("")

with open(md_path, "w") as f:
    f.write("\n".join(lines) + "\n")

# The plot: HR@20 and MRR@20 against ε per release (log axis), both mechanisms, the bound, and the
# non-private level.
finite = [c for c in curve if c[0] != math.inf]
xs = [c[0] for c in finite]
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
for ax, key, bkey, label in (
    (axes[0], "hit_rate", 3, "HR@20 (%)"),
    (axes[1], "mrr", 4, "MRR@20 (%)"),
):
    ax.plot(xs, [100 * c[1][key] for c in finite], "o-", color="#1f6f8b",
            label="exponential mechanism (anchor item, default pool), pure ε-DP")
    whole = [(e, load(f"exp-all-{e:g}")) for e in xs]
    whole = [(e, 100 * r[key]) for e, r in whole if r]
    if whole:
        ax.plot([p[0] for p in whole], [p[1] for p in whole], "o--", color="#1f6f8b", alpha=0.45,
                markersize=4, label="exponential mechanism, whole catalog as candidates")
    g = [(c[0], 100 * c[2][key]) for c in finite if c[2]]
    if g:
        ax.plot([p[0] for p in g], [p[1] for p in g], "s-", color="#c0562b",
                label="Gaussian on the normalized profile, (ε, 10⁻⁶)-DP")
    ax.plot(xs, [100 * c[bkey] for c in finite], ":", color="#555555",
            label="upper bound for any ε-DP recommender")
    ax.axhline(100 * raw[key], color="#2b8a3e", linestyle="--", label="non-private")
    ax.set_xscale("log")
    ax.set_xlabel("ε per release (unit: the whole local history)")
    ax.set_ylabel(label)
    ax.set_ylim(0, 100 * raw[key] * 1.25)
    ax.grid(True, which="both", alpha=0.25)
axes[0].legend(fontsize=7.5, loc="upper left")
fig.suptitle(f"Vitrine on Diginetica: the price of privacy ({raw['predictions']} predictions)",
             fontsize=11)
fig.tight_layout()
fig.savefig(png_path)
print(f"wrote {md_path} and {png_path}")
