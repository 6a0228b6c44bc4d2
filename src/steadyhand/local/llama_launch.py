"""Runs llama-cpp-python's server (``python -m steadyhand.local.llama_launch`` takes its flags) so that
``--n_batch 512`` is safe and a seed gives the same answer every time.

Two changes, both invisible on the wire:

- llama.cpp's extra weight buffers are off. They are the CPU backend's repacked and AMX layouts; on
  CPUs with AMX (this project's VMs have it) they crash with SIGSEGV on the first prompt batch larger
  than one token. llama-cpp-python does not expose the switch (``llama_model_params.use_extra_bufts``),
  so the default parameters are wrapped before its server module runs.
- Every completion evaluates its prompt from the start. llama-cpp-python reuses the longest cached
  prefix and evaluates only the rest, and a prompt computed in one batch of 512 and one computed as
  a cached prefix plus one token differ in their last bits: the same request at temperature 0 gave
  different text on its second call. Re-evaluating costs prompt time, which ``--n_batch 512`` makes
  small: a 1,324-token prompt answered in 17 s here, where one token per step took over 60 s.
"""

from __future__ import annotations

import runpy
from typing import Any


def main() -> None:
    import llama_cpp.llama_cpp as native

    defaults = native.llama_model_default_params

    def model_params() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = model_params

    from llama_cpp import Llama

    # Any: llama_cpp is typed where the local extra is installed and missing where it is not (make lint)
    model_class: Any = Llama
    generate = model_class.generate

    def generate_from_scratch(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.reset()  # no cached prefix: the same prompt is computed the same way every time
        return generate(self, *args, **kwargs)

    model_class.generate = generate_from_scratch
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
