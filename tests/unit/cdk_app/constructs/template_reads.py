"""What several constructs' tests read from the session's synthesized TapStack."""

from __future__ import annotations


def key_id(synth) -> str:
    return synth.one("AWS::KMS::Key")[0]


def private_subnet_ids(synth) -> set[str]:
    return {k for k, v in synth.resources("AWS::EC2::Subnet").items()
            if not v["Properties"].get("MapPublicIpOnLaunch") and "private" in k.lower()}
