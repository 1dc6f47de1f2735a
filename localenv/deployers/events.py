"""Deployers of EventBridge rules and their targets."""

from __future__ import annotations

import json

from localenv.deployers.base import DeployContext, deployer


@deployer("AWS::Events::Rule")
def events_rule(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    events = ctx.client("events")
    arn = events.put_rule(Name=p["Name"], EventPattern=json.dumps(p["EventPattern"]),
                          State=p.get("State", "ENABLED"), Description=p.get("Description", ""))["RuleArn"]
    events.put_targets(Rule=p["Name"], Targets=[
        {"Id": t["Id"], "Arn": t["Arn"],
         **({"DeadLetterConfig": t["DeadLetterConfig"]} if "DeadLetterConfig" in t else {}),
         **({"RetryPolicy": {k: int(v) for k, v in t["RetryPolicy"].items()}} if "RetryPolicy" in t else {})}
        for t in p.get("Targets", [])])
    return p["Name"], {"Arn": arn}
