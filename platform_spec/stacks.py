"""Where the platform runs and what its stack is called: the one region every stack, read and copy of the data is
in, and the CloudFormation name of an environment's platform stack. Written here and nowhere else (an
architecture test fails on either word anywhere else); the posture monitor's stack name is its contract's
(`platform_spec.monitor`)."""

from __future__ import annotations

# StreamTech's videos and metadata stay in Japan: the stacks deploy here, the audits accept no other region, and a
# copy of the data anywhere else fails STK-RES-*.
ALLOWED_REGION = "ap-northeast-1"

# The platform stack of environment <suffix> is TapStack<suffix> (cdk_app's AppConfig.stack_name).
STACK_PREFIX = "TapStack"


def stack_name(suffix: str) -> str:
    """The platform stack's CloudFormation name in environment `suffix`."""
    return f"{STACK_PREFIX}{suffix}"
