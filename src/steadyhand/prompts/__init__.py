"""Versioned prompts as typed functions: ``prompt = steadyhand.prompts.load("classify_ticket")``.

A prompt file (``prompts/NAME.toml``, or ``.md`` with TOML front matter) declares typed variables,
Jinja2 message templates (sandboxed), the pinned model and parameters, few-shot examples and an
optional output schema. Its version is the content hash of what changes behaviour. The
:class:`Registry` keeps every version used and the labels (``production``) in the store; a call never
fails because the store is down (a cached copy or the file serves, and the trace says which). See
docs/prompts.md. Jinja2 loads with the first prompt, not with ``import steadyhand``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_facade

if TYPE_CHECKING:
    from ._vars import Variable as Variable
    from .checks import ExampleCheck as ExampleCheck
    from .checks import FewShotReport as FewShotReport
    from .checks import Leak as Leak
    from .checks import check_examples as check_examples
    from .checks import find_leaks as find_leaks
    from .checks import read_dataset as read_dataset
    from .files import DEFAULT_PATH as DEFAULT_PATH
    from .files import find as find
    from .files import load_file as load_file
    from .files import parse as parse
    from .files import search_path as search_path
    from .loading import load as load
    from .prompt import PARAMS as PARAMS
    from .prompt import FewShot as FewShot
    from .prompt import Prompt as Prompt
    from .prompt import PromptSource as PromptSource
    from .prompt import PromptUse as PromptUse
    from .registry import DEFAULT_CACHE_DIR as DEFAULT_CACHE_DIR
    from .registry import Registry as Registry
    from .registry import RegistryDown as RegistryDown
    from .registry import current_user as current_user
    from .replays import ReplayQuery as ReplayQuery
    from .replays import ReplayResult as ReplayResult
    from .replays import parse_query as parse_query
    from .replays import replay as replay
    from .replays import replay_span as replay_span
    from .replays import stored_variables as stored_variables

_HOME = {
    "._vars": ("Variable",),
    ".checks": ("ExampleCheck", "FewShotReport", "Leak", "check_examples", "find_leaks", "read_dataset"),
    ".files": ("DEFAULT_PATH", "find", "load_file", "parse", "search_path"),
    ".loading": ("load",),
    ".prompt": ("PARAMS", "FewShot", "Prompt", "PromptSource", "PromptUse"),
    ".registry": ("DEFAULT_CACHE_DIR", "Registry", "RegistryDown", "current_user"),
    ".replays": ("ReplayQuery", "ReplayResult", "parse_query", "replay", "replay_span", "stored_variables"),
}
__all__, __getattr__, __dir__ = lazy_facade(__name__, globals(), _HOME)
