"""The exit codes of every program of ours, written here and nowhere else (an architecture test fails on an exit
code given as a number anywhere else).

One name per code, and one meaning per code across the programs, said in each program's own terms:

    code  name                 meaning
    0     EXIT_OK              done, nothing wrong found
    1     EXIT_FINDINGS        it ran and found something wrong
    2     EXIT_USAGE           the input is wrong; nothing was done
    3     EXIT_INCOMPLETE      it could not run or look to the end: no verdict
    4     EXIT_SERVICE_FAILED  a running workload cannot go on
    130   EXIT_INTERRUPTED     Ctrl-C (SIGINT), the shell's convention
    137   EXIT_KILLED          SIGKILL, as a killed container reports it
    143   EXIT_TERMINATED      SIGTERM, stopped on the way, the shell's convention

    program                           1                            2                         3
    opscli (audit, drift, ...)        a FAIL at or above --fail-on bad option, suffix or file  a check could not look
    python -m policies.gate           an unsuppressed finding      bad suffix or arguments   a tool could not run
    python -m policies.checkov_batch  -                            no such template          Checkov failed
    the CDK app (cdk synth)           a guardrail violation        a bad context value       the app's own code raised
    python -m cdk_app.assembly_cache  the app's 1                  the app's 2, bad --cdk-out synthesis or copy failed
    python -m localenv                the audit found something    bad suffix, template, ..  deploy or audit failed
    python -m localenv.pipeline       the video did not come back  bad arguments             the platform did not start
    python -m opscli.monitor          -                            bad arguments             the queue stayed unreadable
    the services (ECS tasks)          -                            a setting missing or weak a dependency unreachable
    the services' health checks       unhealthy (Docker's 1)       -                         -
    bench/*.py                        a goal was missed            bad arguments             -

The services are the one program with 4: the task was running and cannot go on (a job loop died, the port is
taken), so ECS replaces it; their 3 is at start-up only. The long-running opscli.monitor consumer exits 0 when a
signal stops it, Ctrl-C included: stopping is its normal end. The programs that treat Ctrl-C as an interruption
(opscli, the gate, bench/suite_cpu.py and bench/flake_check.py) exit 130. `python -m localenv.pipeline` stopped by
SIGTERM stops what it started, then exits 143. 137 is only ever imitated: the services' crash failpoint ends the
process as SIGKILL would (services/common/failpoints.py). The smaller tools (opscli.diagram, policies.matrix,
cdk_app.source_map) use 0 and 2 alone. opscli's contract in full is its package docstring
(`opscli --help`); README's tables say the same."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_SERVICE_FAILED = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT (2)
EXIT_KILLED = 137  # 128 + SIGKILL (9)
EXIT_TERMINATED = 143  # 128 + SIGTERM (15)
