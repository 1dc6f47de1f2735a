"""The proof that a test put the shared local deployment back as it found it, at a fraction of a whole read.

`Writes` hears every write the emulator serves while a test runs, from any client and any process (the test's own
clients, an `opscli` or a workload it started): the emulator puts the CloudTrail record of each successful write on
the default event bus of the account and the region it was served in (localenv/cloudtrail.py), and an EventBridge
rule of ours on the buses of every region a write is recorded in sends them to a queue of ours. The rule is enabled
only while a test runs, so no other test pays for it.

`Restore.check` then reads what the monitor's planner says those writes touched (tests/integration/changes.py's
Monitor.restored: each resource's state, properties and facts exactly as at the session's start, and the account's
IAM after an IAM write) instead of the whole stack. Nothing is taken on trust: a write the planner cannot place on
a resource of the stack (a bucket, a stream, a secret the stack does not declare), one that asks a monitor run for
the whole stack (the stack's own declaration), a record the monitor could not read, or a write the emulator could
not describe (its log says so) makes the check read and judge the whole deployment as before (`assert_restored`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opscli.monitor import messages, resolve, run
from opscli.monitor.messages import Change, Record
from platform_spec.monitor import CLOUDTRAIL_DETAIL_TYPE

NAME = "tests-restore-writes"  # the rule (one per region) and the queue that hear the writes
#: The regions whose default bus may carry a write's record: the stack's, and us-east-1, where CloudTrail records
#: the calls of a global service (IAM).
REGIONS = ("ap-northeast-1", "us-east-1")
#: What the emulator logs when it served a write it could not record (localenv.cloudtrail.record).
LOST = "no CloudTrail event for a"


def _clients(endpoint: str, service: str) -> dict[str, Any]:
    from opscli.aws import new_session

    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name=REGIONS[0])
    return {region: session.client(service, endpoint_url=endpoint, region_name=region) for region in REGIONS}


@dataclass
class Heard:
    """What one test's writes were, as the monitor reads their records."""

    changes: list[Change] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # records the monitor could not read (why)
    lost: bool = False  # the emulator served a write it could not record


class Writes:
    """The writes served by one deployment's emulator while `hearing` (see the module)."""

    def __init__(self, endpoint: str, log: Path | None) -> None:
        self.log = log
        self.events, self.sqs = _clients(endpoint, "events"), _clients(endpoint, "sqs")
        self.pattern = json.dumps({"detail-type": [CLOUDTRAIL_DETAIL_TYPE]})
        self.urls = {}
        for region in REGIONS:  # a queue of each region (EventBridge delivers to a queue of the rule's region)
            self.urls[region] = url = self.sqs[region].create_queue(QueueName=NAME)["QueueUrl"]
            arn = self.sqs[region].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
            self.events[region].put_rule(Name=NAME, EventPattern=self.pattern, State="DISABLED")
            self.events[region].put_targets(Rule=NAME, Targets=[{"Id": NAME, "Arn": arn["QueueArn"]}])

    def _enable(self, on: bool) -> None:
        for events in self.events.values():
            events.put_rule(Name=NAME, EventPattern=self.pattern, State="ENABLED" if on else "DISABLED")

    def _drain(self) -> list[Record]:
        records = []
        for region, url in self.urls.items():
            sqs = self.sqs[region]
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                               VisibilityTimeout=600).get("Messages", []):
                records += [Record(m["MessageId"], m["Body"]) for m in batch]
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        return records

    @contextlib.contextmanager
    def hearing(self, suffix: str) -> Iterator[Heard]:
        """Every write served in the block (after it), as the monitor of `suffix` reads its record."""
        heard = Heard()
        self._drain()
        start = self.log.stat().st_size if self.log and self.log.exists() else 0
        self._enable(True)
        try:
            yield heard
        finally:
            self._enable(False)
            records = self._drain()
            if self.log is not None:
                with self.log.open("rb") as text:
                    text.seek(start)
                    heard.lost = LOST.encode() in text.read()
        for record in records:
            change = messages.read(record, suffix)
            if isinstance(change, Change):
                if not _ours(change):
                    heard.changes.append(change)
            else:
                heard.unreadable.append(getattr(change, "reason", type(change).__name__))


def _ours(change: Change) -> bool:
    """The rule's own enabling (the only write of ours a rule that hears can record)."""
    return change.source == "events.amazonaws.com" and change.name == "PutRule" and \
        isinstance(change.request, dict) and change.request.get("name") == NAME


class Restore:
    """The restore check of one deployment, per test process: what a test's writes touched, read again (see the
    module); `whole_reasons` says why a check fell back to the whole read (empty when it did not)."""

    def __init__(self, deployment: Any) -> None:
        from tests.conftest import local_aws
        from tests.integration.changes import Monitor

        self.deployment = deployment
        self.monitor = Monitor(local_aws(deployment.endpoint), deployment.outputs_file)
        self.writes = Writes(deployment.endpoint, deployment.directory / "localenv.log"
                             if deployment.directory else None)
        self.iam_resources = frozenset(lid for lid, source in self.monitor.idx.sources.items()
                                       if source == "aws.iam")

    def hearing(self) -> contextlib.AbstractContextManager[Heard]:
        return self.writes.hearing(self.monitor.target.suffix)

    def whole_reasons(self, heard: Heard) -> list[str]:
        """Why what the writes touched cannot vouch for the deployment: the whole of it must be read."""
        reasons = [f"a record the monitor could not read ({why})" for why in heard.unreadable]
        if heard.lost:
            reasons.append("the emulator served a write it could not record (its log says so)")
        usable = [c for c in heard.changes if not c.failed]
        for change in usable:
            if change.source in run.WHOLE_SOURCES:
                continue  # the account's IAM is compared whole, and the stack's IAM resources are read again
            if run.asks_for_whole(change, self.monitor.settings):
                reasons.append(f"{change.name} asks for the whole stack")
            elif not resolve.named(self.monitor.idx, change):
                reasons.append(f"{change.source} {change.name} names no resource of the stack")
        return reasons

    def check(self, heard: Heard, baseline: list[tuple[str, str, str]]) -> list[str]:
        """Fails (AssertionError) unless the deployment is as at the session's start; returns why it read the whole
        deployment to say so (empty: it read only what the writes touched)."""
        from tests.conftest import assert_restored
        from tests.integration.changes import _differences
        from tests.library_tracing import untraced_with_its_threads

        reasons = self.whole_reasons(heard)
        if reasons:
            assert_restored(self.deployment, baseline)
            return reasons
        usable = [c for c in heard.changes if not c.failed]
        if not usable:
            return []
        self.monitor.restored(usable, baseline)  # what they touched (and the account's IAM after an IAM write)
        if any(c.source == "secretsmanager.amazonaws.com" for c in usable):
            self.monitor.rotation_restored(baseline)  # what `opscli rotate-check secrets` judges of the secrets
        if any(c.source in run.WHOLE_SOURCES for c in usable) and self.iam_resources:
            # and every IAM resource of the stack, whatever the write named
            from opscli import livestack

            monitor = self.monitor
            now = untraced_with_its_threads(livestack.read_stack)(monitor.aws, monitor.scope, account=monitor.account,
                                                                  only=self.iam_resources)
            left = {lid: keys for lid in sorted(self.iam_resources)
                    if (keys := _differences(monitor.before.resources.get(lid), now.resources.get(lid)))}
            assert not left, f"the test left the shared deployment changed: {left}"
        return []
