"""vitrine_spark in Spark local mode, end to end with the `vitrine` CLI (run by scripts/test-spark).

Environment: VITRINE_BIN (the CLI; tests that need it are skipped loudly without it),
VITRINE_DATA (a directory with diginetica/ and instacart/; tests on those slices are skipped
loudly when it is empty). Every log is written or cut by the test itself, in a temporary directory.
"""

import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from pyspark.sql import SparkSession  # noqa: E402

from vitrine_spark import formats  # noqa: E402
from vitrine_spark.prepare import Options, prepare  # noqa: E402

VITRINE = os.environ.get("VITRINE_BIN", "")
DATA = os.environ.get("VITRINE_DATA", "")
SPARK = None
TMP = None


def setUpModule():
    global SPARK, TMP
    warnings.simplefilter("ignore", ResourceWarning)  # py4j's sockets, closed by the JVM's exit
    SPARK = (SparkSession.builder.master("local[2]").appName("vitrine_spark tests")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "4")
             .getOrCreate())
    SPARK.sparkContext.setLogLevel("ERROR")
    TMP = tempfile.mkdtemp(prefix="vitrine-spark-test-")


def tearDownModule():
    SPARK.stop()
    shutil.rmtree(TMP, ignore_errors=True)


def path(name):
    return os.path.join(TMP, name)


def run_prepare(fmt, inputs, out, opts=None, **cols):
    """prepare() in this process's Spark session; returns the manifest."""
    opts = opts or Options()
    extras = ([cols.pop("category")] if opts.category else []) + opts.context_columns
    gap = opts.session_gap_minutes is not None
    if fmt == "ga4":
        events = formats.read_ga4(SPARK, inputs, item_extras=extras, use_gap=gap)
    else:
        c = formats.Columns(extras=extras, **cols)
        reader = {"csv": formats.read_csv, "jsonl": formats.read_jsonl, "parquet": formats.read_parquet}[fmt]
        events = reader(SPARK, inputs, c, user_required=gap)
    source = {"format": fmt, "paths": inputs, "session_column": "session_id",
              "category_column": (extras[0] if opts.category else None)}
    return prepare(SPARK, events, out, opts, source, log=lambda m: None)


def table(out, name):
    return SPARK.read.parquet(os.path.join(out, name))


def sessions(out):
    """The sessions table in file order, as (session_id, items, kinds, ts or None)."""
    files = sorted(f for f in os.listdir(os.path.join(out, "sessions")) if f.endswith(".parquet"))
    rows = []
    for f in files:
        df = SPARK.read.parquet(os.path.join(out, "sessions", f))
        rows += [(r["session_id"], list(r["items"]), list(r["kinds"]),
                  list(r["ts"]) if "ts" in df.columns else None) for r in df.collect()]
    return rows


def vitrine(*args, ok=True):
    if not VITRINE:
        raise unittest.SkipTest("VITRINE_BIN is not set")
    p = subprocess.run([VITRINE, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise AssertionError(f"vitrine {' '.join(args)} failed:\n{p.stderr}")
    return p


def write(name, text):
    with open(path(name), "w", encoding="utf-8") as f:
        f.write(text)
    return path(name)


TEN_MB = "y" * (10 << 20)


class SyntheticCsv(unittest.TestCase):
    """A small log the test writes, with every kind of bad row."""

    @classmethod
    def setUpClass(cls):
        good = [
            ("s1", "b", 3, "view"), ("s1", "a", 1, "view_item"), ("s2", "c", 2, "select_item"),
            ("s1", "c", 2, "add_to_cart"), ("s2", "a", 5, "purchase"), ("s3", "d", 9, "remove_from_cart"),
            ("s3", "a", 9, ""), ("s2", "b", 4, "click"),
        ]
        lines = ["session_id,item_id,ts,event_type"] + [",".join(map(str, r)) for r in good]
        lines.insert(3, "s9,zz,1")  # malformed_row: 3 fields
        lines.insert(5, 's9,"broken,2,view')  # malformed_row: open quote
        lines.insert(6, "s9,,2,view")  # missing_item_id
        lines.insert(7, ",zz,2,view")  # missing_session_id
        lines.insert(8, "s9,zz,soon,view")  # bad_ts
        lines.insert(9, "s9,zz,2,teleport")  # unknown_event_type
        lines.append(f"s9,{TEN_MB},2,view")  # a 10 MB line: id_too_long
        lines.append(f"{TEN_MB}")  # a 10 MB line of one field: malformed_row
        lines.append("s9,zz,,view")  # missing_ts (the log has timestamps)
        cls.csv = write("synthetic.csv", "\n".join(lines) + "\n")
        cls.good_csv = write("synthetic-good.csv", "\n".join(["session_id,item_id,ts,event_type"]
                                                             + [",".join(map(str, r)) for r in good]) + "\n")
        cls.out = path("synthetic-out")
        cls.manifest = run_prepare("csv", [cls.csv], cls.out, Options(neighbours=5, min_pair_support=1))

    def test_rejects_are_counted_per_reason(self):
        m = self.manifest
        self.assertEqual(m["rejects"], {"malformed_row": 3, "missing_item_id": 1, "missing_session_id": 1,
                                        "bad_ts": 1, "unknown_event_type": 1, "id_too_long": 1,
                                        "missing_ts": 1})
        self.assertEqual(m["counts"]["rows"], 17)
        self.assertEqual(m["counts"]["rejected"], 9)
        self.assertEqual((m["counts"]["events"], m["counts"]["sessions"], m["counts"]["items"]), (8, 3, 4))
        self.assertTrue(m["has_ts"])

    def test_items_in_first_seen_order_with_the_trainers_counts(self):
        rows = sorted(table(self.out, "items").collect(), key=lambda r: r["item"])
        self.assertEqual([r["id"] for r in rows], ["b", "a", "c", "d"])
        self.assertEqual([r["count"] for r in rows], [2, 3, 2, 0], "remove_from_cart is not counted")
        self.assertEqual([r["events"] for r in rows], [2, 3, 2, 1])
        self.assertTrue(all(r["recency_count"] <= r["count"] for r in rows))

    def test_sessions_in_start_order_events_in_time_order(self):
        self.assertEqual(sessions(self.out), [
            ("s1", [1, 2, 0], [0, 2, 0], [1.0, 2.0, 3.0]),
            ("s2", [2, 0, 1], [1, 1, 4], [2.0, 4.0, 5.0]),
            ("s3", [3, 1], [3, 0], [9.0, 9.0]),
        ])

    def test_neighbours_come_from_positive_events_with_support(self):
        pairs = {(r["item"], r["neighbour"]): r["support"] for r in table(self.out, "neighbours").collect()}
        # s1: a c b; s2: c b a; s3: (d removed) a alone.
        self.assertEqual(pairs[(1, 2)], 2)
        self.assertEqual(pairs[(0, 2)], 2)
        self.assertNotIn(3, {a for a, _ in pairs} | {b for _, b in pairs})
        strict = path("synthetic-strict")
        run_prepare("csv", [self.good_csv], strict, Options(neighbours=5, min_pair_support=3))
        self.assertEqual(table(strict, "neighbours").count(), 0, "no pair reaches support 3")

    def test_the_cli_trains_the_same_bundle_from_the_log_and_from_the_prepared_input(self):
        out = path("synthetic-good-out")
        run_prepare("csv", [self.good_csv], out, Options(neighbours=5, min_pair_support=1))
        args = ["--epochs", "2", "--dim", "8", "--negatives", "4", "--valid-fraction", "0"]
        vitrine("train", "--events", self.good_csv, "--out", path("a.vtr"), *args)
        vitrine("train", "--input", out, "--out", path("b.vtr"), *args)
        with open(path("a.vtr"), "rb") as a, open(path("b.vtr"), "rb") as b:
            self.assertEqual(a.read(), b.read(), "the same events give the same bundle")
        vitrine("train", "--input", out, "--out", path("c.vtr"), "--with-neighbours", *args)
        info = json.loads(vitrine("inspect", "--bundle", path("c.vtr"), "--json").stdout)
        self.assertIn("nbr_items", json.dumps(info))


class OtherFormats(unittest.TestCase):
    def test_jsonl_with_bad_lines(self):
        lines = [
            '{"session_id": "s1", "item_id": "a", "ts": 1}',
            '{"session_id": 2, "item_id": 7, "ts": "3", "event_type": "add_to_cart"}',
            '{"session_id": "s1", "item_id": "b", "ts": 2',  # malformed_row
            '{"session_id": "s1", "ts": 4}',  # missing_item_id
            '{"item_id": "a", "ts": 4}',  # missing_session_id
            f'{{"session_id": "s1", "item_id": "{TEN_MB}", "ts": 5}}',  # id_too_long
            f'{{"session_id": "s1", "item_id": "{TEN_MB}',  # malformed_row (10 MB, cut)
        ]
        out = path("jsonl-out")
        m = run_prepare("jsonl", [write("log.jsonl", "\n".join(lines) + "\n")], out, Options(neighbours=0))
        self.assertEqual(m["rejects"], {"malformed_row": 2, "missing_item_id": 1, "missing_session_id": 1,
                                        "id_too_long": 1})
        self.assertEqual(sessions(out), [("s1", [0], [0], [1.0]), ("2", [1], [2], [3.0])])
        self.assertFalse(os.path.exists(os.path.join(out, "neighbours")))

    def test_a_header_without_the_item_column_rejects_every_row(self):
        with self.assertRaisesRegex(ValueError, "missing_item_id"):
            run_prepare("csv", [write("noitem.csv", "session_id,product\n1,a\n1,b\n")], path("noitem-out"))

    def test_an_existing_output_is_never_overwritten(self):
        os.makedirs(path("exists-out"))
        with self.assertRaisesRegex(ValueError, "already exists"):
            run_prepare("csv", [write("exists.csv", "session_id,item_id\n1,a\n")], path("exists-out"))

    def test_ga4_export_items_expand_and_other_events_are_ignored(self):
        def ev(name, ts, user, sid, items=None):
            e = {"event_name": name, "event_timestamp": str(ts), "user_pseudo_id": user,
                 "event_params": [{"key": "ga_session_id", "value": {"int_value": sid}},
                                  {"key": "page_title", "value": {"string_value": "x"}}]}
            if items is not None:
                e["items"] = [{"item_id": i, "item_category": c} for i, c in items]
            return json.dumps(e)
        lines = [
            ev("page_view", 1_000_000, "u1", 11),
            ev("view_item", 2_000_000, "u1", 11, [("SKU1", "shoes")]),
            ev("purchase", 9_000_000, "u1", 11, [("SKU1", "shoes"), ("SKU2", "hats")]),
            ev("view_item_list", 3_000_000, "u2", 12, [("SKU1", ""), ("SKU2", ""), ("SKU3", "")]),
            ev("select_item", 4_000_000, "u2", 12, [("SKU2", "hats")]),
            ev("add_to_cart", 5_000_000, "u2", 12, []),  # no_items
            '{"event_name": "view_item", "event_timestamp": 1',  # malformed_row
        ]
        out = path("ga4-out")
        m = run_prepare("ga4", [write("ga4.jsonl", "\n".join(lines) + "\n")], out,
                        Options(neighbours=0, category=True), category="item_category")
        self.assertEqual(m["counts"]["ignored"], 2, "page_view and view_item_list, once each")
        self.assertEqual(m["rejects"], {"no_items": 1, "malformed_row": 1})
        self.assertEqual(sessions(out), [("u1:11", [0, 0, 1], [0, 4, 4], [2.0, 9.0, 9.0]),
                                         ("u2:12", [1], [1], [4.0])])
        cats = {r["id"]: r["category"] for r in table(out, "items").collect()}
        self.assertEqual(cats, {"SKU1": "shoes", "SKU2": "hats"})

    def test_sessions_cut_at_inactivity_gaps(self):
        text = "user_id,item_id,ts\nu1,a,0\nu1,b,600\nu1,c,4000\nu2,a,100\nu1,d,4100\n"
        out = path("gap-out")
        run_prepare("csv", [write("gap.csv", text)], out, Options(session_gap_minutes=30, neighbours=0))
        self.assertEqual(sorted(s[:2] for s in sessions(out)),
                         [("u1#1", [0, 1]), ("u1#2", [2, 3]), ("u2#1", [0])])

    def test_filters_drop_rare_items_then_short_sessions(self):
        text = "session_id,item_id\n1,a\n1,b\n2,a\n2,c\n3,a\n3,b\n4,c\n"
        out = path("filter-out")
        m = run_prepare("csv", [write("filter.csv", text)], out,
                        Options(min_item_support=2, min_session_length=2, neighbours=0))
        self.assertEqual(m["filters"]["removed"],
                         {"events_of_rare_items": 0, "events_of_short_sessions": 1, "short_sessions": 1})
        self.assertEqual(sessions(out), [("1", [0, 1], [0, 0], None), ("2", [0, 2], [0, 0], None),
                                         ("3", [0, 1], [0, 0], None)])
        m = run_prepare("csv", [write("filter2.csv", text)], path("filter2-out"),
                        Options(min_item_support=3, neighbours=0))
        self.assertEqual(m["filters"]["removed"], {"events_of_rare_items": 4})
        self.assertEqual(m["counts"]["events"], 3)

    def test_parquet_logs_are_read_with_their_own_types(self):
        src = path("log.parquet")
        SPARK.createDataFrame([(1, 10, 1.0), (1, 11, 2.0), (2, 10, 3.0)],
                              "session_id long, item_id int, ts double").coalesce(1).write.parquet(src)
        out = path("parquet-out")
        m = run_prepare("parquet", [src], out, Options(neighbours=0))
        self.assertEqual(m["counts"]["events"], 3)
        self.assertEqual(sessions(out), [("1", [0, 1], [0, 0], [1.0, 2.0]), ("2", [0], [0], [3.0])])


class HostileCompactInput(unittest.TestCase):
    """`vitrine train --input` on inputs a careless writer could produce: clear errors, no panic."""

    def case(self, name, items, sessions_rows, manifest_patch=None):
        out = path(f"hostile-{name}")
        SPARK.createDataFrame(items, "item int, id string, count long").coalesce(1).write.parquet(f"{out}/items")
        SPARK.createDataFrame(sessions_rows, "session_id string, items array<int>, kinds array<tinyint>") \
            .coalesce(1).write.parquet(f"{out}/sessions")
        manifest = {"format": "vitrine-training-input", "format_version": 1, "has_ts": False,
                    "counts": {"events": sum(len(s[1]) for s in sessions_rows),
                               "sessions": len(sessions_rows), "items": len(items)}}
        manifest.update(manifest_patch or {})
        write(f"hostile-{name}/manifest.json", json.dumps(manifest))
        p = vitrine("train", "--input", out, "--out", path(f"{name}.vtr"), "--epochs", "1", ok=False)
        self.assertEqual(p.returncode, 3, "bad input: " + p.stderr)
        self.assertNotIn("panicked", p.stderr)
        self.assertFalse(os.path.exists(path(f"{name}.vtr")))
        return p.stderr

    def test_each_inconsistency_is_named(self):
        ok_items = [(0, "a", 2), (1, "b", 1)]
        ok_sessions = [("s", [0, 1, 0], [0, 0, 0])]
        self.assertIn("format_version 2 is not supported",
                      self.case("version", ok_items, ok_sessions, {"format_version": 2}))
        self.assertIn("appears twice", self.case("dup", [(0, "a", 2), (0, "b", 1)], ok_sessions))
        self.assertIn("out of range", self.case("range", [(0, "a", 2), (5, "b", 1)], ok_sessions))
        self.assertIn("is not an item index", self.case("seq", ok_items, [("s", [0, 7], [0, 0])]))
        self.assertIn("differ in length", self.case("len", ok_items, [("s", [0, 1, 0], [0])]))
        self.assertIn("is not 0..4", self.case("kind", ok_items, [("s", [0, 1, 0], [0, 9, 0])]))
        self.assertIn("has count 5", self.case("count", [(0, "a", 5), (1, "b", 1)], ok_sessions))
        self.assertIn("the manifest says", self.case("counts", ok_items, ok_sessions,
                                                     {"counts": {"events": 9, "sessions": 1, "items": 2}}))
        out = path("hostile-trunc")
        shutil.copytree(path("hostile-version"), out)
        write("hostile-trunc/manifest.json", json.dumps({
            "format": "vitrine-training-input", "format_version": 1,
            "counts": {"events": 3, "sessions": 1, "items": 2}}))
        f = next(p for p in pathlib.Path(out, "sessions").iterdir() if p.suffix == ".parquet")
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
        p = vitrine("train", "--input", out, "--out", path("trunc.vtr"), ok=False)
        self.assertEqual(p.returncode, 3, "bad input: " + p.stderr)
        self.assertIn("not a Parquet file", p.stderr)
        p = vitrine("train", "--input", out, "--events", self_csv(), "--out", path("x.vtr"), ok=False)
        self.assertEqual(p.returncode, 2, "clap refuses --events with --input")
        self.assertIn("cannot be used with", p.stderr)


def self_csv():
    return write("tiny.csv", "session_id,item_id\n1,a\n1,b\n")


def _metrics(bundle, test_csv, *eval_args):
    out = json.loads(vitrine("eval", "--bundle", bundle, "--test", test_csv, "--json", *eval_args).stdout)
    return 100 * out["hit_rate"], 100 * out["mrr"]


def _cut(src, dst, max_sessions):
    """The first `max_sessions` sessions of a CSV whose rows of a session are consecutive."""
    seen = set()
    with open(src, newline="") as f, open(dst, "w", newline="") as g:
        r, w = csv.reader(f), csv.writer(g, lineterminator="\n")
        header = next(r)
        w.writerow(header)
        col = header.index("session_id")
        for row in r:
            if row[col] not in seen:
                if len(seen) == max_sessions:
                    break
                seen.add(row[col])
            w.writerow(row)
    return dst


@unittest.skipUnless(DATA, "VITRINE_DATA is not set")
class DataSlices(unittest.TestCase):
    """Slices of the public benchmark logs, cut at test time: the prepared input trains a bundle
    within 0.1 point (HR@20, MRR@20 on the slice's test sessions) of `vitrine train` on the CSV."""

    def parity(self, name, n_train, n_test, prepare_args, train_args, eval_args=()):
        d = os.path.join(DATA, name)
        if not os.path.exists(os.path.join(d, "train.csv")):
            self.skipTest(f"no {d}/train.csv")
        train = _cut(os.path.join(d, "train.csv"), path(f"{name}-train.csv"), n_train)
        test = _cut(os.path.join(d, "test.csv"), path(f"{name}-test.csv"), n_test)
        out = path(f"{name}-prepared")
        p = subprocess.run([sys.executable, "-m", "vitrine_spark", "prepare", "--input", train,
                            "--format", "csv", "--out", out, "--master", "local[2]", *prepare_args],
                           capture_output=True, text=True, cwd=pathlib.Path(__file__).resolve().parents[1])
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        args = ["--epochs", "4", *train_args]
        vitrine("train", "--events", train, "--out", path(f"{name}-csv.vtr"), *args)
        vitrine("train", "--input", out, "--out", path(f"{name}-spark.vtr"), *args)
        a = _metrics(path(f"{name}-csv.vtr"), test, *eval_args)
        b = _metrics(path(f"{name}-spark.vtr"), test, *eval_args)
        same = pathlib.Path(path(f"{name}-csv.vtr")).read_bytes() == pathlib.Path(path(f"{name}-spark.vtr")).read_bytes()
        print(f"\n{name} slice ({n_train} train / {n_test} test sessions): HR@20 / MRR@20 from the CSV "
              f"{a[0]:.2f} / {a[1]:.2f} %, from the Spark input {b[0]:.2f} / {b[1]:.2f} %; "
              f"bundles {'byte for byte the same' if same else 'differ'}", file=sys.stderr)
        self.assertLessEqual(abs(a[0] - b[0]), 0.1)
        self.assertLessEqual(abs(a[1] - b[1]), 0.1)
        return json.load(open(os.path.join(out, "manifest.json")))

    def test_diginetica_slice(self):
        m = self.parity("diginetica", 6000, 1500, [], [])
        self.assertEqual(m["counts"]["rejected"], 0)

    def test_instacart_slice_with_categories_and_context(self):
        m = self.parity("instacart", 2500, 300,
                        ["--category-column", "department_id", "--context-columns", "order_dow,order_hour_of_day"],
                        ["--category-column", "department_id", "--context",
                         "weekday=order_dow,hour=order_hour_of_day"],
                        ["--context", "weekday=order_dow,hour=order_hour_of_day"])
        self.assertTrue(m["has_ts"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
