"""StreamTech Japan video platform: the CDK app (TapStack), its configuration and guardrails."""
