"""The platform's specification, on the ground floor beside platform_utils, under every other package: names,
required tags, the contract between infrastructure and workloads, the rule catalog and the rules' pure
predicates, their results and the exit codes; also what the specification decides for its readers: our SARIF
report format (sarif.py, whose rule descriptors are the catalog's words) and CloudFormation's intrinsics
(intrinsics.py: reading them without resolving, as the rules do; what a value refers to; what they mean against a
deployment).

Standard library only and it imports no other package of ours, so Checkov (in its own environment), the CDK
app, the operations CLI, the local stand-in for AWS and the workloads can all load it. Tooling that is not
specification (reading and writing a user's files, signal handling, reading the source map) lives beside it in
platform_utils, which ships with it.
"""
