"""opscli.stack: the declared resources, and what a reader may be handed."""

from __future__ import annotations

import pytest

from opscli.stack import Declared, ScopeError


def test_a_reader_is_handed_only_a_resource_cloudformation_has_a_physical_resource_for():
    """Declared.as_present is how livestack hands a resource to its reader (typed Present: a string physical
    id); a resource with no physical id, or in a state that is not deployed, is refused rather than misread."""
    queue = Declared("Queue", "AWS::SQS::Queue", "https://sqs.ap-northeast-1.amazonaws.com/1/q", "CREATE_COMPLETE")
    assert queue.as_present() is queue
    for gone in (Declared("Queue", "AWS::SQS::Queue", None, "CREATE_COMPLETE"),
                 Declared("Queue", "AWS::SQS::Queue", "https://sqs/q", "DELETE_COMPLETE")):
        with pytest.raises(ScopeError, match="AWS::SQS::Queue Queue is not deployed"):
            gone.as_present()
