"""Deployers of EventBridge Scheduler schedules."""

from __future__ import annotations

from localenv.deployers.base import DeployContext, deployer


@deployer("AWS::Scheduler::Schedule")
def schedule(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    """Created as declared; the emulator never fires it (`python -m localenv schedule` sends its input)."""
    target = {k: p["Target"][k] for k in ("Arn", "RoleArn", "Input", "DeadLetterConfig", "SqsParameters")
              if k in p["Target"]}
    if "RetryPolicy" in p["Target"]:
        target["RetryPolicy"] = {k: int(v) for k, v in p["Target"]["RetryPolicy"].items()}
    args = {k: p[k] for k in ("Description", "KmsKeyArn", "State", "GroupName", "ScheduleExpressionTimezone")
            if k in p}
    arn = ctx.client("scheduler").create_schedule(
        Name=p["Name"], ScheduleExpression=p["ScheduleExpression"], Target=target,
        FlexibleTimeWindow=p["FlexibleTimeWindow"], **args)["ScheduleArn"]
    return p["Name"], {"Arn": arn}
