"""The error boundary's vocabulary: each error class carries its exit code."""

from __future__ import annotations

from typing import Any

from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_USAGE
from platform_utils import files

# Where an operator gives opscli credentials: every message about missing or refused ones names them.
CREDENTIAL_SOURCES = "AWS_PROFILE, --profile or AWS_ACCESS_KEY_ID"


class OpsError(Exception):
    exit_code = EXIT_INCOMPLETE


class UsageError(OpsError):
    exit_code = EXIT_USAGE


class CredentialsError(OpsError):
    exit_code = EXIT_INCOMPLETE

    @classmethod
    def none_found(cls) -> CredentialsError:
        """botocore found no credentials where it looks (or half of a key pair): nothing can be read."""
        return cls(f"no AWS credentials found: set {CREDENTIAL_SOURCES}")


class ReadOnlyViolation(OpsError):
    """A code path tried to call an AWS operation that is not a read. Never caught as a finding."""

    exit_code = EXIT_INCOMPLETE


def read_input(path: Any, what: str) -> str:
    """The text of an input file the user named: a regular UTF-8 file of at most 16 MiB (a FIFO, a device, a
    directory or a larger file is refused before anything waits on it); anything else is a usage error."""
    return _usage(files.read_regular, path, what)


def read_json_input(path: Any, what: str) -> Any:
    """The JSON value of an input file the user named, read as `read_input` reads; not JSON: a usage error."""
    return _usage(files.read_json, path, what)


def _usage(read: Any, path: Any, what: str) -> Any:
    try:
        return read(path, what)
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except files.FileRefused as exc:
        raise UsageError(str(exc)) from None
