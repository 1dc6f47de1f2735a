"""Benchmark: the local emulator's CPU to come up and per whole-stack read, and where its CPU per read goes.

    python bench/emulator_cpu.py [--audits 8] [--runs 3] [--layers] [--template T] [CHECKOUT ...]   # Linux: /proc

For each checkout (default: this one), in turn and `--runs` times: `python -m localenv up --no-monitor` of the
session's template (the newest cached one, or --template) in a private state directory, then
`python -m opscli audit -o json` `--audits` times against it; prints the `up` process's CPU (user + system, from
/proc/<pid>/stat) when it says it is up, and per audit (the first, after a fresh start, pays lazy imports: left
out of the median). Several checkouts alternate, so a busy machine weighs on each alike.

--layers runs `up` with each layer of a request wrapped to add up its thread's CPU (time.thread_time): the
connection, the HTTP request's parse, werkzeug's environ, the WSGI application (Flask), moto's view and dispatch,
its request set-up, the action and its serializer, the answer's head. Thread CPU adds up to the process's, where
py-spy's `--gil` samples of the same process did not (bench/README.md).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_spec.stacks import stack_name  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
SUFFIX = "test"  # the suffix of the session's template, which the tests synthesize and cache
STACK = stack_name(SUFFIX)

# Run as `up` with --layers: each layer's calls and thread CPU, written to $EMULATOR_LAYERS on SIGUSR2.
LAYERS = r"""
import os, resource, signal, sys, time
sys.path.insert(0, os.getcwd())
import http.server, socketserver
from moto.core import responses, serialize, utils
from localenv import emulator
totals = {}
def wrap(owner, name, label):
    function = getattr(owner, name)
    totals[label] = [0, 0.0]
    def timed(*args, **kwargs):
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            total = totals.setdefault(label, [0, 0.0])
            total[0] += 1
            total[1] += time.thread_time() - start
    setattr(owner, name, timed)
wrap(socketserver.BaseRequestHandler, "__init__", "connection (all of its requests)")
wrap(http.server.BaseHTTPRequestHandler, "handle_one_request", "request")
wrap(http.server.BaseHTTPRequestHandler, "parse_request", "  parse (http.server)")
wrap(emulator.KeepAliveRequestHandler, "make_environ", "  environ (werkzeug)")
wrap(emulator._SchemeRecorder, "__call__", "  application (Flask)")
wrap(utils.convert_to_flask_response, "__call__", "    moto's view")
wrap(responses.BaseResponse, "_dispatch", "      moto's dispatch")
wrap(responses.BaseResponse, "setup_class", "        request set-up")
wrap(responses.BaseResponse, "call_action", "        action")
wrap(serialize.ResponseSerializer, "serialize", "          serializer")
wrap(http.server.BaseHTTPRequestHandler, "send_response", "  answer's status line")
wrap(http.server.BaseHTTPRequestHandler, "end_headers", "  answer's head written")
def dump(*_):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["EMULATOR_LAYERS"], "a") as sink:
        sink.write(repr({"process": (0, usage.ru_utime + usage.ru_stime), **totals}) + "\n")
signal.signal(signal.SIGUSR2, dump)
from localenv.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def newest_template() -> Path:
    from cdk_app.assembly_cache import SynthesisFailed, default_cache_dir

    try:
        cache_dir = default_cache_dir()
    except SynthesisFailed as exc:
        sys.exit(exc.report())
    found = sorted(cache_dir.glob(f"*/{STACK}.template.json"),
                   key=lambda path: path.stat().st_mtime)
    if not found:
        sys.exit(f"no cached {STACK} template: run the tests once, or give --template")
    return found[-1]


def one_run(checkout: Path, template: Path, audits: int, layers: bool) -> tuple[float, list[float], str]:
    directory = Path(tempfile.mkdtemp(prefix="emulator-cpu-"))  # mode 0700, as `up` requires
    env = {key: value for key, value in os.environ.items() if not key.startswith("COV")}
    env["EMULATOR_LAYERS"] = str(directory / "layers")
    start = ["-c", LAYERS] if layers else ["-m", "localenv"]
    with (directory / "log").open("w") as log:
        up = subprocess.Popen([sys.executable, *start, "up", "--no-monitor", "--suffix", SUFFIX, "--template",
                               str(template), "--outputs", str(directory / "flat.json"), "--state-dir",
                               str(directory)], cwd=checkout, stdout=log, stderr=log, env=env)
    state = directory / f"{STACK}.json"
    try:
        while not state.exists():
            if up.poll() is not None:
                sys.exit(f"{checkout}: localenv up ended:\n{(directory / 'log').read_text()[-2000:]}")
            time.sleep(0.05)
        time.sleep(0.3)
        started = cpu(up.pid)
        audit_env = {**env, **json.loads(state.read_text())["environment"], "NO_COLOR": "1"}
        per_audit = []
        for index in range(audits):
            if layers and index == 1:
                up.send_signal(signal.SIGUSR2)
                time.sleep(0.3)
            before = cpu(up.pid)
            subprocess.run([sys.executable, "-m", "opscli", "audit", "--outputs", str(directory / "flat.json"), "-o",
                            "json"], cwd=checkout, env=audit_env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            time.sleep(0.1)
            per_audit.append(cpu(up.pid) - before)
        report = ""
        if layers:
            up.send_signal(signal.SIGUSR2)
            time.sleep(0.3)
            first, last = (ast.literal_eval(line) for line in (directory / "layers").read_text().splitlines()[:2])
            count = audits - 1
            report = "\n".join(
                f"    {label:36} {(last[label][1] - first[label][1]) / count * 1000:7.1f} ms"
                + (f"  {(last[label][0] - first[label][0]) / count:6.1f} calls" if last[label][0] else "")
                for label in last)
        return started, per_audit, report
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="*", type=Path, default=[ROOT])
    parser.add_argument("--audits", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", action="store_true")
    parser.add_argument("--template", type=Path)
    args = parser.parse_args()
    if args.audits < 2:
        parser.error("--audits must be at least 2 (the first pays lazy imports)")
    for checkout in args.checkouts:
        if not (checkout / "localenv" / "__main__.py").is_file():
            parser.error(f"{checkout} is not a checkout of this repository (no localenv/__main__.py)")
    if args.template is not None and not args.template.is_file():
        parser.error(f"--template {args.template}: no such file")
    template = args.template or newest_template()
    for run in range(args.runs):
        for checkout in args.checkouts:
            started, per_audit, report = one_run(checkout, template, args.audits, args.layers)
            print(f"run {run + 1} {checkout}: up {started:.2f} s; first audit {per_audit[0]:.2f} s, then median "
                  f"{statistics.median(per_audit[1:]):.3f} s (each: {', '.join(f'{x:.2f}' for x in per_audit[1:])})",
                  flush=True)
            if report:
                print(report, flush=True)


if __name__ == "__main__":
    main()
