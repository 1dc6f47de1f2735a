"""Deployers of CloudWatch Logs log groups."""

from __future__ import annotations

from localenv.deployers.base import DeployContext, deployer, tag_map


@deployer("AWS::Logs::LogGroup")
def log_group(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    logs = ctx.client("logs")
    name = p["LogGroupName"]
    logs.create_log_group(logGroupName=name, kmsKeyId=p["KmsKeyId"], tags=tag_map(p))
    if p.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    arn = f"arn:aws:logs:{ctx.config.region}:{ctx.account}:log-group:{name}:*"
    return name, {"Arn": arn}
