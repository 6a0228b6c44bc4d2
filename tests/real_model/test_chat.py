"""Chat, streaming, stop sequences, truncation and usage against the real model."""

from __future__ import annotations

from typing import Any

import pytest

from steadyhand import AsyncClient, Client
from steadyhand._config import Config
from steadyhand.errors import ConfigurationError, PrefillNotSupported

from .conftest import SpanList

pytestmark = pytest.mark.real_model

HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]
FIXED: dict[str, Any] = {"temperature": 0.0, "seed": 7, "max_tokens": 24}


def test_chat_answers_with_reported_usage(config: Config, spans: SpanList) -> None:
    with Client(config, tracer=spans) as client:
        response = client.chat(HELLO, model="local", **FIXED)
    assert response.text.strip()
    assert response.finish_reason in ("stop", "length")
    assert response.provider == "local"
    usage = response.usage
    assert usage.input_tokens and usage.output_tokens and not usage.estimated  # the server counted them
    assert response.message.role == "assistant"  # no `refusal` field, and that is fine
    (span,) = spans.spans
    assert span.output_tokens == usage.output_tokens and not span.usage_estimated


def test_stream_equals_non_stream_and_usage_is_estimated(config: Config, spans: SpanList) -> None:
    with Client(config, tracer=spans) as client:
        whole = client.chat(HELLO, model="local", **FIXED)
        with client.stream(HELLO, model="local", **FIXED) as stream:
            pieces = list(stream.text_stream())
            streamed = stream.response
    assert len(pieces) > 1  # it really streamed
    assert "".join(pieces) == whole.text == streamed.text
    assert streamed.finish_reason == whole.finish_reason
    # llama.cpp sends no usage in streams: counted locally, marked estimated, never zero.
    assert streamed.usage.estimated
    assert streamed.usage.output_tokens and streamed.usage.input_tokens
    assert spans.spans[-1].usage_estimated and spans.spans[-1].output_tokens == streamed.usage.output_tokens
    # The input estimate includes the chat template's overhead the server measured at start: for this
    # short prompt it was 3 to 7 times too low without it.
    assert whole.usage.input_tokens is not None and streamed.usage.input_tokens is not None
    assert 0.75 <= streamed.usage.input_tokens / whole.usage.input_tokens <= 1.33


def test_stop_sequence_ends_the_answer_before_it(config: Config) -> None:
    messages = [{"role": "user", "content": "Count from 1 to 10, one number per line."}]
    with Client(config) as client:
        free = client.chat(messages, model="local", temperature=0.0, seed=1, max_tokens=40)
        stopped = client.chat(messages, model="local", temperature=0.0, seed=1, max_tokens=40, stop=["4"])
    assert "4" in free.text  # without the stop sequence the model does write it
    assert "4" not in stopped.text
    assert free.text.startswith(stopped.text)
    assert stopped.finish_reason == "stop" and not stopped.truncated


def test_max_tokens_is_truncated_never_complete(config: Config) -> None:
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    with Client(config) as client:
        response = client.chat(messages, model="local", temperature=0.0, max_tokens=5)
        with client.stream(messages, model="local", temperature=0.0, max_tokens=5) as stream:
            streamed = stream.until_done()
    for answer in (response, streamed):
        assert answer.finish_reason == "length"
        assert answer.truncated
    assert response.usage.output_tokens == 5


def test_what_the_server_ignores_is_refused_before_sending(config: Config) -> None:
    tool = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    with Client(config) as client:
        with pytest.raises(ConfigurationError, match="tools"):
            client.chat(HELLO, model="local", tools=[tool])
        prefill = [*HELLO, {"role": "assistant", "content": "Hello"}]
        with pytest.raises(PrefillNotSupported):
            client.chat(prefill, model="local")


async def test_async_client_chat_and_stream_agree(config: Config) -> None:
    async with AsyncClient(config) as client:
        whole = await client.chat(HELLO, model="local", **FIXED)
        async with client.stream(HELLO, model="local", **FIXED) as stream:
            streamed = await stream.until_done()
    assert whole.text and streamed.text == whole.text
    assert streamed.usage.estimated and not whole.usage.estimated
