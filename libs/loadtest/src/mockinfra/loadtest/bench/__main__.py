"""`python -m mockinfra.loadtest.bench`."""

import sys

from mockinfra.loadtest.bench.cli import main

sys.exit(main())
