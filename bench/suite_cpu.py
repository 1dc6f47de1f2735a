"""Benchmark: the CPU the test suite needs, by process and by whose code runs, and the wall time that CPU allows.

    python bench/suite_cpu.py [--no-cov] [--owners] [--per-test] [-- PYTEST_ARGS...]   # after set-up (Linux: /proc)

Runs the README's test command (`bash scripts/test.sh`) and prints:
- its wall time, and the user + system CPU of every process it ran (the kernel's account of every descendant
  reaped; this script makes itself their subreaper, so a process orphaned on the way is counted too);
- the floor that CPU sets: CPU / cores is the least wall time any schedule of the same work could take here;
- the CPU by kind of process (test workers, local emulators, jsii's Node, Checkov, ...), sampled from /proc
  every --interval seconds; what ran too briefly to be sampled is shown as "not sampled".

--per-test loads bench/suite_cpu_plugin.py into every test process and adds: the CPU by area (tests/<dir>), by
test file, by xdist group and per worker, the costliest tests and fixture set-ups, and the work each area asked for
(processes started by kind, whole-stack reads, in-process deployments and syntheses).

--no-cov runs the suite without coverage (to see what tracing costs). --owners (needs py-spy on PATH, not a
project dependency: `pip install py-spy`) runs the suite under `py-spy record --subprocesses --gil` instead and
splits the Python processes' CPU by whose code was running: ours (the repository's packages and tests), third
party, or the standard library (charged to the nearest of ours or third party that called it). Sampling slows the
suite; read its split, not its wall time.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import itertools
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from platform_spec.exit_codes import EXIT_INTERRUPTED, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]
OURS = frozenset({"platform_spec", "platform_utils", "cdk_app", "policies", "opscli", "localenv", "services", "tests",
                  "bench"})
PR_SET_CHILD_SUBREAPER = 36
GROUP = re.compile(r"@([^@\[\]]+)$")  # pytest-xdist's loadgroup adds "@<group>" to a test's node id
#: pytest's closing line ("3293 passed, 20 skipped in 126.71s"); the test command prints more after it.
SUMMARY = re.compile(r"\b(passed|failed|errors?|skipped|deselected|no tests ran)\b.* in [\d.]+s")


def summary_line(lines: list[str]) -> str:
    return next((line for line in reversed(lines) if SUMMARY.search(line)), lines[-1] if lines else "(no output)")


PROCESS_FRAME = re.compile(r'process \d+:"(.*?)"(?:;|$)')

#: (kind, what in the command line says so), first match wins.
KINDS = (
    ("test worker", re.compile(r"exec\(eval\(sys\.stdin\.readline\(\)\)\)")),  # xdist's execnet workers
    ("local emulator (localenv up)", re.compile(r"-m localenv\b")),
    ("Checkov", re.compile(r"checkov")),
    ("cfn-lint", re.compile(r"cfnlint|cfn-lint")),
    ("jsii / CDK (Node)", re.compile(r"^\S*node\b|jsii|/cdk\b")),
    ("opscli", re.compile(r"-m opscli\b|/bin/opscli\b")),  # not a test path (tests/opscli/...) in pytest's
    ("workloads (services)", re.compile(r"-m services\.")),
    ("cdk_app (synthesis)", re.compile(r"-m cdk_app\b")),
    ("PostgreSQL", re.compile(r"postgres|initdb|pg_ctl")),
    ("Redis", re.compile(r"redis-server")),
    ("browser", re.compile(r"chrom")),
    ("pytest (controller)", re.compile(r"-m pytest\b")),
)


def kind_of(command: str) -> str:
    for kind, pattern in KINDS:
        if pattern.search(command):
            return kind
    return "other: " + (command.split()[0].rsplit("/", 1)[-1] if command.split() else "?")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def processes() -> dict[int, list[str]]:
    """Every process now: pid -> the fields of /proc/PID/stat after the command name (state, parent pid, ...)."""
    stats = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone between the listing and the read
    return stats


class Sampler(threading.Thread):
    """Every `interval` s: each descendant of `root` (by /proc's parent links), its CPU so far and command line."""

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.stop = root, interval, threading.Event()
        self.seen: dict[tuple[int, int], tuple[float, str]] = {}  # (pid, start tick) -> (CPU s, command line)
        self.tick = os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()
        self.sample()

    def sample(self) -> None:
        stats = processes()
        parents = {pid: int(fields[1]) for pid, fields in stats.items()}
        me = os.getpid()
        for pid, fields in stats.items():
            ancestor, hops = parents.get(pid), 0
            while ancestor not in (None, 0, self.root, me) and hops < 64:
                ancestor, hops = parents.get(ancestor), hops + 1
            if pid == me or (ancestor not in (self.root, me) and pid != self.root):
                continue  # not the suite's (an orphan of it is ours now, as its subreaper)
            key = (pid, int(fields[19]))
            cpu = (int(fields[11]) + int(fields[12])) / self.tick
            try:  # read every time: a child shows its parent's command line until it has exec'd its own
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                command = ""
            self.seen[key] = (cpu, command.strip() or self.seen.get(key, (0.0, ""))[1])


def owner_of(frame: str) -> str:
    """'ours', 'third party' or 'stdlib' for one py-spy frame, "function (path/file.py:line)"."""
    match = re.search(r"\(([^()]*?):\d+\)$", frame.strip())
    if not match:
        return "stdlib"
    top = match.group(1).split("/")[0].removesuffix(".py")
    if top in OURS:
        return "ours"
    if top.startswith("<frozen") or top in sys.stdlib_module_names:
        return "stdlib"
    return "third party"


def owners(raw: Path) -> dict[tuple[str, str], int]:
    """py-spy's raw samples: (kind of process, owner of the code running) -> samples. A sample in the standard
    library is charged to the nearest caller that is ours or third party."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        # 'process PID:"command line";...;function (file.py:line);...' - a command line may hold ';' itself
        processes = list(PROCESS_FRAME.finditer(stack))
        command = processes[-1].group(1) if processes else ""
        code = stack[processes[-1].end():].split(";") if processes else stack.split(";")
        owner = "stdlib"
        for frame in reversed([f for f in code if f]):
            if (found := owner_of(frame)) in ("ours", "third party"):
                owner = found
                break
        counts[(kind_of(command), owner)] += int(count)
    return counts


def reap_orphans(grace: float = 5.0) -> None:
    """Stop and reap what the suite left running (orphans come to us as their subreaper): their CPU is the suite's."""
    me = str(os.getpid())
    left = [pid for pid, fields in processes().items() if fields[1] == me]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while left:
        for pid in list(left):
            with contextlib.suppress(ChildProcessError, ProcessLookupError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    if time.monotonic() < deadline:
                        continue
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            left.remove(pid)
        time.sleep(0.05)


def print_owners(counts: dict[tuple[str, str], int], measured: dict[str, float]) -> None:
    """Each kind of process's CPU as /proc measured it, split in the proportions py-spy sampled: py-spy's count of
    a process's samples need not match its CPU (for Checkov and cfn-lint it came to about twice it)."""
    samples: collections.Counter[str] = collections.Counter()
    for (kind, _), n in counts.items():
        samples[kind] += n
    split: collections.Counter[str] = collections.Counter()
    rows = []
    for (kind, owner), n in counts.items():
        seconds = measured.get(kind, 0.0) * n / samples[kind]
        split[owner] += seconds
        rows.append((seconds, kind, owner))
    python = sum(split.values())
    print(f"  the Python processes' {python:.1f} s of CPU by whose code runs (py-spy, GIL holder, 50 Hz; the standard"
          " library charged to its caller):")
    for owner, seconds in split.most_common():
        print(f"    {seconds:7.1f} s {100 * seconds / python:5.1f}%  {owner}")
    print("  ... by kind of process:")
    for seconds, kind, owner in sorted(rows, reverse=True)[:16]:
        print(f"    {seconds:7.1f} s  {kind}: {owner}")


def run(command: list[str], interval: float) -> tuple[int, str, float, float, Sampler]:
    """Run `command` from the repository's root: (exit code, its output, wall s, CPU s of every descendant, the
    sampler)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of the suite come to us, and are counted
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fd, log = tempfile.mkstemp(prefix="suite_cpu-", suffix=".log")
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=fd, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        os.close(fd)  # the suite writes through its own copy
    sampler = Sampler(proc.pid, interval)
    sampler.start()
    code = None
    try:
        while code is None:
            pid, status = os.waitpid(-1, 0)  # the suite, or an orphan of it: reaped here, so its CPU counts
            if pid == proc.pid:
                code = os.waitstatus_to_exitcode(status)
                proc.returncode = code
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        reap_orphans(grace=2.0)
        raise
    wall = time.perf_counter() - start
    reap_orphans()
    sampler.stop.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = Path(log).read_bytes().decode(errors="replace")
    if code == 0:
        os.unlink(log)
    else:
        print(f"suite_cpu: the suite's output is kept in {log}", file=sys.stderr)
    return code, output, wall, cpu, sampler


def timeline(spans: dict[str, list[tuple[float, float, str]]]) -> None:
    """When each worker ran tests, from the first test's start: a worker that ends early leaves a core idle while
    the others finish (the schedule's tail), and the tests that ran after it are what a better order could move."""
    if not spans:
        return
    origin = min(start for runs in spans.values() for start, _, _ in runs)
    ends = {name: max(end for _, end, _ in runs) - origin for name, runs in spans.items()}
    print("  timeline (s from the first test's start): worker, first start, last end, time between its phases")
    for name, runs in sorted(spans.items()):
        runs.sort()
        gaps = sum(max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(runs))
        print(f"    {name:8s} {runs[0][0] - origin:8.1f} {ends[name]:8.1f} {gaps:8.1f}")
    first_done = min(ends.values())
    tail: dict[str, float] = collections.Counter()
    for runs in spans.values():
        for start, end, test in runs:
            if end - origin > first_done:
                tail[test.split("::")[0]] += end - max(start, first_done + origin)
    if tail:
        print(f"  after the first worker ended ({first_done:.1f} s), by file: wall s")
        for name, seconds in sorted(tail.items(), key=lambda kv: -kv[1])[:10]:
            print(f"    {seconds:8.1f}  {name}")


def per_test_report(directory: Path, top: int) -> None:
    """What bench/suite_cpu_plugin.py wrote: CPU by area, file, xdist group and worker; the costliest tests and
    fixtures; the work asked for by area."""
    tests: dict[str, float] = collections.Counter()
    walls: dict[str, float] = collections.Counter()
    work: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    fixtures: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    workers: dict[str, list[float]] = {}
    spans: dict[str, list[tuple[float, float, str]]] = collections.defaultdict(list)  # worker -> (start, end, test)
    for path in sorted(directory.glob("*.jsonl")):
        own = workers.setdefault(path.stem, [0.0, 0.0, 0.0])  # phases' CPU, phases' wall, the process's CPU
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("process"):
                own[2] += record["cpu"]
            elif "fixture" in record:
                fixtures[(record["fixture"], record["scope"])].append(record["cpu"])
            elif "phase" in record:
                tests[record["test"]] += record["cpu"]
                walls[record["test"]] += record["wall"]
                own[0] += record["cpu"]
                own[1] += record["wall"]
                if "start" in record:
                    spans[path.stem].append((record["start"], record["start"] + record["wall"], record["test"]))
                area = "/".join(record["test"].split("::")[0].split("/")[:2])
                work[area].update(record["work"])
    if not tests:
        print("suite_cpu: no per-test records (did the plugin load?)", file=sys.stderr)
        return

    def table(title: str, key) -> None:
        cpu: dict[str, float] = collections.Counter()
        count: dict[str, int] = collections.Counter()
        wall: dict[str, float] = collections.Counter()
        for test, seconds in tests.items():
            cpu[key(test)] += seconds
            wall[key(test)] += walls[test]
            count[key(test)] += 1
        print(f"  {title}: tests, CPU s, wall s, CPU s per 100 tests")
        for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])[:top or None]:
            print(f"    {count[name]:5d} {seconds:8.1f} {wall[name]:8.1f} {100 * seconds / count[name]:8.1f}  {name}")

    total = sum(tests.values())
    print(f"  per test (bench/suite_cpu_plugin.py): {len(tests)} tests, {total:.1f} s of CPU in their phases "
          f"(set-up, call, teardown; the processes they ran included)")
    table("by area", lambda t: "/".join(t.split("::")[0].split("/")[:2]))
    table("by test file", lambda t: t.split("::")[0])
    table("by xdist group", lambda t: group.group(1) if (group := GROUP.search(t)) else "(none)")
    print("  per process: phases' CPU, phases' wall, the process's CPU (start-up, collection and exit included)")
    for name, (cpu, wall, whole) in sorted(workers.items()):
        print(f"    {name:8s} {cpu:8.1f} {wall:8.1f} {whole:8.1f}")
    timeline(spans)
    print(f"  the {top or 25} costliest tests (CPU s, wall s):")
    for test, seconds in sorted(tests.items(), key=lambda kv: -kv[1])[:top or 25]:
        print(f"    {seconds:7.2f} {walls[test]:7.2f}  {test}")
    print("  the costliest fixture set-ups (inclusive of the fixtures they ask for): times, CPU s")
    for (name, scope), spent in sorted(fixtures.items(), key=lambda kv: -sum(kv[1]))[:top or 25]:
        print(f"    {len(spent):5d} {sum(spent):8.1f}  {name} ({scope})")
    print("  work asked for, by area:")
    for area, counts in sorted(work.items()):
        if counts:
            print(f"    {area}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-cov", action="store_true", help="run the suite without coverage")
    parser.add_argument("--owners", action="store_true", help="split the CPU by whose code runs (needs py-spy)")
    parser.add_argument("--per-test", action="store_true",
                        help="also the CPU of every test and fixture, by area, file and xdist group")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples of /proc")
    parser.add_argument("--top", type=int, default=0, metavar="N", help="also list the N costliest processes")
    parser.add_argument("pytest_args", nargs="*", help="after --: more arguments for pytest")
    args = parser.parse_args()
    if not Path("/proc/self/stat").exists():
        print("suite_cpu: needs Linux's /proc", file=sys.stderr)
        return EXIT_USAGE
    command = ["bash", "scripts/test.sh", "-q", "-p", "no:cacheprovider", *(["--no-cov"] if args.no_cov else []),
               *args.pytest_args]
    per_test = None
    if args.per_test:
        per_test = Path(tempfile.mkdtemp(prefix="suite_cpu-tests-"))
        os.environ["SUITE_CPU_TESTS"] = str(per_test)
        command[3:3] = ["-p", "bench.suite_cpu_plugin"]
    raw = None
    if args.owners:
        spy = shutil.which("py-spy")
        if spy is None:
            print("suite_cpu: --owners needs py-spy on PATH (pip install py-spy)", file=sys.stderr)
            return EXIT_USAGE
        raw = Path(tempfile.mkdtemp()) / "suite.raw"
        command = [spy, "record", "--subprocesses", "--gil", "--nonblocking", "-r", "50", "-f", "raw", "-o",
                   str(raw), "--", *command]
    signal.signal(signal.SIGTERM, interrupted)  # stopped like Ctrl-C: the suite is stopped with it
    try:
        code, output, wall, cpu, sampler = run(command, args.interval)
    except KeyboardInterrupt:
        print("suite_cpu: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    lines = [line for line in output.strip().splitlines() if line.strip() and not line.startswith("py-spy> ")]
    print(f"test suite: {summary_line(lines)} (exit {code})")
    for line in lines if code == 0 else lines[-12:]:
        if code != 0 or line.startswith(("FAILED ", "ERROR ")):
            print(f"  | {line}")
    total = next((line for line in reversed(lines) if line.startswith("TOTAL ")), None)
    if total is not None:  # coverage's report: statements, missed, (branches, partial,) percent
        print(f"  coverage: {total.split()[-1]}")
    n = cores()
    print(f"  wall {wall:.1f} s; CPU of every process it ran {cpu:.1f} s on {n} cores: no schedule of this work "
          f"finishes here in under {cpu / n:.1f} s (CPU / cores)")
    by_kind: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    for seconds, command_line in sampler.seen.values():
        entry = by_kind[kind_of(command_line)]
        entry[0] += seconds
        entry[1] += 1
    sampled = sum(v[0] for v in by_kind.values())
    print(f"  by kind of process (sampled every {args.interval} s):")
    for kind, (seconds, count) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        if seconds >= 0.05:
            print(f"    {seconds:7.1f} s {100 * seconds / cpu:5.1f}%  {kind} ({count} process{'es' * (count != 1)})")
    print(f"    {max(cpu - sampled, 0.0):7.1f} s {100 * max(cpu - sampled, 0.0) / cpu:5.1f}%  not sampled "
          "(processes shorter than the interval)")
    if args.top:
        print(f"  the {args.top} costliest processes:")
        for seconds, command_line in sorted(sampler.seen.values(), reverse=True)[:args.top]:
            print(f"    {seconds:7.1f} s  {command_line[:110]}")
    if per_test is not None:
        per_test_report(per_test, args.top)
        print(f"  (every test's and fixture's record: {per_test}/*.jsonl)")
    if raw is not None:
        counts = owners(raw) if raw.exists() else {}
        if not counts:
            print("suite_cpu: py-spy wrote no samples", file=sys.stderr)
            return EXIT_USAGE
        print_owners(counts, {kind: seconds for kind, (seconds, _) in by_kind.items()})
    return code


if __name__ == "__main__":
    sys.exit(main())
