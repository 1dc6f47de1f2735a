"""Rule predicates: pure functions over plain dicts (CloudFormation properties or describe-call answers)."""
