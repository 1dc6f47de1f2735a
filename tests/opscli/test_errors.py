"""opscli.errors, the error boundary's vocabulary: each error class carries its exit code, and an input file the user
named is read only as a regular file of text (JSON where JSON is asked for); anything else is a usage error (exit
2) that names the file, never another exception."""

from __future__ import annotations

import pytest

from opscli import errors
from platform_spec import exit_codes


def test_each_error_carries_its_exit_code():
    assert errors.UsageError("x").exit_code == exit_codes.EXIT_USAGE
    assert {cls("x").exit_code for cls in (errors.OpsError, errors.CredentialsError, errors.ReadOnlyViolation)} == \
        {exit_codes.EXIT_INCOMPLETE}
    assert all(issubclass(cls, errors.OpsError) for cls in (errors.UsageError, errors.CredentialsError,
                                                            errors.ReadOnlyViolation))
    none = errors.CredentialsError.none_found()
    assert isinstance(none, errors.CredentialsError) and errors.CREDENTIAL_SOURCES in str(none)


def test_an_input_file_is_read_only_as_a_regular_file_and_anything_else_is_a_usage_error(tmp_path, fifo):
    given = tmp_path / "outputs.json"
    given.write_text('{"EnvironmentSuffix": "x"}')
    assert errors.read_input(given, "outputs file") == '{"EnvironmentSuffix": "x"}'
    assert errors.read_json_input(given, "outputs file") == {"EnvironmentSuffix": "x"}
    (tmp_path / "garbled.json").write_text("{not JSON")
    (tmp_path / "latin1.json").write_bytes(b'{"x": "\xe9"}')
    refused = {
        tmp_path / "none.json": f"outputs file {tmp_path / 'none.json'} does not exist",
        fifo: f"outputs file {fifo} is a FIFO, not a regular file",
        tmp_path: "not a regular file",
        tmp_path / "latin1.json": "is not UTF-8 text",
    }
    for path, said in refused.items():
        for read in (errors.read_input, errors.read_json_input):
            with pytest.raises(errors.UsageError) as refusal:
                read(path, "outputs file")
            assert said in str(refusal.value), (read.__name__, path, refusal.value)
    assert errors.read_input(tmp_path / "garbled.json", "outputs file") == "{not JSON"
    with pytest.raises(errors.UsageError, match=r"outputs file .*garbled\.json is not JSON"):
        errors.read_json_input(tmp_path / "garbled.json", "outputs file")
