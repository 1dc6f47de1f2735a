"""The posture monitor's runtime: each change CloudTrail reports (through an EventBridge rule and an SQS queue)
judged within seconds, the whole stack on the schedule, findings imported into Security Hub.

`lambda_handler` is the function's handler (an SQS event source with ReportBatchItemFailures);
`python -m opscli.monitor` runs the same code as a local consumer of the queue."""

from __future__ import annotations

from opscli.monitor.handler import lambda_handler, process

__all__ = ["lambda_handler", "process"]
