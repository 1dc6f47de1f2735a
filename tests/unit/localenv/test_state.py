"""The lock that proves which process is the running `localenv up`: its directory, its file, and what `down` asks
the kernel before it signals anything (localenv/state.py). The cases that could reach an unrelated process (a
lock hard-linked to another program's locked file, a `down` from a child PID namespace, a record that is a
directory) run end to end in a private PID namespace (tests/unit/localenv/test_main.py, pidns_scenario.py)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdk_app.config import AppConfig
from localenv import state
from localenv.__main__ import down as down_command
from localenv.__main__ import main
from tests.conftest import ROOT, unmeasured
from tests.unit.localenv.pidns_scenario import alive, start_time, victim

# struct flock (fcntl(2)) on Linux: a write lock on the whole file.
WHOLE_FILE_WRITE_LOCK = struct.pack("@hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)

# What `up` does about its lock and record, without the emulator: takes the lock, writes the record, says "up",
# then answers each line it reads while it lives (a SIGTERM ends it).
FAKE_UP = """import os, signal, sys
from pathlib import Path
from localenv import state
if sys.argv[3:] == ["deaf"]:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
held = state.acquire(state.Paths.for_stack(Path(sys.argv[1]), sys.argv[2]))
held.write_record({"endpoint": "http://127.0.0.1:1"})
print("up", flush=True)
for line in sys.stdin:
    print("alive", flush=True)
"""


@contextlib.contextmanager
def fake_up(state_dir: Path, stack: str = "TapStacklock", *how: str) -> Iterator[subprocess.Popen]:
    """FAKE_UP, holding its lock and record when this yields. Not measured by coverage: it ends by a signal (a
    SIGTERM or a kill), so coverage could never save what it ran."""
    with subprocess.Popen([sys.executable, "-c", FAKE_UP, str(state_dir), stack, *how], cwd=ROOT,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=unmeasured(os.environ)) as process:  # its pipes closed on the way out
        try:
            assert process.stdout.readline() == "up\n"
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def down(state_dir: Path, suffix: str = "lock") -> int:
    return main(["down", "--suffix", suffix, "--state-dir", str(state_dir)])


def record_of(state_dir: Path, stack: str = "TapStacklock") -> dict:
    return json.loads((state_dir / f"{stack}.json").read_text())


def test_up_makes_its_state_directory_private(tmp_path):
    """Made with mode 0700 (a directory others may enter lets them swap or link files in it)."""
    paths = state.Paths.for_stack(tmp_path / "new" / "state", "TapStacklock")
    held = state.acquire(paths)
    try:
        assert stat.S_IMODE(os.stat(paths.directory).st_mode) == 0o700
        lock = os.stat(paths.lock)
        assert stat.S_ISREG(lock.st_mode) and lock.st_nlink == 1 and stat.S_IMODE(lock.st_mode) == 0o600
    finally:
        held.release()


def test_a_state_directory_others_may_enter_or_that_is_not_ours_is_refused(tmp_path, monkeypatch, capsys):
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    paths = state.Paths.for_stack(open_dir, "TapStacklock")
    with pytest.raises(state.StateError, match="has mode 0755, so other users may add or swap files in it"):
        state.acquire(paths)
    assert list(open_dir.iterdir()) == []  # no lock made in it
    assert down(open_dir) == 2
    assert f"refusing the state directory {open_dir}" in capsys.readouterr().err
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 1)
    with pytest.raises(state.StateError, match=f"is owned by uid {me}, not by this user"):
        state.acquire(state.Paths.for_stack(private, "TapStacklock"))
    assert list(private.iterdir()) == []


@pytest.mark.parametrize("kind", ["hard link", "symbolic link", "directory", "FIFO"])
def test_a_lock_localenv_cannot_have_made_is_neither_used_nor_touched(tmp_path, kind, capsys):
    """A lock that is a second name of another file, a link, or not a regular file: `up` refuses to take it and
    `down` to trust it; it is left as it is."""
    other = tmp_path / "other.db"
    other.write_text("someone's data")
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    lock = state_dir / "TapStacklock.lock"
    {"hard link": lambda: os.link(other, lock), "symbolic link": lambda: lock.symlink_to(other),
     "directory": lock.mkdir, "FIFO": lambda: os.mkfifo(lock)}[kind]()
    before = os.lstat(lock)
    with pytest.raises(state.StateError, match=r"refusing the lock .* so it is not the lock localenv made"):
        state.acquire(state.Paths.for_stack(state_dir, "TapStacklock"))
    (state_dir / "TapStacklock.json").write_text(json.dumps({"pid": os.getpid(), "start_time": 1, "lock": {
        "device": before.st_dev, "inode": before.st_ino}}))
    assert down(state_dir) == 2
    assert "so it is not the lock localenv made" in capsys.readouterr().err
    assert os.lstat(lock) == before and other.read_text() == "someone's data"
    assert (state_dir / "TapStacklock.json").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_lock_of_another_user_is_refused(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    lock = state_dir / "TapStacklock.lock"
    lock.touch()
    os.chown(lock, 65534, 65534)
    with pytest.raises(state.StateError, match="is owned by uid 65534, not by this user"):
        state.acquire(state.Paths.for_stack(state_dir, "TapStacklock"))


def test_up_records_who_it_is_and_which_lock_it_holds(tmp_path):
    with fake_up(tmp_path) as up:
        record, lock = record_of(tmp_path), os.stat(tmp_path / "TapStacklock.lock")
        stat_line = Path(f"/proc/{up.pid}/stat").read_text()
        assert record["pid"] == up.pid
        assert record["start_time"] == int(stat_line.rpartition(")")[2].split()[19])
        assert record["lock"] == {"device": lock.st_dev, "inode": lock.st_ino}


def test_down_stops_the_up_the_kernel_proves_and_refuses_a_record_that_does_not_match(tmp_path, capsys):
    """The genuine record stops the holder; the same record with another start time (a reused pid) or naming
    another lock file is refused, and the holder lives on."""
    with fake_up(tmp_path) as up:
        genuine = record_of(tmp_path)
        for changed, said in (({"start_time": genuine["start_time"] + 1}, "started at tick"),
                              ({"lock": {"device": 1, "inode": 1}}, "names another lock file")):
            (tmp_path / "TapStacklock.json").write_text(json.dumps({**genuine, **changed}))
            assert down(tmp_path) == 2
            err = capsys.readouterr().err
            assert f"refusing to signal pid {up.pid}" in err and said in err, err
            assert alive(up) and (tmp_path / "TapStacklock.json").exists()
        (tmp_path / "TapStacklock.json").write_text(json.dumps(genuine))
        assert down(tmp_path) == 0
        assert f"stopped TapStacklock (pid {up.pid})" in capsys.readouterr().out
        assert up.wait(10) == -15


def test_an_up_that_does_not_end_when_signalled_is_exit_3(tmp_path, capsys):
    with fake_up(tmp_path, "TapStacklock", "deaf") as up:
        config = AppConfig.for_suffix("lock")
        assert down_command(config, state.Paths.for_stack(tmp_path, config.stack_name), timeout=0) == 3
        assert f"pid {up.pid} did not stop within 0s" in capsys.readouterr().err
        assert alive(up)


def test_a_holder_the_kernel_cannot_name_is_cannot_tell(tmp_path, capsys):
    """A lock held where F_GETLK cannot name the holder (an open-file-description lock: pid -1, as a holder in
    another PID namespace is pid 0) is not proof that nobody runs: exit 2, the record kept."""
    stale_pid = None
    with fake_up(tmp_path) as up:
        stale_pid = up.pid
    assert record_of(tmp_path)["pid"] == stale_pid  # killed: the record is left, the lock free
    fd = os.open(tmp_path / "TapStacklock.lock", os.O_RDWR)
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, WHOLE_FILE_WRITE_LOCK)
        assert down(tmp_path) == 2
        err = capsys.readouterr().err
        assert "held by an open-file-description lock" in err and "cannot tell" in err, err
        assert (tmp_path / "TapStacklock.json").exists()
    finally:
        os.close(fd)
    assert down(tmp_path) == 0  # released: now provably stale
    assert f"stale record of pid {stale_pid} removed" in capsys.readouterr().out


def test_up_leaves_a_record_name_that_is_not_a_regular_file_alone(tmp_path):
    (tmp_path / "TapStacklock.json").mkdir()
    with pytest.raises(state.StateError, match="is a directory, not a regular file: `up` will not replace it"):
        state.acquire(state.Paths.for_stack(tmp_path, "TapStacklock"))
    assert (tmp_path / "TapStacklock.json").is_dir()
    # and the lock was released: it can be taken again
    (tmp_path / "TapStacklock.json").rmdir()
    state.acquire(state.Paths.for_stack(tmp_path, "TapStacklock")).release()


def test_up_removes_only_the_record_it_wrote(tmp_path):
    paths = state.Paths.for_stack(tmp_path, "TapStacklock")
    held = state.acquire(paths)
    held.write_record({})
    paths.record.unlink()
    paths.record.write_text("put here by someone else")
    held.release()
    assert paths.record.read_text() == "put here by someone else"
    held = state.acquire(paths)
    held.write_record({})
    held.release()
    assert not paths.record.exists()


def test_a_record_without_an_integer_pid_is_not_a_state_file_and_nobody_is_signalled(tmp_path, capsys):
    """A record whose pid is a string (as a forger may write "-1"), beside a lock nobody holds: not a localenv state
    file, so it was removed; nothing to signal."""
    paths = state.Paths.for_stack(tmp_path, "TapStacklock")
    held = state.acquire(paths)
    held.write_record({})
    genuine = record_of(tmp_path)
    held.release()
    (tmp_path / "TapStacklock.json").write_text(json.dumps({**genuine, "pid": "-1"}))
    assert down(tmp_path) == 2
    err = capsys.readouterr().err
    assert "is not a localenv state file (no integer pid" in err and "so it was removed" in err, err
    assert not (tmp_path / "TapStacklock.json").exists()


def test_a_lock_that_is_the_only_name_of_another_programs_locked_file_does_not_get_it_signalled(tmp_path, capsys):
    """The lock hard-linked to a file another program holds a POSIX lock on, the file's other name removed, and a
    record naming that program (its pid, start time and the lock's inode): the program keeps no descriptor on the
    state directory, as `up` does, so it is not the deployment; refused, and it lives on. (End to end, in a private
    PID namespace: tests/unit/localenv/test_main.py.)"""
    state_dir = tmp_path / "state"
    paths = state.Paths.for_stack(state_dir, "TapStacklock")
    held = state.acquire(paths)
    held.write_record({})
    genuine = record_of(state_dir)
    held.release()
    with victim(tmp_path / "prey.db", env=unmeasured(os.environ)) as prey:  # its pipes closed on the way out
        try:
            paths.lock.unlink()
            os.link(tmp_path / "prey.db", paths.lock)
            (tmp_path / "prey.db").unlink()
            inode = os.stat(paths.lock)
            (state_dir / "TapStacklock.json").write_text(json.dumps({
                **genuine, "pid": prey.pid, "start_time": start_time(prey.pid),
                "lock": {"device": inode.st_dev, "inode": inode.st_ino}}))
            assert down(state_dir) == 2
            err = capsys.readouterr().err
            assert f"refusing to signal pid {prey.pid}" in err and "does not keep the state directory open" in err, err
            assert alive(prey) and (state_dir / "TapStacklock.json").exists()
        finally:
            prey.kill()
            prey.wait(10)


def test_a_process_that_can_no_longer_be_asked_is_not_alive_and_its_pipes_still_close():
    """alive() on a process whose end of the pipe is gone (one that died after alive's poll, as a regressed
    `down` makes a victim): False, asked once or again, and the undelivered question does not make Popen's
    __exit__ raise BrokenPipeError over the verdict of the test that asked."""
    with subprocess.Popen([sys.executable, "-c", "import os, time\nos.close(0)\nprint('deaf', flush=True)\n"
                           "time.sleep(60)"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=unmeasured(os.environ)) as deaf:
        try:
            assert deaf.stdout.readline() == "deaf\n"
            assert not alive(deaf)
            assert not alive(deaf)
        finally:
            deaf.kill()
            deaf.wait(10)
