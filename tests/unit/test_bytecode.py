"""scripts/bytecode.py: the libraries' byte code one checkout compiled, linked into the next checkout's environment,
only where it fits the installed file, never over anything, never through a link."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import py_compile
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bytecode_script", ROOT / "scripts" / "bytecode.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bytecode = _script()
SOURCES = {"demo/__init__.py": "VALUE = 1\n", "demo/mod.py": "def where():\n    return where.__code__.co_filename\n"}


def _record_row(site: Path, relative: str) -> str:
    data = (site / relative).read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
    return f"{relative},sha256={digest},{len(data)}"


def installed(site: Path, sources: dict[str, str] = SOURCES, *, extra_rows: tuple[str, ...] = ()) -> Path:
    """A site-packages with distribution demo 1.0 (its RECORD as an installer writes it), compiled as an import
    would (timestamp .pyc files)."""
    for relative, text in sources.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text)
        py_compile.compile(str(site / relative), doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    info = site / "demo-1.0.dist-info"
    info.mkdir(exist_ok=True)
    rows = [_record_row(site, relative) for relative in sources]
    (info / "RECORD").write_text("\n".join([*rows, *extra_rows, "demo-1.0.dist-info/RECORD,,"]) + "\n")
    return site


def linked_copy(site: Path, other: Path) -> Path:
    """`other`: the same installed files as `site` (hard links, as uv installs from its cache), no byte code."""
    for path in site.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            (other / path.relative_to(site)).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, other / path.relative_to(site))
    return other


def pyc(site: Path, relative: str) -> Path:
    return Path(importlib.util.cache_from_source(str(site / relative)))


def test_what_one_environment_compiled_serves_the_next_and_is_not_compiled_again(tmp_path):
    """The proof of the whole idea with a real interpreter: stored from one site, linked into another with the same
    installed files, imported there without compiling (the .pyc is the cache's inode, unchanged) and reporting the
    second site's own file name."""
    first = installed(tmp_path / "first")
    cache = tmp_path / "cache"
    assert bytecode.store(first, cache) == (2, 0)
    second = linked_copy(first, tmp_path / "second")
    assert bytecode.link(second, cache) == 2
    cached = bytecode.interpreter_dir(cache)
    [entry] = cached.iterdir()
    before = {r: os.stat(pyc(second, r)) for r in SOURCES}
    assert all(before[r].st_ino == os.stat(entry / f"{r}c").st_ino for r in SOURCES)
    proc = subprocess.run([sys.executable, "-c", "import demo.mod; print(demo.mod.where())"], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(second)}, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == str(second / "demo" / "mod.py")
    assert all((os.stat(pyc(second, r)).st_ino, os.stat(pyc(second, r)).st_mtime_ns)
               == (before[r].st_ino, before[r].st_mtime_ns) for r in SOURCES)
    assert bytecode.store(second, cache) == (0, 0) and bytecode.link(second, cache) == 0


def test_only_byte_code_that_fits_the_installed_file_is_stored_or_linked(tmp_path):
    """A .pyc older than its source is not stored; a file installed anew (its own time) or edited gets none of the
    cache's: the interpreter compiles it, as without the cache."""
    first = installed(tmp_path / "first")
    (first / "demo" / "mod.py").write_text("def where():\n    return 'edited, not compiled'\n")
    cache = tmp_path / "cache"
    assert bytecode.store(first, cache) == (1, 0)  # demo/__init__ only: mod's .pyc is of the old text
    fresh = installed(tmp_path / "first-again")
    assert bytecode.store(fresh, cache) == (1, 0)  # the same RECORD: first's entry, which lacked mod
    other = installed(tmp_path / "other", {**SOURCES, "demo/mod.py": "OTHER = 2\n"})
    assert bytecode.store(other, cache) == (2, 0)  # another RECORD (mod's hash): an entry of its own
    assert len(list(bytecode.interpreter_dir(cache).iterdir())) == 2
    copied = tmp_path / "copied"
    for relative, text in SOURCES.items():
        (copied / relative).parent.mkdir(parents=True, exist_ok=True)
        (copied / relative).write_text(text)
    (copied / "demo-1.0.dist-info").mkdir()
    (copied / "demo-1.0.dist-info" / "RECORD").write_bytes((fresh / "demo-1.0.dist-info" / "RECORD").read_bytes())
    future = time.time() + 100
    for relative in SOURCES:
        os.utime(copied / relative, (future, future))
    assert bytecode.link(copied, cache) == 0
    assert not any(pyc(copied, r).exists() for r in SOURCES)


def test_a_link_never_replaces_byte_code_that_is_there(tmp_path):
    first = installed(tmp_path / "first")
    cache = tmp_path / "cache"
    bytecode.store(first, cache)
    second = linked_copy(first, tmp_path / "second")
    mine = pyc(second, "demo/mod.py")
    mine.parent.mkdir()
    mine.write_bytes(b"the user's own\n")
    assert bytecode.link(second, cache) == 1
    assert mine.read_bytes() == b"the user's own\n"


def test_a_forged_cache_is_neither_followed_nor_written_through(tmp_path):
    """An entry that is a link, a cached .pyc that is a link, and a RECORD naming files outside site-packages or
    in __pycache__: nothing is read through them, nothing is written through them."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.pyc").write_bytes(b"outside\n")
    first = installed(tmp_path / "first", extra_rows=("../outside/file.py,,", "/etc/passwd.py,,",
                                                      "demo/__pycache__/x.py,,"))
    cache = tmp_path / "cache"
    assert bytecode.store(first, cache) == (2, 0)
    [entry] = bytecode.interpreter_dir(cache).iterdir()
    second = linked_copy(first, tmp_path / "second")

    (entry / "demo" / "mod.pyc").unlink()
    (entry / "demo" / "mod.pyc").symlink_to(pyc(first, "demo/mod.py"))
    assert bytecode.link(second, cache) == 1  # __init__ only: the link is not a cached file
    moved = entry.rename(tmp_path / "elsewhere")
    entry.symlink_to(moved, target_is_directory=True)
    third = linked_copy(first, tmp_path / "third")
    assert bytecode.link(third, cache) == 0
    assert not pyc(third, "demo/__init__.py").exists()

    entry.unlink()
    (bytecode.interpreter_dir(cache) / entry.name).symlink_to(outside, target_is_directory=True)
    assert bytecode.store(first, cache) == (0, 0)
    assert sorted(p.name for p in outside.iterdir()) == ["file.pyc"]


def test_a_directory_inside_an_entry_that_is_a_link_is_not_read_through(tmp_path):
    first = installed(tmp_path / "first")
    cache = tmp_path / "cache"
    bytecode.store(first, cache)
    [entry] = bytecode.interpreter_dir(cache).iterdir()
    moved = (entry / "demo").rename(tmp_path / "valid-pycs")
    (entry / "demo").symlink_to(moved, target_is_directory=True)
    second = linked_copy(first, tmp_path / "second")
    assert bytecode.link(second, cache) == 0
    assert not (second / "demo" / "__pycache__").exists() or not any((second / "demo" / "__pycache__").iterdir())


def test_unused_entries_are_pruned_and_nothing_else(tmp_path):
    first = installed(tmp_path / "first")
    cache = tmp_path / "cache"
    bytecode.store(first, cache)
    base = bytecode.interpreter_dir(cache)
    [entry] = base.iterdir()
    (base / "notes").mkdir()
    (base / "notes" / "mine.txt").write_text("the user's\n")
    old = time.time() - (bytecode.UNUSED_DAYS + 1) * 86400
    for path in (entry, base / "notes"):
        os.utime(path, (old, old))
    second = linked_copy(first, tmp_path / "second")
    assert bytecode.link(second, cache) == 2  # used: its time is now
    assert bytecode.store(first, cache) == (0, 0)
    os.utime(entry, (old, old))
    assert bytecode.store(first, cache) == (0, 1)
    assert not entry.exists() and (base / "notes" / "mine.txt").read_text() == "the user's\n"
    assert all(pyc(second, r).read_bytes() for r in SOURCES)  # the environment's own names stay


@pytest.mark.parametrize("action", ["link", "store"])
def test_the_command_says_what_it_did_and_exits_3_when_there_is_no_cache(action, tmp_path):
    site = installed(tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", "STREAMTECH_BYTECODE_CACHE")}
    command = [sys.executable, str(ROOT / "scripts" / "bytecode.py"), action, "--site-packages", str(site)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (3, "")
    assert "no cache (HOME unset or relative" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(command, env={**env, "STREAMTECH_BYTECODE_CACHE": str(tmp_path / "cache")},
                          capture_output=True, text=True)
    counted = "2 file(s) stored" if action == "store" else "0 file(s) linked"
    assert proc.returncode == 0 and proc.stderr.startswith(f"bytecode: {counted} ")
    (tmp_path / "work").mkdir()
    proc = subprocess.run(command, env={**env, "HOME": str(tmp_path), "STREAMTECH_BYTECODE_CACHE": "cache"},
                          cwd=tmp_path / "work", capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (3, "") and "STREAMTECH_BYTECODE_CACHE relative" in proc.stderr
    assert not (tmp_path / "work" / "cache").exists() and "Traceback" not in proc.stderr


def test_byte_code_of_another_optimization_level_is_never_stored_or_linked_as_the_plain_one(tmp_path):
    """A run under -O (PYTHONOPTIMIZE) compiles name.opt-1.pyc, without its asserts; a store or link run under it
    still deals in the plain name.pyc alone: never the optimized code under the plain name, which an interpreter
    without -O would import (asserts gone), nor the plain code as another run's opt-1."""
    source = {"demo/__init__.py": "def check():\n    assert False, 'asserts run'\n"}
    first = installed(tmp_path / "first", source)
    plain = pyc(first, "demo/__init__.py")
    plain.unlink()
    env = {**os.environ, "PYTHONPATH": str(first)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-O", "-c", "import demo"], env=env, check=True)
    assert sorted(p.name for p in plain.parent.iterdir()) == [Path(
        importlib.util.cache_from_source(str(first / "demo" / "__init__.py"), optimization=1)).name]
    cache = tmp_path / "cache"
    command = [sys.executable, str(ROOT / "scripts" / "bytecode.py")]
    optimized = {**os.environ, "STREAMTECH_BYTECODE_CACHE": str(cache), "PYTHONOPTIMIZE": "1"}
    subprocess.run([*command, "store", "--site-packages", str(first)], env=optimized, check=True)
    assert not bytecode.interpreter_dir(cache).exists() or not any(bytecode.interpreter_dir(cache).rglob("*.pyc"))

    py_compile.compile(str(first / "demo" / "__init__.py"), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    assert bytecode.store(first, cache) == (1, 0)
    second = linked_copy(first, tmp_path / "second")
    subprocess.run([*command, "link", "--site-packages", str(second)], env=optimized, check=True)
    assert [p.name for p in pyc(second, "demo/__init__.py").parent.iterdir()] == [plain.name]  # the plain one, as such


@pytest.mark.parametrize("header", [
    pytest.param(lambda h: b"\0\0\r\n" + h[4:], id="another-magic"),
    pytest.param(lambda h: h[:4] + (1).to_bytes(4, "little") + h[8:], id="hash-based"),
])
def test_byte_code_of_another_interpreter_or_a_hash_based_one_is_not_linked(header, tmp_path):
    """Only this interpreter's timestamp .pyc fits: another magic number is another bytecode format, and a
    hash-based .pyc is valid by its source's hash, which the size and time do not prove."""
    first = installed(tmp_path / "first")
    cache = tmp_path / "cache"
    assert bytecode.store(first, cache) == (2, 0)
    [entry] = bytecode.interpreter_dir(cache).iterdir()
    cached = entry / "demo" / "mod.pyc"
    data = cached.read_bytes()
    cached.unlink()
    cached.write_bytes(header(data[:16]) + data[16:])
    second = linked_copy(first, tmp_path / "second")
    assert bytecode.link(second, cache) == 1  # __init__ alone
    assert not pyc(second, "demo/mod.py").exists()


def test_a_record_row_outside_site_packages_is_neither_stored_nor_linked_even_with_valid_byte_code(tmp_path):
    """A RECORD row that leaves site-packages (../) names a .py whose .pyc is valid: the store does not write it
    outside its entry, the link does not write beside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mod.py").write_text("X = 1\n")
    py_compile.compile(str(outside / "mod.py"), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    site = tmp_path / "site"
    first = installed(site, extra_rows=(f"../outside/mod.py,sha256=x,{(outside / 'mod.py').stat().st_size}",))
    cache = tmp_path / "cache"
    assert bytecode.store(first, cache) == (2, 0)
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*.pyc")) == sorted(
        f"{bytecode.interpreter_dir(cache).name}/{entry}/{r}c" for entry, _ in bytecode.distributions(first)
        for r in SOURCES)
    pyc(outside, "mod.py").unlink()
    assert bytecode.link(linked_copy(first, tmp_path / "second"), cache) == 2
    assert not pyc(outside, "mod.py").exists()


def test_a_record_row_without_a_hash_is_not_keyed_by_content_and_left_out(tmp_path):
    """An entry serves the files whose hashes its name holds: a .py its RECORD lists without a hash is neither
    stored nor linked (its text could be any)."""
    first = installed(tmp_path / "first")
    record = first / "demo-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text().replace(_record_row(first, "demo/mod.py"), "demo/mod.py,,"))
    cache = tmp_path / "cache"
    assert bytecode.store(first, cache) == (1, 0)


def test_a_pycache_that_is_a_link_in_the_environment_is_not_written_through(tmp_path):
    first = installed(tmp_path / "first")
    cache = tmp_path / "cache"
    bytecode.store(first, cache)
    second = linked_copy(first, tmp_path / "second")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pyc(second, "demo/mod.py").parent.symlink_to(elsewhere, target_is_directory=True)
    assert bytecode.link(second, cache) == 0
    assert list(elsewhere.iterdir()) == []


def _two_distributions(site: Path) -> Path:
    installed(site)
    other = {"zeta/__init__.py": "Z = 1\n"}
    for relative, text in other.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text)
        py_compile.compile(str(site / relative), doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    (site / "zeta-1.0.dist-info").mkdir()
    (site / "zeta-1.0.dist-info" / "RECORD").write_text(_record_row(site, "zeta/__init__.py") + "\n")
    return site


def test_an_entry_that_cannot_be_written_leaves_the_others_stored_and_the_command_says_so(tmp_path):
    """A file of the user's where an entry has a directory: that distribution is left out (exit 3, saying why),
    every other one is stored, and unused entries are still pruned."""
    first = _two_distributions(tmp_path / "first")
    cache = tmp_path / "cache"
    [(demo, _), (zeta, _)] = bytecode.distributions(first)
    base = bytecode.interpreter_dir(cache)
    (base / demo).mkdir(parents=True)
    (base / demo / "demo").write_text("the user's\n")
    stale = base / "gone-1.0-AAAAAAAAAAAAAAAA"
    stale.mkdir()
    old = time.time() - (bytecode.UNUSED_DAYS + 1) * 86400
    os.utime(stale, (old, old))
    failures: list[OSError] = []
    assert bytecode.store(first, cache, failures) == (1, 1)
    assert [type(f) for f in failures] in ([FileExistsError], [NotADirectoryError])
    assert (base / zeta / "zeta" / "__init__.pyc").is_file()
    assert (base / demo / "demo").read_text() == "the user's\n"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bytecode.py"), "store", "--site-packages",
                           str(first)], env={**os.environ, "STREAMTECH_BYTECODE_CACHE": str(cache)},
                          capture_output=True, text=True)
    assert proc.returncode == 3 and "1 distribution(s) left out" in proc.stderr and "Traceback" not in proc.stderr


def test_a_cache_that_cannot_be_marked_used_is_still_linked_from(tmp_path, monkeypatch):
    """A cache on a read-only mount (or another owner's): its entries' times cannot be set, its byte code still
    fits and is linked."""
    first = _two_distributions(tmp_path / "first")
    cache = tmp_path / "cache"
    bytecode.store(first, cache)

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(bytecode.os, "utime", read_only)
    assert bytecode.link(linked_copy(first, tmp_path / "second"), cache) == 3


def test_a_fifo_in_place_of_a_pyc_hangs_neither_a_store_nor_a_link(tmp_path):
    """A FIFO opened to read waits for a writer forever: one where a .pyc is expected, in the environment or in the
    cache, is never opened (only a regular file is read)."""
    first = installed(tmp_path / "first")
    pyc(first, "demo/mod.py").unlink()
    os.mkfifo(pyc(first, "demo/mod.py"))
    cache = tmp_path / "cache"
    assert bytecode.store(first, cache) == (1, 0)  # demo/__init__ only
    [entry] = bytecode.interpreter_dir(cache).iterdir()
    os.mkfifo(entry / "demo" / "mod.pyc")
    second = linked_copy(installed(tmp_path / "clean"), tmp_path / "second")
    assert bytecode.link(second, cache) == 1
    assert not pyc(second, "demo/mod.py").exists()


def test_a_file_hard_linked_in_as_a_pyc_is_stored_only_when_it_is_byte_code_of_the_installed_file(tmp_path):
    """A hard link in __pycache__ to a file elsewhere (a secret of the user's, say) is taken to the cache only if
    its header says it is this interpreter's byte code of that very source: a secret never is."""
    first = installed(tmp_path / "first")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"password=hunter2\n" * 4)
    pyc(first, "demo/mod.py").unlink()
    os.link(secret, pyc(first, "demo/mod.py"))
    cache = tmp_path / "cache"
    assert bytecode.store(first, cache) == (1, 0)
    assert not any(p.read_bytes() == secret.read_bytes() for p in cache.rglob("*") if p.is_file())


def test_a_record_that_lists_a_file_twice_keys_its_own_entry_and_stores_the_file_once(tmp_path):
    """A RECORD row repeated with another hash (a forged or garbled RECORD): the entry's name is the hash of every
    row, so it is never the clean RECORD's entry, and the file is stored once."""
    clean, forged = installed(tmp_path / "clean"), tmp_path / "forged"
    shutil.copytree(clean, forged)
    record = forged / "demo-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + "demo/mod.py,sha256=AAAA,9\n")
    cache = tmp_path / "cache"
    assert bytecode.store(clean, cache) == (2, 0)
    assert bytecode.store(forged, cache) == (2, 0)  # copytree keeps the times: both .pyc fit; mod.py once, not twice
    [(clean_name, _)], [(forged_name, listed)] = bytecode.distributions(clean), bytecode.distributions(forged)
    assert clean_name != forged_name and listed.count("demo/mod.py") == 2
    assert sorted(p.name for p in bytecode.interpreter_dir(cache).iterdir()) == sorted([clean_name, forged_name])
    entry = bytecode.interpreter_dir(cache) / forged_name
    assert sorted(p.relative_to(entry).as_posix() for p in entry.rglob("*.pyc")) == ["demo/__init__.pyc",
                                                                                     "demo/mod.pyc"]
