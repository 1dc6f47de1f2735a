"""The platform's specification, the ground floor every other package stands on: names, required tags, the
contract between infrastructure and workloads, the rule catalog and the rules' pure predicates.

Standard library only and it imports no other package of ours, so Checkov (in its own environment), the CDK
app, the operations CLI, the local stand-in for AWS and the workloads can all load it.
"""
