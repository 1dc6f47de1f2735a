"""The proof that a test put the shared local deployment back as it found it, at a fraction of a whole read.

`Writes` hears every write the emulator serves while a test runs, from any client and any process (the test's own
clients, an `opscli` or a workload it started): the emulator puts the CloudTrail record of each successful write on
the default event bus of the account and the region it was served in (localenv/cloudtrail.py); EventBridge rules of
ours bring them from every region to a queue of ours. The rule that fills the queue is enabled only while a test
runs, so no other test pays for it.

`Restore.check` then reads what the monitor's planner says those writes touched (tests/integration/changes.py's
Monitor.restored: each resource's state, properties and facts exactly as at the session's start, and the account's
IAM after an IAM write) instead of the whole stack. Nothing is taken on trust: a write the planner cannot place on
a resource of the stack (a bucket, a stream, a secret the stack does not declare; a write served in another region),
one that asks a monitor run for the whole stack (the stack's own declaration), a record the monitor could not read,
a write the emulator could not describe (its log says so), or a test that changed the rule that hears, makes the
check read and judge the whole deployment as before (`assert_restored`). A test that changed a rule forwarding
another region's writes is found once, at the session's end (`Writes.deaf`, in `restore_check`'s teardown)."""

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

NAME = "tests-restore-writes"  # the rules and the queue that hear the writes
#: What the emulator logs when it served a write it could not record (localenv.cloudtrail.record).
LOST = "no CloudTrail event for a"
PATTERN = json.dumps({"detail-type": [CLOUDTRAIL_DETAIL_TYPE]})


@dataclass
class Heard:
    """What one test's writes were, as the monitor reads their records."""

    changes: list[Change] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # records the monitor could not read (why)
    lost: bool = False  # the emulator served a write it could not record, or the rule that hears them changed

    @property
    def usable(self) -> list[Change]:
        """The changes whose write succeeded (a failed one changed nothing)."""
        return [c for c in self.changes if not c.failed]


def _events_call(endpoint: str, region: str, target: str, body: dict[str, Any]) -> dict[str, Any]:
    """One EventBridge call signed for `region`, without a client of its own (one per region would cost more
    than every check it serves)."""
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest("POST", f"{endpoint}/", data=json.dumps(body).encode(),
                         headers={"X-Amz-Target": f"AWSEvents.{target}", "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("local-emulator", "local-emulator"), "events", region).add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(request.url, data=request.body, method="POST",
                                                       headers=dict(request.headers)), timeout=30) as answer:
        return json.loads(answer.read() or b"{}")


class Writes:
    """The writes served by one deployment's emulator while `hearing` (see the module): a rule on the default bus of
    the stack's region sends every CloudTrail record to a queue of ours while a test runs; in every other region
    EventBridge knows, a rule forwards them to that bus for good (a write there is rare, and the emulator builds a
    record only where a rule could receive it). A forwarded record states both regions, so the monitor's planner
    places it on no resource of the stack (but the account's IAM): the whole deployment is read for it."""

    def __init__(self, endpoint: str, region: str, account: str, log: Path) -> None:
        import botocore.session

        from opscli.aws import new_session

        self.endpoint, self.region, self.log = endpoint, region, log
        session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                              region_name=region)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.url = self.sqs.create_queue(QueueName=NAME)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url,
                                                 AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._turn_off()
        self.bus = f"arn:aws:events:{region}:{account}:event-bus/default"
        self.elsewhere = sorted(set(botocore.session.get_session().get_available_regions("events")) - {region})
        for other in self.elsewhere:
            self._forward(other)
        self.hearing_now = False

    def _forward(self, region: str) -> None:
        """The rule that forwards `region`'s records to the bus of the stack's region, as made."""
        _events_call(self.endpoint, region, "PutRule", {"Name": NAME, "EventPattern": PATTERN, "State": "ENABLED"})
        _events_call(self.endpoint, region, "PutTargets", {"Rule": NAME, "Targets": [{"Id": NAME, "Arn": self.bus}]})

    def _as_made(self, region: str, target: str) -> bool:
        """Whether `region`'s rule is as made, enabled, and sends to `target` only."""
        try:
            rule = _events_call(self.endpoint, region, "DescribeRule", {"Name": NAME})
            targets = _events_call(self.endpoint, region, "ListTargetsByRule", {"Rule": NAME})["Targets"]
        except OSError:  # urllib's HTTPError: the rule is gone
            return False
        return rule.get("State") == "ENABLED" and json.loads(rule.get("EventPattern") or "{}") == json.loads(PATTERN) \
            and [(t["Id"], t["Arn"]) for t in targets] == [(NAME, target)]

    def deaf(self) -> list[str]:
        """The other regions whose forwarding rule is no longer as made: writes served there since went unheard
        (checked once, at the session's end: a look per test would cost more than the checks it guards)."""
        return [region for region in self.elsewhere if not self._as_made(region, self.bus)]

    def _rule(self, region: str, *, enabled: bool) -> None:
        _events_call(self.endpoint, region, "PutRule",
                     {"Name": NAME, "EventPattern": PATTERN, "State": "ENABLED" if enabled else "DISABLED"})

    def _turn_off(self) -> None:
        """The rule that hears, as made (whatever a test did to it) and disabled."""
        self._rule(self.region, enabled=False)
        _events_call(self.endpoint, self.region, "PutTargets",
                     {"Rule": NAME, "Targets": [{"Id": NAME, "Arn": self.arn}]})

    def _intact(self) -> bool:
        """Whether the rule that hears is as made, enabled, and sends to our queue only (a test may not have
        changed what hears its writes)."""
        return self._as_made(self.region, self.arn)

    def _drain(self) -> list[Record]:
        records = []
        while batch := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                                VisibilityTimeout=600).get("Messages", []):
            records += [Record(m["MessageId"], m["Body"]) for m in batch]
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        return records

    @contextlib.contextmanager
    def hearing(self, suffix: str) -> Iterator[Heard]:
        """Every write served in the block (after it), as the monitor of `suffix` reads its record."""
        assert not self.hearing_now, "the writes of two blocks at once cannot be told apart"
        heard = Heard()
        self._drain()
        start = self.log.stat().st_size
        self._rule(self.region, enabled=True)
        self.hearing_now = True
        try:
            yield heard
        finally:
            intact = self._intact()
            self._turn_off()
            self.hearing_now = False
            records = self._drain()
            with self.log.open("rb") as text:  # what the emulator logged since (a log cut short: nothing proven)
                text.seek(start)
                heard.lost = not intact or self.log.stat().st_size < start or LOST.encode() in text.read()
        for record in records:
            change = messages.read(record, suffix)
            if isinstance(change, Change):
                if not _ours(change, self.region):
                    heard.changes.append(change)
            else:
                heard.unreadable.append(getattr(change, "reason", type(change).__name__))


def _ours(change: Change, region: str) -> bool:
    """The rule's own enabling in the stack's region (the only write of ours a rule that hears can record)."""
    return change.source == "events.amazonaws.com" and change.name == "PutRule" and change.regions == {region} and \
        isinstance(change.request, dict) and change.request == {"name": NAME, "eventPattern": PATTERN,
                                                                 "state": "ENABLED"}


class Restore:
    """The restore check of one deployment, per test process: what a test's writes touched, read again (see the
    module); `whole_reasons` says why a check fell back to the whole read (empty when it did not)."""

    def __init__(self, deployment: Any) -> None:
        from tests.conftest import local_aws
        from tests.integration.changes import Monitor

        self.deployment = deployment
        self.monitor = Monitor(local_aws(deployment.endpoint), deployment.outputs_file)
        assert deployment.directory is not None, "the emulator's log says which writes it could not record"
        self.writes = Writes(deployment.endpoint, self.monitor.aws.region, self.monitor.account,
                             deployment.directory / "localenv.log")
        self.iam_resources = frozenset(lid for lid, source in self.monitor.idx.sources.items()
                                       if source == "aws.iam")

    def hearing(self) -> contextlib.AbstractContextManager[Heard]:
        return self.writes.hearing(self.monitor.target.suffix)

    def whole_reasons(self, heard: Heard) -> list[str]:
        """Why what the writes touched cannot vouch for the deployment: the whole of it must be read."""
        reasons = [f"a record the monitor could not read ({why})" for why in heard.unreadable]
        if heard.lost:
            reasons.append("a write may not have been heard (the emulator could not record one, or what hears them "
                           "changed)")
        usable = heard.usable
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
        usable = heard.usable
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
