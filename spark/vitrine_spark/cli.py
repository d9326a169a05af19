"""`python -m vitrine_spark prepare …` (also under `spark-submit`): argument parsing and the run."""

import argparse
import sys

from . import formats
from .prepare import Options, prepare


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vitrine_spark", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("prepare", help="raw event logs → the compact training input of `vitrine train --input`")
    q.add_argument("--input", required=True, nargs="+", help="log files or directories (local, HDFS, S3, …)")
    q.add_argument("--format", required=True, choices=["csv", "jsonl", "parquet", "ga4"],
                   help="ga4: GA4's BigQuery export layout, as JSON Lines or Parquet (.parquet / directories)")
    q.add_argument("--out", required=True, help="output directory (must not exist)")
    q.add_argument("--session-column", default="session_id")
    q.add_argument("--user-column", default=None,
                   help="with --session-gap-minutes: the user column (default user_id; GA4: user_pseudo_id)")
    q.add_argument("--item-column", default="item_id")
    q.add_argument("--ts-column", default="ts", help="a number (seconds for --session-gap-minutes)")
    q.add_argument("--event-type-column", default="event_type")
    q.add_argument("--session-gap-minutes", type=float, default=None,
                   help="sessionize each user's events, cutting at gaps longer than this")
    q.add_argument("--min-item-support", type=int, default=1,
                   help="drop events of items with fewer events than this (default 1: keep all)")
    q.add_argument("--min-session-length", type=int, default=1,
                   help="then drop sessions with fewer events than this (default 1: keep all, as vitrine train)")
    q.add_argument("--category-column", default=None,
                   help="per-event category column (GA4: a field of items[], e.g. item_category)")
    q.add_argument("--context-columns", default="",
                   help="comma-separated columns read from each session's first event (e.g. order_dow,order_hour_of_day)")
    q.add_argument("--recency-half-life-days", type=float, default=7.0)
    q.add_argument("--neighbours", type=int, default=20, help="co-occurrence neighbours kept per item (0: none)")
    q.add_argument("--min-pair-support", type=int, default=5,
                   help="sessions in which two items must co-occur to be neighbours")
    q.add_argument("--pair-window", type=int, default=5, help="co-occurrence window, in positions")
    q.add_argument("--master", default=None, help="Spark master when not run by spark-submit (default local[*])")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    context = [c.strip() for c in args.context_columns.split(",") if c.strip()]
    try:
        opts = Options(session_gap_minutes=args.session_gap_minutes,
                       min_item_support=args.min_item_support, min_session_length=args.min_session_length,
                       recency_half_life_days=args.recency_half_life_days, neighbours=args.neighbours,
                       min_pair_support=args.min_pair_support, pair_window=args.pair_window,
                       category=args.category_column is not None, context_columns=context)
    except ValueError as e:
        print(f"vitrine_spark: {e}", file=sys.stderr)
        return 2
    if args.format == "ga4" and context:
        print("vitrine_spark: --context-columns is not supported with --format ga4", file=sys.stderr)
        return 2
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("vitrine_spark prepare").config("spark.ui.showConsoleProgress", "false")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    conf = spark.sparkContext.getConf()
    if conf.get("spark.master", "").startswith("local") and not conf.contains("spark.sql.shuffle.partitions"):
        # Spark's default of 200 shuffle partitions is for clusters: in local mode each is a task
        # and a small output file; two per core keep both cores busy.
        spark.conf.set("spark.sql.shuffle.partitions", str(2 * spark.sparkContext.defaultParallelism))
    gap = args.session_gap_minutes is not None
    user = args.user_column or ("user_pseudo_id" if args.format == "ga4" else "user_id")
    extras = ([args.category_column] if args.category_column else []) + context
    source = {"format": args.format, "paths": args.input, "category_column": args.category_column}
    if gap:
        source["user_column"] = user
    elif args.format != "ga4":
        source["session_column"] = args.session_column
    try:
        if args.format == "ga4":
            events = formats.read_ga4(spark, args.input, item_extras=extras, use_gap=gap)
        else:
            cols = formats.Columns(session=args.session_column, user=user, item=args.item_column,
                                   ts=args.ts_column, event_type=args.event_type_column, extras=extras)
            read = {"csv": formats.read_csv, "jsonl": formats.read_jsonl, "parquet": formats.read_parquet}
            events = read[args.format](spark, args.input, cols, user_required=gap)
        prepare(spark, events, args.out, opts, source, log=lambda m: print(f"vitrine_spark: {m}", file=sys.stderr))
    except ValueError as e:
        print(f"vitrine_spark: {e}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    return 0
