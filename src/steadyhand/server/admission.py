"""Admission: whether a caller may make this call now (rate, budget), decided before any upstream.

The gateway asks :meth:`Admission.admit` once per model request and calls :meth:`Admission.settle`
when the request ends, with the usage it saw (``failed=True`` when it gave no answer), so a budget
reservation is either turned into the real cost or released. :class:`OpenAdmission` admits
everything; keys with limits use :class:`steadyhand.server.budgets.KeyAdmission`.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._config import Target
from ..types import ModelRequest, Usage
from .auth import Caller

__all__ = ["Admission", "OpenAdmission"]


class Admission(Protocol):
    def admit(self, caller: Caller, request: ModelRequest, target: Target, protocol: str, state: Any) -> Any:
        """A ticket to settle later (or ``None``); raises :class:`~steadyhand.server.auth.Refused`."""
        ...

    def settle(self, ticket: Any, usage: Usage | None, *, failed: bool) -> None: ...


class OpenAdmission:
    """No limits: every authenticated caller is admitted."""

    def admit(self, caller: Caller, request: ModelRequest, target: Target, protocol: str, state: Any) -> Any:
        return None

    def settle(self, ticket: Any, usage: Usage | None, *, failed: bool) -> None:
        return None
