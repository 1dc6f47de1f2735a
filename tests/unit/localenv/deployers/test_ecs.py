"""The ECS deployers' translation of CloudFormation's PascalCase properties into the ECS API's camelCase."""

from __future__ import annotations

from localenv.deployers import ecs


def test_keys_become_camel_case_recursively_and_a_map_of_options_is_kept_as_written():
    declared = [{"Name": "api", "LogConfiguration": {"LogDriver": "awslogs",
                                                     "Options": {"awslogs-group": "g", "Mode": "non-blocking"}},
                 "Secrets": [{"Name": "DB", "ValueFrom": "arn:secret"}]}]
    assert ecs._camel(declared) == [{"name": "api", "logConfiguration": {
        "logDriver": "awslogs", "options": {"awslogs-group": "g", "Mode": "non-blocking"}},
        "secrets": [{"name": "DB", "valueFrom": "arn:secret"}]}]


def test_the_api_spellings_that_are_not_a_lowered_first_letter():
    declared = {"EFSVolumeConfiguration": {"FilesystemId": "fs-1", "AuthorizationConfig": {"IAM": "ENABLED"}},
                "CpuArchitecture": "ARM64"}
    assert ecs._camel(declared) == {"efsVolumeConfiguration": {"fileSystemId": "fs-1",
                                                               "authorizationConfig": {"iam": "ENABLED"}},
                                    "cpuArchitecture": "ARM64"}
