"""``python -m steadyhand`` is the ``steadyhand`` command (for environments without the script on PATH)."""

from .cli import main

main()
