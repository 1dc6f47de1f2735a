"""The assembly cache: its key moves with every input of a synthesis and with nothing else; a miss
synthesizes once (also under concurrent callers), a hit does not, and a failed synthesis is never stored. A change
of the monitor's code alone (not of what it declares) is restaged, and a restage equals a synthesis byte for byte,
or it is not used."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cdk_app import assembly_cache as cache
from cdk_app import monitor_code
from cdk_app.assembly_cache import SynthesisFailed
from tests.conftest import COLD_SYNTHESIS, ROOT, change_monitor_code, sources_copy
from tests.conftest import CONTEXT as SESSION

CONTEXT = {"environmentSuffix": "keytest"}
VERSIONS = {"python": "3.11.7", "aws-cdk-lib": "2.275.0"}


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of what a synthesis reads: the packages, services and the CDK files (no venv, no tests)."""
    for name in ("cdk_app", "platform_spec", "platform_utils", "policies", "services", "opscli"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("cdk.json", "package-lock.json", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def declares(text: bytes = b"reads"):
    """A stand-in for what the monitor's code declares (the real one runs its `opscli iam-policy`)."""
    return lambda context, root: text


def key(root: Path, context=CONTEXT, versions=VERSIONS, declarations=None) -> str:
    return cache.cache_key(context, root=root, versions=versions, declarations=declarations or declares())


@pytest.mark.parametrize("changed", [
    "cdk_app/constructs/database.py",  # the app itself
    "cdk_app/nag_pack.py",  # imported by the app
    "platform_spec/rules/stk_rds.py",  # imported by what the app imports (and staged in the images)
    "platform_utils/source_map.py",  # imported by the app (cdk_app/source_map.py), and staged in the images
    "platform_utils/signals.py",  # staged in the images (the workloads' signal handling), never imported by the app
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
    for path in sorted((repo / "policies" / "gate").rglob("*.py")):
        path.write_text(path.read_text() + "\n# edited\n")
    (repo / "cdk_app" / "__pycache__").mkdir(exist_ok=True)
    (repo / "cdk_app" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert key(repo) == before


def test_what_the_monitors_code_declares_and_the_lock_are_inputs_its_text_is_not(repo):
    """The posture monitor's role holds the reads opscli declares and its layer is what the lock pins: a change
    of either changes the key. opscli's text is the entry's digest, not part of the key: an edit that declares
    nothing new keeps the key (the entry is restaged)."""
    before = key(repo)
    (repo / "opscli" / "cli.py").write_text((repo / "opscli" / "cli.py").read_text() + "\n# edited\n")
    assert key(repo) == before
    assert key(repo, declarations=declares(b"other reads")) != before
    (repo / "requirements.lock").write_text("click==8.5.1\n")
    assert key(repo) != before


def test_what_the_code_declares_is_its_read_policy_or_else_its_text(repo):
    """`declared` is the read policy the staged code's own `opscli iam-policy` prints for the suffix; a comment
    keeps it. Without a suffix, or with code that cannot print it, it is the code's digest, so every change of the
    code synthesizes (and the synthesis says what is wrong)."""
    first = cache.declared(CONTEXT, repo)
    assert first.startswith(b"policy\0") and b'"Statement"' in first
    render = repo / "opscli" / "render.py"
    render.write_text(render.read_text() + "\n# edited\n")
    assert cache.declared(CONTEXT, repo) == first
    assert cache.declared({}, repo) == b"code\0" + monitor_code.sources_hash(repo).encode()
    (repo / "opscli" / "__main__.py").write_text("raise SystemExit(3)\n")
    assert cache.declared(CONTEXT, repo) == b"code\0" + monitor_code.sources_hash(repo).encode()



def test_a_fifo_among_the_sources_is_no_input_and_does_not_hang_the_key(repo):
    """Only regular files are read for the key: a FIFO left in a staged tree would block the read forever."""
    before = key(repo)
    os.mkfifo(repo / "platform_spec" / "left-behind")
    os.mkfifo(repo / "services" / "left-behind")
    assert key(repo) == before

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
    itself (the layers of tests/unit/test_architecture.py), so the rule modules its registry finds for itself are
    inputs anyway."""
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
    first = cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_fake_synth(calls),
                            declarations=declares())
    second = cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_fake_synth(calls),
                            declarations=declares())
    assert (first.hit, second.hit) == (False, True) and len(calls) == 1
    assert first.directory == second.directory and second.template("TapStackkeytest") == {"Resources": {}}
    exported = cache.export(second, tmp_path / "cdk.out")
    assert (exported / "manifest.json").exists()


def test_concurrent_callers_share_one_synthesis(repo, tmp_path):
    calls: list = []
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.synthesized(
        CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_fake_synth(calls, delay=0.3),
        declarations=declares()))) for _ in range(3)]
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
            cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=failing, declarations=declares())
        assert "STK-KMS-001" in raised.value.output
    assert [p for p in (tmp_path / "c").iterdir() if p.is_dir()] == []  # no entry, no work directory left
    with pytest.raises(SynthesisFailed, match="no manifest"):
        cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=lambda c, o: None,
                          declarations=declares())


def test_old_entries_are_pruned(repo, tmp_path):
    calls: list = []
    for index in range(4):
        cache.synthesized({"environmentSuffix": f"s{index}"}, root=repo, cache_dir=tmp_path / "c",
                          synth=_fake_synth(calls), keep=2, declarations=declares(), in_use=0)
        time.sleep(0.01)
    assert len([p for p in (tmp_path / "c").iterdir() if p.is_dir()]) == 2


def test_a_prune_killed_midway_leaves_no_half_entry(repo, tmp_path, monkeypatch):
    """A prune that dies while deleting an entry (kill -9, Ctrl-C) leaves no entry with its manifest and without
    some of its files: such an entry would be served as a hit, or restaged into a new entry missing them."""
    stored = cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_fake_synth([]),
                               declarations=declares())

    def dying(path, ignore_errors=False):
        next(p for p in Path(path).rglob("*") if p.is_file() and p.name != "manifest.json").unlink()
        raise KeyboardInterrupt
    monkeypatch.setattr(cache.shutil, "rmtree", dying)
    with pytest.raises(KeyboardInterrupt):
        cache._prune(tmp_path / "c", keep=0, in_use=0)
    assert cache._siblings(tmp_path / "c", stored.key.rpartition("-")[0]) == []
    assert not (stored.directory / "manifest.json").exists()


def test_the_command_line(repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path / "c"))
    monkeypatch.setattr(cache, "declared", declares())
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


# --- restaging the monitor's code ----------------------------------------------------------------------------


def _fake_cdk(root: Path):
    """A synthesis of the shape CDK gives the monitor's code: its staged sources as asset.<hash> (the custom
    hash of their digest), named by the template, its asset manifest (with the template's own hash and
    destinations keyed by their content) and tree.json, beside a file that never names it."""
    def synth(context, outdir: Path) -> None:
        digest = monitor_code.sources_hash(root)
        asset = hashlib.sha256(digest.encode()).hexdigest()
        monitor_code.copy_sources(root, outdir / f"asset.{asset}")
        template = json.dumps({"Resources": {"Fn": {"Properties": {"Code": {"S3Key": f"{asset}.zip"}},
                                                    "Metadata": {"aws:asset:path": f"asset.{asset}"}}}}, indent=1)
        (outdir / "Mon.template.json").write_text(template)
        template_hash = hashlib.sha256(template.encode()).hexdigest()

        def destination(key: str) -> dict:
            dest = {"bucketName": "assets", "objectKey": key}
            text = json.dumps(dest, separators=(",", ":")).encode()
            return {f"current_account-r-{hashlib.sha256(text).hexdigest()[:8]}": dest}
        (outdir / "Mon.assets.json").write_text(json.dumps({"files": {
            asset: {"source": {"path": f"asset.{asset}", "packaging": "zip"},
                    "destinations": destination(f"{asset}.zip")},
            template_hash: {"source": {"path": "Mon.template.json", "packaging": "file"},
                            "destinations": destination(f"{template_hash}.json")}}, "dockerImages": {}}, indent=2))
        (outdir / "manifest.json").write_text(json.dumps({"artifacts": {"Mon": {
            "type": "aws:cloudformation:stack", "properties": {
                "templateFile": "Mon.template.json", "stackTemplateAssetObjectUrl": f"s3://assets/{template_hash}.json"}}}}))
        (outdir / "tree.json").write_text(json.dumps({"Fn": {"s3Key": f"{asset}.zip"}}))
        (outdir / "Mon-NagReport.csv").write_text("Rule ID,Resource ID\n")
    return synth


def _files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _forbidden(context, outdir):
    raise AssertionError("synthesized although the restage was provable")


def test_a_change_of_the_code_alone_is_restaged_as_a_synthesis_makes_it(repo, tmp_path):
    """The entry of other code under the same key is restaged, not synthesized: the new code is the asset, every
    name of the old asset and of the template that named it is the new one, and the result is what a synthesis
    of the changed sources writes, byte for byte. The old entry stays as it was."""
    first = cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_fake_cdk(repo),
                              declarations=declares())
    before = _files(first.directory)
    change_monitor_code(repo)
    second = cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_forbidden,
                               declarations=declares())
    assert (second.hit, second.restaged) == (True, True) and second.directory != first.directory
    _fake_cdk(repo)(CONTEXT, tmp_path / "cold")
    assert _files(second.directory) == _files(tmp_path / "cold")
    assert _files(first.directory) == before
    again = cache.synthesized(CONTEXT, root=repo, cache_dir=tmp_path / "c", synth=_forbidden,
                              declarations=declares())
    assert (again.hit, again.restaged, again.directory) == (True, False, second.directory)


@pytest.mark.parametrize("spoil", ["asset-file-added", "asset-file-changed", "hash-in-a-report",
                                   "destination-misnamed", "template-not-named", "manifest-unreadable"])
def test_a_restage_that_cannot_be_proved_synthesizes(small, tmp_path, spoil):
    """Each check of a restage holds its ground: a cached assembly it cannot prove is synthesized instead (in
    the least repository a restage needs: the checks judge the entry, whatever code it holds)."""
    first = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_fake_cdk(small),
                              declarations=declares())
    directory = first.directory
    asset = next(directory.glob("asset.*"))
    if spoil == "asset-file-added":
        (asset / "opscli" / "extra.py").write_text("")
    elif spoil == "asset-file-changed":
        (asset / "opscli" / "render.py").write_text("changed")
    elif spoil == "hash-in-a-report":
        (directory / "Mon-NagReport.csv").write_text(f"{asset.name}\n")
    elif spoil == "destination-misnamed":
        text = (directory / "Mon.assets.json").read_text()
        (directory / "Mon.assets.json").write_text(text.replace("current_account-r-", "current_account-r-0", 1))
    elif spoil == "template-not-named":
        (directory / "manifest.json").write_text('{"artifacts": {}}')
    else:
        (directory / "manifest.json").write_text("{")
    cache._seal(directory, directory)  # as if stored so: the restage's own check must refuse it
    change_monitor_code(small)
    calls: list = []

    def synth(context, outdir):
        calls.append(context)
        _fake_cdk(small)(context, outdir)
    second = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=synth, declarations=declares())
    assert (second.hit, second.restaged, len(calls)) == (False, False, 1)
    _fake_cdk(small)(CONTEXT, tmp_path / "cold")
    assert _files(second.directory) == _files(tmp_path / "cold")


# Two syntheses of the same sources differ in one place: CDK's creation stacks in <stack>.metadata.json name the
# jsii kernel's temporary directory, a new one per synthesis.
_KERNEL = re.compile(rb"jsii-kernel-[A-Za-z0-9]+")


def _as_synthesized(directory: Path) -> dict[str, bytes]:
    return {name: _KERNEL.sub(b"jsii-kernel-*", data) if name.endswith(".metadata.json") else data
            for name, data in _files(directory).items()}


@COLD_SYNTHESIS
def test_a_restage_equals_a_cold_synthesis_byte_for_byte(synth, cold_synthesis, tmp_path):
    """The proof, with the real CDK: the session's assembly, restaged for a change of opscli/render.py, equals a
    cold `cdk synth` of the changed sources in every file (the jsii kernel's directory aside); and the cold
    assembly, restaged back to the unchanged code, equals the session's. The restages run in a copy of the
    repository of this test's own, with cache directories of its own; the cold synthesis is the session's one
    (tests/conftest.py cold_synthesis), of a copy with the same change: the same key and the same code."""
    root = sources_copy(tmp_path)
    unchanged = f"{cache.cache_key(SESSION, root=root)}-{monitor_code.sources_hash(root)}"
    assert synth.outdir.name == unchanged, "the copy is not the session's sources"
    shutil.copytree(synth.outdir, tmp_path / "c" / unchanged, copy_function=cache._link_or_copy)
    cache._seal(tmp_path / "c" / unchanged, tmp_path / "c" / unchanged)  # stored there, as the cache stores one

    change_monitor_code(root)
    restaged = cache.synthesized(SESSION, root=root, cache_dir=tmp_path / "c", synth=_forbidden)
    assert restaged.restaged and restaged.directory.name.startswith(unchanged.split("-")[0])
    assert restaged.directory.name == \
        f"{cache.cache_key(SESSION, root=cold_synthesis.root)}-{monitor_code.sources_hash(cold_synthesis.root)}", \
        "the cold synthesis is not of the changed sources"
    cold = tmp_path / "cold" / restaged.directory.name
    shutil.copytree(cold_synthesis.directory, cold, copy_function=cache._link_or_copy)
    cache._seal(cold, cold)
    assert _as_synthesized(restaged.directory) == _as_synthesized(cold)

    (root / "opscli" / "render.py").write_bytes((ROOT / "opscli" / "render.py").read_bytes())
    back = cache.synthesized(SESSION, root=root, cache_dir=tmp_path / "cold", synth=_forbidden)
    assert back.restaged and back.directory.name == unchanged
    assert _as_synthesized(back.directory) == _as_synthesized(synth.outdir)


# --- links, and entries the cache did not write whole -------------------------------------------------------------


@pytest.fixture
def small(tmp_path) -> Path:
    """The least a key, the monitor's code and a restage need (the hostile tests judge entries, not the key)."""
    root = tmp_path / "small"
    for name in ("cdk_app/__init__.py", "opscli/__init__.py", "platform_spec/__init__.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    (root / "opscli" / "render.py").write_text("def render() -> None:\n    pass\n")
    return root


def _outside(tmp_path: Path) -> dict[str, bytes]:
    return _files(tmp_path / "outside") if (tmp_path / "outside").is_dir() else {}


def _restage_inputs(root: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """A stored entry, and the staged code (with its digest) of an edit of opscli that restages it."""
    stored = cache.synthesized(CONTEXT, root=root, cache_dir=tmp_path / "c", synth=_fake_cdk(root),
                               declarations=declares())
    change_monitor_code(root)
    return stored.directory, monitor_code.staged_code(root), monitor_code.sources_hash(root)


def test_a_restage_writes_no_file_through_a_hard_link_of_its_source(small, tmp_path):
    """A restage hard-links the unchanged files of its source and writes the files it changes anew: a template of
    the source that is a hard link to a file outside the cache stays as it was, and so does an outside file linked
    where the restage puts the new code (a directory no synthesis writes into the old entry)."""
    source, code, digest = _restage_inputs(small, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    template = source / "Mon.template.json"
    os.link(template, outside / "template.json")
    new_asset = source / f"asset.{monitor_code.asset_hash(digest)}" / "opscli"
    new_asset.mkdir(parents=True)
    (outside / "render.py").write_text("# not the cache's\n")
    os.link(outside / "render.py", new_asset / "render.py")
    before = _outside(tmp_path)
    with pytest.raises(cache.NotRestageable, match="a directory of the new code"):
        cache.restage(source, tmp_path / "work", code=code, digest=digest)
    assert _outside(tmp_path) == before
    shutil.rmtree(new_asset.parent)
    cache.restage(source, tmp_path / "work2", code=code, digest=digest)
    assert _outside(tmp_path) == before and (outside / "template.json").stat().st_nlink == 2
    assert not (tmp_path / "work2" / "Mon.template.json").samefile(outside / "template.json")


@pytest.mark.parametrize("link", ["template", "asset-file", "asset-directory"])
def test_a_restage_refuses_a_source_with_a_symbolic_link(small, tmp_path, link):
    """A symbolic link in the source entry (a file, a file of the code's asset, a directory) is never followed: the
    restage is refused and the link's target is neither read into the new entry nor written."""
    source, code, digest = _restage_inputs(small, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target").write_text("outside\n")
    asset = next(source.glob("asset.*"))
    path = {"template": source / "Mon.template.json", "asset-file": asset / "opscli" / "render.py",
            "asset-directory": asset / "platform_spec"}[link]
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.symlink_to(outside if link == "asset-directory" else outside / "target")
    before = _outside(tmp_path)
    with pytest.raises(cache.NotRestageable):
        cache.restage(source, tmp_path / "work", code=code, digest=digest)
    assert _outside(tmp_path) == before


def _counting(root: Path, calls: list):
    def synth(context, outdir):
        calls.append(dict(context))
        _fake_cdk(root)(context, outdir)
    return synth


@pytest.mark.parametrize("tamper", ["template-edited", "edited-keeping-the-size", "file-added", "file-removed",
                                    "forged-by-hand", "template-hard-linked-out", "template-symlinked-out",
                                    "entry-symlinked-out", "seal-replaced"])
def test_an_entry_the_cache_did_not_write_whole_is_never_served(small, tmp_path, tamper):
    """An entry with its right name whose files are not those the cache stored -- a template edited after the fact
    (also keeping its size), a file added or gone, an entry made by hand, a template that is a hard link or a
    symbolic link to a file outside the cache, the entry itself a link out of the cache, its seal not one the
    cache wrote (a directory in its place) -- is synthesized again, never served; and nothing outside the cache
    is written, however the entry's links point."""
    stored = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_fake_cdk(small),
                               declarations=declares())
    entry = stored.directory
    template = entry / "Mon.template.json"
    outside = tmp_path / "outside"
    outside.mkdir()
    if tamper == "template-edited":
        template.write_text(template.read_text().replace("Fn", "Fx") + " ")
    elif tamper == "edited-keeping-the-size":
        stat = template.stat()
        template.write_text(template.read_text().replace("Fn", "Fx"))
        os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # as an edit a second later
    elif tamper == "file-added":
        (entry / "extra.template.json").write_text("{}")
    elif tamper == "file-removed":
        (entry / "tree.json").unlink()
    elif tamper == "forged-by-hand":
        shutil.rmtree(entry)
        _fake_cdk(small)(CONTEXT, entry)  # the same files, not written by the cache
        (entry / "Mon.template.json").write_text('{"Resources": {"Forged": {}}}')
    elif tamper == "template-hard-linked-out":
        (outside / "t.json").write_bytes(template.read_bytes())
        template.unlink()
        os.link(outside / "t.json", template)
        (outside / "t.json").write_text('{"Resources": {"EditedElsewhere": {}}}')
    elif tamper == "template-symlinked-out":
        (outside / "t.json").write_text('{"Resources": {"Elsewhere": {}}}')
        template.unlink()
        template.symlink_to(outside / "t.json")
    elif tamper == "entry-symlinked-out":
        entry.rename(outside / "entry")
        entry.symlink_to(outside / "entry", target_is_directory=True)
        (outside / "entry" / "Mon.template.json").write_text('{"Resources": {"Elsewhere": {}}}')
    else:
        seal = entry.with_name(f"{entry.name}.seal")
        seal.unlink()
        (seal / "x").mkdir(parents=True)
    before = _outside(tmp_path)
    calls: list = []
    again = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_counting(small, calls),
                              declarations=declares())
    assert (again.hit, len(calls)) == (False, 1)
    assert again.directory == entry and not entry.is_symlink() and entry.is_dir()
    _fake_cdk(small)(CONTEXT, tmp_path / "cold")
    assert _files(again.directory) == _files(tmp_path / "cold")
    assert _outside(tmp_path) == before  # nothing outside the cache was written or deleted
    third = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_forbidden,
                              declarations=declares())
    assert third.hit and third.directory == entry  # what it wrote whole is served again


def test_an_entry_not_written_whole_is_never_restaged_from(small, tmp_path):
    """A restage copies its source: an entry edited after it was stored (here a template kept the same size and a
    new time) is no source, so its edit never reaches the entry of the new code."""
    stored = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_fake_cdk(small),
                               declarations=declares())
    report = stored.directory / "Mon-NagReport.csv"
    stat = report.stat()
    report.write_text("Rule ID,Resource IX\n")
    os.utime(report, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # as an edit a second later
    change_monitor_code(small)
    calls: list = []
    second = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_counting(small, calls),
                               declarations=declares())
    assert (second.restaged, len(calls)) == (False, 1)
    assert (second.directory / "Mon-NagReport.csv").read_text() == "Rule ID,Resource ID\n"


def test_a_prune_deletes_only_what_the_cache_made_and_follows_no_link(small, tmp_path):
    """The cache directory may hold what the cache did not make (a directory of the user's; the cache directory
    itself may be one named by STREAMTECH_ASSEMBLY_CACHE): a prune deletes entries and work directories of the
    cache's own shapes only, and a link among them (also a dangling one) is neither followed nor a crash."""
    cache_dir = tmp_path / "c"
    outside = tmp_path / "outside"
    (outside / "kept").mkdir(parents=True)
    (outside / "kept" / "file").write_text("outside\n")
    for index in range(3):
        cache.synthesized({"environmentSuffix": f"s{index}"}, root=small, cache_dir=cache_dir,
                          synth=_fake_cdk(small), keep=10, declarations=declares())
    (cache_dir / "notes").mkdir()
    (cache_dir / "notes" / "mine.txt").write_text("the user's\n")
    (cache_dir / "tmp-of-the-user").mkdir()
    (cache_dir / f"{cache.WORK_PREFIX}abcd1234").mkdir()  # a work directory a killed synthesis left
    (cache_dir / f"{'c' * 32}-{'d' * 32}.seal").write_text("{}")  # the seal a killed prune left
    (cache_dir / "tmp-dangling").symlink_to(tmp_path / "gone")
    (cache_dir / f"{'a' * 32}-{'b' * 32}").symlink_to(outside / "kept", target_is_directory=True)
    old = time.time() - 7200
    for path in (cache_dir / "notes", cache_dir / "tmp-of-the-user", cache_dir / f"{cache.WORK_PREFIX}abcd1234",
                 cache_dir / f"{'c' * 32}-{'d' * 32}.seal", outside / "kept"):
        os.utime(path, (old, old))
    before = _outside(tmp_path)
    cache._prune(cache_dir, keep=1, in_use=0)
    assert (cache_dir / "notes" / "mine.txt").read_text() == "the user's\n"
    assert (cache_dir / "tmp-of-the-user").is_dir() and (cache_dir / "tmp-dangling").is_symlink()
    assert not (cache_dir / f"{cache.WORK_PREFIX}abcd1234").exists()
    assert not (cache_dir / f"{'c' * 32}-{'d' * 32}.seal").exists()
    assert _outside(tmp_path) == before
    kept = [p for p in cache_dir.iterdir() if p.is_dir() and not p.is_symlink()
            and re.fullmatch(r"[0-9a-f]{32}-[0-9a-f]{32}", p.name)]
    assert len(kept) == 1 and {p.name for p in cache_dir.glob("*.seal")} == {f"{kept[0].name}.seal"}


def test_an_export_writes_nothing_through_a_link_in_its_target(small, tmp_path):
    """`--cdk-out` copies the assembly over what is there: a file of the target that is a link (symbolic or hard)
    to a file elsewhere, or a directory that is a link, is replaced by the assembly's own file, never written
    through."""
    stored = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_fake_cdk(small),
                               declarations=declares())
    out = tmp_path / "cdk.out"
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "symlinked.json").write_text("outside\n")
    (outside / "hardlinked.json").write_text("outside\n")
    out.mkdir()
    (out / "Mon.template.json").symlink_to(outside / "symlinked.json")
    os.link(outside / "hardlinked.json", out / "manifest.json")
    asset = next(stored.directory.glob("asset.*"))
    (out / asset.name).symlink_to(outside / "dir", target_is_directory=True)
    before = _outside(tmp_path)
    cache.export(stored, out)
    assert _outside(tmp_path) == before
    assert _files(out) == _files(stored.directory)
    assert not any(p.is_symlink() for p in out.rglob("*"))


def test_a_prune_keeps_a_directory_of_the_user_whatever_its_name_of_tmp_and_eight_letters(small, tmp_path):
    """A cache directory named by STREAMTECH_ASSEMBLY_CACHE may be one the user keeps files in: "tmp-projects" or
    "tmp-old_logs" (tmp- and eight letters, as tempfile's own names are) is the user's, however old, and is kept;
    only a work directory of the cache's own prefix, left by a killed synthesis, goes."""
    cache_dir = tmp_path / "c"
    cache.synthesized(CONTEXT, root=small, cache_dir=cache_dir, synth=_fake_cdk(small), declarations=declares())
    old = time.time() - 7200
    for name in ("tmp-projects", "tmp-old_logs", "tmp-unsealed-download"):
        (cache_dir / name).mkdir()
        (cache_dir / name / "mine.txt").write_text("the user's\n")
        os.utime(cache_dir / name, (old, old))
    killed = Path(tempfile.mkdtemp(prefix=cache.WORK_PREFIX, dir=cache_dir))  # as a killed synthesis leaves it
    os.utime(killed, (old, old))
    cache._prune(cache_dir, keep=1)
    assert all((cache_dir / name / "mine.txt").read_text() == "the user's\n"
               for name in ("tmp-projects", "tmp-old_logs", "tmp-unsealed-download"))
    assert not killed.exists()


@pytest.mark.parametrize("seal", ["nested", "truncated", "not-utf8", "list", "fifo", "dev-zero", "dangling"])
def test_a_seal_that_is_garbage_is_no_seal_and_never_a_crash(small, tmp_path, seal):
    """A seal that is not one the cache wrote -- JSON nested too deep for the parser, cut short, not UTF-8, of
    another shape, a FIFO, a link to /dev/zero or to nothing -- leaves its entry unserved: synthesized again,
    never a traceback nor a wait."""
    stored = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_fake_cdk(small),
                               declarations=declares())
    path = stored.directory.with_name(f"{stored.directory.name}.seal")
    text = path.read_bytes()
    path.unlink()
    if seal == "fifo":
        os.mkfifo(path)
    elif seal in ("dev-zero", "dangling"):
        path.symlink_to("/dev/zero" if seal == "dev-zero" else tmp_path / "gone")
    else:
        path.write_bytes({"nested": b"[" * 100_000, "truncated": text[:len(text) // 2], "not-utf8": b"\xff" + text,
                          "list": b"[]"}[seal])
    calls: list = []
    again = cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_counting(small, calls),
                              declarations=declares())
    assert (again.hit, len(calls)) == (False, 1)
    assert json.loads(path.read_bytes()) == cache._inventory(again.directory)


# --- a prune beside the callers that serve ---------------------------------------------------------------------


def _stored_by_age(small: Path, cache_dir: Path, count: int) -> list[cache.Assembly]:
    """`count` entries of different keys, the first the oldest (an hour apart, the newest an hour ago)."""
    stored = [cache.synthesized({"environmentSuffix": f"s{index}"}, root=small, cache_dir=cache_dir,
                                synth=_fake_cdk(small), keep=count, declarations=declares())
              for index in range(count)]
    for index, assembly in enumerate(stored):
        old = time.time() - 3600 * (count - index + 1)
        os.utime(assembly.directory, (old, old), follow_symlinks=False)
    return stored


def test_a_prune_leaves_an_entry_whose_key_is_locked(small, tmp_path):
    """A caller holding a key's lock may be serving (or restaging from) its entry: the prune does not wait for it
    and does not take the entry from under it, however old; the other stale entries go."""
    cache_dir = tmp_path / "c"
    oldest, older, newest = _stored_by_age(small, cache_dir, 3)
    lock = cache_dir / f"{oldest.key.partition('-')[0]}.lock"
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        cache._prune(cache_dir, keep=1)
    assert cache._whole(oldest.directory) and cache._whole(newest.directory)
    assert not os.path.lexists(older.directory)


def test_an_entry_served_after_the_prune_sorted_the_entries_is_kept(small, tmp_path, monkeypatch):
    """Another process serves an old entry (and refreshes its time) just after a prune sorted the entries by age:
    the prune looks at its age again under the key's lock and keeps it, so the directory the caller was handed
    is still there."""
    cache_dir = tmp_path / "c"
    oldest, older, newest = _stored_by_age(small, cache_dir, 3)
    served: list[cache.Assembly] = []
    real = cache._locked

    def serving_first(path: Path, *, wait: bool = True):
        if not wait and path.name == f"{oldest.key.partition('-')[0]}.lock" and not served:
            served.append(cache.synthesized({"environmentSuffix": "s0"}, root=small, cache_dir=cache_dir,
                                             synth=_forbidden, declarations=declares()))
        return real(path, wait=wait)
    monkeypatch.setattr(cache, "_locked", serving_first)
    cache._prune(cache_dir, keep=1)
    assert [(a.hit, a.directory) for a in served] == [(True, oldest.directory)]
    assert cache._whole(oldest.directory) and cache._whole(newest.directory)
    assert not os.path.lexists(older.directory)


# --- the keys' lock files ------------------------------------------------------------------------------------------


def _locks(cache_dir: Path) -> set[str]:
    return {p.name for p in cache_dir.glob("*.lock")}


def test_a_prune_deletes_the_lock_files_of_keys_left_without_an_entry(small, tmp_path):
    """A key's lock file goes with the key's last entry, and a lock file a key without an entry left (a failed
    synthesis) goes at the next prune; a lock held meanwhile (a synthesis under way) stays, and so does a file of
    the user's that merely ends in .lock."""
    cache_dir = tmp_path / "c"
    oldest, _older, newest = _stored_by_age(small, cache_dir, 3)
    failed, running = f"{'e' * 32}.lock", f"{'f' * 32}.lock"
    (cache_dir / failed).touch()
    (cache_dir / "notes.lock").write_text("the user's\n")
    with (cache_dir / running).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        cache._prune(cache_dir, keep=1)
    assert _locks(cache_dir) == {f"{newest.key.partition('-')[0]}.lock", running, "notes.lock"}
    assert cache._whole(newest.directory) and not os.path.lexists(oldest.directory)
    assert (cache_dir / "notes.lock").read_text() == "the user's\n"


def test_a_waiter_that_locks_a_deleted_lock_file_locks_the_one_at_its_name(tmp_path, monkeypatch):
    """A prune deletes a lock file while it holds it; a caller that opened the file before and locks it after
    holds a lock nobody else can see: it must notice that the name is another file's now, and lock that one."""
    path = tmp_path / "c" / f"{'a' * 32}.lock"
    real = fcntl.flock
    deleted: list[Path] = []

    def deleted_first(fd, operation):
        if not deleted:
            path.unlink()  # what a prune holding the lock did just before this caller got it
            deleted.append(path)
        return real(fd, operation)
    monkeypatch.setattr(cache.fcntl, "flock", deleted_first)
    with cache._locked(path):
        monkeypatch.setattr(cache.fcntl, "flock", real)
        with path.open("a") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert deleted


def _in_time(call):
    """`call`'s result or exception, raised here; a call still waiting after a minute fails (it would wait
    forever: a lock opened to write on a FIFO waits for a reader)."""
    outcome: list = []

    def run():
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the test, which judges it
            outcome.append((False, exc))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert outcome, "still waiting after a minute"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


@pytest.mark.parametrize("obstacle", ["fifo", "directory", "symlink", "dangling-symlink"])
def test_a_lock_file_that_is_not_a_regular_file_is_a_clear_error_never_a_wait(small, tmp_path, obstacle):
    """Something other than a regular file at a key's lock path (a FIFO, a directory, a link to a file outside,
    or to nothing) is refused with a message that says what is there: never a wait, a traceback, nor a file
    written or made outside the cache; it is left there (the cache did not make it), and a prune passes it by."""
    cache_dir = tmp_path / "c"
    cache_dir.mkdir()
    lock = cache_dir / f"{cache.cache_key(CONTEXT, root=small, declarations=declares())}.lock"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("outside\n")
    if obstacle == "fifo":
        os.mkfifo(lock)
    elif obstacle == "directory":
        lock.mkdir()
    else:
        lock.symlink_to(outside / ("file" if obstacle == "symlink" else "made"))
    said = {"fifo": "a FIFO", "directory": "a directory"}.get(obstacle, "a symbolic link")
    before = _outside(tmp_path)
    with pytest.raises(SynthesisFailed, match=f"lock {re.escape(str(lock))} is {said}, not a regular file") as err:
        _in_time(lambda: cache.synthesized(CONTEXT, root=small, cache_dir=cache_dir, synth=_fake_cdk(small),
                                           declarations=declares()))
    assert err.value.exit_code == cache.EXIT_INCOMPLETE
    _in_time(lambda: cache._prune(cache_dir, keep=0))
    assert os.path.lexists(lock) and _outside(tmp_path) == before


def test_a_cache_directory_that_is_a_file_is_a_clear_error(small, tmp_path):
    (tmp_path / "c").write_text("the user's\n")
    with pytest.raises(SynthesisFailed, match=f"directory {re.escape(str(tmp_path / 'c'))} cannot be made"):
        cache.synthesized(CONTEXT, root=small, cache_dir=tmp_path / "c", synth=_forbidden, declarations=declares())
    assert (tmp_path / "c").read_text() == "the user's\n"


# --- --cdk-out ---------------------------------------------------------------------------------------------------


def _with_an_asset(context, outdir: Path) -> None:
    _fake_synth([])(context, outdir)
    (outdir / "asset.abc").mkdir()
    (outdir / "asset.abc" / "index.py").write_text("# staged\n")


@pytest.fixture
def command(tmp_path, monkeypatch):
    """main() with the cache in tmp_path and a synthesis of a manifest, a template and an asset directory."""
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path / "c"))
    monkeypatch.setattr(cache, "declared", declares())
    monkeypatch.setattr(cache, "cdk_synth", lambda context, outdir, root=cache.ROOT: _with_an_asset(context, outdir))
    return cache.main


@pytest.mark.parametrize("obstacle", ["file-where-a-directory", "directory-where-a-file", "fifo-where-a-file",
                                      "cdk-out-a-file", "below-a-file"])
def test_a_cdk_out_in_the_way_is_a_clear_error_and_nothing_is_copied(command, tmp_path, capsys, obstacle):
    """`--cdk-out` copies over the files there, and deletes nothing else it cannot tell it wrote: a file (or a
    FIFO) where the assembly has a directory, a directory where it has a file, --cdk-out itself a file, is exit 2
    with one line naming it; nothing is copied, and what was there stays."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("an older manifest\n")  # a file export may replace: not reached either
    if obstacle == "file-where-a-directory":
        (out / "asset.abc").write_text("the user's\n")
        said = f"{out / 'asset.abc'} is a file where the assembly has a directory"
    elif obstacle == "directory-where-a-file":
        (out / "manifest.json").unlink()
        (out / "manifest.json").mkdir()
        (out / "manifest.json" / "mine.txt").write_text("the user's\n")
        said = f"{out / 'manifest.json'} is a directory where the assembly has a file"
    elif obstacle == "fifo-where-a-file":
        os.mkfifo(out / "TapStackkeytest.template.json")
        said = f"{out / 'TapStackkeytest.template.json'} is a FIFO where the assembly has a file"
    elif obstacle == "cdk-out-a-file":
        shutil.rmtree(out)
        out.write_text("the user's\n")
        said = f"{out} is a file, not a directory"
    else:
        (out / "asset.abc").write_text("the user's\n")
        out = out / "asset.abc" / "cdk.out"
        said = f"{out.parent} is a file, not a directory"
    before = _files(tmp_path / "out") if (tmp_path / "out").is_dir() else (tmp_path / "out").read_bytes()
    assert command(["--suffix", "keytest", "--cdk-out", str(out)]) == cache.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot copy the assembly into {out}: {said}; move it away and run again"]
    assert "Traceback" not in captured.err
    after = _files(tmp_path / "out") if (tmp_path / "out").is_dir() else (tmp_path / "out").read_bytes()
    assert after == before


def test_a_copy_into_cdk_out_that_fails_midway_is_exit_3(command, tmp_path, capsys, monkeypatch):
    """A copy that fails once begun (a full disk, a file made there meanwhile) says how far it got: exit 3."""
    def full(source, target):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cache, "_copy_new", full)
    assert command(["--suffix", "keytest", "--cdk-out", str(tmp_path / "out")]) == cache.EXIT_INCOMPLETE
    err = capsys.readouterr().err
    assert f"error: the assembly was copied into {tmp_path / 'out'} in part: [Errno 28] No space left on device" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["", "."])
def test_an_empty_cdk_out_is_a_usage_error_not_the_current_directory(command, capsys, value):
    """`--cdk-out ""` (an unset variable) would read as the current directory and copy the assembly there."""
    with pytest.raises(SystemExit) as exited:
        command(["--suffix", "keytest", "--cdk-out", value])
    assert exited.value.code == cache.EXIT_USAGE and "--cdk-out is empty" in capsys.readouterr().err


def test_a_cdk_out_that_is_the_cached_assembly_is_refused(command, capsys):
    """A copy of the entry over itself would delete each file before reading it."""
    assert command(["--suffix", "keytest"]) == 0
    entry = Path(capsys.readouterr().out.strip())
    before = _files(entry)
    for target in (entry, entry / "asset.abc"):
        assert command(["--suffix", "keytest", "--cdk-out", str(target)]) == cache.EXIT_USAGE
        assert f"{target} is the cached assembly itself" in capsys.readouterr().err
    assert _files(entry) == before and cache._whole(entry)


# --- where the cache is --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("environment", "expected"), [
    ({cache.ENV_CACHE_DIR: "/srv/assemblies", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/srv/assemblies"),
    ({"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/streamtech-platform/assemblies"),
    ({"XDG_CACHE_HOME": "relative", "HOME": "/h"}, "/h/.cache/streamtech-platform/assemblies"),
    ({"XDG_CACHE_HOME": "", "HOME": "/h"}, "/h/.cache/streamtech-platform/assemblies"),
    ({"HOME": "relative"}, "CHECKOUT/.cache/assemblies"),
    ({}, "CHECKOUT/.cache/assemblies"),
], ids=["named", "xdg", "relative-xdg-ignored", "empty-xdg-ignored", "relative-home", "no-home"])
def test_the_cache_is_the_users_shared_by_every_checkout_else_the_checkouts(environment, expected, monkeypatch,
                                                                           tmp_path):
    """STREAMTECH_ASSEMBLY_CACHE, else the user's cache directory (XDG's rule: a relative XDG_CACHE_HOME is ignored),
    else, with no absolute home, the checkout's own .cache."""
    for name in (cache.ENV_CACHE_DIR, "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert cache.default_cache_dir(tmp_path) == Path(expected.replace("CHECKOUT", str(tmp_path)))


@pytest.mark.parametrize("named", ["assemblies", "./assemblies", "../elsewhere", "~/assemblies"])
def test_a_relative_cache_directory_is_refused_by_every_synthesis_with_its_reason(named, monkeypatch, tmp_path,
                                                                                    capsys):
    """A relative STREAMTECH_ASSEMBLY_CACHE would be a different directory from each working directory (the gate,
    the suite and the background synthesis each start in their own): refused before anything is made, with the
    reason, as an incomplete run (exit 3) of the gate, and nothing written where it points."""
    from policies.gate import cli

    monkeypatch.setenv(cache.ENV_CACHE_DIR, named)
    here, reports = tmp_path / "here", tmp_path / "reports"
    here.mkdir()
    reports.mkdir()
    monkeypatch.chdir(here)
    with pytest.raises(cache.SynthesisFailed, match="relative path") as failed:
        cache.synthesized(CONTEXT, synth=lambda c, o: pytest.fail("synthesized"))
    assert failed.value.exit_code == cache.EXIT_INCOMPLETE
    assert cli.main(["--suffix", "test", "--cdk-out", str(tmp_path / "out"), "--reports", str(reports)]) \
        == cache.EXIT_INCOMPLETE
    out = capsys.readouterr()
    tilde = " (~ is not expanded)" if named.startswith("~") else ""
    assert f"error: STREAMTECH_ASSEMBLY_CACHE names a relative path{tilde}, a different directory from each " \
        "working directory: name the cache's directory by its absolute path\n" in out.err and "Traceback" not in out.err
    assert not any(here.iterdir()) and not (tmp_path / "elsewhere").exists()  # nothing made where it points


def test_an_empty_cache_directory_names_none(monkeypatch, tmp_path):
    """An empty STREAMTECH_ASSEMBLY_CACHE names no directory, as an empty XDG_CACHE_HOME: the user's cache is used."""
    monkeypatch.setenv(cache.ENV_CACHE_DIR, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_dir(tmp_path) == tmp_path / "xdg" / "streamtech-platform" / "assemblies"


@pytest.mark.parametrize("command", [["-m", "cdk_app.assembly_cache", "--suffix", "keytest"],
                                     ["bench/emulator_cpu.py", "--runs", "1"], ["scripts/screenshots.py"]])
def test_every_entry_point_refuses_a_relative_cache_directory_with_exit_3(command, tmp_path):
    """The synthesis module, the emulator's benchmark and the screenshots script say why, without a traceback."""
    import subprocess
    import sys

    environment = {**os.environ, cache.ENV_CACHE_DIR: "relative"}
    run = subprocess.run([sys.executable, *command], cwd=ROOT, env=environment, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == cache.EXIT_INCOMPLETE, run.stderr
    assert "error: STREAMTECH_ASSEMBLY_CACHE names a relative path" in run.stderr and "Traceback" not in run.stderr
    assert not (ROOT / "relative").exists()


@pytest.mark.synth
def test_an_assembly_holds_no_path_of_the_checkout_that_synthesized_it(synth):
    """What lets every checkout of the user share one cache: no file of the session's assembly names the checkout,
    so a clone elsewhere that reads it reads what its own synthesis would write (its directory's name aside, which
    the key holds: the next test)."""
    names = {str(ROOT).encode(), str(ROOT.resolve()).encode()}
    found = [(path.relative_to(synth.outdir).as_posix(), name.decode()) for path in sorted(synth.outdir.rglob("*"))
             if path.is_file() for name in names if name in path.read_bytes()]
    assert found == []


def test_a_checkout_named_with_a_dot_has_keys_of_its_own(small, tmp_path):
    """CDK names an image asset's staged directory with its build context's extension (a checkout "tmp.Ab12"
    stages "asset.<hash>.Ab12", as a fresh clone into `mktemp -d` showed): such a checkout's assemblies differ,
    and so do its keys. Checkouts named without a dot, wherever they are, share theirs."""
    def at(name: str) -> Path:
        shutil.copytree(small, tmp_path / name / "x" / name)
        return tmp_path / name / "x" / name

    key = {name: cache.cache_key(CONTEXT, root=at(name), versions={}, declarations=declares())
           for name in ("streamtech-platform", "main", "tmp.Ab12", "tmp.Cd34", "v1.2")}
    assert key["streamtech-platform"] == key["main"]
    assert len({key["main"], key["tmp.Ab12"], key["tmp.Cd34"], key["v1.2"]}) == 4


def test_an_entry_served_within_the_hour_outlives_keep_newer_entries_of_other_checkouts(small, tmp_path):
    """The cache is every checkout's: while one checkout's test session reads the assembly it was handed (for
    minutes, without the key's lock), other checkouts store entries of their own code. More than KEEP of them must
    not take the session's directory from under it: an entry used within the hour is not pruned; beyond that,
    the KEEP most recently used are kept."""
    cache_dir = tmp_path / "c"
    session = cache.synthesized(CONTEXT, root=small, cache_dir=cache_dir, synth=_fake_cdk(small), keep=2,
                                declarations=declares())
    others = [cache.synthesized({"environmentSuffix": f"other{index}"}, root=small, cache_dir=cache_dir,
                                synth=_fake_cdk(small), keep=2, declarations=declares()) for index in range(3)]
    assert cache._whole(session.directory) and all(cache._whole(a.directory) for a in others)
    for age, assembly in enumerate((others[1], others[0], session), start=1):  # the session's the oldest
        old = time.time() - cache.IN_USE - 60 * age
        os.utime(assembly.directory, (old, old), follow_symlinks=False)
    cache._prune(cache_dir, keep=2)
    assert not os.path.lexists(session.directory)  # the least recently used, beyond the hour
    assert [cache._whole(a.directory) for a in others] == [False, True, True]


def test_the_images_build_context_leaves_out_exactly_what_the_key_leaves_out():
    """The key hashes every file of the staged directories but those cdk_app/source_tree.py calls no source; the
    images' build context (.dockerignore, which CDK reads for the asset hash) must leave out the same, or a file
    the key does not see (a .pytest_cache, an .egg-info in services/) would change an image another checkout's
    assembly names by the same key."""
    from cdk_app import source_tree

    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*" and {r.removeprefix("!") for r in rules if r.startswith("!")} == set(cache.STAGED_DIRS)
    left_out = {r for r in rules[1:] if not r.startswith("!")}
    assert left_out == {f"**/{name}" for name in source_tree.IGNORED_NAMES} | \
        {f"**/*{suffix}" for suffix in source_tree.IGNORED_SUFFIXES}
