"""What a report says about where it came from: the caller sts:GetCallerIdentity names, the SHA-256 of the template
exactly as GetTemplate sent it, and the commit of the checkout opscli runs from, read from .git without git (and
nothing, never an error, where there is no checkout or its files are not what git writes)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber

from opscli import core, stack
from opscli.provenance import checkout_commit
from opscli.targets import REQUIRED_OUTPUTS

SHA = "0123456789abcdef0123456789abcdef01234567"


def checkout(root: Path, head: str = "ref: refs/heads/main\n") -> Path:
    (root / "cdk.json").write_text("{}")
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(head)
    return git


def test_the_commit_of_a_branch_a_detached_head_and_a_packed_ref(tmp_path):
    git = checkout(tmp_path)
    (git / "refs" / "heads" / "main").write_text(SHA + "\n")
    assert checkout_commit(tmp_path) == SHA
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs with: peeled fully-peeled sorted\n{SHA} refs/heads/main\n")
    assert checkout_commit(tmp_path) == SHA
    (git / "HEAD").write_text("f" * 40 + "\n")
    assert checkout_commit(tmp_path) == "f" * 40


def test_the_commit_of_a_worktree_whose_branch_is_in_the_common_directory(tmp_path):
    main = tmp_path / "main"
    main.mkdir()
    common = checkout(main)
    (common / "refs" / "heads" / "topic").write_text(SHA + "\n")
    private = common / "worktrees" / "topic"
    private.mkdir(parents=True)
    (private / "HEAD").write_text("ref: refs/heads/topic\n")
    (private / "commondir").write_text("../..\n")
    tree = tmp_path / "topic"
    tree.mkdir()
    (tree / "cdk.json").write_text("{}")
    (tree / ".git").write_text(f"gitdir: {private}\n")
    assert checkout_commit(tree) == SHA


def test_this_repositorys_commit_is_what_git_says(monkeypatch):
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not run from a git checkout")
    said = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    if said.returncode != 0:
        pytest.skip("git cannot read this checkout")
    monkeypatch.chdir(root)
    assert checkout_commit() == said.stdout.strip()


@pytest.mark.parametrize("case", ["no .git", "no cdk.json", "garbage HEAD", "missing ref", "bad ref", "escaping ref",
                                  "HEAD a fifo", "HEAD a directory", "huge HEAD", "gitdir nowhere", "binary HEAD"])
def test_no_checkout_or_one_git_did_not_write_gives_no_commit_and_no_error(tmp_path, case):
    git = checkout(tmp_path)
    (git / "refs" / "heads" / "main").write_text(SHA)
    head = git / "HEAD"
    if case == "no .git":
        os.rename(git, tmp_path / "elsewhere")
    elif case == "no cdk.json":
        (tmp_path / "cdk.json").unlink()
    elif case == "garbage HEAD":
        head.write_text("ref: \x1b[31mrefs/heads/main")
    elif case == "missing ref":
        head.write_text("ref: refs/heads/other\n")
    elif case == "bad ref":
        (git / "refs" / "heads" / "main").write_text("not a commit")
    elif case == "escaping ref":
        head.write_text("ref: refs/../../../etc/hostname\n")
    elif case == "HEAD a fifo":
        head.unlink()
        os.mkfifo(head)  # never waited on: read non-blocking, refused as not a regular file
    elif case == "HEAD a directory":
        head.unlink()
        head.mkdir()
    elif case == "huge HEAD":
        head.write_text("ref: refs/heads/main" + " " * 10_000)
    elif case == "gitdir nowhere":
        os.rename(git, tmp_path / "elsewhere")
        (tmp_path / ".git").write_text("gitdir: /nonexistent/x\n")
    else:
        head.write_bytes(b"\xff\xfe" * 10)
    assert checkout_commit(tmp_path) is None


def stubbed_aws(body, account="123456789012"):
    """A fake opscli.aws.Aws whose CloudFormation and STS clients answer from botocore's Stubber (the after-call
    handlers of the real clients still run)."""
    session = botocore.session.get_session()
    clients = {name: session.create_client(name, region_name="ap-northeast-1", aws_access_key_id="x",
                                           aws_secret_access_key="x") for name in ("cloudformation", "sts")}
    cfn = Stubber(clients["cloudformation"])
    cfn.add_response("get_template", {"TemplateBody": body})
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": [{
        "LogicalResourceId": "Key", "ResourceType": "AWS::KMS::Key", "PhysicalResourceId": "k-1",
        "ResourceStatus": "CREATE_COMPLETE", "LastUpdatedTimestamp": "2026-12-01T00:00:00Z"}]})
    sts = Stubber(clients["sts"])
    sts.add_response("get_caller_identity", {"Account": account, "Arn": f"arn:aws:iam::{account}:user/auditor",
                                             "UserId": "AIDEXAMPLE"})
    cfn.activate()
    sts.activate()

    class Fake:
        region = "ap-northeast-1"
        known_account = known_caller = None

        def client(self, name):
            return clients[name]

    return Fake()


def test_the_template_hash_is_of_the_body_exactly_as_sent_and_the_caller_is_named():
    body = '{"Resources": {"Key": {"Type": "AWS::KMS::Key"}},\n  "Description": "spaced  as sent"}'
    aws = stubbed_aws(body)
    scope = stack.from_cloudformation(aws, "TapStackx")
    assert scope.digest == stack.Digest(hashlib.sha256(body.encode()).hexdigest(), "GetTemplate's TemplateBody")
    assert scope.template["Resources"] == {"Key": {"Type": "AWS::KMS::Key"}}
    assert core.account_id(aws) == "123456789012" and aws.known_caller == "arn:aws:iam::123456789012:user/auditor"
    made = core._provenance(aws, scope)
    assert (made.caller, made.template_sha256) == (aws.known_caller, scope.digest.sha256)


def test_a_record_is_hashed_as_canonical_json_and_says_so(tmp_path):
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key"}},
                "Outputs": {key: {"Value": "x"} for key in REQUIRED_OUTPUTS}}
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"StackName": "TapStackx", "TemplateBody": template, "StackResourceSummaries": [{
        "LogicalResourceId": "Key", "ResourceType": "AWS::KMS::Key", "PhysicalResourceId": "k-1",
        "ResourceStatus": "CREATE_COMPLETE"}]}, indent=4))
    digest = stack.from_record(path).digest
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert digest == stack.Digest(hashlib.sha256(canonical.encode()).hexdigest(),
                                  "the stack record's TemplateBody (canonical JSON)")
