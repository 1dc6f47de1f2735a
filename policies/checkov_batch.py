"""Checkov over many templates in one process: the checks load once, each template is scanned on its own.

Run with Checkov's own interpreter (.venv-checkov) and the repository root on PYTHONPATH:

    .venv-checkov/bin/python -m policies.checkov_batch --external-checks-dir policies/checkov_checks \
        [--template SUFFIX T1.json …] [T2.json …]

A template named with --template is judged with that environment suffix (our naming checks read it from
STREAMTECH_SUFFIX), a bare one with the suffix in the environment, so one process can judge templates of
several environments (the tests' fixtures and the mutated stack).

Prints one JSON list on stdout: per template, the report Checkov's CLI prints for it with `-o json`
(check_type, results, summary). Why not the CLI: one `checkov` process spends seconds loading before it looks
at a template, and one process given many templates builds one graph over all of them, which grows faster than
linearly (figures: bench/README.md).
Exit codes: 0 every template was scanned (findings or not); 2 usage error; 3 Checkov failed on a template.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE

# Checks run in this process, one after another: a fork per template would add its start to every scan.
os.environ.setdefault("CHECKOV_PARALLELIZATION_TYPE", "none")


RESULT_KEYS = ("passed_checks", "failed_checks", "skipped_checks")
CHECK_FIELDS = ("check_id", "check_name", "resource", "file_path", "file_abs_path", "file_line_range", "details")


def scan(jobs: Sequence[tuple[str | None, str]], external_checks_dir: str) -> list[dict]:
    """Each (suffix, template) in order; suffix None keeps STREAMTECH_SUFFIX as the environment gives it."""
    from checkov.cloudformation.runner import Runner
    from checkov.runner_filter import RunnerFilter

    default = os.environ.get("STREAMTECH_SUFFIX")
    reports = []
    for suffix, path in jobs:
        chosen = suffix or default
        if chosen:
            os.environ["STREAMTECH_SUFFIX"] = chosen
        else:
            os.environ.pop("STREAMTECH_SUFFIX", None)
        # A fresh runner per template, as the CLI has; the external checks are registered once per process
        # but must be named on every run, or Checkov drops them from the filter.
        report = Runner().run(root_folder=None, files=[path], external_checks_dir=[external_checks_dir],
                              runner_filter=RunnerFilter(framework=["cloudformation"],
                                                         download_external_modules=False))
        data = report.get_dict()
        for key in RESULT_KEYS:  # only what the gate reads: the full records repeat each resource's code
            data["results"][key] = [{k: c.get(k) for k in CHECK_FIELDS} for c in data["results"].get(key, [])]
        data["file"] = path
        reports.append(data)
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.checkov_batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--external-checks-dir", required=True)
    parser.add_argument("--template", nargs=2, action="append", default=[], metavar=("SUFFIX", "PATH"))
    parser.add_argument("templates", nargs="*")
    args = parser.parse_args(argv)
    jobs = [(suffix, path) for suffix, path in args.template] + [(None, path) for path in args.templates]
    if not jobs:
        parser.error("no template to scan")
    missing = [path for _, path in jobs if not os.path.isfile(path)]
    if missing:
        print(f"error: no such template: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        reports = scan(jobs, args.external_checks_dir)
    except Exception as exc:  # noqa: BLE001 - reported to the gate, which says the tool failed
        print(f"error: Checkov failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    # Checkov wraps sys.stdout in colorama's converter, which costs seconds on a large write.
    stdout = sys.__stdout__
    if stdout is None:  # started without a standard output: the reports have nowhere to go
        print("error: no standard output to write the reports to", file=sys.stderr)
        return EXIT_INCOMPLETE
    stdout.write(json.dumps(reports))
    stdout.flush()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
