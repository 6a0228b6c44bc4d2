"""``steadyhand local``: a missing extra is a clear error naming it, exit 2, no traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from steadyhand.cli import app
from steadyhand.local import INSTALL_HINT, LocalExtraMissing
from steadyhand.local import server as server_module


def test_missing_extra_names_it_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise LocalExtraMissing(f"the llama.cpp server (module llama_cpp) is not installed; {INSTALL_HINT}")

    monkeypatch.setattr(server_module, "require_server_package", missing)
    result = CliRunner().invoke(app, ["local", "serve", "--port", "0"])
    assert result.exit_code == 2
    assert "pip install 'steadyhand[local]'" in result.output
    assert "--no-deps" in result.output and "make install-local" in result.output
    assert "Traceback" not in result.output
