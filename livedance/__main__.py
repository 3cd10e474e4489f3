"""``python -m livedance``: the ``livedance`` command (see :mod:`livedance.cli`)."""

import sys

from livedance.cli import main

sys.exit(main())
