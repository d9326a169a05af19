"""Python interop for the bundle format (run by scripts/test-python).

1. The worked example of docs/bundle.md (numpy + safetensors, digest computed in Python) writes a
   bundle; `vitrine inspect --json` and `vitrine recommend` read it.
2. numpy writes a .npy of embeddings; `vitrine pack` packs it; Python reads the bundle back with
   safetensors, recomputes the digest and checks the int8 rows against the source vectors.
3. A bundle changed after signing is refused.
4. The worked example's version-2 parts (availability, trending counts, co-purchase lists, a tensor
   for native tools) are read: the unavailable item is never recommended; an unknown version or
   `required` tensor is refused.

Usage: interop.py PATH/TO/vitrine
"""

import json
import pathlib
import re
import subprocess
import sys
import tempfile
import traceback

import numpy as np
from safetensors.numpy import load_file, save_file
from safetensors import safe_open

ROOT = pathlib.Path(__file__).resolve().parents[2]
VITRINE = str(pathlib.Path(sys.argv[1]).resolve()) if len(sys.argv) > 1 else str(ROOT / "target/release/vitrine")


def doc_example() -> dict:
    """Executes the worked example of docs/bundle.md and returns its namespace."""
    text = (ROOT / "docs/bundle.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- interop: example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/bundle.md has no '<!-- interop: example -->' python block"
    namespace: dict = {"__name__": "bundle_example"}
    exec(compile(m.group(1), "docs/bundle.md (worked example)", "exec"), namespace)
    return namespace


def run(*args, ok=True):
    p = subprocess.run([VITRINE, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise AssertionError(f"vitrine {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    if not ok and p.returncode == 0:
        raise AssertionError(f"vitrine {' '.join(args)} should have failed:\n{p.stdout}")
    return p


def test_python_written_bundle_is_read(tmp: pathlib.Path, ex: dict):
    path = tmp / "example.vtr"
    written = ex["write_example_bundle"](str(path))
    report = json.loads(run("inspect", "--bundle", str(path), "--json").stdout)
    assert report["digest"]["status"] == "valid", report["digest"]
    assert report["digest"]["value"] == written["digest"]
    assert report["items"] == 12 and report["dim"] == 16, report
    assert report["optional_parts"]["categories"]["count"] == 3
    assert report["optional_parts"]["neighbours"]["entries"] == 24
    head = report["optional_parts"]["head"]
    assert set(head) == {"similarity", "popularity"} and abs(head["popularity"] - 0.1) < 1e-6, head
    names = {t["name"]: t for t in report["tensors"]}
    assert names["item_emb"]["dtype"] == "I8" and names["item_emb"]["shape"] == [12, 16]
    assert names["nbr_items"]["dtype"] == "U16"
    assert report["metadata"]["model"] == "numpy example"
    # The text report too.
    text = run("inspect", "--bundle", str(path)).stdout
    assert "digest        valid" in text, text
    # The engine reads it and recommends; the nearest item to sku-003 by cosine ranks high. The
    # explicit non-private mode (--epsilon inf) ranks from the raw session, so the order is exact.
    out = run("recommend", "--bundle", str(path), "--items", "click:sku-003", "--k", "12", "--exclude-seen",
              "--epsilon", "inf").stdout
    ranked = [line.split()[1] for line in out.strip().splitlines()]
    assert len(ranked) == 11 and "sku-003" not in ranked, ranked
    emb = written["emb"]
    sims = emb @ emb[3]
    sims[3] = -np.inf
    best = written["ids"][int(np.argmax(sims))]
    assert best in ranked[:3], (best, ranked)


def test_numpy_npy_is_packed(tmp: pathlib.Path, ex: dict):
    rng = np.random.default_rng(11)
    emb = rng.normal(size=(50, 24)).astype(np.float64)   # float64, as Spark/pandas often produce
    np.save(tmp / "factors.npy", emb)
    ids = [f"item/{i}" for i in range(50)]
    (tmp / "ids.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
    np.save(tmp / "pop.npy", rng.integers(0, 100, size=50).astype(np.int64))
    (tmp / "catalog.csv").write_text("id,category,price\n" + "".join(f"item/{i},c{i % 4},{i}.5\n" for i in range(0, 50, 2)))
    out = tmp / "packed.vtr"
    p = run("pack", "--embeddings", str(tmp / "factors.npy"), "--ids", str(tmp / "ids.txt"),
            "--popularity", str(tmp / "pop.npy"), "--catalog", str(tmp / "catalog.csv"), "--out", str(out))
    assert "packed 50 items × 24 dims" in p.stdout, p.stdout

    # Read it back in Python, as a third party would.
    tensors = load_file(str(out))
    with safe_open(str(out), framework="numpy") as f:
        metadata = f.metadata()
    assert metadata["format"] == "vitrine-bundle" and metadata["format_version"] == "1"
    assert ex["bundle_digest"](tensors, metadata) == metadata["digest"], "digest differs from the spec's"
    assert bytes(tensors["item_ids"]).decode().split("\n") == ids
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    deq = tensors["item_emb"].astype(np.float32) * tensors["item_scale"][:, None]
    cos = (deq * unit).sum(1) / np.linalg.norm(deq, axis=1)
    assert cos.min() > 0.999, cos.min()
    assert abs(float(metadata["quant.mean_cosine"]) - cos.mean()) < 1e-4, (metadata["quant.mean_cosine"], cos.mean())
    assert np.array_equal(tensors["item_pop"], np.load(tmp / "pop.npy").astype(np.float32))
    assert list(tensors["item_cat"][:4]) == [0, -1, 1, -1]
    assert bytes(tensors["cat_names"]).decode().split("\n") == ["c0", "c2"]
    assert list(tensors["item_price"][:3]) == [0.5, -1.0, 2.5]
    report = json.loads(run("inspect", "--bundle", str(out), "--json").stdout)
    assert report["digest"]["status"] == "valid"
    assert abs(report["quantization"]["mean_cosine"] - cos.mean()) < 1e-4


def test_changed_bundle_is_refused(tmp: pathlib.Path, ex: dict):
    path = tmp / "signed.vtr"
    ex["write_example_bundle"](str(path))
    tensors = load_file(str(path))
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata()
    tensors["item_pop"] = tensors["item_pop"] * 2          # boost popularity, keep the old digest
    save_file(tensors, str(tmp / "changed.vtr"), metadata=metadata)
    p = run("inspect", "--bundle", str(tmp / "changed.vtr"), ok=False)
    assert "digest mismatch" in p.stderr and p.returncode == 4, (p.returncode, p.stderr)
    p = run("recommend", "--bundle", str(tmp / "changed.vtr"), "--items", "sku-001", ok=False)
    assert "digest mismatch" in p.stderr and p.returncode == 4, (p.returncode, p.stderr)
    del metadata["digest"]                                  # stripping it does not help
    save_file(tensors, str(tmp / "stripped.vtr"), metadata=metadata)
    p = run("recommend", "--bundle", str(tmp / "stripped.vtr"), "--items", "sku-001", ok=False)
    assert "'digest' is missing" in p.stderr and p.returncode == 4, (p.returncode, p.stderr)


def resign(src: pathlib.Path, dst: pathlib.Path, ex: dict, **changes) -> None:
    """Writes `src` to `dst` with metadata `changes`, signed anew (a valid digest)."""
    tensors = load_file(str(src))
    with safe_open(str(src), framework="numpy") as f:
        metadata = dict(f.metadata())
    metadata.update(changes)
    metadata["digest"] = ex["bundle_digest"](tensors, metadata)
    save_file(tensors, str(dst), metadata=metadata)


def test_version_2_parts_are_read(tmp: pathlib.Path, ex: dict):
    v1, v2 = tmp / "v1.vtr", tmp / "v2.vtr"
    written = ex["write_example_bundle"](str(v1))
    added = ex["add_version_2_parts"](str(v1), str(v2))
    gone = added["unavailable"]
    report = json.loads(run("inspect", "--bundle", str(v2), "--json").stdout)
    assert report["digest"] == {"status": "valid", "value": added["digest"]}, report["digest"]
    assert report["format_version"] == "2", report["format_version"]
    names = {t["name"]: t for t in report["tensors"]}
    for name in ("item_avail", "item_trend", "cop_offsets", "cop_items", "cop_weights"):
        assert names[name]["known"], name
    assert not names["catalog"]["known"] and names["catalog"]["dtype"] == "U8"
    assert report["metadata"]["score.nbr_weight"] == "0.2"

    def ranked(path):
        out = run("recommend", "--bundle", str(path), "--items", "click:sku-003", "--k", "12",
                  "--exclude-seen", "--epsilon", "inf").stdout
        return [line.split()[1] for line in out.strip().splitlines()]

    assert gone in ranked(v1), "the version-1 file recommends it"
    r2 = ranked(v2)
    assert len(r2) == 10 and gone not in r2 and "sku-003" not in r2, r2
    assert set(r2) == set(written["ids"]) - {gone, "sku-003"}, r2

    # A version this reader does not implement, and a `required` tensor it does not know, are
    # refused (bad input) with the messages docs/bundle.md quotes.
    resign(v2, tmp / "v4.vtr", ex, format_version="4")
    p = run("recommend", "--bundle", str(tmp / "v4.vtr"), "--items", "sku-001", ok=False)
    assert "this reader supports 1, 2 and 3" in p.stderr and p.returncode == 3, (p.returncode, p.stderr)
    resign(v2, tmp / "req.vtr", ex, required="item_avail, catalog")
    p = run("recommend", "--bundle", str(tmp / "req.vtr"), "--items", "sku-001", ok=False)
    assert "requires tensor 'catalog'" in p.stderr and p.returncode == 3, (p.returncode, p.stderr)
    # Version 2 needs no version-2 part: the version-1 file labelled 2 is valid too.
    resign(v1, tmp / "v1-relabelled.vtr", ex, format_version="2")
    run("inspect", "--bundle", str(tmp / "v1-relabelled.vtr"))


def main() -> int:
    ex = doc_example()
    tests = [v for k, v in globals().items() if k.startswith("test_")]
    passed = failed = 0
    for test in tests:
        with tempfile.TemporaryDirectory() as d:
            try:
                test(pathlib.Path(d), ex)
                passed += 1
                print(f"ok      {test.__name__}")
            except Exception:
                failed += 1
                print(f"FAILED  {test.__name__}")
                traceback.print_exc()
    print(f"interop: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
