"""The one ``crossrank`` logger: configure it with ``logging.getLogger("crossrank")``."""

from __future__ import annotations

import logging

__all__ = ["logger"]

logger = logging.getLogger("crossrank")
