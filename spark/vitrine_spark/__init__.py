"""vitrine_spark: raw event logs → Vitrine's compact training input, on Spark.

`python -m vitrine_spark prepare --input LOGS --format csv|jsonl|parquet|ga4 --out DIR` reads the
logs, sessionizes and filters them the way `vitrine train` does, computes the bundle's public
aggregates and writes the compact input that `vitrine train --input DIR` reads. The format is
specified in docs/scale.md.
"""

__version__ = "0.1.0"

#: The compact input's `format` and `format_version` (docs/scale.md).
FORMAT = "vitrine-training-input"
FORMAT_VERSION = 1
