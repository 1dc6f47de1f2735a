"""Run inside a private PID namespace (tests/unit/test_localenv_cli.py starts it with `unshare`): forged localenv
state records against a real `localenv up` and an unrelated bystander process. Prints one JSON object of what
happened; signals nothing itself but its own children."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SUFFIX = "pidns"


def main(work: Path) -> dict:
    state_dir, template = work / "state", work / "empty.json"
    template.write_text(json.dumps({"Resources": {}}))
    record = state_dir / f"TapStack{SUFFIX}.json"
    bystander = subprocess.Popen(["sleep", "600"])

    def down() -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "localenv", "down", "--suffix", SUFFIX, "--state-dir",
                               str(state_dir)], capture_output=True, text=True, timeout=60)
        return done.returncode, (done.stdout + done.stderr).strip()

    up = subprocess.Popen([sys.executable, "-m", "localenv", "up", "--suffix", SUFFIX, "--template", str(template),
                           "--outputs", str(work / "o.json"), "--state-dir", str(state_dir)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result: dict = {"up_pid": up.pid, "bystander_pid": bystander.pid, "forged": {}}
    try:
        for line in up.stdout:  # its first line says it is up, after the record is written
            if "is up on the local emulator" in line:
                break
        else:
            result["up_failed"] = up.wait(10)
            return result
        genuine = record.read_text()
        for name, text in (("minus_one", '{"pid": -1}'), ("zero", '{"pid": 0}'), ("init", '{"pid": 1}'),
                           ("bystander", json.dumps({"pid": bystander.pid})), ("gone", '{"pid": 4000000}'),
                           ("string", '{"pid": "-1"}'), ("garbage", "{not json"), ("fifo", None)):
            record.unlink(missing_ok=True)
            if text is None:
                os.mkfifo(record)
            else:
                record.write_text(text)
            code, said = down()
            result["forged"][name] = {"code": code, "said": said, "record_kept": record.exists(),
                                      "up_alive": up.poll() is None, "bystander_alive": bystander.poll() is None}
        record.unlink()
        record.write_text(genuine)
        result["genuine"] = dict(zip(("code", "said"), down(), strict=True))
        result["up_exit"] = up.wait(20)
        result["bystander_alive_after_down"] = bystander.poll() is None
        # No `up` now holds the lock: a record naming the bystander (or -1) is provably stale, removed, and nothing
        # is signalled.
        after = {}
        for name, pid in (("bystander", bystander.pid), ("minus_one", -1)):
            record.write_text(json.dumps({"pid": pid}))
            code, said = down()
            after[name] = {"code": code, "said": said, "record_kept": record.exists(),
                           "bystander_alive": bystander.poll() is None}
        result["after"] = after
        return result
    finally:
        for process in (up, bystander):
            if process.poll() is None:
                process.kill()
                process.wait(10)


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
