"""The posture monitor's code, layer and read policy (cdk_app.monitor_code): built offline, from the lock."""

from __future__ import annotations

import json
import zipfile
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cdk_app import monitor_code, source_tree
from platform_spec.rules import stk_sqs
from tests.conftest import CDK_AND_CHECKOV
from tests.imports import ours_imported


def test_the_layer_holds_every_runtime_dependency_of_what_it_holds():
    """RUNTIME_DISTRIBUTIONS is closed under the installed distributions' requirements, as Lambda's Python
    evaluates their markers (a dependency left out would be an ImportError in the function, not in a test)."""
    lambda_python = {**default_environment(), "python_version": "3.14", "python_full_version": "3.14.0",
                     "sys_platform": "linux", "platform_system": "Linux", "extra": ""}
    held = {canonicalize_name(d) for d in monitor_code.RUNTIME_DISTRIBUTIONS}
    missing = set()
    for name in held:
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(lambda_python):
                missing.add(canonicalize_name(requirement.name))
    assert missing <= held, sorted(missing - held)
    assert {"click", "rich", "boto3"} <= held  # pyproject's dependencies of opscli


def test_the_layer_is_the_locked_distributions_and_the_same_bytes_each_time(tmp_path):
    (tmp_path / "requirements.lock").write_text(f"six=={metadata.version('six')} \\\n    --hash=sha256:00\n")
    first = monitor_code.layer_zip(tmp_path, ["six"])
    names = zipfile.ZipFile(first).namelist()
    assert "python/six.py" in names and all(n.startswith("python/") and "__pycache__" not in n for n in names)
    data = first.read_bytes()
    first.unlink()
    assert monitor_code.layer_zip(tmp_path, ["six"]).read_bytes() == data


def test_a_layers_record_lists_its_files_and_nothing_of_the_environment_it_was_built_in(tmp_path):
    """jmespath installs a script (bin/jp.py), whose RECORD row hashes its first line: the environment's own
    interpreter, different in every checkout. The layer leaves the script out, and its RECORD too: the same lock
    makes the same layer (and the same asset hash) wherever it is built, and whichever tool installed it (what
    the installer wrote of itself, INSTALLER and the like, is left out)."""
    import csv
    import io

    (tmp_path / "requirements.lock").write_text(f"jmespath=={metadata.version('jmespath')} \\\n    --hash=sha256:00\n")
    archive = zipfile.ZipFile(monitor_code.layer_zip(tmp_path, ["jmespath"]))
    [record] = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
    rows = list(csv.reader(io.StringIO(archive.read(record).decode())))
    assert sorted(f"python/{row[0]}" for row in rows) == sorted(archive.namelist())
    assert not [n for n in archive.namelist() if n.rsplit("/", 1)[-1] in ("INSTALLER", "REQUESTED", "direct_url.json")]
    assert "INSTALLER" in {path.name for path in metadata.distribution("jmespath").files or ()}
    installed = metadata.distribution("jmespath").read_text("RECORD") or ""
    assert any(line.startswith("../") for line in installed.splitlines()), "jmespath installs no script any more"


def test_a_dependency_the_lock_pins_otherwise_stops_synthesis_with_what_to_run(tmp_path):
    (tmp_path / "requirements.lock").write_text("six==0.0.1\n")
    with pytest.raises(monitor_code.MonitorCodeError, match=r"six .* \(lock: 0\.0\.1\).*scripts/setup\.sh"):
        monitor_code.layer_zip(tmp_path, ["six"])
    with pytest.raises(monitor_code.MonitorCodeError, match="not pinned"):
        monitor_code.layer_zip(tmp_path, ["click"])
    (tmp_path / "requirements.lock").unlink()
    with pytest.raises(monitor_code.MonitorCodeError, match="is missing"):
        monitor_code.layer_zip(tmp_path, ["six"])


def test_the_staged_code_is_the_sources_alone_and_the_policy_needs_them(tmp_path):
    (tmp_path / "opscli").mkdir()
    (tmp_path / "opscli" / "__init__.py").write_text("")
    (tmp_path / "opscli" / "__pycache__").mkdir()
    (tmp_path / "opscli" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "platform_spec").mkdir()
    (tmp_path / "platform_spec" / "data.json").write_text("{}")
    code = monitor_code.staged_code(tmp_path)
    assert sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file()) == [
        "opscli/__init__.py", "platform_spec/data.json"]
    assert monitor_code.staged_code(tmp_path) == code  # once per content
    with pytest.raises(monitor_code.MonitorCodeError, match="without a policy"):
        monitor_code.read_policy(code, "test")  # this opscli has no iam-policy command
    assert not list(code.rglob("__pycache__"))  # the run compiled nothing into the function's asset
    with pytest.raises(monitor_code.MonitorCodeError, match="not an environment suffix"):
        monitor_code.read_policy(code, "../x")


def test_the_read_policy_is_the_same_whether_it_ran_or_was_kept(tmp_path):
    """TapMonitor's template holds the documents as read_policy returns them: the call that runs `opscli
    iam-policy` returns what the next call reads from where it kept them, in the same order, so a synthesis that
    ran the command (a `cdk synth` with nothing kept yet) writes the bytes of one that found them kept (the
    assembly cache's, whose key read them first)."""
    (tmp_path / "opscli").mkdir()
    (tmp_path / "opscli" / "__init__.py").write_text("")
    printed = [{"Version": "2012-10-17", "Statement": [{"Sid": "Reads", "Effect": "Allow", "Action": ["s3:GetObject"],
                                                         "Resource": "*"}]}]
    (tmp_path / "opscli" / "__main__.py").write_text(f"print({json.dumps(json.dumps(printed))})\n")
    code = monitor_code.staged_code(tmp_path)
    ran = monitor_code.read_policy(code, "test")
    kept = monitor_code.read_policy(code, "test")
    assert ran == kept == printed
    assert json.dumps(ran) == json.dumps(kept)  # the order of the keys too: the template keeps it


def test_the_staged_code_holds_every_package_of_ours_opscli_imports():
    """The function runs opscli from its asset alone: every package of ours that opscli imports (also inside
    functions, followed through the packages it names) is one of the staged sources, so the asset hash moves with
    each of them and none is missing on Lambda."""
    needed = {"opscli"} | ours_imported(sorted((monitor_code.ROOT / "opscli").rglob("*.py")), monitor_code.ROOT)
    assert {"platform_spec", "platform_utils"} <= needed  # the reader really followed the imports
    assert needed <= set(monitor_code.SOURCE_PACKAGES)


def test_staged_code_with_something_written_beside_it_is_staged_again(tmp_path):
    """Byte code an older stager (or a Python run from it) left in a staged directory is not the sources: the
    directory is staged again, so the function's asset and a restage of the assembly take the sources alone."""
    (tmp_path / "opscli").mkdir()
    (tmp_path / "opscli" / "__init__.py").write_text("")
    (tmp_path / "platform_spec").mkdir()
    (tmp_path / "platform_spec" / "__init__.py").write_text("")
    code = monitor_code.staged_code(tmp_path)
    (code / "opscli" / "__pycache__").mkdir()
    (code / "opscli" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    assert not monitor_code.holds_only_sources(code)
    again = monitor_code.staged_code(tmp_path)
    assert again == code and monitor_code.holds_only_sources(again)
    assert sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file()) == [
        "opscli/__init__.py", "platform_spec/__init__.py"]
    assert not [p for p in again.parent.iterdir() if p.name.startswith("tmp-")]  # the stale copy is gone

@CDK_AND_CHECKOV  # CDK's own copy runs in a jsii kernel: the one the group's worker has started anyway
def test_the_assets_exclude_globs_leave_out_exactly_what_the_digest_leaves_out(tmp_path):
    """CDK's own copy with the function asset's exclude globs keeps exactly the files the digest covers, for every
    name cdk_app/source_tree.py ignores, as a file and as a directory, plain and hidden, at the top and deeper: the
    asset holds no file its hash does not cover and lacks none it does, and a restage (which copies the staged
    files) writes the asset a synthesis writes."""
    import aws_cdk as cdk  # the real oracle: CDK's glob ignore strategy (minimatch), not a Python imitation

    names = [*source_tree.IGNORED_NAMES, *(f"{stem}{suffix}" for suffix in source_tree.IGNORED_SUFFIXES
                                           for stem in ("x", ".x", "")), "kept", ".kept", "kept.py"]
    source = tmp_path / "tree"
    for package in monitor_code.SOURCE_PACKAGES:
        for where in (source / package, source / package / "sub"):
            for name in names:
                (where / "dirs" / name).mkdir(parents=True)
                (where / "dirs" / name / "inside.py").write_text("")
                (where / "files").mkdir(exist_ok=True)
                (where / "files" / name).write_text("")
    every = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}
    digested = {p.relative_to(source).as_posix() for p in monitor_code.staged_files(source)}
    cdk.FileSystem.copy_directory(str(source), str(tmp_path / "asset"),
                                  cdk.CopyOptions(exclude=list(monitor_code.ASSET_EXCLUDE)))
    asset = {p.relative_to(tmp_path / "asset").as_posix() for p in (tmp_path / "asset").rglob("*") if p.is_file()}
    assert asset == digested
    assert "opscli/sub/files/.kept" in digested and "opscli/sub/dirs/x.pyc/inside.py" in every - digested


def _queue_template(consumed: bool) -> dict:
    resources = {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "monitor-dead-letter-x"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": "monitor-events-x",
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 3}}}}
    if consumed:
        resources["Mapping"] = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}, "FunctionName": {"Ref": "Fn"}}}
    return resources


def test_a_queue_a_lambda_function_consumes_is_scaled_by_lambda():
    def backlog(resources: dict) -> list:
        return [r for rule, lid, r in stk_sqs.queue_results(resources)
                if rule == stk_sqs.BACKLOG_SCALING_ID and lid == "Queue"]
    [passed] = backlog(_queue_template(consumed=True))
    assert not passed.failed and "Lambda" in passed.reason
    [failed] = backlog(_queue_template(consumed=False))
    assert failed.failed
