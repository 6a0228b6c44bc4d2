"""A planted-secret corpus for the Redactor: secrets in every place a span stores text, near-misses that
earlier versions leaked, and innocent look-alikes that must come through untouched.

Each case builds a span; a case is caught when none of its ``cores`` (the part that must not be stored)
is left in the span's spool line, and an innocent case is a false positive when its line changes at all.
``tests/tracing/test_redaction_corpus.py`` asserts on it; ``benchmarks/bench_redaction.py`` prints the
figures.
"""

from __future__ import annotations

import copy
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from steadyhand.tracing import Redactor, SpanRecord
from steadyhand.tracing._serialize import redacted_line

__all__ = ["INNOCENT", "NEAR_MISSES", "PLACEMENTS", "SECRETS", "Case", "Score", "score"]

_rng = random.Random(1729)
_ALNUM = string.ascii_letters + string.digits


def _rand(n: int, alphabet: str = _ALNUM) -> str:
    while True:
        s = "".join(_rng.choice(alphabet) for _ in range(n))
        if alphabet != _ALNUM or (
            any(c.isdigit() for c in s) and any(c.isupper() for c in s) and any(c.islower() for c in s)
        ):
            return s


def _luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(_rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits = body + check
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
            for i, d in enumerate(int(c) for c in reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _grouped(digits: str, sep: str, sizes: tuple[int, ...] = (4, 4, 4, 4)) -> str:
    out, i = [], 0
    for n in sizes:
        out.append(digits[i : i + n])
        i += n
    return sep.join(out)


_KINDS: list[Callable[[], str]] = [
    lambda: "sk-proj-" + _rand(48) + "_" + _rand(20),
    lambda: "sk-" + _rand(48),
    lambda: "sk-ant-api03-" + _rand(80) + "-" + _rand(12),
    lambda: "AKIA" + _rand(16, string.ascii_uppercase + string.digits),
    lambda: "ghp_" + _rand(36),
    lambda: "github_pat_11" + _rand(20) + "_" + _rand(59),
    lambda: "xoxb-" + _rand(12, string.digits) + "-" + _rand(13, string.digits) + "-" + _rand(24),
    lambda: "AIza" + _rand(35),
    lambda: "sk_live_" + _rand(24),
    lambda: "eyJhbGciOiJIUzI1NiJ9.eyJ" + _rand(40) + "." + _rand(43),
    lambda: f"{_rand(8, string.ascii_lowercase)}.{_rand(5, string.ascii_lowercase)}@example.org",
    lambda: f"+1 415 555 {_rand(4, string.digits)}",
    lambda: _grouped(_luhn_complete("4", 16), " "),
]
"""Secret makers: OpenAI (project and legacy), Anthropic, AWS, GitHub (classic and fine-grained), Slack,
Google, Stripe, a JWT, an e-mail address, a phone number, a card number."""


@dataclass(frozen=True)
class Case:
    """One planted span; ``cores`` must not survive redaction (empty for an innocent case)."""

    label: str
    span: Callable[[], SpanRecord]
    cores: tuple[str, ...]


def _base(**fields: Any) -> SpanRecord:
    # Fixed ids and time: random ones are hex and digits, and one holding a 4-digit core by chance
    # ("7391" in a span id) scored a caught secret as leaked.
    fields.setdefault("trace_id", "feedfacefeedfacefeedfacefeedface")
    fields.setdefault("span_id", "deadbeefdeadbeef")
    fields.setdefault("start_time", 1_700_000_000.0)
    fields.setdefault("name", "chat default")
    fields.setdefault("kind", "llm")
    fields.setdefault("model", "gpt-4o-2024-08-06")
    return SpanRecord(**fields)


def _chat(content: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-2024-08-06", "messages": [{"role": "user", "content": content}]}


PLACEMENTS: dict[str, Callable[[str], SpanRecord]] = {
    "user message": lambda s: _base(request=_chat(f"here you go: {s} thanks")),
    "system message": lambda s: _base(
        request={"messages": [{"role": "system", "content": f"{s}\nYou are terse."}]}
    ),
    "content part": lambda s: _base(request=_chat([{"type": "text", "text": s}])),
    "tool arguments": lambda s: _base(
        request={
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "call_1", "name": "send", "arguments": f'{{"to": "{s}"}}'}],
                }
            ]
        }
    ),
    "request extra": lambda s: _base(request={**_chat("hi"), "extra": {"metadata": {"note": s}}}),
    "response text": lambda s: _base(
        response={"id": "chatcmpl-01", "choices": [{"message": {"content": f"Use {s}."}}], "created": 1}
    ),
    "response tool call": lambda s: _base(
        response={"choices": [{"message": {"tool_calls": [{"arguments": f'{{"k": "{s}"}}'}]}}]}
    ),
    "attribute value": lambda s: _base(attributes={"note": f"seen {s}"}),
    "attribute list": lambda s: _base(attributes={"docs": ["first", f"second {s}"]}),
    "attribute key": lambda s: _base(attributes={s: "value"}),
    "tag value": lambda s: _base(tags={"user": s}),
    "tag key": lambda s: _base(tags={s: "1"}),
    "span name": lambda s: _base(name=f"lookup {s}"),
    "model field": lambda s: _base(model=s),
    "error message": lambda s: _base(status="error", error_message=f"upstream refused {s}"),
    "error type": lambda s: _base(status="error", error_type=s),
    "usage raw": lambda s: _base(usage_raw={"prompt_tokens": 3, "note": s}),
    "prompt version": lambda s: _base(prompt_version=s),
    "nested key": lambda s: _base(request={"extra": {"headers": {s: "x"}}}),
    "model alias": lambda s: _base(model_alias=s),
}
"""Twenty places a span stores text."""


def _planted(place: Callable[[str], SpanRecord], secret: str) -> Callable[[], SpanRecord]:
    return lambda: place(secret)


SECRETS: list[Case] = [
    Case(f"{where} #{i}", _planted(place, secret), (secret,))
    for where, place in PLACEMENTS.items()
    for i, make in enumerate(_KINDS)
    for secret in [make()]
]
"""13 kinds of secret in each of the 20 placements: 260 cases, every secret value different."""

_ZW = "\u200b"
_GH = "ghp_" + _rand(36)
_AK = "AKIA" + _rand(16, string.ascii_uppercase + string.digits)
_SK = "sk-proj-" + _rand(40)
_CARD = _luhn_complete("5", 16)
_AMEX = _luhn_complete("37", 15)
_B64 = "dXNlcjpwYXNzd29yZA=="  # user:password


def _wide(s: str) -> str:
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in s)


def _text(s: str) -> Callable[[], SpanRecord]:
    return lambda: _base(request=_chat(s))


def _attr(key: str, value: Any) -> Callable[[], SpanRecord]:
    return lambda: _base(attributes={"config": {key: value}})


def _near() -> list[Case]:
    cases: list[Case] = []

    def add(label: str, span: Callable[[], SpanRecord], *cores: str) -> None:
        cases.append(Case(label, span, cores))

    for key in (
        "api_key", "apiKey", "API_KEY", "x-api-key", "password", "Password", "passwd", "pwd", "secret",
        "client_secret", "token", "access_token", "refresh_token", "Authorization", "auth", "cookie",
        "credentials", "private_key", "aws_secret_access_key", "db_password", "SECRET_KEY", "session_token",
    ):  # fmt: skip
        value = "v4lu3-" + _rand(10, string.ascii_lowercase)
        add(f"value under key {key}", _attr(key, value), value)
    add("int under password key", _attr("password", 83726154), "83726154")
    add("dict under credentials key", _attr("credentials", {"user": "bob", "pin": "7391"}), "7391")
    add("secret key in tags", lambda: _base(tags={"api_key": "plainvalue123"}), "plainvalue123")
    add("secret key as attribute", lambda: _base(attributes={"token": "zzplain7788"}), "zzplain7788")
    for name in (
        "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "DB_PASSWORD", "STRIPE_SECRET_KEY", "OPENAI_API_KEY",
        "SLACK_BOT_TOKEN", "POSTGRES_PASSWORD", "JWT_SECRET", "export REDIS_PASSWORD", "client.secret",
    ):  # fmt: skip
        value = _rand(24)
        add(f"assignment {name}=", _text(f"set {name}={value} and restart"), value)
    for line in (
        "password: hunter2hunter2",
        "API key: q1w2e3r4t5y6",
        "Secret = 'abc def ghi'",
        'token="zz9"',
    ):
        add(f"assignment {line!r}", _text(f"config:\n{line}\n"), line.split(maxsplit=1)[-1].strip("'\" =:"))
    add("yaml password", _text("db:\n  user: app\n  password: s3cr3tPa55\n"), "s3cr3tPa55")
    add("json in text", _text('{"api_key": "inline-json-key-9"}'), "inline-json-key-9")
    add("glued token_ghp_", _text(f"token_{_GH}"), _GH[4:])
    add("glued key_id_AKIA", _text(f"key_id_{_AK}"), _AK)
    add("glued mysk-proj-", _text(f"my{_SK}"), _SK[8:])
    add("glued prefix-sk-", _text(f"prefix-{_SK}"), _SK[8:])
    add("glued digits+AKIA", _text(f"42{_AK}"), _AK)
    for sep in (".", "/", "  ", "-", " ", ""):
        add(f"card sep {sep!r}", _text(f"card {_grouped(_CARD, sep)} exp 12/29"), _grouped(_CARD, sep))
    add("amex 4-6-5", _text(f"amex {_grouped(_AMEX, ' ', (4, 6, 5))}"), _grouped(_AMEX, " ", (4, 6, 5)))
    add("card after a number", _text(f"qty 12 {_grouped(_CARD, ' ')}"), _grouped(_CARD, " "))
    for phone in ("4155550132", "14155550132", "+14155550132", "07700900123", "(415) 555-0132"):
        add(f"phone {phone}", _text(f"call {phone} today"), phone)
    add("phone at sentence end", _text("call +1 415 555 0132."), "415 555 0132")
    for email in (
        "jürgen@müller.de",
        "用户@例子.广告",
        "иван@пример.рф",
        "josé.garcía@correo.es",
        "δοκιμή@παράδειγμα.δοκιμή",
    ):
        add(f"e-mail {email}", _text(f"write to {email}"), email)
    add("zero-width in key", _text(f"sk-proj-{_ZW}{_SK[8:]}"), _SK[8:], _SK[8:20])
    add("zero-width in AKIA", _text(f"AKIA{_ZW}{_AK[4:]}"), _AK[4:])
    add("zero-width in e-mail", _text(f"jane{_ZW}.roe@exa{_ZW}mple.org"), "roe@exa")
    add("soft hyphen in ghp", _text(f"ghp_{_GH[4:14]}\u00ad{_GH[14:]}"), _GH[14:])
    add("cyrillic A in AKIA", _text(f"\u0410KIA{_AK[4:]}"), _AK[4:])
    add("full-width at sign", _text("bob\uff20example.com"), "bob\uff20example")
    add("full-width card", _text(_wide(_grouped(_CARD, " "))), _wide(_CARD[4:8]))
    add(
        "arabic-indic phone",
        _text("call " + "".join(chr(0x0660 + int(c)) for c in "4155550132")),
        "\u0665\u0665\u0665",
    )
    add("unicode dash sk", _text(f"sk\u2010proj\u2010{_SK[8:]}"), _SK[8:])
    add("nbsp phone", _text("+1\u00a0415\u00a0555\u00a00132"), "555\u00a00132")
    add("Authorization: Basic", _text(f"Authorization: Basic {_B64}"), _B64)
    add(
        "basic header dict",
        lambda: _base(request={"extra": {"headers": {"authorization": f"Basic {_B64}"}}}),
        _B64,
    )
    token = _rand(32)
    add("bearer lower-case", _text(f"bearer {token}"), token)
    add("url credentials", _text("postgres://app:Tr0ub4dor3@db.internal:5432/app"), "Tr0ub4dor3")
    add(
        "pem key",
        _text("-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + _rand(60) + "\n-----END RSA PRIVATE KEY-----"),
        "MIIEow",
    )
    add(
        "email in dict key",
        lambda: _base(request={"extra": {"jane.roe@example.org": 1}}),
        "jane.roe@example.org",
    )
    add("card in span name", lambda: _base(name=f"charge {_grouped(_CARD, '-')}"), _grouped(_CARD, "-"))
    add("key in model field", lambda: _base(model=f"ft:gpt-4o:{_SK}"), _SK[8:])
    add("email in error type", lambda: _base(error_type="Denied(bob@example.com)"), "bob@example.com")
    add("phone in tag", lambda: _base(tags={"phone": "4155550132"}), "4155550132")
    add("email in tag key", lambda: _base(tags={"jane.roe@example.org": "vip"}), "jane.roe@example.org")
    add("key in prompt version", lambda: _base(prompt_version=f"v1-{_GH}"), _GH[4:])
    add("key in finish reason", lambda: _base(finish_reason=f"stop {_AK}"), _AK)
    add("email in project", lambda: _base(project="bob@example.com"), "bob@example.com")
    bearer = _rand(40)
    add("Authorization: Bearer in text", _text(f"Authorization: Bearer {bearer}"), bearer)
    add(
        "X-Api-Key header",
        lambda: _base(request={"extra": {"headers": {"X-Api-Key": "hdrvalue42"}}}),
        "hdrvalue42",
    )
    add("quoted passphrase", _text('passphrase = "correct horse battery staple"'), "horse battery")
    add("DATABASE_URL credentials", _text("DATABASE_URL=postgres://u:p4ssw0rd9@db/app"), "p4ssw0rd9")
    add("plus-tag e-mail", _text("first.last+tag@mail.co.uk"), "first.last+tag@mail.co.uk")
    add("UK phone", _text("ring +44 20 7946 0958"), "7946 0958")
    add(
        "card in error", lambda: _base(error_message=f"declined {_grouped(_CARD, '-')}"), _grouped(_CARD, "-")
    )
    slack = "xoxb-" + _rand(12, string.digits) + "-" + _rand(24)
    add("glued slack_xoxb", _text(f"slack_{slack}"), slack[5:])
    asia = "ASIA" + _rand(16, string.ascii_uppercase + string.digits)
    add("AWS session key id", _text(asia), asia)
    gho = "gho_" + _rand(36)
    add("GitHub OAuth token", _text(gho), gho)
    svc = "sk-svcacct-" + _rand(60)
    add("OpenAI service account key", _text(svc), svc[11:])
    rk = "rk_live_" + _rand(30)
    add("Stripe restricted key", _text(rk), rk)
    add("password key in tool arguments", _text('{"password": "p@55w0rd!"}'), "p@55w0rd!")
    add("Cookie header in text", _text("Cookie: session=abc123def456"), "abc123def456")
    add("set-cookie key", lambda: _base(response={"headers": {"set-cookie": "sid=zz81"}}), "zz81")
    add("camelCase accessToken", lambda: _base(attributes={"accessToken": "camelvalue77"}), "camelvalue77")
    add("short pwd", _text("pwd=ab12"), "ab12")
    add("mixed-case PassWord", _text("PassWord: Xy12345"), "Xy12345")
    return cases


NEAR_MISSES = _near()
"""Forms an earlier version leaked (dict keys, key names, assignments, glued keys, card and phone
formats, e-mail in any script, hidden or look-alike characters, Basic auth, every field)."""


def _innocent() -> list[Case]:
    texts = [
        "max_tokens: 300", "total_tokens=206", "token_count=5", "tokens: 182 in, 24 out", "Token usage: 182",
        "tokenizer: cl100k_base", "token limit: 4096", "keyboard: US", "monkey: banana", "keyword: python",
        "hotkey: ctrl+c", "sort_key: name", "primary key: id", "foreign_key=user_id",
        "public_key: ssh-ed25519",
        "secretary: Jane Doe", "Keep it secret, keep it safe.", "the password policy says 12 characters",
        "password_policy: strict", "passport office opens at 9", "bypass=true", "author: Ada Lovelace",
        "authored_by: ada", "Authorization required to continue", "pass rate 92%", "compass: north",
        "risk-free-and-easy-to-use-product-launch", "task-management-system-for-teams-2024",
        "ask-me-anything-about-the-product-line", "desk-lamp-with-adjustable-arm-and-usb",
        "Basic English for beginners", "Basic Introduction to Python", "basic auth is disabled here",
        "the bearer of bad news", "Bearer tokens are described in RFC 6750", "xox is a game",
        "AKIA is a prefix of AWS key ids", "ghp_ is GitHub's prefix", "use sk- keys from the dashboard",
        "created 1796165534", "ts=1700000000", "at 1700000000123 ms", "epoch 2000000000",
        "order 1234567812345678", "ISBN 978-3-16-148410-0", "ip 192.168.100.200", "ips 10.0.0.1 10.0.0.2",
        "version 1.2.3.4", "dates 2024-01-15 2024-01-16", "pi is 3.14159265358979",
        "tracking 1Z999AA10123456784", "uuid 123e4567-e89b-12d3-a456-426614174000",
        "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "call extension 1234", "room 415", "zip 94103", "1-800-FLOWERS", "£1,234,567.89 total",
        "amount 12.50 USD", "ratio 1:2:3", "time 12:30:45", "score 99/100", "range 100-200",
        "user at example dot com", "ping @openai", "a@b", "email@localhost", "price: 5 @ 10 units",
        "see @example.com", "Привет, как дела?", "こんにちは、世界", "👨‍👩‍👧 family",
        "naïve café résumé", "ﬁle ligature", "zero\u200bwidth but harmless", "Ключ: значение",
        "key: value", "id: 42", "session: morning", "credential check passed", "cookies are tasty",
        "a secret garden", "token ring network", "the api is keyed by user", "monkey_patch=true",
        "use the tokens endpoint", "passwords must rotate", "secrets manager", "turkey: roasted",
        "whiskey=neat", "donkey-kong", "jockey: 3", "tokenize(text)", "Secretariat won in 1973",
        "first_token = 20.0", "latency: {ttft: 0.05, per_token: 0.001}", "eos_token: </s>", "max_token=50",
    ]  # fmt: skip
    cases = [Case(f"text {t!r}", _text(t), ()) for t in texts]
    structured: list[tuple[str, Callable[[], SpanRecord]]] = [
        ("created int", lambda: _base(response={"created": 1796165534, "id": "chatcmpl-00000000000000001"})),
        ("number looks like a card", lambda: _base(attributes={"amount": 4111111111111111})),
        ("number looks like a phone", lambda: _base(usage_raw={"total": 4155550132})),
        ("id key with phone digits", lambda: _base(attributes={"request_id": "4155550132"})),
        ("id key with card digits", lambda: _base(response={"id": "4111111111111111"})),
        ("user_id tag", lambda: _base(tags={"user_id": "2125550123"})),
        ("created_at string", lambda: _base(attributes={"created_at": "1796165534"})),
        ("max_tokens param", lambda: _base(request={"max_tokens": 300, "messages": []})),
        ("token counts", lambda: _base(usage_raw={"prompt_tokens": 182, "completion_tokens": 24})),
        ("system fingerprint", lambda: _base(response={"system_fingerprint": "fp_4155550132"})),
    ]  # fmt: skip
    cases += [Case(label, make, ()) for label, make in structured]
    return cases


INNOCENT = _innocent()
"""Text and fields that only look like secrets: token counts, ids, timestamps, prose, other scripts."""


@dataclass(frozen=True)
class Score:
    total: int
    caught: int
    missed: list[str]

    @property
    def rate(self) -> float:
        return self.caught / self.total if self.total else 1.0


def _line(span: SpanRecord, redactor: Redactor | None) -> str:
    return redacted_line(span, redactor).decode()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def score(cases: list[Case], redactor: Redactor, *, innocent: bool = False) -> Score:
    """For secrets and near-misses: how many were caught (no core left in the line, JSON-decoded text
    included); for innocent cases: how many came through with their line unchanged."""
    missed: list[str] = []
    for case in cases:
        span = case.span()
        plain = _line(copy.deepcopy(span), None)
        exact = copy.deepcopy(span)
        redactor.apply(exact)
        lines = (_line(span, redactor), _line(exact, None))  # the fast path and the exact walk
        if innocent:
            ok = all(line == plain for line in lines)
        else:
            texts = [t for line in lines for t in (line, *_strings(json.loads(line)))]
            ok = not any(core in t for t in texts for core in case.cores)
        if not ok:
            missed.append(case.label)
    return Score(len(cases), len(cases) - len(missed), missed)


def _check_sizes() -> None:
    assert len(SECRETS) >= 200 and len(PLACEMENTS) >= 20, (len(SECRETS), len(PLACEMENTS))
    assert len(NEAR_MISSES) >= 100, len(NEAR_MISSES)
    assert len(INNOCENT) >= 100, len(INNOCENT)
    assert all(case.cores and all(case.cores) for case in SECRETS + NEAR_MISSES)
