"""The cache key: a canonical hash of everything that changes the answer, and nothing else."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from steadyhand import ModelRequest
from steadyhand._config import Target
from steadyhand.policies import KEY_VERSION, cache_key
from steadyhand.policies.cache_keys import keepable, skip_reason
from steadyhand.testing import text_response
from steadyhand.types import Message, ResponseFormat, Tool

TARGET = Target("support", "sim", "sim-basic", "chat")
BASE: dict[str, Any] = {
    "model": "sim-basic",
    "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    "temperature": 0.0,
    "top_p": 1.0,
    "max_tokens": 64,
    "stop": ["\n\n"],
    "seed": 7,
    "n": 1,
    "tools": [{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {}}}}],
    "tool_choice": "auto",
    "response_format": {"type": "json_object"},
    "extra": {"user": "u-1"},
}

_text = st.text(min_size=1, max_size=12)
# Every field of the request (but ``model``, which is the target's), each with values to change it to.
CHANGES: dict[str, st.SearchStrategy[Any]] = {
    "messages": st.lists(
        st.builds(lambda r, c: {"role": r, "content": c}, st.sampled_from(["user", "assistant"]), _text),
        min_size=1,
        max_size=3,
    ),
    "temperature": st.one_of(st.none(), st.floats(0.01, 2.0)),
    "top_p": st.one_of(st.none(), st.floats(0.0, 0.99)),
    "max_tokens": st.one_of(st.none(), st.integers(1, 100_000)),
    "stop": st.one_of(st.none(), st.lists(_text, min_size=1, max_size=3)),
    "seed": st.one_of(st.none(), st.integers(-(2**31), 2**31)),
    "n": st.one_of(st.none(), st.integers(2, 8)),
    "tools": st.one_of(
        st.none(), st.lists(st.builds(lambda n: {"name": n}, st.from_regex(r"[a-z_]{1,10}", fullmatch=True)))
    ),
    "tool_choice": st.one_of(st.none(), st.sampled_from(["none", "required", "get_weather"])),
    "response_format": st.one_of(
        st.none(),
        st.builds(
            lambda name: {"type": "json_schema", "name": name, "json_schema": {"type": "object"}},
            st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        ),
        st.just({"type": "text"}),
    ),
    "extra": st.dictionaries(
        st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.integers() | _text, max_size=3
    ),
}
TARGET_CHANGES = {
    "provider": st.sampled_from(["openai", "anthropic", "other"]),
    "model": st.sampled_from(["sim-echo", "gpt-4o-2024-08-06", "sim-basic:backup"]),
    "api": st.sampled_from(["completions", "messages"]),
}


def _request(**changes: Any) -> ModelRequest:
    return ModelRequest.model_validate({**BASE, **changes})


@given(st.data())
def test_changing_any_request_field_changes_the_key(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(CHANGES)))
    value = data.draw(CHANGES[field])
    changed = _request(**{field: value})
    same = getattr(changed, field) == getattr(_request(), field)
    assert (cache_key(TARGET, changed) == cache_key(TARGET, _request())) == same, field


@given(st.data())
def test_changing_the_target_changes_the_key(data: st.DataObject) -> None:
    part = data.draw(st.sampled_from(sorted(TARGET_CHANGES)))
    fields = {"provider": "sim", "model": "sim-basic", "api": "chat", part: data.draw(TARGET_CHANGES[part])}
    other = Target("support", fields["provider"], fields["model"], fields["api"])  # type: ignore[arg-type]
    assert cache_key(other, _request()) != cache_key(TARGET, _request())
    assert cache_key(TARGET, _request(), kind="openai") != cache_key(TARGET, _request(), kind="sim")


def test_the_same_request_built_differently_has_the_same_key() -> None:
    built = ModelRequest(
        model="another-name",  # the target's model is what counts
        messages=[Message(role="system", content="be brief"), Message(role="user", content="hi")],
        extra={"user": "u-1"},
        response_format=ResponseFormat(type="json_object"),
        tools=[Tool(name="get_weather", parameters={"properties": {"city": {}}, "type": "object"})],
        temperature=0.0,
        top_p=1.0,
        max_tokens=64,
        stop=["\n\n"],
        seed=7,
        n=1,
        tool_choice="auto",
    )
    assert cache_key(TARGET, built) == cache_key(TARGET, _request())
    assert cache_key(Target("other-alias", "sim", "sim-basic", "chat"), built) == cache_key(TARGET, built)


def test_the_key_schema_version_is_part_of_the_key(monkeypatch: Any) -> None:
    import importlib

    module = importlib.import_module("steadyhand.policies.cache_keys")

    before = cache_key(TARGET, _request())
    monkeypatch.setattr(module, "KEY_VERSION", KEY_VERSION + 1)
    assert module.cache_key(TARGET, _request()) != before


def test_sampled_requests_and_unfinished_answers_are_not_kept() -> None:
    assert skip_reason(_request(temperature=0.7), sampled=False) == "sampled"
    assert skip_reason(_request(temperature=0.7), sampled=True) is None
    assert skip_reason(_request(temperature=0.0), sampled=False) is None
    assert skip_reason(_request(temperature=None), sampled=False) is None
    assert keepable(text_response("done")) and keepable(text_response("", finish_reason="tool_calls"))
    for reason in ("length", "content_filter", "refusal", "unknown"):
        assert not keepable(text_response("cut", finish_reason=reason))
    assert not keepable(text_response("busy").model_copy(update={"degraded": True}))
