"""`python -m aftersales` runs the `aftersales` command."""

import sys

from aftersales.cli import main

sys.exit(main())
