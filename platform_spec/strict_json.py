"""JSON read strictly: a text in which an object names one key twice is refused. Python's json keeps the last of
two ("Effect": "Allow" ... "Effect": "Deny" reads as a Deny), another reader may keep the first, so such a text has
no one meaning. Every reader of ours of text another party wrote reads it here: AWS's answers and the policy
documents in them (opscli), and a queue's message bodies (the video worker)."""

from __future__ import annotations

import json
from typing import Any


class KeyTwice(ValueError):
    """A JSON object names one key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        key = next(key for n, (key, _) in enumerate(pairs) if key in dict(pairs[:n]))
        raise KeyTwice(f"the key {key[:40]!r} twice in one object")
    return document


def parse(text: str | bytes) -> Any:
    """`text` as json.loads reads it, refused (KeyTwice, a ValueError) when an object in it names a key twice.
    Other errors as json.loads raises them."""
    return json.loads(text, object_pairs_hook=_unique_keys)
