"""Suite-wide: a scrubbed environment, an empty working directory and a loopback-only network for
every test (see ``_hermetic``), and ``reap`` for the processes a test starts (see ``_procs``).

Hypothesis runs without its per-example deadline (200 ms by default) and without the too-slow health
check: both are wall-clock bounds, which a loaded machine breaks.
"""

from hypothesis import HealthCheck, settings

from _hermetic import _hermetic, pytest_runtest_call, pytest_sessionfinish, pytest_sessionstart
from _procs import reap

__all__ = ["_hermetic", "pytest_runtest_call", "pytest_sessionfinish", "pytest_sessionstart", "reap"]

settings.register_profile("steadyhand", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("steadyhand")
