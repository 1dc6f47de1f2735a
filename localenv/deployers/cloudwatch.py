"""Deployers of CloudWatch alarms."""

from __future__ import annotations

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::CloudWatch::Alarm")
def alarm(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    name = p.get("AlarmName") or f"{ctx.stack_name}-{lid}"
    args = {k: p[k] for k in ("AlarmActions", "ComparisonOperator", "MetricName", "Namespace", "Statistic",
                              "ExtendedStatistic", "TreatMissingData", "AlarmDescription") if k in p}
    if p.get("Metrics"):  # a metric-math alarm: its queries, numbers where the API wants numbers
        args["Metrics"] = [{**m, **({"MetricStat": {**m["MetricStat"], "Period": int(m["MetricStat"]["Period"])}}
                                    if "MetricStat" in m else {})} for m in p["Metrics"]]
    args.update({k: int(p[k]) for k in ("DatapointsToAlarm", "EvaluationPeriods", "Period") if k in p})
    args["Threshold"] = float(p["Threshold"])
    if p.get("Dimensions"):
        args["Dimensions"] = [{"Name": d["Name"], "Value": str(d["Value"])} for d in p["Dimensions"]]
    cloudwatch = ctx.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName=name, Tags=tags(p), **args)
    arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    return name, {"Arn": arn}
