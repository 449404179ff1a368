"""``python -m graphsim``."""

import sys

from graphsim.cli import main

sys.exit(main())
