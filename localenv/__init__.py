"""The local stand-in for AWS: a moto server on 127.0.0.1 and a deployer that creates TapStack's resources
through the service APIs, derived from the synthesized template (never hand-written twice)."""
