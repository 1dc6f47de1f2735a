"""The error boundary's vocabulary: each error class carries its exit code."""

from __future__ import annotations

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
