# ruff: noqa: E501  (the corpus tables: one case per line reads best)
"""Builds the cleanup corpus: ``malformed.json``, ``valid.json`` and ``rejected.json`` beside this file.

The malformed cases are the failure modes of LLM JSON seen in practice, each applied to realistic
documents (an extracted invoice, a ticket triage, a list of entities...), plus hand-written cases and
what SmolLM2-135M wrote when asked for JSON (``smollm2``). Each case names its category, the text,
the expected value and the expected outcome (``repaired`` or ``repaired_ambiguous``); a schema when
the case needs one. Run ``python tests/structured/corpus/build.py`` after editing; the files are
committed so the corpus is data, reviewed like code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

DOCS: list[Any] = [
    {"name": "Alice Martin", "age": 34, "city": "Paris"},
    {"ticket": 4812, "priority": "high", "category": "billing", "needs_human": True},
    {"invoice": {"number": "INV-2024-001", "total": 1249.5, "currency": "EUR"}, "paid": False},
    {"entities": [{"text": "Acme Corp", "type": "ORG"}, {"text": "Berlin", "type": "LOC"}]},
    {"sentiment": "negative", "score": -0.82, "aspects": ["delivery", "support"]},
    {"title": "Quarterly report", "tags": ["finance", "q3"], "pages": 12, "draft": None},
    {"question": "What is the capital of France?", "answer": "Paris", "confidence": 0.97},
    {"items": [{"sku": "A-1", "qty": 2, "price": 9.99}, {"sku": "B-7", "qty": 1, "price": 24.0}]},
    {"summary": "The customer wants a refund for order 991.", "action": "refund", "order_id": 991},
    {"language": "en", "translation": "Good morning", "alternatives": ["Morning", "Hello"]},
    {"user": {"id": 17, "email": "bob@example.com", "roles": ["admin", "editor"]}, "active": True},
    {"steps": ["Open the app", "Go to settings", "Tap reset"], "estimated_minutes": 5},
    {"lat": 48.8566, "lon": 2.3522, "label": "Paris", "population": 2161000},
    {"intent": "book_flight", "slots": {"from": "OSL", "to": "LIS", "date": "2025-03-14"}},
    {"is_spam": False, "reasons": [], "score": 0.03},
    {"recipe": "Pancakes", "servings": 4, "ingredients": [{"name": "flour", "grams": 200}]},
    {"code": "def f(x): return x * 2", "lang": "python", "explanation": "doubles x"},
    {"matches": [[1, 2], [3, 4]], "count": 2, "exact": True},
    {"event": "meeting", "start": "09:30", "end": "10:15", "attendees": ["Ana", "Raj", "Li"]},
    {"classification": "bug", "components": ["api", "db"], "severity": 3, "duplicate_of": None},
    {"product": "Widget Pro", "price": 19.99, "in_stock": True, "variants": ["red", "blue"]},
    {"score": 7, "max": 10, "feedback": "Clear, but too long."},
    {"address": {"street": "10 Downing St", "city": "London", "zip": "SW1A 2AA"}},
    {"ok": True, "errors": [], "warnings": ["deprecated field: v1"]},
    {"keywords": ["llm", "json", "repair"], "topic": "parsing", "relevance": 0.7},
]

PROSE = [
    ("Sure! Here is the JSON you asked for:\n", "\nLet me know if you need anything else."),
    ("Here's the extracted data:\n\n", ""),
    ("", "\n\nI hope this helps!"),
    ("Based on the text, the answer is: ", " (as requested)."),
    ("Output:\n", "\n"),
]


def _indent(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _arrays_of_adjacent_strings(doc: Any) -> bool:
    if isinstance(doc, list):
        if any(isinstance(a, str) and isinstance(b, str) for a, b in zip(doc, doc[1:], strict=False)):
            return True
        return any(_arrays_of_adjacent_strings(v) for v in doc)
    if isinstance(doc, dict):
        return any(_arrays_of_adjacent_strings(v) for v in doc.values())
    return False


def _unquoted_keys(doc: Any) -> str:
    return re.sub(r'"([A-Za-z_][A-Za-z0-9_]*)":', r"\1:", _indent(doc))


def _comments(doc: Any) -> str:
    lines = _indent(doc).splitlines()
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if line.rstrip().endswith("{") and i == 0:
            out.append("  // extracted by the assistant")
    out.insert(len(out) - 1, "  /* end of fields */")
    return "\n".join(out)


def _trailing(doc: Any) -> str:
    return re.sub(r"([\"\d\]}el])(\s*)([}\]])", r"\1,\2\3", _indent(doc))


def _missing_commas(doc: Any) -> str:
    return re.sub(r",\n", "\n", _indent(doc))


def _curly(doc: Any) -> str | None:
    text = json.dumps(doc, ensure_ascii=False)
    if "\\" in text:
        return None
    out, opened = [], False
    for ch in text:
        if ch == '"':
            out.append("\u201d" if opened else "\u201c")
            opened = not opened
        else:
            out.append(ch)
    return "".join(out)


def _single(doc: Any) -> str:
    return repr(doc)  # Python's repr: single quotes, True/False/None


def _fence(doc: Any) -> str:
    return f"```json\n{_indent(doc)}\n```"


def _fence_prose(doc: Any) -> str:
    return f"Here is the result:\n\n```json\n{_indent(doc)}\n```\n\nThe fields follow the schema."


def _fence_untagged(doc: Any) -> str:
    return f"```\n{json.dumps(doc)}\n```"


def generated() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []

    def add(category: str, text: str | None, expected: Any, outcome: str = "repaired") -> None:
        if text is not None:
            cases.append({"category": category, "text": text, "expected": expected, "outcome": outcome})

    for i, doc in enumerate(DOCS):
        before, after = PROSE[i % len(PROSE)]
        add("surrounding_prose", before + _indent(doc) + after, doc)
        add("code_fence", _fence(doc) if i % 3 else _fence_untagged(doc), doc)
        add("fence_in_prose", _fence_prose(doc), doc)
        add("trailing_commas", _trailing(doc), doc)
        add("python_repr", _single(doc), doc)
        add("unquoted_keys", _unquoted_keys(doc), doc)
        add("comments", _comments(doc), doc)
        ambiguous = _arrays_of_adjacent_strings(doc)
        add("missing_commas", _missing_commas(doc), doc, "repaired_ambiguous" if ambiguous else "repaired")
        add("curly_quotes", _curly(doc), doc)
        if i % 2 == 0:
            other = DOCS[(i + 1) % len(DOCS)]
            add("first_of_several", json.dumps(doc) + "\n\nOr, alternatively:\n" + json.dumps(other), doc,
                "repaired_ambiguous")  # fmt: skip
        else:
            add("repeated_value", f"{json.dumps(doc)}\n\nFinal answer: {json.dumps(doc)}", doc)
    return cases


HANDWRITTEN: list[dict[str, Any]] = [
    # inner quotes the model did not escape
    {"category": "inner_quotes", "text": '{"quote": "She said "no" and left"}', "expected": {"quote": 'She said "no" and left'}},
    {"category": "inner_quotes", "text": '{"title": "The "Best" Pizza", "stars": 5}', "expected": {"title": 'The "Best" Pizza', "stars": 5}},
    {"category": "inner_quotes", "text": '{"q": "He said "yes", then left", "n": 1}', "expected": {"q": 'He said "yes", then left', "n": 1}},
    {"category": "inner_quotes", "text": "{'text': 'it's fine', 'ok': True}", "expected": {"text": "it's fine", "ok": True}},
    {"category": "inner_quotes", "text": '["a "quoted" word", "plain"]', "expected": ['a "quoted" word', "plain"]},
    # raw control characters inside strings
    {"category": "control_chars", "text": '{"poem": "line one\nline two"}', "expected": {"poem": "line one\nline two"}},
    {"category": "control_chars", "text": '{"tsv": "a\tb", "n": 2}', "expected": {"tsv": "a\tb", "n": 2}},
    {"category": "control_chars", "text": '```json\n{"body": "Dear Sir,\nThanks.\n"}\n```', "expected": {"body": "Dear Sir,\nThanks.\n"}},
    # number formats JSON refuses
    {"category": "number_format", "text": '{"x": .5, "y": +3}', "expected": {"x": 0.5, "y": 3}},
    {"category": "number_format", "text": '{"ratio": 1., "n": -.25}', "expected": {"ratio": 1.0, "n": -0.25}},
    {"category": "number_format", "text": "[+1, +2, .5]", "expected": [1, 2, 0.5]},
    {"category": "number_format", "text": '{"zip": 02134}', "expected": {"zip": 2134}, "outcome": "repaired_ambiguous"},
    # python literals alone
    {"category": "python_literals", "text": '{"a": True, "b": False, "c": None}', "expected": {"a": True, "b": False, "c": None}},
    {"category": "python_literals", "text": "[True, None, 1]", "expected": [True, None, 1]},
    {"category": "python_literals", "text": '{"valid": True,}', "expected": {"valid": True}},
    # top-level scalars (json-repair gives up on these)
    {"category": "top_level_scalar", "text": "'yes'", "expected": "yes"},
    {"category": "top_level_scalar", "text": "True", "expected": True},
    {"category": "top_level_scalar", "text": "None", "expected": None},
    {"category": "top_level_scalar", "text": "\u201chello world\u201d", "expected": "hello world"},
    {"category": "top_level_scalar", "text": "+42", "expected": 42},
    # prose whose quoted words must not become keys (json-repair glues them in)
    {"category": "quoted_prose", "text": 'The "answer" you want is: {"value": 3}', "expected": {"value": 3}},
    {"category": "quoted_prose", "text": 'I used the "strict" format.\n{"a": [1, 2]}\nDone "quickly".', "expected": {"a": [1, 2]}},
    {"category": "quoted_prose", "text": 'Note the key "x" below:\n```json\n{"x": 1}\n```', "expected": {"x": 1}},
    {"category": "quoted_prose", "text": 'Here [as requested] is the list: ["a", "b"]', "expected": ["a", "b"]},
    # several problems at once
    {"category": "combined", "text": "Sure!\n```json\n{name: 'Ann', tags: ['x', 'y',], // who\n active: True,}\n```", "expected": {"name": "Ann", "tags": ["x", "y"], "active": True}},
    {"category": "combined", "text": "{'a': 1 'b': 2, 'c': [1 2 3],}", "expected": {"a": 1, "b": 2, "c": [1, 2, 3]}},
    {"category": "combined", "text": 'Result: {\u201cok\u201d: True, \u201cn\u201d: .5,} -- end', "expected": {"ok": True, "n": 0.5}},
    {"category": "combined", "text": '# Answer\n\n{"title": "Q3", /* note */ "pages": 12,}', "expected": {"title": "Q3", "pages": 12}},
    # unquoted and undefined values: a reading is possible, but flagged
    {"category": "unquoted_value", "text": '{"status": ok}', "expected": {"status": "ok"}, "outcome": "repaired_ambiguous"},
    {"category": "unquoted_value", "text": '{"a": 1, "b": undefined}', "expected": {"a": 1, "b": None}, "outcome": "repaired_ambiguous"},
    {"category": "unquoted_value", "text": '["x" "y"]', "expected": ["x", "y"], "outcome": "repaired_ambiguous"},
    {"category": "unquoted_value", "text": "[1,, 2]", "expected": [1, 2], "outcome": "repaired_ambiguous"},
]  # fmt: skip

SCHEMA_CASES: list[dict[str, Any]] = [
    {"category": "coercion", "text": '{"name": "Ann", "age": "34"}', "expected": {"name": "Ann", "age": 34}, "schema": "person"},
    {"category": "coercion", "text": '{"name": "Ann", "age": "34.0"}', "expected": {"name": "Ann", "age": 34}, "schema": "person"},
    {"category": "coercion", "text": '{"name": "Ann", "age": " 7 "}', "expected": {"name": "Ann", "age": 7}, "schema": "person"},
    {"category": "coercion", "text": '{"label": "SPAM", "score": "0.9"}', "expected": {"label": "spam", "score": 0.9}, "schema": "label"},
    {"category": "coercion", "text": '{"label": "Not Spam", "score": 0.1}', "expected": {"label": "not_spam", "score": 0.1}, "schema": "label"},
    {"category": "coercion", "text": '{"label": "junk", "score": 1}', "expected": {"label": "spam", "score": 1}, "schema": "label"},
    {"category": "coercion", "text": '{"tags": "urgent"}', "expected": {"tags": ["urgent"]}, "schema": "tags"},
    {"category": "coercion", "text": '{"tags": "[\\"a\\", \\"b\\"]"}', "expected": {"tags": ["a", "b"]}, "schema": "tags"},
    {"category": "coercion", "text": '{"done": "true", "tags": []}', "expected": {"done": True, "tags": []}, "schema": "tags"},
    {"category": "coercion", "text": '"{\\"name\\": \\"Bo\\", \\"age\\": 5}"', "expected": {"name": "Bo", "age": 5}, "schema": "person"},
    {"category": "coercion", "text": '{"name": "Ann", "age": 3, "nickname": null}', "expected": {"name": "Ann", "age": 3}, "schema": "person"},
    {"category": "coercion", "text": "{'name': 'Ann', 'age': '41',}", "expected": {"name": "Ann", "age": 41}, "schema": "person"},
    {"category": "coercion", "text": 'Here: {"items": {"sku": "A", "qty": "2"}}', "expected": {"items": [{"sku": "A", "qty": 2}]}, "schema": "order"},
    {"category": "coercion", "text": '{"items": [{"sku": 7, "qty": "2"}]}', "expected": {"items": [{"sku": "7", "qty": 2}]}, "schema": "order"},
]  # fmt: skip

SCHEMAS: dict[str, Any] = {
    "person": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "nickname": {"type": "string"},
        },
        "required": ["name", "age"],
    },
    "label": {
        "type": "object",
        "properties": {
            "label": {
                "enum": ["spam", "not_spam"],
                "type": "string",
                "x-aliases": {"junk": "spam", "ham": "not_spam"},
            },
            "score": {"type": "number"},
        },
        "required": ["label", "score"],
    },
    "tags": {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}, "done": {"type": "boolean"}},
        "required": ["tags"],
    },
    "order": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                    "required": ["sku", "qty"],
                },
            }
        },
        "required": ["items"],
    },
}

VALID: list[str] = [
    *(json.dumps(d) for d in DOCS),
    *(_indent(d) for d in DOCS[:10]),
    "{}", "[]", '""', "0", "-0.0", "1e-7", "123456789012345678901234567890", "true", "false", "null",
    '"plain string"', '{"emoji": "\\ud83d\\ude00 \u00e9"}', '{"a": {"b": {"c": {"d": [[[]]]}}}}',
    '{"braces": "{not json}", "fence": "```json"}', '{"comment": "// not a comment", "hash": "# nope"}',
    '{"trailing": "a,}", "quote": "say \\"hi\\""}', '  \n {"padded": true} \n ', '[1, 2.5, -3, 4E2]',
    '{"dup": 1, "dup": 2}', '{"nan": NaN}', '["True", "None", "undefined"]', '{"x": "\\u0000"}',
    '{"url": "https://example.com/a?b=1#c"}', '[{"a": 1}, {"a": 2}]', '{"big": 1.7976931348623157e308}',
]  # fmt: skip

REJECTED: list[dict[str, Any]] = [
    {"category": "no_json", "text": "I'm sorry, but I can't help with that request."},
    {"category": "no_json", "text": "The person is Alice, aged 34, living in Paris."},
    {"category": "no_json", "text": ""},
    {"category": "no_json", "text": "   \n\t "},
    {"category": "no_json", "text": "Sure, here it is: name Alice, age 34"},
    {"category": "no_json", "text": "```\nnothing here\n```"},
    {"category": "truncated", "text": '{"name": "Alice", "age": 3', "finish_reason": "length"},
    {"category": "truncated", "text": '{"items": [{"sku": "A-1"}, {"sku": "B', "finish_reason": "length"},
    {"category": "truncated", "text": '```json\n{"a": [1, 2, 3', "finish_reason": "length"},
    {"category": "truncated", "text": '{"summary": "The customer wants a ref'},
    {"category": "truncated", "text": "[1, 2, 3"},
    {
        "category": "truncated",
        "text": '{"a": 1} and more text but the model was cut',
        "finish_reason": "length",
    },
    {"category": "elided", "text": "[1, 2, 3, ...]"},
    {"category": "elided", "text": '{"items": [...]}'},
    {"category": "elided", "text": '{"a": 1, ...}'},
    {"category": "broken", "text": '{"n": 1,000}'},
    {"category": "broken", "text": '{"a": }'},
    {"category": "broken", "text": '{"a": [1, 2}'},
    {"category": "broken", "text": "[1.2.3]"},
    {"category": "broken", "text": '{"x": 0x1F}'},
    {"category": "broken", "text": '{"a" 1}'},
    {"category": "broken", "text": '{"name": Alice Martin}'},
    {"category": "several", "text": '{"answer": 1}\nActually, no:\n{"answer": 2}'},
    {"category": "several", "text": "[1, 2] or maybe [3]"},
    {"category": "schema", "text": '{"name": "Ann", "age": "old"}', "schema": "person"},
    {"category": "schema", "text": '{"name": "Ann"}', "schema": "person"},
    {"category": "schema", "text": '{"label": "maybe", "score": 0.5}', "schema": "label"},
    {"category": "schema", "text": '{"tags": [{"a": 1}]}', "schema": "tags"},
    {"category": "schema", "text": '["not", "an", "object"]', "schema": "person"},
    {"category": "schema", "text": '{"items": [{"sku": "A", "qty": 2.5}]}', "schema": "order"},
    # SmolLM2-135M: a schema echoed back and never closed (finish_reason stop)
    {
        "category": "smollm2",
        "text": '{\n  "properties": {\n    "name": {"title":"Name","type":"string"},"age":{"title":"Age","type":"integer"}\n},\n"required": ["city"]',
    },
    {
        "category": "smollm2",
        "text": '{\n  "properties": {\n    "name": {"title":"Name","type":"string"},"age":{"title":"Age","type":"integer"}\n},\n"required": ["name", "age"]\n}',
        "schema": "person",
    },
]


def smollm2() -> list[dict[str, Any]]:
    """What SmolLM2-135M wrote in text mode (benchmarks/bench_structured_local.py --dump), with the
    value a reader should get; outputs that hold no usable JSON went to ``rejected`` instead."""
    path = HERE / "smollm2.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else []


def main() -> None:
    malformed = [*generated(), *HANDWRITTEN, *SCHEMA_CASES, *smollm2()]
    for case in malformed:
        case.setdefault("outcome", "repaired")
    (HERE / "malformed.json").write_text(json.dumps(malformed, indent=1, ensure_ascii=False) + "\n", "utf-8")
    (HERE / "valid.json").write_text(json.dumps(VALID, indent=1, ensure_ascii=False) + "\n", "utf-8")
    (HERE / "rejected.json").write_text(json.dumps(REJECTED, indent=1, ensure_ascii=False) + "\n", "utf-8")
    (HERE / "schemas.json").write_text(json.dumps(SCHEMAS, indent=1) + "\n", "utf-8")
    print(f"malformed {len(malformed)}, valid {len(VALID)}, rejected {len(REJECTED)}")


if __name__ == "__main__":
    main()
