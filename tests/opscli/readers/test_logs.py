"""opscli.readers.logs on answers stubbed with botocore's Stubber: a log group is found on any page of the groups
its name is a prefix of, and a circle of page tokens is ERROR."""

from __future__ import annotations

from botocore.stub import Stubber

from opscli import livestack
from tests.opscli.stubs import ACCOUNT, CMK, read


def _log_group(name: str) -> dict:
    return {"logGroupName": name, "retentionInDays": 30, "kmsKeyId": CMK,
            "arn": f"arn:aws:logs:ap-northeast-1:{ACCOUNT}:log-group:{name}:*"}


def test_a_log_group_is_found_on_any_page_and_a_circle_of_tokens_is_error(stubbed):
    """The groups a name is a prefix of are read to the last page (the name itself on page 2 was "not
    found"); reading to the end is also what sees a circle of tokens."""
    group = ("AWS::Logs::LogGroup", "/ecs/fault", {"LogGroupName": "/ecs/fault", "RetentionInDays": 30})
    with Stubber(stubbed.client("logs")) as stub:
        stub.add_response("describe_log_groups", {"logGroups": [_log_group("/ecs/fault-a")], "nextToken": "A"})
        stub.add_response("describe_log_groups", {"logGroups": [_log_group("/ecs/fault")]})
        stub.add_response("list_tags_for_resource", {"tags": {}})
        stub.add_response("describe_subscription_filters", {"subscriptionFilters": []})
        live = read(stubbed, Logs=group)
    assert live.resources["Logs"].state == livestack.ReadState.READ, live.resources["Logs"]
    with Stubber(stubbed.client("logs")) as stub:
        for token in ("A", "B", "A", None):
            stub.add_response("describe_log_groups", {"logGroups": [_log_group("/ecs/fault")] if token else [],
                                                      **({"nextToken": token} if token else {})})
        stub.add_response("list_tags_for_resource", {"tags": {}})
        live = read(stubbed, Logs=group)
    assert live.resources["Logs"].state == livestack.ReadState.ERROR
    assert "answered the page token" in live.resources["Logs"].detail
