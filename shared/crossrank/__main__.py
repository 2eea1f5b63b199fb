"""``python -m crossrank`` runs the ``crossrank`` command."""

import sys

from crossrank.cli.main import main

sys.exit(main())
