"""``python -m shared`` runs the ``crossrank`` command."""

import sys

from shared.cli import main

sys.exit(main())
