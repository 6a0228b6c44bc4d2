"""How ``steadyhand prompts`` shows things: a prompt, a side-by-side diff, a log, check and replay results."""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..prompts import FewShotReport, Prompt, ReplayResult
from ..store import LabelMoveView, PromptLabelView, PromptVersionView

__all__ = ["check_table", "diff_table", "log_tables", "prompt_view", "replay_table"]


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _short(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def prompt_view(prompt: Prompt) -> RenderableType:
    """Everything about one version: where it came from, its pins, variables, messages and examples."""
    head = Text(f"{prompt.ref}", style="bold")
    head.append(f"  from {prompt.source}")
    if prompt.label:
        head.append(f"  label {prompt.label}", style="cyan")
    if prompt.path is not None:
        head.append(f"  {prompt.path}", style="dim")
    lines: list[RenderableType] = [head]
    if prompt.fallback:
        lines.append(Text(f"registry unreachable: {prompt.fallback}", style="yellow"))
    if prompt.description or prompt.owner:
        lines.append(Text(f"{prompt.description}  owner: {prompt.owner or '-'}"))
    params = ", ".join(f"{k}={_json(v)}" for k, v in sorted(prompt.params.items())) or "none"
    lines.append(Text(f"model {prompt.model}  params {params}"))
    if prompt.variables:
        table = Table("variable", "type", "default", "description", title="variables", title_justify="left")
        for var in prompt.variables.values():
            default = "(required)" if var.required else _json(var.default)
            table.add_row(var.name, var.type, default, var.description)
        lines.append(table)
    for message in prompt.messages:
        lines.append(Panel(Text(message["content"]), title=message["role"], title_align="left"))
    if prompt.examples:
        table = Table("#", "input", "output", title="few-shot examples", title_justify="left")
        for i, example in enumerate(prompt.examples):
            table.add_row(str(i), _json(example.input), _json(example.output))
        lines.append(table)
    if prompt.output_schema is not None:
        lines.append(Text(f"output schema ({prompt.schema_ref or 'inline'}): {_json(prompt.output_schema)}"))
    return Group(*lines)


def _side_by_side(left: str, right: str) -> tuple[Text, Text]:
    """Two texts aligned line by line: removed lines red on the left, added ones green on the right."""
    a, b = left.splitlines(), right.splitlines()
    out_a, out_b = Text(), Text()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            for line in a[i1:i2]:
                out_a.append(line + "\n", style="dim")
                out_b.append(line + "\n", style="dim")
            continue
        old, new = a[i1:i2], b[j1:j2]
        for k in range(max(len(old), len(new))):
            out_a.append((f"- {old[k]}" if k < len(old) else "") + "\n", style="red")
            out_b.append((f"+ {new[k]}" if k < len(new) else "") + "\n", style="green")
    out_a.rstrip()
    out_b.rstrip()
    return out_a, out_b


def _value(data: dict[str, Any], key: str) -> str:
    return _json(data[key]) if key in data else "-"


def diff_table(a: Prompt, b: Prompt) -> Table:
    """What changed from ``a`` to ``b``, side by side: model, parameters, variables, each message's
    template (line by line), examples, schema, and metadata (which no version hashes)."""
    table = Table(title=f"{a.ref} → {b.ref}", show_lines=True, expand=True)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column(f"{a.ref} ({a.source})", ratio=1)
    table.add_column(f"{b.ref} ({b.source})", ratio=1)
    if a.model != b.model:
        table.add_row("model", Text(a.model, style="red"), Text(b.model, style="green"))
    pa, pb = a.params, b.params
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key, None) != pb.get(key, None) or (key in pa) != (key in pb):
            table.add_row(f"params.{key}", Text(_value(pa, key), "red"), Text(_value(pb, key), "green"))
    va = {k: v.behaviour() for k, v in a.variables.items()}
    vb = {k: v.behaviour() for k, v in b.variables.items()}
    for key in sorted(set(va) | set(vb)):
        if va.get(key) != vb.get(key):
            table.add_row(f"variables.{key}", Text(_value(va, key), "red"), Text(_value(vb, key), "green"))
    ma, mb = a.messages, b.messages
    for i in range(max(len(ma), len(mb))):
        left = ma[i] if i < len(ma) else {"role": "-", "content": ""}
        right = mb[i] if i < len(mb) else {"role": "-", "content": ""}
        if left != right:
            role = left["role"] if left["role"] == right["role"] else f"{left['role']} → {right['role']}"
            table.add_row(f"messages[{i}] {role}", *_side_by_side(left["content"], right["content"]))
    ea, eb = [e.to_data() for e in a.examples], [e.to_data() for e in b.examples]
    if ea != eb:
        table.add_row("examples", *_side_by_side(_lines(ea), _lines(eb)))
    if a.output_schema != b.output_schema:
        table.add_row("output_schema", *_side_by_side(_pretty(a.output_schema), _pretty(b.output_schema)))
    for key in ("description", "owner"):
        old, new = getattr(a, key), getattr(b, key)
        if old != new:
            table.add_row(f"{key} (not versioned)", Text(old, "red"), Text(new, "green"))
    if a.version == b.version:
        table.caption = "same version: no change in behaviour"
    return table


def _lines(examples: list[dict[str, Any]]) -> str:
    return "\n".join(_json(e) for e in examples)


def _pretty(value: Any) -> str:
    return "-" if value is None else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def log_tables(
    name: str, versions: list[PromptVersionView], labels: list[PromptLabelView], moves: list[LabelMoveView]
) -> list[Table]:
    """The versions kept (newest first, with the labels on each) and every label move."""
    on: dict[str, list[str]] = {}
    for label in labels:
        on.setdefault(label.version, []).append(label.label)
    kept = Table("version", "kept", "by", "model", "labels", title=f"{len(versions)} versions of {name}")
    for v in versions:
        kept.add_row(
            v.version, _when(v.created_at), v.created_by, str(v.definition.get("model", "-")),
            Text(", ".join(sorted(on.get(v.version, []))), style="cyan"),
        )  # fmt: skip
    moved = Table("when", "label", "from", "to", "by", "note", title=f"{len(moves)} label moves")
    for m in moves:
        was = m.from_version or "(new)"
        moved.add_row(_when(m.moved_at), m.label, was, m.to_version, m.moved_by, m.note or "")
    return [kept, moved]


def check_table(report: FewShotReport) -> Table:
    table = Table("#", "input", "expected", "got", "", title=f"few-shot self-check of {report.prompt}")
    for c in report.checks:
        mark = Text("ok", "green") if c.matched else Text("differs" if c.error is None else "error", "red")
        got = c.error if c.error is not None else c.got
        expected = _short(_json(c.expected), 30)
        table.add_row(str(c.index), _short(_json(c.input), 40), expected, _short(got), mark)
    table.caption = f"{report.reproduced} of {len(report.checks)} examples reproduced"
    return table


def replay_table(results: list[ReplayResult], title: str) -> Table:
    table = Table("span", "from", "variables", "before", "after", "", title=title)
    for r in results:
        after: str | None
        if r.error is not None:
            mark, after = Text("error", "red"), r.error
        else:
            mark, after = (Text("changed", "yellow") if r.changed else Text("same", "green")), r.after
        table.add_row(
            r.span_id, r.from_version or "-", _short(_json(r.variables), 40), _short(r.before, 40),
            _short(after, 40), mark,
        )  # fmt: skip
    changed = sum(r.changed for r in results)
    failed = sum(r.error is not None for r in results)
    table.caption = f"{len(results)} replayed, {changed} changed, {failed} failed"
    return table
