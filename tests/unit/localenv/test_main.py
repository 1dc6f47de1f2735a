"""`python -m localenv` (localenv/__main__.py): up/down bookkeeping (the running server itself is the tests' shared
deployment)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localenv.__main__ import main
from tests.conftest import ROOT, unmeasured
from tests.unit.localenv.pidns_scenario import victim


def test_down_without_a_deployment_is_a_usage_error(tmp_path, capsys):
    assert main(["down", "--suffix", "nothing", "--state-dir", str(tmp_path)]) == 2
    assert "no local deployment of TapStacknothing is running" in capsys.readouterr().err


@contextlib.contextmanager
def lock_held_elsewhere(lock: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the stack's lock, as a running `up` does (a process never conflicts with its own
    POSIX locks, so the test process cannot stand in for it). It runs none of our code: not measured."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with victim(lock, env=unmeasured(os.environ)) as holder:  # its pipes closed on the way out
        try:
            yield holder
        finally:
            holder.kill()
            holder.wait(10)


def stale_deployment(state_dir: Path, suffix: str) -> int:
    """The state an `up` leaves when it is killed: its record, and its lock that nobody holds any more. Returns
    the pid the record names. Not measured by coverage: it ends by os._exit, so coverage could never save what
    it ran (the same steps of localenv.state run in this process in the last test of this file)."""
    done = subprocess.run([sys.executable, "-c", "import os, sys\nfrom pathlib import Path\n"
                           "from localenv import state\n"
                           "held = state.acquire(state.Paths.for_stack(Path(sys.argv[1]), sys.argv[2]))\n"
                           "held.write_record({})\nprint(os.getpid(), flush=True)\nos._exit(0)",
                           str(state_dir), f"TapStack{suffix}"], cwd=ROOT, capture_output=True, text=True,
                          env=unmeasured(os.environ))
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_down_removes_a_record_only_when_no_deployment_holds_the_lock(tmp_path, capsys):
    pid = stale_deployment(tmp_path, "old")
    assert main(["down", "--suffix", "old", "--state-dir", str(tmp_path)]) == 0
    assert f"was not running (stale record of pid {pid} removed)" in capsys.readouterr().out
    assert not (tmp_path / "TapStackold.json").exists()
    stale_deployment(tmp_path, "bad")
    (tmp_path / "TapStackbad.json").write_text("{not json")
    assert main(["down", "--suffix", "bad", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "localenv state file" in err and "is not JSON" in err and "so it was removed" in err
    assert not (tmp_path / "TapStackbad.json").exists()
    # without its lock, whether a deployment runs cannot be told (an `up` may hold the lock on a removed name)
    (tmp_path / "TapStacknolock.json").write_text("{not json")
    assert main(["down", "--suffix", "nolock", "--state-dir", str(tmp_path)]) == 2
    assert "TapStacknolock.lock is missing" in capsys.readouterr().err
    assert (tmp_path / "TapStacknolock.json").exists()
    with lock_held_elsewhere(tmp_path / "TapStackheld.lock") as holder:
        lock = os.stat(tmp_path / "TapStackheld.lock")
        named = {"start_time": 1, "lock": {"device": lock.st_dev, "inode": lock.st_ino}}
        for text in ("{not json", json.dumps({"pid": pid, **named}), json.dumps({"pid": -1, **named})):
            (tmp_path / "TapStackheld.json").write_text(text)
            assert main(["down", "--suffix", "held", "--state-dir", str(tmp_path)]) == 2
            err = capsys.readouterr().err
            assert ("left as it is" in err or f"held by pid {holder.pid}" in err), err
            assert (tmp_path / "TapStackheld.json").exists() and holder.poll() is None


def test_down_refuses_a_record_that_is_not_a_regular_file(tmp_path, capsys):
    """A FIFO, a directory or a symbolic link where the record belongs: a usage error naming what it is, left as
    it is, whether a deployment holds the lock, nobody does, or there is no lock at all."""
    stale_deployment(tmp_path, "free")
    os.mkfifo(tmp_path / "TapStackfifo.json")
    (tmp_path / "TapStackdir.json").mkdir()
    (tmp_path / "TapStackfree.json").unlink()
    (tmp_path / "TapStackfree.json").mkdir()
    (tmp_path / "TapStacklink.json").symlink_to(tmp_path / "TapStackfree.json")
    with lock_held_elsewhere(tmp_path / "TapStackfifo.lock"):
        assert main(["down", "--suffix", "fifo", "--state-dir", str(tmp_path)]) == 2
    assert "is a FIFO, not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(tmp_path / "TapStackfifo.json").st_mode)
    for suffix, what in (("dir", "a directory"), ("free", "a directory"), ("link", "a symbolic link")):
        assert main(["down", "--suffix", suffix, "--state-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"TapStack{suffix}.json is {what}, not a regular file: left as it is" in err, err
        assert os.path.lexists(tmp_path / f"TapStack{suffix}.json")
    assert (tmp_path / "TapStackfree.json").is_dir()


def test_up_refuses_a_second_deployment_of_the_same_stack(tmp_path, capsys):
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {}}))
    (tmp_path / "TapStacktwice.json").write_text(json.dumps({"pid": 12345, "start_time": 1, "lock": {
        "device": 1, "inode": 1}, "endpoint": "http://127.0.0.1:1"}))
    with lock_held_elsewhere(tmp_path / "TapStacktwice.lock") as holder:
        code = main(["up", "--suffix", "twice", "--template", str(template), "--state-dir", str(tmp_path),
                         "--no-monitor"])
    err = capsys.readouterr().err
    assert code == 2 and f"TapStacktwice is already up at http://127.0.0.1:1 (pid {holder.pid})" in err


def test_a_window_given_to_up_run_again_is_refused_not_ignored(tmp_path, capsys):
    """`up --monitor-window` while an `up` of the stack runs: the running consumer keeps the window it started with
    (a restart starts it as it was), so the option is a usage error naming what to do, and nothing is signalled."""
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {}}))
    (tmp_path / "TapMonitoragain.template.json").write_text(json.dumps({"Resources": {}}))
    (tmp_path / "TapStackagain.json").write_text(json.dumps({"pid": 12345, "start_time": 1, "lock": {
        "device": 1, "inode": 1}, "endpoint": "http://127.0.0.1:1", "monitor": {"consumer": {"pid": 1}}}))
    with lock_held_elsewhere(tmp_path / "TapStackagain.lock") as holder:
        code = main(["up", "--suffix", "again", "--template", str(template), "--state-dir", str(tmp_path),
                     "--monitor-window", "5"])
        assert holder.poll() is None  # not signalled
    err = capsys.readouterr().err
    assert code == 2 and "TapStackagain is already up: --monitor-window applies when `up` deploys" in err, err
    assert "python -m localenv down --suffix again" in err


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


@pytest.mark.parametrize(("argv", "message"), [
    (["up", "--monitor-window", "301"], "301: the window is 0 to 300 seconds"),
    (["up", "--monitor-window", "nan"], "nan: the window is 0 to 300 seconds"),
    (["up", "--monitor-window", "soon"], "'soon' is not a number of seconds"),
    (["up", "--no-monitor", "--monitor-window", "1"], "give it to `up`, without --no-monitor"),
    (["run", "--monitor-window", "1"], "give it to `up`, without --no-monitor"),
])
def test_a_monitor_window_up_cannot_use_is_a_usage_error(argv, message, tmp_path, capsys):
    """`--monitor-window` outside the event source's range, or where no consumer runs: exit 2 before anything is
    deployed (its batch size's own rule is checked once the mapping is deployed: tests/unit/localenv/
    test_monitor.py)."""
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {}}))
    try:
        code = main([*argv, "--suffix", "window", "--template", str(template), "--state-dir", str(tmp_path)])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_a_monitor_window_too_short_for_the_templates_batch_is_refused_before_anything_is_deployed(
        tmp_path, capsys, monkeypatch):
    """The monitor template's event source mapping batches 10,000 messages, for which the SQS event source wants a
    window of at least 1 s: `up --monitor-window 0.5` is a usage error before the emulator starts, not after both
    stacks are deployed (the deployed mapping is still checked: localenv.monitor.Deployed.with_window)."""
    import localenv.__main__ as entry

    def deployed(*args: object, **kwargs: object) -> None:
        raise AssertionError("deployed before the window was refused")

    monkeypatch.setattr(entry, "deployed", deployed)
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {}}))
    (tmp_path / "TapMonitorwindow.template.json").write_text(json.dumps({"Resources": {"Events": {
        "Type": "AWS::Lambda::EventSourceMapping", "Properties": {"BatchSize": 10_000,
                                                                  "MaximumBatchingWindowInSeconds": 2}}}}))
    (tmp_path / "out").mkdir()
    code = main(["up", "--monitor-window", "0.5", "--suffix", "window", "--template", str(template), "--outputs",
                 str(tmp_path / "out" / "flat-outputs.json"), "--state-dir", str(tmp_path / "state")])
    assert (code, capsys.readouterr().err) == (2, "error: --monitor-window 0.5: a batch of more than 10 messages "
                                                  "(10000) needs a window of at least 1 s, as the SQS event source "
                                                  "requires\n")
    assert list((tmp_path / "out").iterdir()) == []


def test_down_stops_a_running_deployment(tmp_path):
    """`down` against a real `up` process of its own, of an empty template (not the session's deployment)."""
    state_dir = tmp_path / "state"
    template_path = tmp_path / "empty.json"
    template_path.write_text(json.dumps({"Resources": {}}))
    with subprocess.Popen([sys.executable, "-m", "localenv", "up", "--no-monitor", "--suffix", "downtest",
                           "--template", str(template_path), "--outputs", str(tmp_path / "o.json"),
                           "--state-dir", str(state_dir)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
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
                process.wait(10)


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
    running and an unrelated process beside it, records naming pid -1, 0, 1, the bystander, a pid that does not
    exist or another start time, a string, garbage, a FIFO or a directory, and the genuine record read from a
    child PID namespace (where the lock's holder is pid 0), are each refused with exit 2, keep the record and
    signal nothing; the genuine record stops `up` alone. Once no `up` holds the lock, a record naming another
    process is provably stale: removed, nothing signalled; a directory is left as it is, without a traceback; and
    a lock hard-linked to a file another program holds a POSIX lock on, with a record naming that program, leaves
    the program alive, whether or not the link is the file's only name."""
    prefix = _private_pid_namespace()
    if prefix is None:
        pytest.skip("unshare --pid --mount-proc is not permitted here (needs root or user namespaces)")
    # Unmeasured by coverage (bench/README.md): its twenty-odd processes (`up`, every `down`, the victims) each paid
    # coverage's start-up for lines measured elsewhere: `up` in the test above, the refusals only they reached in
    # tests/unit/localenv/test_state.py, and `serve` without a monitor in the test below.
    done = subprocess.run([*prefix, sys.executable, "-m", "tests.unit.localenv.pidns_scenario", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240, env=unmeasured(os.environ))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "up_failed" not in result, result
    assert set(result["forged"]) == {"minus_one", "zero", "init", "bystander", "gone", "string", "reused_pid",
                                     "garbage", "fifo", "directory", "child_namespace"}
    for name, outcome in result["forged"].items():
        assert outcome["code"] == 2 and outcome["record_kept"], (name, outcome)
        assert outcome["up_alive"] and outcome["bystander_alive"], (name, outcome)
        assert "Traceback" not in outcome["said"], (name, outcome)
    assert result["forged"]["bystander"]["said"].startswith(
        f"error: refusing to signal pid {result['bystander_pid']}: ")
    assert "is a directory, not a regular file" in result["forged"]["directory"]["said"]
    assert "started at tick" in result["forged"]["reused_pid"]["said"]
    said = result["forged"]["child_namespace"]["said"]
    assert "cannot see" in said and "cannot tell" in said and "the record is kept" in said, said
    assert result["genuine"]["code"] == 0 and f"pid {result['up_pid']}" in result["genuine"]["said"]
    assert result["up_exit"] == 0 and result["bystander_alive_after_down"]
    after = result["after"]
    for name in ("bystander", "minus_one"):
        assert after[name]["code"] == 0 and "stale record" in after[name]["said"], (name, after[name])
        assert not after[name]["record_kept"] and after[name]["bystander_alive"], (name, after[name])
    assert after["directory"]["code"] == 2 and after["directory"]["record_kept"], after["directory"]
    assert "is a directory, not a regular file" in after["directory"]["said"], after["directory"]
    assert "Traceback" not in after["directory"]["said"]
    for name, why in (("hard_link", "has 2 links"), ("hard_link_sole", "does not keep the state directory open")):
        outcome = after[name]
        assert outcome["code"] == 2 and why in outcome["said"], (name, outcome)
        assert outcome["victim_alive"] and outcome["bystander_alive"] and outcome["record_kept"], (name, outcome)


class _Ticks(threading.Event):
    """A `stop` that is not set for the first `ticks` waits of `serve`, then is: each wait returns at once."""

    def __init__(self, ticks: int) -> None:
        super().__init__()
        self.ticks = ticks

    def wait(self, timeout: float | None = None) -> bool:
        self.ticks -= 1
        return self.ticks < 0


def test_serve_without_a_monitor_waits_for_stop_and_answers_a_restart_request_by_leaving_the_record(tmp_path):
    """`up --no-monitor`'s loop: a restart request (SIGUSR1) is taken and answered by nothing (there is no
    consumer to start), the record is not rewritten, and the loop ends when stopped."""
    from localenv import state as statefile
    from localenv.__main__ import serve

    held = statefile.acquire(statefile.Paths.for_stack(tmp_path / "state", "TapStackserve"))
    try:
        held.write_record({"endpoint": "http://127.0.0.1:1"})
        before = (tmp_path / "state" / "TapStackserve.json").read_text()
        restart = threading.Event()
        restart.set()
        stop = _Ticks(2)  # a tick with the request, one without it, then stopped
        serve(held, {}, None, stop=stop, restart=restart)
        assert stop.ticks < 0 and not restart.is_set()
        assert (tmp_path / "state" / "TapStackserve.json").read_text() == before
    finally:
        held.release()
