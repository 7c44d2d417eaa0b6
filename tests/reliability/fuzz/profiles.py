"""The two hypothesis profiles of the fuzz suite, chosen by ``MAILCORE_FUZZ``.

``make test`` runs the quick profile (a few dozen examples per property, the whole suite in
seconds); ``make fuzz`` sets ``MAILCORE_FUZZ=1`` and runs :data:`FULL_EXAMPLES` examples per
property. Failing examples are kept in ``.hypothesis/`` at the repository root (gitignored)
and replayed first on the next run.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

__all__ = ["FULL_EXAMPLES", "FULL_PROFILE", "QUICK_EXAMPLES", "QUICK_PROFILE", "fuzz_settings"]

QUICK_PROFILE = "mailcore-fuzz-quick"
FULL_PROFILE = "mailcore-fuzz"
QUICK_EXAMPLES = 60
FULL_EXAMPLES = int(os.environ.get("FUZZ_N", "10000"))

# Absolute, because every test runs in its own empty temporary directory.
_DATABASE = DirectoryBasedExampleDatabase(
    str(Path(__file__).resolve().parents[3] / ".hypothesis" / "examples")
)
_COMMON = {
    # Serializing a value of several kilobytes takes longer than a short one; timing is the
    # benchmarks' business, not the fuzzer's.
    "deadline": None,
    "database": _DATABASE,
    # The strategies build long values on purpose (repeated pieces) and mostly produce
    # rejected input for some fields; neither is a problem with the test.
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
    "print_blob": True,
}

settings.register_profile(QUICK_PROFILE, max_examples=QUICK_EXAMPLES, **_COMMON)
settings.register_profile(FULL_PROFILE, max_examples=FULL_EXAMPLES, **_COMMON)

#: The active profile: the full one when ``MAILCORE_FUZZ`` is set to anything but "0".
ACTIVE_PROFILE = (
    FULL_PROFILE if os.environ.get("MAILCORE_FUZZ", "0") not in ("", "0") else QUICK_PROFILE
)

#: Decorator giving a property the active profile's settings.
fuzz_settings = settings(settings.get_profile(ACTIVE_PROFILE))
