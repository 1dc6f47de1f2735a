"""What a predicate may know beyond one resource's properties: the environment and the project CMK."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Context:
    # The environment suffix; None when the engine cannot know it (names are then checked for shape only).
    suffix: str | None = None
    # Logical ids of the project CMK; None when the engine sees one resource at a time (Checkov): a
    # reference to any key defined in the same template is then accepted, and the template engine
    # checks the exact identity.
    cmk_ids: frozenset[str] | None = None
    # Expected tag values (key -> value); keys alone are checked when empty.
    expected_tags: tuple[tuple[str, str], ...] = ()
    # The stack's account when the engine knows it (live: the caller's; synthesis: the configured one); None at
    # the template stage of an account-agnostic template, where the account is AWS::AccountId.
    account: str | None = None
    # Where the live read found the buckets a declared bucket copies to and the stack does not declare (a bucket's
    # name and ARN carry neither region nor account): (name, region) for one this account owns, (name, None) where
    # asking as its owner was refused. Empty at the template stage: only a declared bucket proves its place there.
    bucket_regions: tuple[tuple[str, str | None], ...] = ()


# The fact under which a live reader reports the buckets it located ({name: region or None}), for bucket_regions.
BUCKET_REGIONS = "BucketRegions"
