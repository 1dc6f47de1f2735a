"""opscli.readers.efs on answers stubbed with botocore's Stubber: mount targets are read in one call per file
system, one left out (or whose file system is gone) is missing; a file system policy that cannot be read is ERROR;
a replication to another region or account is read for the rule that judges it (the answers follow AWS's
documented shapes, the AWS CLI reference's examples: no public recording of DescribeReplicationConfigurations
exists to replay)."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from opscli import livestack
from platform_spec.result import Status
from platform_spec.rules import stk_res_stores as residency
from tests.opscli.stubs import ACCOUNT, CMK, NOW, TAGS, judged, read, read_one, reader_context, scope


def test_mount_targets_are_read_in_one_call_per_file_system_and_one_left_out_is_missing(stubbed):
    """One DescribeMountTargets by file system (every page) for all its mount targets; a target the answer
    leaves out is not found, and a file system that is gone makes its targets not found too."""
    from opscli.readers import NotFound
    from opscli.readers.efs import mount_target

    on_fs = {"FileSystemId": {"Ref": "Fs"}}
    declared = scope(A=("AWS::EFS::MountTarget", "fsmt-0000000a", on_fs),
                     B=("AWS::EFS::MountTarget", "fsmt-0000000b", on_fs))
    context = reader_context(stubbed, declared, {"Fs": "fs-00000001"})
    target = {"MountTargetId": "fsmt-0000000a", "FileSystemId": "fs-00000001", "SubnetId": "subnet-00000001",
              "LifeCycleState": "available", "AvailabilityZoneName": "ap-northeast-1a", "OwnerId": ACCOUNT}
    with Stubber(stubbed.client("efs")) as stub:
        stub.add_response("describe_mount_targets", {"MountTargets": [], "NextMarker": "p2"},
                          {"FileSystemId": "fs-00000001"})
        stub.add_response("describe_mount_targets", {"MountTargets": [target]}, {"FileSystemId": "fs-00000001",
                                                                                 "Marker": "p2"})
        stub.add_response("describe_mount_target_security_groups", {"SecurityGroups": ["sg-00000002", "sg-00000001"]},
                          {"MountTargetId": "fsmt-0000000a"})
        a, b = declared.of_type("AWS::EFS::MountTarget")
        assert mount_target(context, a)["SecurityGroups"] == ["sg-00000001", "sg-00000002"]
        with pytest.raises(NotFound, match="mount target fsmt-0000000b not found"):
            mount_target(context, b)
        stub.assert_no_pending_responses()
    assert stubbed.log.calls.count("efs:DescribeMountTargets") == 2  # two pages, asked once for both targets
    gone = reader_context(stubbed, declared, {"Fs": "fs-00000001"})
    with Stubber(stubbed.client("efs")) as stub:
        stub.add_client_error("describe_mount_targets", "FileSystemNotFound", http_status_code=404)
        with pytest.raises(NotFound, match="file system fs-00000001 not found"):
            mount_target(gone, a)


def test_efs_policy_lookup_denied_is_error_for_the_file_system(stubbed):
    fs = {"FileSystemId": "fs-1",
          "FileSystemArn": f"arn:aws:elasticfilesystem:ap-northeast-1:{ACCOUNT}:file-system/fs-1",
          "Encrypted": True, "KmsKeyId": CMK, "Tags": TAGS, "OwnerId": "1", "CreationToken": "t",
          "CreationTime": NOW, "LifeCycleState": "available", "NumberOfMountTargets": 0,
          "SizeInBytes": {"Value": 0}, "PerformanceMode": "generalPurpose"}
    with Stubber(stubbed.client("efs")) as stub:
        stub.add_response("describe_file_systems", {"FileSystems": [fs]})
        stub.add_client_error("describe_file_system_policy", "AccessDeniedException", "no", 403)
        live = read(stubbed, Fs=("AWS::EFS::FileSystem", "fs-1", {}))
    assert live.resources["Fs"].state == livestack.ReadState.ERROR
    assert "access denied to DescribeFileSystemPolicy" in live.resources["Fs"].detail


FS = "fs-0123456789abcdef1"


def _file_system_answers(stub: Stubber, replications: dict | None) -> None:
    stub.add_response("describe_file_systems", {"FileSystems": [{
        "FileSystemId": FS, "FileSystemArn": f"arn:aws:elasticfilesystem:ap-northeast-1:{ACCOUNT}:file-system/{FS}",
        "OwnerId": ACCOUNT, "CreationToken": "t", "CreationTime": NOW, "LifeCycleState": "available",
        "NumberOfMountTargets": 0, "SizeInBytes": {"Value": 0}, "PerformanceMode": "generalPurpose",
        "Encrypted": True, "Tags": []}]})
    stub.add_client_error("describe_file_system_policy", "PolicyNotFound", "none", 404)
    stub.add_response("describe_lifecycle_configuration", {"LifecyclePolicies": []})
    if replications is None:
        stub.add_client_error("describe_replication_configurations", "ReplicationNotFound", "none", 404)
    else:
        stub.add_response("describe_replication_configurations", replications)
    stub.add_response("describe_access_points", {"AccessPoints": []})  # what else the reader may ask, last


def _replication(destination: dict) -> dict:
    """As `aws efs describe-replication-configurations` answers (the AWS CLI reference's example)."""
    arn = f"arn:aws:elasticfilesystem:ap-northeast-1:{ACCOUNT}:file-system/{FS}"
    return {"Replications": [{"SourceFileSystemId": FS, "SourceFileSystemRegion": "ap-northeast-1",
                              "SourceFileSystemArn": arn, "OriginalSourceFileSystemArn": arn,
                              "CreationTime": NOW, "Destinations": [destination]}]}


@pytest.mark.parametrize("destination, named", [
    ({"Status": "ENABLED", "FileSystemId": "fs-0123456789abcde22", "Region": "eu-west-2"},
     "replicated to fs-0123456789abcde22 in eu-west-2"),
    ({"Status": "ENABLED", "FileSystemId": "fs-0123456789abcde22", "Region": "ap-northeast-1",
      "OwnerId": "999999999999", "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/replicator"},
     "replicated to arn:aws:elasticfilesystem:ap-northeast-1:999999999999:file-system/fs-0123456789abcde22 "
     "in account 999999999999"),
])
def test_a_file_system_replicated_outside_fails_named(stubbed, destination, named):
    with Stubber(stubbed.client("efs")) as stub:
        _file_system_answers(stub, _replication(destination))
        live = read_one(stubbed, "Fs", "AWS::EFS::FileSystem", FS)
    [finding] = judged(live, residency.EFS_REPLICATION_ID)
    assert finding.status is Status.FAIL and named in finding.reason, finding.reason


def test_a_file_system_without_replication_passes(stubbed):
    with Stubber(stubbed.client("efs")) as stub:
        _file_system_answers(stub, None)
        live = read_one(stubbed, "Fs", "AWS::EFS::FileSystem", FS)
    assert live.resources["Fs"].properties["ReplicationConfiguration"] is None
    assert [(f.status, f.reason) for f in judged(live, residency.EFS_REPLICATION_ID)] == [(Status.PASS,
                                                                                         "not replicated")]
