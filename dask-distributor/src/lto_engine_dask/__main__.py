"""``python -m lto_engine_dask JOBS.json``: the same as ``lto-engine-dask``."""

import sys

from .cli import main

sys.exit(main())
