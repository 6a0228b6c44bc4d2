"""Suite-wide: a scrubbed environment, an empty working directory and a loopback-only network for
every test (see ``_hermetic``)."""

from _hermetic import _hermetic, pytest_runtest_call, pytest_sessionfinish, pytest_sessionstart

__all__ = ["_hermetic", "pytest_runtest_call", "pytest_sessionfinish", "pytest_sessionstart"]
