"""Run inside a private PID namespace (tests/unit/localenv/test_main.py starts it with `unshare`): forged localenv
state records, forged locks and a `down` from a child PID namespace, against a real `localenv up`, an unrelated
bystander and an unrelated program holding a POSIX lock (the victims). Prints one JSON object of what happened;
signals nothing itself but its own children.

The victim programs are also the tests' stand-ins outside a namespace (tests/unit/localenv/test_state.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

SUFFIX = "pidns"

# An unrelated program that holds a POSIX lock on a file of its own (as a SQLite writer or any `lockf` user
# does), says "held" once it does, then answers each line it reads while it lives.
VICTIM = """import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("held", flush=True)
for line in sys.stdin:
    print("alive", flush=True)
"""


def victim(path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A victim holding a lock on `path`, started and holding it when this returns (with `env`, or this process's)."""
    process = subprocess.Popen([sys.executable, "-c", VICTIM, str(path)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env)
    if process.stdout.readline() != "held\n":
        process.kill()
        raise RuntimeError(f"the victim did not take its lock on {path} (exit {process.wait(10)})")
    return process


def alive(process: subprocess.Popen) -> bool:
    """Whether a victim still runs, asked by a round trip: a signal sent before the question is delivered before
    it could answer, so a victim that was signalled never answers."""
    if process.poll() is not None:
        return False
    try:
        process.stdin.write("?\n")
        process.stdin.flush()
        return process.stdout.readline() == "alive\n"
    except (OSError, ValueError):  # its end of the pipe closed (it died after the poll); ours, after that
        # The undelivered question stays in the pipe's buffer, and closing the pipe (Popen's __exit__ does) would
        # flush it again and raise BrokenPipeError over the caller's verdict: the pipe goes now, with it.
        with contextlib.suppress(OSError):
            process.stdin.close()
        return False


def start_time(pid: int) -> int:
    """/proc/<pid>/stat field 22, as a forger reads it."""
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])


def in_child_namespace(command: list[str]) -> list[str]:
    """`command` run as pid 1 of a new PID namespace with its own /proc, nested in this one."""
    return [shutil.which("unshare") or "unshare", "--pid", "--fork", "--mount-proc", *command]


def forked_down(argv: list[str]) -> tuple[int, str]:
    """`localenv down` (`argv` after `python -m localenv`) as a process of its own, forked from this one rather than
    started afresh (the interpreter and localenv are loaded once): its own pid, no lock of this process's, and its
    exit code what `python -m localenv` would exit with (1 and the traceback for an exception). What it wrote to
    stdout and stderr comes back with the code."""
    from localenv.__main__ import main as localenv_main

    sys.stdout.flush()
    sys.stderr.flush()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the scenario
        code = 1
        try:
            os.close(read)
            os.dup2(write, 1)
            os.dup2(write, 2)
            code = localenv_main(argv)
        except SystemExit as stop:
            code = 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1  # as sys.exit's
        except BaseException:  # noqa: BLE001 - as the interpreter does with an uncaught one: its traceback, exit 1
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read, encoding="utf-8", errors="replace") as said:
        text = said.read()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), text.strip()


def main(work: Path) -> dict:
    state_dir, template = work / "state", work / "empty.json"
    template.write_text(json.dumps({"Resources": {}}))
    record, lock = state_dir / f"TapStack{SUFFIX}.json", state_dir / f"TapStack{SUFFIX}.lock"
    bystander = victim(work / "bystander.lock")
    command = [sys.executable, "-m", "localenv", "down", "--suffix", SUFFIX, "--state-dir", str(state_dir)]

    def down(prefix: Callable[[list[str]], list[str]] | None = None, *, forked: bool = True) -> tuple[int, str]:
        if forked and prefix is None:
            return forked_down(command[3:])
        done = subprocess.run(prefix(command) if prefix else command, capture_output=True, text=True, timeout=60)
        return done.returncode, (done.stdout + done.stderr).strip()

    def put(text: str | None) -> None:
        """The record as a forger leaves it: this text, a FIFO (None) or a directory ("/")."""
        if record.is_dir():
            record.rmdir()
        record.unlink(missing_ok=True)
        if text is None:
            os.mkfifo(record)
        elif text == "/":
            record.mkdir()
        else:
            record.write_text(text)

    up = subprocess.Popen([sys.executable, "-m", "localenv", "up", "--no-monitor", "--suffix", SUFFIX,
                           "--template", str(template),
                           "--outputs", str(work / "o.json"), "--state-dir", str(state_dir)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result: dict = {"up_pid": up.pid, "bystander_pid": bystander.pid, "forged": {}}
    victims = [bystander]
    try:
        for line in up.stdout:  # its first line says it is up, after the record is written
            if "is up on the local emulator" in line:
                break
        else:
            result["up_failed"] = up.wait(10)
            return result
        genuine = json.loads(record.read_text())

        def like_genuine(**changed: object) -> str:
            return json.dumps({**genuine, **changed})

        for name, text, prefix in (
                # the genuine record, but `down` runs where the lock's holder is invisible (F_GETLK: pid 0)
                ("child_namespace", json.dumps(genuine), in_child_namespace),
                ("minus_one", like_genuine(pid=-1), None), ("zero", like_genuine(pid=0), None),
                ("init", like_genuine(pid=1), None), ("bystander", like_genuine(pid=bystander.pid), None),
                ("gone", like_genuine(pid=4000000), None), ("string", like_genuine(pid="-1"), None),
                ("garbage", "{not json", None), ("fifo", None, None), ("directory", "/", None),
                # last: a `down` that trusted the pid alone would stop `up` here
                ("reused_pid", like_genuine(start_time=genuine.get("start_time", 0) + 1), None)):
            put(text)
            code, said = down(prefix)
            result["forged"][name] = {"code": code, "said": said, "record_kept": os.path.lexists(record),
                                      "up_alive": up.poll() is None, "bystander_alive": alive(bystander)}
        put(json.dumps(genuine))
        result["genuine"] = dict(zip(("code", "said"), down(forked=False), strict=True))
        result["up_exit"] = up.wait(20)
        result["bystander_alive_after_down"] = alive(bystander)
        # No `up` now holds the lock: a record naming the bystander (or -1) is provably stale, removed, and nothing
        # is signalled. A record that is a directory is left as it is. A lock that is a hard link to a file another
        # program holds a POSIX lock on, with a record naming that program (its pid, start time, inode), must not
        # get it signalled: with the link's second name in place, and with the victim's own name removed so the
        # link is the file's only one.
        after = {}
        for name, text in (("bystander", like_genuine(pid=bystander.pid)), ("minus_one", like_genuine(pid=-1)),
                           ("directory", "/")):
            put(text)
            code, said = down()
            after[name] = {"code": code, "said": said, "record_kept": os.path.lexists(record),
                           "bystander_alive": alive(bystander)}
        own_lock = lock.with_name("own.lock")
        for name, sole in (("hard_link", False), ("hard_link_sole", True)):
            target = work / f"{name}.db"
            prey = victim(target)
            victims.append(prey)
            lock.rename(own_lock)
            os.link(target, lock)
            if sole:
                target.unlink()
            inode = os.stat(lock)
            put(like_genuine(pid=prey.pid, start_time=start_time(prey.pid),
                             lock={"device": inode.st_dev, "inode": inode.st_ino}))
            code, said = down()
            after[name] = {"code": code, "said": said, "record_kept": os.path.lexists(record),
                           "victim_alive": alive(prey), "bystander_alive": alive(bystander)}
            lock.unlink()
            own_lock.rename(lock)
        result["after"] = after
        return result
    finally:
        for process in (up, *victims):
            if process.poll() is None:
                process.kill()
                process.wait(10)


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
