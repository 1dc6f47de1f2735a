"""MonitorStack: the posture monitor of TapStack<suffix>, a stack of its own (TapMonitor<suffix>) so that an
organisation deploys exactly this stack to every account with a StackSet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, CliCredentialsStackSynthesizer, Environment, IStackSynthesizer, Stack
from constructs import Construct

from cdk_app.config import AppConfig
from cdk_app.constructs.encryption import Encryption
from cdk_app.constructs.posture_monitor import PostureMonitor
from platform_spec import monitor


def stackset_synthesizer(asset_bucket_prefix: str) -> IStackSynthesizer:
    """Assets in `<prefix>-<region>` (one bucket per region that the organisation's accounts may read, published
    with the publishing account's own credentials by `cdk-assets publish`), no bootstrap stack of any account: the
    template a StackSet deploys unchanged to every account."""
    return CliCredentialsStackSynthesizer(file_assets_bucket_name=f"{asset_bucket_prefix}-${{AWS::Region}}",
                                          bucket_prefix="monitor/")


class MonitorStack(Stack):
    """The posture monitor of TapStack<suffix> in ap-northeast-1: its own key, queue, rule, schedule, function,
    bucket and alarm. It names nothing of one account: its ARNs are built from the pseudo parameters."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, code: Path, layer: Path,
                 read_policies: Sequence[Mapping[str, Any]], watched_sources: Sequence[str],
                 synthesizer: IStackSynthesizer | None = None) -> None:
        super().__init__(
            scope, construct_id,
            env=Environment(region=config.region, account=config.account),
            description=f"StreamTech posture monitor of {config.stack_name}",
            termination_protection=False, synthesizer=synthesizer,
        )
        self.config = config
        self.encryption = Encryption(self, "MonitorEncryption", config=config, alias="monitor-kms-alias",
                                     purpose="posture monitor key")
        # The platform's alarm topic (TapStack's), by name: the same operator is paged for both stacks.
        topic = self.format_arn(service="sns", resource=config.name("alarm-topic"))
        self.monitor = PostureMonitor(self, "Monitor", config=config, key=self.encryption.key, code=code, layer=layer,
                                      read_policies=read_policies, watched_sources=watched_sources,
                                      alarm_topic_arn=topic)
        outputs = {
            monitor.OUTPUT_QUEUE_URL: self.monitor.queue.queue_url,
            monitor.OUTPUT_DEAD_LETTER_QUEUE_URL: self.monitor.dead_letter_queue.queue_url,
            monitor.OUTPUT_BUCKET: self.monitor.bucket.bucket_name,
            monitor.OUTPUT_FUNCTION: self.monitor.function.function_name,
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
