"""``steadyhand prompts ...`` through Typer's CliRunner: list, show, diff, log, label, replay, check; every
error is one line and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steadyhand import Client
from steadyhand.cli import app
from steadyhand.prompts import Registry, check_examples, find_leaks, load
from steadyhand.sim import SimServer
from steadyhand.tracing import Tracer

from .conftest import TICKET, sim_config, write_prompt

runner = CliRunner()


def cli(*args: str, url: str | None = None) -> tuple[int, str]:
    extra = [] if url is None else ["--database-url", url]
    result = runner.invoke(app, ["prompts", *args, *extra], env={"STEADYHAND_USER": "dana", "COLUMNS": "200"})
    return result.exit_code, result.output


def _toml(sim: SimServer, url: str) -> None:
    Path("steadyhand.toml").write_text(
        f'database_url = "{url}"\n[providers.sim]\nkind = "sim"\nbase_url = "{sim.base_url}"\n'
        '[models]\ndefault = "sim:sim-basic"\nother = "sim:sim-other-2024-01-01"\n'
    )


def test_list_show_label_log_diff_and_rollback(empty_url: str) -> None:
    write_prompt()
    v1 = load("classify_ticket").version
    code, out = cli("list", url=empty_url)  # no database yet: the files, and a note
    assert code == 0 and v1 in out and "registry not read" in out
    code, out = cli("label", "classify_ticket", v1[:7], "production", "--note", "launch", url=empty_url)
    assert code == 0, out
    assert f"classify_ticket:production new → {v1} (moved by dana)" in out
    write_prompt(
        TICKET.replace("temperature = 0.0", "temperature = 0.3").replace("or low.", "or low. One word.")
    )
    v2 = load("classify_ticket").version
    code, out = cli("label", "classify_ticket", v2, "production", url=empty_url)
    assert code == 0 and f"{v1} → {v2}" in out
    code, out = cli("list", url=empty_url)
    assert code == 0 and f"production={v2}" in out and "│ 2 " in out

    code, out = cli("show", "classify_ticket@production", url=empty_url)
    assert code == 0 and f"classify_ticket@{v2}" in out and "from registry" in out and "One word." in out
    code, out = cli("diff", f"classify_ticket@{v1}", "@production", url=empty_url)
    assert code == 0, out
    assert "params.temperature" in out and "0.0" in out and "0.3" in out
    assert "- You label support tickets as urgent, normal or low." in out
    assert "+ You label support tickets as urgent, normal or low. One word." in out
    code, out = cli("diff", "classify_ticket", "classify_ticket")
    assert code == 0 and "same version" in out

    code, out = cli(
        "label", "classify_ticket", v1, "production", "--by", "erin", "--note", "rollback", url=empty_url
    )
    assert code == 0 and f"{v2} → {v1} (moved by erin)" in out
    code, out = cli("log", "classify_ticket", url=empty_url)
    assert code == 0, out
    assert "2 versions of classify_ticket" in out and "3 label moves" in out
    assert out.index("rollback") < out.index("launch")  # newest first
    assert "erin" in out and "dana" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("show", "nothing"), "no prompt 'nothing'"),
        (("label", "classify_ticket", "abcdef", "production"), "no kept version 'abcdef'"),
        (("label", "classify_ticket", "abcdef", "0123abcd"), "not a hash"),
        (("show", "classify_ticket@canary"), "no label 'canary'"),
        (("log", "unknown"), "keeps no version of 'unknown'"),
        (
            ("replay", "classify_ticket", "--from-traces", "when=yesterday"),
            "replay query term 'when=yesterday'",
        ),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(empty_url: str, args: tuple[str, ...], words: str) -> None:
    write_prompt()
    cli("label", "classify_ticket", load("classify_ticket").version, "staging", url=empty_url)
    code, out = cli(*args, url=empty_url)
    assert code != 0 and words in out, out
    assert len([line for line in out.splitlines() if line.strip()]) == 1 and out.startswith("error:")


def test_replay_from_traces_and_check(sim: SimServer, empty_url: str) -> None:
    write_prompt()
    _toml(sim, empty_url)
    registry = Registry(empty_url)
    v1 = load("classify_ticket", registry=registry)
    registry.move_label("classify_ticket", "production", v1.version)
    production = load("classify_ticket", label="production", registry=registry)
    tracer = Tracer(registry.store(), spool_dir=None)
    with Client(sim_config(sim.base_url), tracer=tracer) as client:
        client.run(production, ticket="The site is down for everyone!")
        client.run(production, ticket="Refund please")
    assert tracer.close(10)
    trace_id = registry.calls("classify_ticket")[0].trace_id
    registry.close()
    listed = runner.invoke(
        app, ["traces", "list", "--tag", "prompt.label=production", "--database-url", empty_url]
    )
    assert listed.exit_code == 0 and "2 traces" in listed.output, listed.output
    shown = runner.invoke(
        app, ["traces", "show", trace_id, "--database-url", empty_url], env={"COLUMNS": "200"}
    )
    assert f"prompt classify_ticket@{v1.version}" in shown.output, shown.output

    code, out = cli(
        "replay", "classify_ticket", "--model", "other", "--from-traces", "label=production since=1d"
    )
    assert code == 0, out
    assert "2 replayed, 0 changed, 0 failed" in out and "(other)" in out

    code, out = cli("replay", "classify_ticket", "--model", "nope", "--from-traces", "all")
    assert code == 1 and out.startswith("error: unknown model alias 'nope'"), out

    code, out = cli("check", "classify_ticket")
    assert code == 1, out
    assert "1 of 2 examples reproduced" in out and "differs" in out
    assert out.strip().splitlines()[-1].startswith("error: classify_ticket@")
    Path("eval.jsonl").write_text(
        json.dumps({"input": {"ticket": "the site is DOWN for everyone!"}, "output": "urgent"}) + "\n"
        + json.dumps({"ticket": "Unrelated: my invoice address changed last week, update it."}) + "\n"
    )  # fmt: skip
    code, out = cli("check", "classify_ticket", "--dataset", "eval.jsonl")
    assert code == 1 and "dataset row 0 holds example 0 (its input)" in out
    assert "dataset row 1 holds example 1" not in out  # the row does not contain the example's whole text


def test_check_examples_and_leaks_as_functions(sim: SimServer) -> None:
    write_prompt()
    prompt = load("classify_ticket")
    with Client(sim_config(sim.base_url)) as client:
        report = check_examples(
            client, prompt, dataset=[{"ticket": "Please change my invoice address. Thanks"}]
        )
    assert [(c.index, c.got, c.matched) for c in report.checks] == [(0, "urgent", True), (1, "normal", False)]
    assert report.reproduced == 1 and not report.ok
    assert [(leak.example, leak.row, leak.kind) for leak in report.leaks] == [(1, 0, "contains")]
    assert find_leaks(prompt, [{"input": {"ticket": "Something new"}}]) == []
