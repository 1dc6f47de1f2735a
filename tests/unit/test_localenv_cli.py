"""`python -m localenv` up/down bookkeeping (the running server itself is the tests' shared deployment)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localenv.__main__ import main
from tests.conftest import ROOT


def test_down_without_a_deployment_is_a_usage_error(tmp_path, capsys):
    assert main(["down", "--suffix", "nothing", "--state-dir", str(tmp_path)]) == 2
    assert "no local deployment of TapStacknothing is running" in capsys.readouterr().err


@contextlib.contextmanager
def lock_held_elsewhere(lock: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the stack's lock, as a running `up` does (a process never conflicts with its own
    POSIX locks, so the test process cannot stand in for it)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys\n"
                               f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
                               "fcntl.lockf(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait(10)


def test_down_removes_a_record_only_when_no_deployment_holds_the_lock(tmp_path, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "TapStackold.json").write_text(json.dumps({"pid": int(dead.stdout)}))
    assert main(["down", "--suffix", "old", "--state-dir", str(tmp_path)]) == 0
    assert "was not running" in capsys.readouterr().out and not (tmp_path / "TapStackold.json").exists()
    (tmp_path / "TapStackbad.json").write_text("{not json")
    assert main(["down", "--suffix", "bad", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "localenv state file" in err and "is not JSON" in err and "so it was removed" in err
    assert not (tmp_path / "TapStackbad.json").exists()
    with lock_held_elsewhere(tmp_path / "TapStackheld.lock") as holder:
        for text in ("{not json", json.dumps({"pid": int(dead.stdout)}), '{"pid": -1}'):
            (tmp_path / "TapStackheld.json").write_text(text)
            assert main(["down", "--suffix", "held", "--state-dir", str(tmp_path)]) == 2
            err = capsys.readouterr().err
            assert ("left as it is" in err or f"held by pid {holder.pid}" in err), err
            assert (tmp_path / "TapStackheld.json").exists() and holder.poll() is None


def test_down_refuses_a_record_that_is_not_a_regular_file(tmp_path, capsys):
    os.mkfifo(tmp_path / "TapStackfifo.json")
    with lock_held_elsewhere(tmp_path / "TapStackfifo.lock"):
        assert main(["down", "--suffix", "fifo", "--state-dir", str(tmp_path)]) == 2
    assert "is a FIFO, not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(tmp_path / "TapStackfifo.json").st_mode)


def test_up_refuses_a_second_deployment_of_the_same_stack(tmp_path, capsys):
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {}}))
    (tmp_path / "TapStacktwice.json").write_text(json.dumps({"pid": 12345, "endpoint": "http://127.0.0.1:1"}))
    with lock_held_elsewhere(tmp_path / "TapStacktwice.lock") as holder:
        code = main(["up", "--suffix", "twice", "--template", str(template), "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and f"TapStacktwice is already up at http://127.0.0.1:1 (pid {holder.pid})" in err


def test_bad_suffix_and_bad_templates_are_usage_errors(tmp_path, capsys):
    assert main(["up", "--suffix", "Bad!", "--state-dir", str(tmp_path)]) == 2
    assert "environmentSuffix 'Bad!' is not allowed" in capsys.readouterr().err
    assert main(["down", "--suffix", "Bad!", "--state-dir", str(tmp_path)]) == 2
    assert main(["up", "--suffix", "x", "--template", str(tmp_path / "none.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["up", "--suffix", "x", "--template", "/dev/zero"]) == 2
    assert "template /dev/zero is a character device, not a regular file" in capsys.readouterr().err
    (tmp_path / "list.json").write_text("[]")
    assert main(["up", "--suffix", "x", "--template", str(tmp_path / "list.json")]) == 2
    assert "has no Resources map" in capsys.readouterr().err


def test_down_stops_a_running_deployment(tmp_path):
    """`down` against a real `up` process of its own, of an empty template (not the session's deployment)."""
    state_dir = tmp_path / "state"
    template_path = tmp_path / "empty.json"
    template_path.write_text(json.dumps({"Resources": {}}))
    process = subprocess.Popen([sys.executable, "-m", "localenv", "up", "--suffix", "downtest", "--template",
                                str(template_path), "--outputs", str(tmp_path / "o.json"), "--state-dir",
                                str(state_dir)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        said = []
        for line in process.stdout:  # "is up" is printed once the record is written
            said.append(line)
            if "is up on the local emulator" in line:
                break
        assert (state_dir / "TapStackdowntest.json").exists(), "".join(said)
        assert main(["down", "--suffix", "downtest", "--state-dir", str(state_dir)]) == 0
        assert process.wait(20) == 0
        assert not (state_dir / "TapStackdowntest.json").exists()
    finally:
        if process.poll() is None:
            process.kill()


def _private_pid_namespace() -> list[str] | None:
    """The command prefix that runs a process as pid 1 of a new PID namespace (with its own /proc), or None."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "--pid", "--fork", "--mount-proc"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        return None
    return prefix


def test_forged_state_records_never_signal_anything_but_the_recorded_up(tmp_path):
    """In a private PID namespace (so a mistake could not reach this machine's processes): with a real `up`
    running and an unrelated `sleep` beside it, records naming pid -1, 0, 1, the bystander, a pid that does not
    exist, a string, garbage or a FIFO are each refused with exit 2 and signal nothing; the genuine record stops
    `up` alone. Once no `up` holds the lock, a forged record is provably stale: removed, nothing signalled."""
    prefix = _private_pid_namespace()
    if prefix is None:
        pytest.skip("unshare --pid --mount-proc is not permitted here (needs root or user namespaces)")
    done = subprocess.run([*prefix, sys.executable, "-m", "tests.unit.pidns_scenario", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "up_failed" not in result, result
    assert set(result["forged"]) == {"minus_one", "zero", "init", "bystander", "gone", "string", "garbage", "fifo"}
    for name, outcome in result["forged"].items():
        assert outcome["code"] == 2 and outcome["record_kept"], (name, outcome)
        assert outcome["up_alive"] and outcome["bystander_alive"], (name, outcome)
    assert result["forged"]["bystander"]["said"].startswith(
        f"error: refusing to signal pid {result['bystander_pid']}: ")
    assert result["genuine"]["code"] == 0 and f"pid {result['up_pid']}" in result["genuine"]["said"]
    assert result["up_exit"] == 0 and result["bystander_alive_after_down"]
    for name, outcome in result["after"].items():
        assert outcome["code"] == 0 and "stale record" in outcome["said"], (name, outcome)
        assert not outcome["record_kept"] and outcome["bystander_alive"], (name, outcome)


def test_every_botocore_session_of_an_emulator_process_shares_one_model_loader(monkeypatch):
    """moto makes botocore sessions of its own (three at import, to list EC2's regions): in the emulator's
    process they share one loader of service models, so each model is parsed once."""
    import botocore.loaders
    import botocore.session

    from localenv.emulator import configure_moto

    monkeypatch.setattr(botocore.session, "create_loader", botocore.loaders.create_loader)  # a fresh process's
    assert botocore.session.Session().get_component("data_loader") is not \
        botocore.session.Session().get_component("data_loader")
    configure_moto()
    one, two = botocore.session.Session(), botocore.session.Session()
    assert one.get_component("data_loader") is two.get_component("data_loader")
    own = botocore.session.Session()
    own.set_config_variable("data_path", "/elsewhere")
    assert own.get_component("data_loader") is not one.get_component("data_loader")  # another data path


def test_an_emulator_process_keeps_a_model_loader_it_already_shares(monkeypatch):
    """A process that put its own shared loader in botocore's place (the tests put opscli's) keeps it: the
    emulator's configuration neither wraps nor replaces it."""
    import botocore.session

    from localenv.emulator import configure_moto

    def own_loader(data_path=None):
        return shared

    shared = botocore.session.create_loader(None)
    monkeypatch.setattr(botocore.session, "create_loader", own_loader)
    configure_moto()
    assert botocore.session.create_loader is own_loader
    assert botocore.session.Session().get_component("data_loader") is shared
