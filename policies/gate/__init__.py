"""The policy gate (`python -m policies.gate`): synthesis, the template scanners, the findings merged and located,
the report files and the command line, a module each (cli.py documents the command and its exit codes)."""

from __future__ import annotations

from pathlib import Path

#: The repository: the gate's default paths are in it, and its findings name files relative to it.
ROOT = Path(__file__).resolve().parents[2]
