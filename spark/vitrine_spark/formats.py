"""Raw logs (CSV, JSON Lines, Parquet, GA4's BigQuery export) → one normalized event table.

Every input row becomes one or more rows of the same shape (`EVENT_COLUMNS`, plus the extra columns
asked for), each with a `reason`: null for a usable event, else why it is rejected (`REJECT_REASONS`)
or ignored (`IGNORED`: a GA4 event that is not about an item). Nothing here raises on a bad row.

Event order is the log's own: `ts` (when the log has one), then the position in the input, the
key (`_file`, `_block`, `_row`, `_sub`): input file (path order), byte offset of the file split,
row within the split, item within a GA4 event's `items[]`. That is the order `vitrine train` uses
for one file (ts, then line).
"""

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

#: Event kind codes of the compact input (docs/scale.md), by our names and GA4's.
KIND_CODES = {
    "view": 0,
    "click": 1,
    "add_to_cart": 2,
    "remove_from_cart": 3,
    "purchase": 4,
    "view_item": 0,
    "select_item": 1,
}
#: GA4 event names that are about items (others are ignored, not rejected).
GA4_ITEM_EVENTS = ("view_item", "select_item", "add_to_cart", "remove_from_cart", "purchase")
#: Kind code of `remove_from_cart`: kept in sessions, but not evidence of interest.
REMOVE_FROM_CART = 3
#: Longest id (session, user or item) accepted, in UTF-8 bytes.
MAX_ID_BYTES = 1024

#: Why a row is rejected (manifest `rejects`).
REJECT_REASONS = (
    "malformed_row",  # not parseable as a row of the format (CSV field count, broken quotes, bad JSON)
    "missing_session_id",
    "missing_user_id",
    "missing_item_id",
    "id_too_long",  # an id longer than MAX_ID_BYTES
    "id_has_newline",
    "bad_ts",  # not a finite number
    "missing_ts",  # empty ts in a log that has timestamps
    "unknown_event_type",
    "no_items",  # a GA4 item event with an empty items[]
)
#: Reason of GA4 events that are not item events (counted, not rejects).
IGNORED = "ignored"

#: Columns of the normalized table (extras follow as `x0`, `x1`, …).
EVENT_COLUMNS = ("session_id", "user_id", "item_id", "ts", "kind", "_file", "_block", "_row", "_sub", "reason")

_CORRUPT = "_corrupt_record"


def _clean(c: Column) -> Column:
    """Trims whitespace (as `vitrine train` does); empty becomes null."""
    t = F.regexp_replace(c.cast("string"), r"^\s+|\s+$", "")
    return F.when(t == "", F.lit(None)).otherwise(t)


def _position(df: DataFrame) -> DataFrame:
    """Adds the input position columns (`_file`, `_block`, `_row`)."""
    return df.select(
        "*",
        F.col("_metadata.file_path").alias("_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_row"),
    )


def _kind(name: Column) -> Column:
    """Kind code of an event name, null when unknown."""
    mapping = F.create_map(*[x for k, v in KIND_CODES.items() for x in (F.lit(k), F.lit(v))])
    return F.when(name.isNull(), F.lit(0)).otherwise(F.try_element_at(mapping, name))


def _ts(raw: Column) -> Column:
    """A ts as a double (null when absent); NaN for a value that is not a finite number."""
    v = raw.try_cast("double")
    finite = v.isNotNull() & ~F.isnan(v) & (F.abs(v) != float("inf"))
    return F.when(raw.isNull(), F.lit(None).cast("double")).when(finite, v).otherwise(F.lit(float("nan")))


def _reason(checks) -> Column:
    """The first failing check's reason, null when every check passes."""
    out = F.lit(None).cast("string")
    for cond, reason in reversed(checks):
        out = F.when(cond, F.lit(reason)).otherwise(out)
    return out


def _id_checks(c: Column, missing: str):
    return [
        (c.isNull(), missing),
        (F.octet_length(c) > MAX_ID_BYTES, "id_too_long"),
        (c.contains("\n"), "id_has_newline"),
    ]


def _normalize(df: DataFrame, corrupt: Column, session: Column, user: Column, item: Column,
               ts_raw: Column, kind_raw: Column, extras, sub: Column, user_required: bool) -> DataFrame:
    """Common tail of the flat formats: cleaned columns and the first reject reason."""
    session, user, item, kind_raw = _clean(session), _clean(user), _clean(item), _clean(kind_raw)
    ts = _ts(_clean(ts_raw))
    kind = _kind(kind_raw)
    checks = [(corrupt, "malformed_row")]
    if user_required:
        checks += _id_checks(user, "missing_user_id")
    else:
        checks += _id_checks(session, "missing_session_id")
    checks += _id_checks(item, "missing_item_id")
    checks += [(F.isnan(ts), "bad_ts"), (kind.isNull(), "unknown_event_type")]
    cols = [
        session.alias("session_id"),
        user.alias("user_id"),
        item.alias("item_id"),
        F.when(F.isnan(ts), F.lit(None)).otherwise(ts).alias("ts"),
        kind.cast("int").alias("kind"),
        F.col("_file"), F.col("_block"), F.col("_row"), sub.cast("int").alias("_sub"),
        _reason(checks).alias("reason"),
    ]
    cols += [_clean(e).alias(f"x{i}") for i, e in enumerate(extras)]
    return df.select(*cols)


class Columns:
    """Column names of a flat log (CSV, JSON Lines, Parquet)."""

    def __init__(self, session="session_id", user="user_id", item="item_id", ts="ts",
                 event_type="event_type", extras=()):
        self.session, self.user, self.item, self.ts, self.event_type = session, user, item, ts, event_type
        self.extras = list(extras)

    def wanted(self):
        return [self.session, self.user, self.item, self.ts, self.event_type, *self.extras]


def _flat(df: DataFrame, present, cols: Columns, corrupt: Column, user_required: bool) -> DataFrame:
    def get(name):
        return F.col(f"`{name}`") if name in present else F.lit(None).cast("string")
    return _normalize(_position(df), corrupt, get(cols.session), get(cols.user), get(cols.item),
                      get(cols.ts), get(cols.event_type), [get(e) for e in cols.extras], F.lit(0),
                      user_required)


def read_csv(spark: SparkSession, paths, cols: Columns, user_required=False) -> DataFrame:
    """CSV with a header line; every column read as text; malformed lines become rejects."""
    header = spark.read.option("header", True).option("inferSchema", False).csv(paths).schema
    names = [f.name for f in header.fields]
    schema = T.StructType([T.StructField(n, T.StringType()) for n in names]
                          + [T.StructField(_CORRUPT, T.StringType())])
    df = (spark.read.schema(schema).option("header", True).option("mode", "PERMISSIVE")
          .option("columnNameOfCorruptRecord", _CORRUPT).option("multiLine", False).csv(paths))
    return _flat(df, set(names), cols, F.col(_CORRUPT).isNotNull(), user_required)


def read_jsonl(spark: SparkSession, paths, cols: Columns, user_required=False) -> DataFrame:
    """JSON Lines: one object per line; numbers and strings both accepted for ids and ts."""
    wanted = list(dict.fromkeys(cols.wanted()))
    schema = T.StructType([T.StructField(n, T.StringType()) for n in wanted]
                          + [T.StructField(_CORRUPT, T.StringType())])
    df = (spark.read.schema(schema).option("mode", "PERMISSIVE")
          .option("columnNameOfCorruptRecord", _CORRUPT).json(paths))
    return _flat(df, set(wanted), cols, F.col(_CORRUPT).isNotNull(), user_required)


def read_parquet(spark: SparkSession, paths, cols: Columns, user_required=False) -> DataFrame:
    """Parquet with flat columns of any scalar type (read as text)."""
    df = spark.read.parquet(*paths)
    return _flat(df, set(df.columns), cols, F.lit(False), user_required)


#: GA4's BigQuery export columns read (as JSON; Parquet is read with its own schema).
_GA4_PARAM_VALUE = T.StructType([
    T.StructField("string_value", T.StringType()),
    T.StructField("int_value", T.StringType()),
    T.StructField("float_value", T.DoubleType()),
    T.StructField("double_value", T.DoubleType()),
])
_GA4_ITEM = T.StructType([
    T.StructField("item_id", T.StringType()),
    T.StructField("item_name", T.StringType()),
    T.StructField("item_category", T.StringType()),
    T.StructField("item_brand", T.StringType()),
    T.StructField("price", T.DoubleType()),
    T.StructField("quantity", T.StringType()),
])
_GA4_SCHEMA = T.StructType([
    T.StructField("event_name", T.StringType()),
    T.StructField("event_timestamp", T.StringType()),
    T.StructField("user_pseudo_id", T.StringType()),
    T.StructField("event_params", T.ArrayType(T.StructType([
        T.StructField("key", T.StringType()),
        T.StructField("value", _GA4_PARAM_VALUE),
    ]))),
    T.StructField("items", T.ArrayType(_GA4_ITEM)),
    T.StructField(_CORRUPT, T.StringType()),
])


def read_ga4(spark: SparkSession, paths, item_extras=(), use_gap=False) -> DataFrame:
    """GA4's BigQuery export layout (JSON Lines, or Parquet when the paths end in .parquet or are
    directories): `event_name`, `event_timestamp` (µs), `user_pseudo_id`, `event_params[]` (for
    `ga_session_id`), `items[]` expanded into one event per item. `item_extras` name fields of
    `items[]` (e.g. `item_category`). Session id: `user_pseudo_id:ga_session_id`, or with
    `use_gap`, sessions cut from `user_pseudo_id` by inactivity later."""
    import os
    if all(p.endswith(".parquet") or os.path.isdir(p) for p in paths):
        df = spark.read.parquet(*paths)
        corrupt = F.lit(False)
    else:
        df = (spark.read.schema(_GA4_SCHEMA).option("mode", "PERMISSIVE")
              .option("columnNameOfCorruptRecord", _CORRUPT).json(paths))
        corrupt = F.col(_CORRUPT).isNotNull()
    df = _position(df).withColumn("_bad", corrupt)
    param = F.filter("event_params", lambda p: p["key"] == "ga_session_id")
    sid_value = F.try_element_at(param, F.lit(1))["value"]
    ga_session = F.coalesce(sid_value["int_value"].cast("string"), sid_value["string_value"],
                            sid_value["double_value"].cast("long").cast("string"))
    user = _clean(F.col("user_pseudo_id"))
    name = _clean(F.col("event_name"))
    df = df.select(
        "*",
        user.alias("_user"),
        name.alias("_name"),
        _clean(ga_session).alias("_ga_session"),
        F.posexplode_outer("items").alias("_sub", "_item"),
    )
    ts = _ts(_clean(F.col("event_timestamp"))) / F.lit(1e6)  # µs → s
    session = F.when(F.col("_user").isNotNull() & F.col("_ga_session").isNotNull(),
                     F.concat_ws(":", F.col("_user"), F.col("_ga_session")))
    item = _clean(F.col("_item")["item_id"])
    checks = [
        (F.col("_bad"), "malformed_row"),
        (~F.col("_name").isin(*GA4_ITEM_EVENTS) | F.col("_name").isNull(), IGNORED),
        (F.col("_item").isNull(), "no_items"),
    ]
    checks += _id_checks(F.col("_user"), "missing_user_id")
    if not use_gap:
        checks += [(session.isNull(), "missing_session_id")]
    checks += _id_checks(item, "missing_item_id")
    checks += [(F.isnan(ts), "bad_ts"), (ts.isNull(), "missing_ts")]
    cols = [
        session.alias("session_id"),
        F.col("_user").alias("user_id"),
        item.alias("item_id"),
        F.when(F.isnan(ts), F.lit(None)).otherwise(ts).alias("ts"),
        _kind(F.col("_name")).cast("int").alias("kind"),
        F.col("_file"), F.col("_block"), F.col("_row"),
        F.coalesce(F.col("_sub"), F.lit(0)).cast("int").alias("_sub"),
        _reason(checks).alias("reason"),
    ]
    cols += [_clean(F.col("_item")[e]).alias(f"x{i}") for i, e in enumerate(item_extras)]
    out = df.select(*cols)
    # A non-item event is counted once, however many items[] it lists.
    return out.where(~(F.coalesce(F.col("reason") == IGNORED, F.lit(False)) & (F.col("_sub") > 0)))
