"""`python -m vitrine_spark` (and `spark-submit vitrine_spark/__main__.py`): see cli.py."""

import sys

if __package__ in (None, ""):
    # Run as a file (spark-submit path/to/vitrine_spark/__main__.py): import the package itself.
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from vitrine_spark.cli import main
else:
    from .cli import main

sys.exit(main())
