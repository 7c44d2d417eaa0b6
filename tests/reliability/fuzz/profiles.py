"""The two hypothesis profiles of the fuzz suite, chosen by ``MAILKERN_FUZZ``.

``make test`` runs the quick profile (:data:`QUICK_EXAMPLES` examples per property, the
whole suite in seconds); ``make fuzz`` sets ``MAILKERN_FUZZ=1`` and runs
:data:`FULL_EXAMPLES` examples per property (``MAILKERN_FUZZ_EXAMPLES`` overrides it).
Failing examples are kept in ``.hypothesis/`` at the repository root (gitignored) and
replayed first on the next run.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

__all__ = [
    "ACTIVE_PROFILE",
    "FULL_EXAMPLES",
    "FULL_PROFILE",
    "QUICK_EXAMPLES",
    "QUICK_PROFILE",
    "fuzz_settings",
]

QUICK_PROFILE = "mailcore-fuzz-quick"
FULL_PROFILE = "mailcore-fuzz"
QUICK_EXAMPLES = 100
FULL_EXAMPLES = int(os.environ.get("MAILKERN_FUZZ_EXAMPLES", "10000"))

# Absolute, because every test runs in its own empty temporary directory.
_DATABASE = DirectoryBasedExampleDatabase(
    str(Path(__file__).resolve().parents[3] / ".hypothesis" / "examples")
)
# Both profiles: no deadline (a value of several kilobytes takes longer to serialize than
# a short one; timing is the benchmarks' business), failing examples kept in _DATABASE,
# and no health check about what the strategies do on purpose: build values of several
# kilobytes (repeated pieces), which is slower and sometimes overruns hypothesis's buffer.
_HEALTH_CHECKS_OFF = [HealthCheck.too_slow, HealthCheck.data_too_large]
for _name, _examples in ((QUICK_PROFILE, QUICK_EXAMPLES), (FULL_PROFILE, FULL_EXAMPLES)):
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        database=_DATABASE,
        suppress_health_check=_HEALTH_CHECKS_OFF,
        print_blob=True,
    )

#: The active profile: the full one when ``MAILKERN_FUZZ`` is set to anything but "0".
ACTIVE_PROFILE = (
    FULL_PROFILE if os.environ.get("MAILKERN_FUZZ", "0") not in ("", "0") else QUICK_PROFILE
)

#: Decorator giving a property the active profile's settings.
fuzz_settings = settings(settings.get_profile(ACTIVE_PROFILE))
