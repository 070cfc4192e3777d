"""Hypothesis profiles for the suite.

Chosen with ``HYPOTHESIS_PROFILE`` (``dev``, ``ci`` or ``thorough``); when it is unset the ``ci``
profile is used wherever the ``CI`` variable is set, and ``dev`` elsewhere. Each derives from
`gradcheck.strategies.check_settings`, the settings a gradient check inside ``@given`` needs.
Without hypothesis there is nothing to set: ``pytest-benchmark compare``, run from the repository
root where only the ``bench`` extra is installed, loads this file through the ``testpaths``.
"""

from __future__ import annotations

import importlib.util
import os


def _load_profiles() -> None:
    """Register the three profiles and load the chosen one."""
    from hypothesis import Phase, settings

    from gradcheck.strategies import check_settings

    settings.register_profile("dev", check_settings, max_examples=40)
    settings.register_profile(
        "ci",
        check_settings,
        max_examples=30,
        derandomize=True,
        database=None,
        print_blob=True,
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
    )
    settings.register_profile("thorough", check_settings, max_examples=500)
    default = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


if importlib.util.find_spec("hypothesis") is not None:
    _load_profiles()
