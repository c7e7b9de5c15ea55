"""`python -m mockinfra.loadtest`."""

import sys

from mockinfra.loadtest.cli import main

sys.exit(main())
