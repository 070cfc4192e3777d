"""gradcheck: numerical gradient checking with error-model tolerances and diagnostic reports."""

from __future__ import annotations

from gradcheck.numerical import numerical_gradient

__version__ = "0.1.0"

__all__ = ["numerical_gradient"]
