"""The assembly cache: its key moves with every input of a synthesis and with nothing else; a miss
synthesizes once (also under concurrent callers), a hit does not, and a failed synthesis is never stored."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from cdk_app import assembly_cache as cache
from cdk_app.assembly_cache import SynthesisFailed
from tests.conftest import ROOT

CONTEXT = {"environmentSuffix": "keytest"}
VERSIONS = {"python": "3.11.7", "aws-cdk-lib": "2.275.0"}


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of what a synthesis reads: the packages, services and the CDK files (no venv, no tests)."""
    for name in ("cdk_app", "platform_spec", "policies", "services", "opscli"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("cdk.json", "package-lock.json", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def key(root: Path, context=CONTEXT, versions=VERSIONS) -> str:
    return cache.cache_key(context, root=root, versions=versions)


@pytest.mark.parametrize("changed", [
    "cdk_app/constructs/database.py",  # the app itself
    "cdk_app/nag_pack.py",  # imported by the app
    "platform_spec/rules/stk_rds.py",  # imported by what the app imports (and staged in the images)
    "services/metadata_api/Dockerfile",  # staged as an image asset
    ".dockerignore",  # decides what the image assets stage
    "cdk.json",
    "package-lock.json",  # the CDK CLI
])
def test_the_key_changes_when_an_input_changes(repo, changed):
    before = key(repo)
    path = repo / changed
    path.write_text(path.read_text() + "\n")
    assert key(repo) != before


def test_the_key_changes_with_the_context_the_versions_and_a_new_file(repo):
    before = key(repo)
    assert key(repo, {"environmentSuffix": "other"}) != before
    assert key(repo, versions={**VERSIONS, "aws-cdk-lib": "2.276.0"}) != before
    (repo / "cdk.context.json").write_text("{}")
    assert key(repo) != before


def test_code_synthesis_never_imports_keeps_the_key(repo):
    """The gate is not an input: editing it must not cost a synthesis."""
    before = key(repo)
    for name in ("policies/gate.py",):
        (repo / name).write_text((repo / name).read_text() + "\n# edited\n")
    (repo / "cdk_app" / "__pycache__").mkdir(exist_ok=True)
    (repo / "cdk_app" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert key(repo) == before


def test_the_monitors_code_and_lock_are_inputs(repo):
    """The posture monitor's function is opscli's code and its role holds opscli's reads; its layer is what the
    lock pins: editing either changes the assembly."""
    before = key(repo)
    (repo / "opscli" / "cli.py").write_text((repo / "opscli" / "cli.py").read_text() + "\n# edited\n")
    after_code = key(repo)
    assert after_code != before
    (repo / "requirements.lock").write_text("click==8.5.1\n")
    assert key(repo) != after_code


def test_the_closure_follows_relative_and_from_imports(repo):
    (repo / "policies" / "extra.py").write_text("VALUE = 1\n")
    before = key(repo)
    (repo / "cdk_app" / "uses_extra.py").write_text("from policies import extra\nfrom . import naming\n")
    with_import = key(repo)
    assert with_import != before
    (repo / "policies" / "extra.py").write_text("VALUE = 2\n")
    assert key(repo) != with_import


def test_the_app_imports_nothing_dynamically():
    """The key reads import statements; a dynamic import would hide an input from it. platform_spec is the one
    exception, and hides nothing: it is staged (every file of it is an input) and imports nothing of ours outside
    itself (tests/unit/test_layers.py), so the rule modules its registry finds for itself are inputs anyway."""
    assert "platform_spec" in cache.STAGED_DIRS
    for path in cache._import_closure(ROOT, cache.APP_PACKAGE):
        if path.is_relative_to(ROOT / "platform_spec"):
            continue
        text = path.read_text()
        assert "import_module" not in text and "__import__(" not in text, path


def _fake_synth(calls: list, delay: float = 0.0):
    def synth(context, outdir: Path) -> None:
        calls.append(dict(context))
        time.sleep(delay)
        (outdir / "manifest.json").write_text('{"artifacts": {}}')
        (outdir / "TapStackkeytest.template.json").write_text('{"Resources": {}}')
    return synth


def test_a_miss_synthesizes_and_stores_a_hit_does_not(repo, tmp_path):
    calls: list = []
    first = cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_fake_synth(calls))
    second = cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_fake_synth(calls))
    assert (first.hit, second.hit) == (False, True) and len(calls) == 1
    assert first.directory == second.directory and second.template("TapStackkeytest") == {"Resources": {}}
    exported = cache.export(second, tmp_path / "cdk.out")
    assert (exported / "manifest.json").exists()


def test_concurrent_callers_share_one_synthesis(repo, tmp_path):
    calls: list = []
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.synthesized(
        CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_fake_synth(calls, delay=0.3)))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and sorted(r.hit for r in results) == [False, True, True]


def test_a_failed_synthesis_is_raised_every_time_and_never_stored(repo, tmp_path):
    def failing(context, outdir):
        raise SynthesisFailed("cdk synth exited 1", exit_code=1, output="error: /TapStack/x: [STK-KMS-001] ...")

    for _ in range(2):
        with pytest.raises(SynthesisFailed) as raised:
            cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=failing)
        assert "STK-KMS-001" in raised.value.output
    assert [p for p in (tmp_path / "c").iterdir() if p.is_dir()] == []  # no entry, no work directory left
    with pytest.raises(SynthesisFailed, match="no manifest"):
        cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=lambda c, o: None)


def test_old_entries_are_pruned(repo, tmp_path):
    calls: list = []
    for index in range(4):
        cache.synthesized({"environmentSuffix": f"s{index}"}, root=repo, cache_dir=tmp_path / "c",
                          synth=_fake_synth(calls), keep=2)
        time.sleep(0.01)
    assert len([p for p in (tmp_path / "c").iterdir() if p.is_dir()]) == 2


def test_the_command_line(repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path / "c"))
    monkeypatch.setattr(cache, "cdk_synth", lambda context, outdir, root=cache.ROOT: _fake_synth([])(context, outdir))
    assert cache.main(["--suffix", "keytest", "--cdk-out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out")
    assert (tmp_path / "out" / "manifest.json").exists()

    def failing(context, outdir, root=cache.ROOT):
        raise SynthesisFailed("cdk synth exited 1", exit_code=1, output="error: /x: finding\n")
    monkeypatch.setattr(cache, "cdk_synth", failing)
    assert cache.main(["--suffix", "other"]) == 1
    assert "error: /x: finding" in capsys.readouterr().err


def test_a_missing_cdk_cli_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cache.shutil, "which", lambda name: None)
    with pytest.raises(SynthesisFailed, match="the CDK CLI was not found"):
        cache.cdk_synth(CONTEXT, tmp_path, root=tmp_path)
