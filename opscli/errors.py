"""The error boundary's vocabulary: each error class carries its exit code."""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


class OpsError(Exception):
    exit_code = EXIT_INCOMPLETE


class UsageError(OpsError):
    exit_code = EXIT_USAGE


class CredentialsError(OpsError):
    exit_code = EXIT_INCOMPLETE


class ReadOnlyViolation(OpsError):
    """A code path tried to call an AWS operation that is not a read. Never caught as a finding."""

    exit_code = EXIT_INCOMPLETE


def read_input(path: Any, what: str) -> str:
    """The text of an input file the user named; a missing or unreadable file is a usage error saying which."""
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} {path} cannot be read: {exc}") from None
