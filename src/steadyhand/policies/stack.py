"""The provider stack: how a client turns the provider for a target into the one it calls.

Every provider a client uses (built from config or injected) goes through one function: the leaf is
guarded so it honours the call's deadline, then each :data:`Policy` wraps the result, innermost
first. A policy is any callable ``(provider, info) -> provider``; :class:`StackInfo` gives it the
target, the configuration, the shared state and a :class:`Resolver` for policies that retarget
(fallbacks, shadow traffic).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..providers.base import Provider
from .deadline import DeadlineGuard
from .state import SharedState

if TYPE_CHECKING:
    from .._config import Config, Target

__all__ = ["Policy", "Resolver", "SharedState", "StackInfo", "build_stack"]


class Resolver(Protocol):
    """Aliases to targets, and targets to the (deadline-guarded) providers that serve them."""

    def resolve(self, model: str) -> Target:
        """``model`` is an alias or ``provider:model``; raises ConfigurationError naming the fix."""
        ...

    def provider(self, target: Target) -> Provider:
        """The provider for ``target`` without any policy around it (so retargeting cannot loop)."""
        ...


@dataclass(frozen=True, slots=True)
class StackInfo:
    """What a policy is told when it wraps the provider for one target."""

    target: Target
    config: Config
    state: SharedState
    resolver: Resolver


Policy = Callable[[Provider, StackInfo], Provider]
"""Wraps the provider for a target; return it unchanged to leave that target alone."""


def guard(provider: Provider) -> Provider:
    """``provider`` made to honour ``ctx.deadline`` (unchanged when it already does)."""
    return provider if provider.enforces_deadline else DeadlineGuard(provider)


def build_stack(leaf: Provider, info: StackInfo, policies: Sequence[Policy]) -> Provider:
    """The guarded leaf wrapped by each policy in turn, the first one innermost."""
    provider = guard(leaf)
    for policy in policies:
        provider = policy(provider, info)
    return provider
