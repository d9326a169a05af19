"""The `prepare` job: normalized events → sessions, filters, aggregates → the compact input.

Steps (docs/scale.md has the output format):
1. count rejects per reason, keep usable events;
2. sessionize: the session column, GA4's `ga_session_id`, or a user's events cut at inactivity gaps;
3. filter: items with fewer than `min_item_support` events, then sessions with fewer than
   `min_session_length` events (defaults: keep everything, as `vitrine train --events` does);
4. items: index in first-seen order (input position), popularity (events other than
   `remove_from_cart`, as the trainer counts them), recency-weighted popularity, category;
5. sessions: item-index sequences in time order (ts, then input position), written in the order the
   sessions start, with kinds, timestamps and the first event's context columns;
6. co-occurrence neighbours with minimum support;
7. manifest.json last (its presence marks a complete output).
"""

import json
import math
import os
import time

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from . import FORMAT, FORMAT_VERSION, __version__
from .formats import IGNORED, REJECT_REASONS, REMOVE_FROM_CART

#: Columns of the sessions table that context columns may not be named.
RESERVED_SESSION_COLUMNS = ("session_id", "items", "kinds", "ts")


class Options:
    """Validated options of one `prepare` run."""

    def __init__(self, session_gap_minutes=None, min_item_support=1, min_session_length=1,
                 recency_half_life_days=7.0, neighbours=20, min_pair_support=5,
                 pair_window=5, category=False, context_columns=()):
        if session_gap_minutes is not None and not (session_gap_minutes > 0 and math.isfinite(session_gap_minutes)):
            raise ValueError(f"--session-gap-minutes must be a positive number, got {session_gap_minutes}")
        if min_item_support < 1 or min_session_length < 1:
            raise ValueError("--min-item-support and --min-session-length must be at least 1")
        if not (recency_half_life_days > 0 and math.isfinite(recency_half_life_days)):
            raise ValueError("--recency-half-life-days must be a positive number")
        if neighbours < 0 or min_pair_support < 1 or pair_window < 1:
            raise ValueError("--neighbours must be ≥ 0, --min-pair-support and --pair-window ≥ 1")
        for c in context_columns:
            if c in RESERVED_SESSION_COLUMNS:
                raise ValueError(f"context column '{c}' clashes with a column of the sessions table")
        self.session_gap_minutes = session_gap_minutes
        self.min_item_support = min_item_support
        self.min_session_length = min_session_length
        self.recency_half_life_days = recency_half_life_days
        self.neighbours = neighbours
        self.min_pair_support = min_pair_support
        self.pair_window = pair_window
        self.category = category
        self.context_columns = list(context_columns)


def _write_text(spark: SparkSession, path: str, text: str) -> None:
    """Writes one small file through Hadoop's FileSystem API (local paths, HDFS, S3 alike)."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    stream = fs.create(p, False)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def _exists(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(p)


def _count_by(df: DataFrame, col: str) -> dict:
    return {r[0]: r[1] for r in df.groupBy(col).count().collect()}


def _with_order(spark: SparkSession, events: DataFrame) -> DataFrame:
    """Replaces the input position columns by one sortable struct `pos` (file index by path order)."""
    files = sorted(r[0] for r in events.select("_file").distinct().collect())
    index = spark.createDataFrame([(f, i) for i, f in enumerate(files)], "_file string, _fidx int")
    return (events.join(F.broadcast(index), "_file")
            .withColumn("pos", F.struct("_fidx", "_block", "_row", "_sub"))
            .drop("_file", "_fidx", "_block", "_row", "_sub"))


def _sessionize_by_gap(events: DataFrame, gap_minutes: float) -> DataFrame:
    """A user's events in time order; a new session after more than `gap_minutes` of inactivity.
    Session id: `user_id#n` (n = 1, 2, … in time order)."""
    w = Window.partitionBy("user_id").orderBy("ts", "pos")
    prev = F.lag("ts").over(w)
    new = F.when(prev.isNull() | ((F.col("ts") - prev) > gap_minutes * 60.0), 1).otherwise(0)
    n = F.sum("_new").over(w.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    return (events.withColumn("_new", new).withColumn("_n", n)
            .withColumn("session_id", F.concat_ws("#", "user_id", F.col("_n").cast("string")))
            .drop("_new", "_n"))


def _dense_index(spark: SparkSession, df: DataFrame, order, name: str) -> DataFrame:
    """Adds `name` = 0, 1, … in `order`, computed in parallel: sort, count each partition, offset."""
    ordered = (df.orderBy(*order).withColumn("_pid", F.spark_partition_id())
               .withColumn("_mid", F.monotonically_increasing_id())).persist()
    counts = sorted((r[0], r[1]) for r in ordered.groupBy("_pid").count().collect())
    offsets, acc = [], 0
    for pid, c in counts:
        offsets.append((pid, acc))
        acc += c
    off = spark.createDataFrame(offsets, "_pid int, _off long")
    local = F.col("_mid") - F.shiftleft(F.col("_pid").cast("long"), 33)
    return (ordered.join(F.broadcast(off), "_pid")
            .withColumn(name, (F.col("_off") + local).cast("int"))
            .drop("_pid", "_mid", "_off"))


def _items(spark: SparkSession, events: DataFrame, opts: Options, has_ts: bool, t_max):
    """The item table: index (first-seen order), id, count, events, recency_count, category."""
    positive = F.col("kind") != REMOVE_FROM_CART
    aggs = [F.min("pos").alias("_first"),
            F.sum(F.when(positive, 1).otherwise(0)).cast("long").alias("count"),
            F.count(F.lit(1)).alias("events")]
    if has_ts:
        half_life_s = opts.recency_half_life_days * 86400.0
        decay = F.pow(F.lit(0.5), (F.lit(t_max) - F.col("ts")) / F.lit(half_life_s))
        aggs.append(F.sum(F.when(positive, decay).otherwise(0.0)).alias("recency_count"))
    items = events.groupBy("item_id").agg(*aggs)
    if opts.category:
        # Each item's most frequent non-empty category (ties: the smaller name), as the trainer.
        per = events.where(F.col("x0").isNotNull()).groupBy("item_id", "x0").count()
        w = Window.partitionBy("item_id").orderBy(F.desc("count"), F.asc("x0"))
        cat = (per.withColumn("_r", F.row_number().over(w)).where("_r = 1")
               .select("item_id", F.col("x0").alias("category")))
        items = items.join(cat, "item_id", "left")
    items = _dense_index(spark, items, ["_first"], "item").drop("_first")
    cols = ["item", F.col("item_id").alias("id"), "count", "events"]
    if has_ts:
        cols.append("recency_count")
    if opts.category:
        cols.append("category")
    return items.select(*cols)


def _sessions(events: DataFrame, items: DataFrame, opts: Options, has_ts: bool) -> DataFrame:
    """One row per session in start order: item indices, kinds, ts, the first event's context."""
    ctx_first = 1 if opts.category else 0
    ctx_names = [f"x{ctx_first + i}" for i in range(len(opts.context_columns))]
    ev = events.join(items.select(F.col("id").alias("item_id"), "item"), "item_id")
    fields = [F.col("ts"), F.col("pos"), F.col("item"), F.col("kind")] + [F.col(c) for c in ctx_names]
    grouped = ev.groupBy("session_id").agg(F.array_sort(F.collect_list(F.struct(*fields))).alias("_ev"))
    first = F.col("_ev")[0]
    cols = [
        "session_id",
        F.transform("_ev", lambda e: e["item"]).alias("items"),
        F.transform("_ev", lambda e: e["kind"].cast("byte")).alias("kinds"),
    ]
    if has_ts:
        cols.append(F.transform("_ev", lambda e: e["ts"]).alias("ts"))
    cols += [first[c].alias(name) for c, name in zip(ctx_names, opts.context_columns)]
    return (grouped.withColumn("_start_ts", first["ts"]).withColumn("_start_pos", first["pos"])
            .orderBy("_start_ts", "_start_pos").select(*cols))


def _neighbours(sessions: DataFrame, opts: Options) -> DataFrame:
    """Co-occurrence neighbours: items within `pair_window` positions of each other in a session's
    sequence of positive events, counted once per session (support); kept with support ≥
    `min_pair_support`; weight = support / sqrt(sessions(a) · sessions(b)); top `neighbours` per
    item by weight (ties: smaller index)."""
    seq = F.filter(F.arrays_zip("items", "kinds"), lambda e: e["kinds"] != REMOVE_FROM_CART)
    s = sessions.select(F.transform(seq, lambda e: e["items"]).alias("s")).where(F.size("s") >= 2)
    per_item = (s.select(F.explode(F.array_distinct("s")).alias("a")).groupBy("a").count()
                .withColumnRenamed("count", "_na"))
    pairs = F.expr(f"""array_distinct(flatten(transform(sequence(0, size(s) - 2), i ->
        flatten(transform(filter(sequence(i + 1, i + {opts.pair_window}), j -> j < size(s)),
            j -> array(named_struct('a', s[i], 'b', s[j]), named_struct('a', s[j], 'b', s[i])))))))""")
    p = (s.select(F.explode(pairs).alias("p")).select("p.a", "p.b").where("a != b")
         .groupBy("a", "b").count().withColumnRenamed("count", "support")
         .where(F.col("support") >= opts.min_pair_support))
    nb = per_item.withColumnRenamed("a", "b").withColumnRenamed("_na", "_nb")
    p = (p.join(per_item, "a").join(nb, "b")
         .withColumn("weight", F.col("support") / F.sqrt(F.col("_na").cast("double") * F.col("_nb"))))
    w = Window.partitionBy("a").orderBy(F.desc("weight"), F.asc("b"))
    return (p.withColumn("_r", F.row_number().over(w)).where(F.col("_r") <= opts.neighbours)
            .select(F.col("a").alias("item"), F.col("b").alias("neighbour"), "support", "weight")
            .orderBy("item", F.desc("weight"), "neighbour"))


def prepare(spark: SparkSession, events: DataFrame, out: str, opts: Options, source: dict,
            log=print) -> dict:
    """Runs the job on the normalized `events` (formats.py) and writes `out`; returns the manifest."""
    started = time.time()
    if _exists(spark, out):
        raise ValueError(f"{out} already exists (the output directory must be new)")
    events = _with_order(spark, events).persist()
    reasons = _count_by(events, "reason")
    rows = sum(reasons.values())
    ignored = reasons.pop(IGNORED, 0)
    usable = reasons.pop(None, 0)
    rejects = {r: reasons.get(r, 0) for r in REJECT_REASONS if reasons.get(r, 0)}
    log(f"read {rows} rows: {usable} usable events, {sum(rejects.values())} rejected {rejects}, {ignored} ignored")
    ok = events.where(F.col("reason").isNull())
    has_ts = ok.where(F.col("ts").isNotNull()).limit(1).count() > 0
    if has_ts:
        missing_ts = ok.where(F.col("ts").isNull()).count()
        if missing_ts:
            rejects["missing_ts"] = rejects.get("missing_ts", 0) + missing_ts
            ok = ok.where(F.col("ts").isNotNull())
    if opts.session_gap_minutes is not None:
        if not has_ts:
            raise ValueError("--session-gap-minutes needs timestamps (a ts column) in the log")
        ok = _sessionize_by_gap(ok, opts.session_gap_minutes)
    ok = ok.drop("reason", "user_id")
    filtered = {}
    if opts.min_item_support > 1:
        support = ok.groupBy("item_id").count().where(F.col("count") >= opts.min_item_support)
        before = ok
        ok = ok.join(support.select("item_id"), "item_id", "left_semi")
        filtered["events_of_rare_items"] = before.count() - ok.count()
    if opts.min_session_length > 1:
        long_enough = ok.groupBy("session_id").count().where(F.col("count") >= opts.min_session_length)
        before_sessions = ok.select("session_id").distinct().count()
        before = ok.count()
        ok = ok.join(long_enough.select("session_id"), "session_id", "left_semi")
        filtered["events_of_short_sessions"] = before - ok.count()
        filtered["short_sessions"] = before_sessions - ok.select("session_id").distinct().count()
    ok = ok.persist()
    t_max = ok.agg(F.max("ts")).collect()[0][0] if has_ts else None
    items = _items(spark, ok, opts, has_ts, t_max).persist()
    sessions = _sessions(ok, items, opts, has_ts).persist()
    n_items, n_sessions, n_events = items.count(), sessions.count(), ok.count()
    if n_events == 0:
        raise ValueError(f"no usable events left ({rows} rows read, rejects {rejects}, filtered {filtered})")
    items.orderBy("item").write.mode("error").parquet(os.path.join(out, "items"), compression="snappy")
    sessions.write.mode("error").parquet(os.path.join(out, "sessions"), compression="snappy")
    n_pairs = 0
    if opts.neighbours > 0:
        nb = _neighbours(sessions, opts).persist()
        n_pairs = nb.count()
        nb.write.mode("error").parquet(os.path.join(out, "neighbours"), compression="snappy")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_by": f"vitrine_spark {__version__} (Spark {spark.version})",
        "source": source,
        "sessionization": ({"mode": "gap", "user_column": source.get("user_column"),
                            "gap_minutes": opts.session_gap_minutes}
                           if opts.session_gap_minutes is not None else
                           {"mode": "ga4_session_id"} if source.get("format") == "ga4" else
                           {"mode": "column", "column": source.get("session_column")}),
        "has_ts": has_ts,
        "ts_unit": "s" if source.get("format") == "ga4" else "as in the log",
        "counts": {"rows": rows, "rejected": sum(rejects.values()), "ignored": ignored,
                   "events": n_events, "sessions": n_sessions, "items": n_items,
                   "neighbour_pairs": n_pairs},
        "rejects": rejects,
        "filters": {"min_item_support": opts.min_item_support,
                    "min_session_length": opts.min_session_length, "removed": filtered},
        "category_column": source.get("category_column"),
        "context_columns": opts.context_columns,
        "aggregates": {
            "popularity": "count: events other than remove_from_cart",
            "recency_half_life_days": opts.recency_half_life_days if has_ts else None,
            "recency_reference_ts": t_max,
            "neighbours": ({"per_item": opts.neighbours, "min_support": opts.min_pair_support,
                            "window": opts.pair_window} if opts.neighbours > 0 else None),
        },
        "seconds": round(time.time() - started, 1),
    }
    _write_text(spark, os.path.join(out, "manifest.json"),
                json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log(f"wrote {out}: {n_events} events in {n_sessions} sessions, {n_items} items, "
        f"{n_pairs} neighbour pairs in {manifest['seconds']} s")
    return manifest
