"""Suite-wide: a scrubbed environment, an empty working directory and a loopback-only network for
every test (see ``_hermetic``), and ``reap`` for the processes a test starts (see ``_procs``)."""

from _hermetic import _hermetic, pytest_runtest_call, pytest_sessionfinish, pytest_sessionstart
from _procs import reap

__all__ = ["_hermetic", "pytest_runtest_call", "pytest_sessionfinish", "pytest_sessionstart", "reap"]
