"""A local deployment's outputs: one directory per suffix by default, and only what localenv wrote is replaced;
anything else is refused (exit 2) before anything is deployed, and left as it is."""

from __future__ import annotations

import json
import os
import stat

import pytest

import localenv.__main__ as localenv_main
from localenv import outputs
from platform_utils import files


@pytest.fixture
def started(tmp_path, monkeypatch) -> list:
    """`up` and `run` replaced by a recorder (no deployment); the default outputs directory in tmp_path."""
    calls = []
    monkeypatch.setattr(outputs, "DIRECTORY", tmp_path / "cfn-outputs")
    monkeypatch.setattr(localenv_main, "up", lambda config, template, path, **_: calls.append(path) or 0)
    monkeypatch.setattr(localenv_main, "run_once", lambda config, template, path, reports: calls.append(path) or 0)
    (tmp_path / "t.json").write_text(json.dumps({"Resources": {}}))
    return calls


def _main(tmp_path, *argv: str) -> int:
    try:
        return localenv_main.main([*argv, "--template", str(tmp_path / "t.json"), "--state-dir", str(tmp_path)])
    except SystemExit as exc:  # argparse's usage error
        return int(exc.code)


def test_each_suffix_has_its_own_outputs_by_default(started, tmp_path):
    assert _main(tmp_path, "up", "--suffix", "one", "--no-monitor") == 0 and _main(tmp_path, "--suffix", "two") == 0
    assert started == [tmp_path / "cfn-outputs" / "one" / "flat-outputs.json",
                       tmp_path / "cfn-outputs" / "two" / "flat-outputs.json"]
    assert outputs.stack_record_path(started[0]) == tmp_path / "cfn-outputs" / "one" / "stack-resources.json"


def test_localenv_replaces_what_it_wrote_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "DIRECTORY", tmp_path / "cfn-outputs")
    path = outputs.default_path("dev")
    outputs.write(path, '{"A": "1"}\n', "outputs file", make_parents=True)  # its own directory, made
    outputs.write(path, '{"A": "2"}\n', "outputs file")  # what it wrote: replaced
    assert path.read_text() == '{"A": "2"}\n' and outputs.written_by_localenv(path)
    path.write_text('{"A": "edited"}\n')  # changed since (or written by cdk deploy --outputs-file)
    with pytest.raises(files.FileRefused, match="was not written by localenv, or was changed since: not replaced"):
        outputs.write(path, '{"A": "3"}\n', "outputs file")
    assert path.read_text() == '{"A": "edited"}\n' and not outputs.written_by_localenv(path)


def test_another_users_file_is_not_replaced_even_with_localenv_s_content(tmp_path, monkeypatch):
    path = tmp_path / "flat-outputs.json"
    outputs.write(path, "{}\n", "outputs file")
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(path).st_uid + 1)
    with pytest.raises(files.FileRefused, match=r"belongs to another user \(uid \d+\): not replaced"):
        outputs.check_replaceable(path, "outputs file")


@pytest.mark.parametrize("case, said", [
    ("symlink", "is a symbolic link: not written through"),
    ("fifo", "is a FIFO, not a regular file: not replaced"),
    ("foreign", "was not written by localenv, or was changed since: not replaced"),
    ("foreign-record", "stack record {dir}/stack-resources.json was not written by localenv"),
    ("hard-link", "was not written by localenv, or was changed since"),
    ("note-fifo", "is a FIFO, not a regular file"),
    ("note-link", ".localenv-written.json is a symbolic link: not written through"),
    ("missing-directory", "its directory {dir}/missing does not exist"),
    ("trailing-slash", "names a directory; name the file"),
])
def test_a_path_localenv_did_not_write_is_refused_before_anything_is_deployed(case, said, started, tmp_path,
                                                                             capsys):
    victim = tmp_path / "victim.json"
    victim.write_text("kept\n")
    target = tmp_path / "out" / "flat-outputs.json"
    target.parent.mkdir()
    if case == "symlink":
        target.symlink_to(victim)
    elif case == "fifo":
        os.mkfifo(target)
    elif case == "foreign":
        target.write_text("kept\n")
    elif case == "foreign-record":
        outputs.write(target, "{}\n", "outputs file")
        outputs.stack_record_path(target).write_text("kept\n")
    elif case == "hard-link":
        os.link(victim, target)
    elif case == "note-fifo":
        target.write_text("kept\n")
        os.mkfifo(target.parent / outputs.NOTE)
    elif case == "note-link":
        (target.parent / outputs.NOTE).symlink_to(victim)
    named = {"missing-directory": str(tmp_path / "missing" / "o.json"), "trailing-slash": f"{target.parent}/"}
    before = {p: os.lstat(p) for p in tmp_path.rglob("*")}
    assert _main(tmp_path, "up", "--suffix", "dev", "--outputs", named.get(case, str(target))) == 2
    err = capsys.readouterr().err
    assert said.format(dir=target.parent if case != "missing-directory" else tmp_path) in err, err
    assert started == [] and "Traceback" not in err
    after = {p: os.lstat(p) for p in tmp_path.rglob("*")}
    assert {p: (s.st_ino, s.st_mtime_ns, stat.S_IFMT(s.st_mode)) for p, s in after.items()} == \
        {p: (s.st_ino, s.st_mtime_ns, stat.S_IFMT(s.st_mode)) for p, s in before.items()}
    assert victim.read_text() == "kept\n"


def test_a_reports_directory_the_user_names_is_never_made(started, tmp_path, capsys):
    assert _main(tmp_path, "--suffix", "dev", "--reports", str(tmp_path / "r" / "s")) == 2
    assert "--reports" in capsys.readouterr().err and not (tmp_path / "r").exists() and started == []
    (tmp_path / "r").mkdir()
    assert _main(tmp_path, "--suffix", "dev", "--reports", str(tmp_path / "r")) == 0 and len(started) == 1
