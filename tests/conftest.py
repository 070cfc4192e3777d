"""Hypothesis profiles for the suite.

Chosen with ``HYPOTHESIS_PROFILE`` (``dev``, ``ci`` or ``thorough``); when it is unset the ``ci``
profile is used wherever the ``CI`` variable is set, and ``dev`` elsewhere. Without hypothesis
there is nothing to set: ``pytest-benchmark compare``, run from the repository root where only
the ``bench`` extra is installed, loads this file through the ``testpaths``.
"""

from __future__ import annotations

import importlib.util
import os


def _load_profiles() -> None:
    """Register the three profiles and load the chosen one."""
    from hypothesis import HealthCheck, Phase, settings

    settings.register_profile("dev", max_examples=40, deadline=None)
    settings.register_profile(
        "ci",
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
    )
    settings.register_profile(
        "thorough",
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )

    default = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


if importlib.util.find_spec("hypothesis") is not None:
    _load_profiles()
