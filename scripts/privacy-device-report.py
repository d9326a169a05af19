#!/usr/bin/env python3
"""Table and plot for `scripts/bench-privacy DATA_DIR --device`: reads
target/quality/privacy-device/device-<ε>-<refresh>.json (one `vitrine eval --json` each) and writes
a markdown table and a PNG. Only measured numbers; the target column is the issue's
P-only + ½·(min(bound, non-private) − P-only), computed from the same run."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src, md_path, png_path = sys.argv[1], sys.argv[2], sys.argv[3]
EPS = ["0.5", "1", "2", "4", "8"]


def load(e, r):
    path = os.path.join(src, f"device-{e}-{r}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def pct(x):
    return f"{100 * x:.2f}"


lines = [
    "| ε_D | private, one release per record: HR@20 / MRR@20 % | private, one release per prediction: HR@20 / MRR@20 % | P only | non-private (P + D raw) | per-item bound (k·e^ε slots of P) | target: P + ½·(min(bound, non-private) − P) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]
xs, rec, page, ponly, nonp, bound, target = [], [], [], [], [], [], []
for e in EPS:
    a, b = load(e, "record"), load(e, "page")
    if a is None or b is None:
        continue
    p, n, c = a["public_only_hit_rate"], a["non_private_hit_rate"], a["ceiling_hit_rate"]
    t = p + 0.5 * (min(c, n) - p)
    lines.append(
        f"| {e} | {pct(a['hit_rate'])} / {pct(a['mrr'])} | {pct(b['hit_rate'])} / {pct(b['mrr'])} "
        f"| {pct(p)} / {pct(a['public_only_mrr'])} | {pct(n)} / {pct(a['non_private_mrr'])} "
        f"| {pct(c)} (k = {a['ceiling_k']}) | {pct(t)} |"
    )
    xs.append(float(e))
    rec.append(100 * a["hit_rate"])
    page.append(100 * b["hit_rate"])
    ponly.append(100 * p)
    nonp.append(100 * n)
    bound.append(100 * c)
    target.append(100 * t)

with open(md_path, "w") as f:
    f.write("\n".join(lines) + "\n")

fig, ax = plt.subplots(figsize=(7, 4.2))
ax.plot(xs, rec, "o-", label="private, one release per record")
ax.plot(xs, page, "s-", label="private, one release per prediction")
ax.plot(xs, ponly, "k--", label="P only (no D)")
ax.plot(xs, nonp, "k:", label="non-private (P + D raw)")
ax.plot(xs, target, "r-.", label="target: half the headroom")
ax.set_xscale("log", base=2)
ax.set_xticks(xs)
ax.set_xticklabels([str(x).rstrip("0").rstrip(".") for x in xs])
ax.set_xlabel("ε_D per release")
ax.set_ylabel("HR@20 %")
ax.set_title("Instacart, unit 'device' (D = the user's earlier orders)")
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="upper left")
fig.tight_layout()
fig.savefig(png_path, dpi=110)
