"""Tooling every tool of the platform shares, beside the specification (platform_spec) on the ground floor: files
(what a tool reads and writes on a user's behalf), numbers (whole numbers read from text a tool did not write),
signals (SIGTERM handled off the interrupted code's path) and source_map (reading the source map synthesis
records).

Standard library only and it imports no other package of ours, not even platform_spec: the operations CLI's own
distribution and the posture monitor's function ship it beside platform_spec, the workloads' images carry it, and
the CDK app, the policy gate and the local stand-in for AWS stand on it. What says what the platform is (names,
tags, the catalog and its predicates, the contracts, results, exit codes, our SARIF report format, the semantics of
a template's intrinsics) is platform_spec's, not this package's.
"""
