"""gradcheck: numerical gradient checking with error-model tolerances and diagnostic reports."""

from __future__ import annotations

__version__ = "0.1.0"
