"""Entry point: `python -m mockinfra.stack`."""

import sys

from mockinfra.stack.cli import main

sys.exit(main())
