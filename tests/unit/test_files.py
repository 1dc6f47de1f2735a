"""platform_utils.files: what the tools read for a user is a regular file of bounded size, read without waiting on
anything; what they write is whole or absent, and never takes the place of something that is not a regular file."""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from platform_utils import files


def test_a_regular_file_is_read_whole(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"k": "値"}', encoding="utf-8")
    assert files.read_regular(path, "outputs file") == '{"k": "値"}'
    link = tmp_path / "link.json"
    link.symlink_to(path)
    assert files.read_regular(link, "outputs file") == '{"k": "値"}'


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        files.read_regular(tmp_path / "none", "outputs file")


@pytest.mark.parametrize("special, said", [("/dev/zero", "a character device"), ("/dev/null", "a character device"),
                                           ("dir", "a directory"), ("fifo", "a FIFO"), ("socket", "a socket")])
def test_anything_but_a_regular_file_is_refused_without_waiting(tmp_path, special, said):
    """A FIFO with no writer would block open(2) and read(2) forever, /dev/zero never ends: both are refused at
    once (the FIFO is opened non-blocking and judged by fstat of what was opened)."""
    path = Path(special)
    if special == "dir":
        path = tmp_path
    elif special == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif special == "socket":
        path = tmp_path / "sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    with pytest.raises(files.FileRefused, match=f"outputs file {path} is {said}, not a regular file"):
        files.read_regular(path, "outputs file")


def test_a_file_over_the_limit_is_refused_after_reading_at_most_one_byte_more(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"x" * 1025)
    with pytest.raises(files.FileRefused, match="is larger than 1024 bytes: refused"):
        files.read_regular(path, "outputs file", limit=1024)
    path.write_bytes(b"x" * 1024)
    assert len(files.read_regular(path, "outputs file", limit=1024)) == 1024


def test_a_file_that_grows_while_read_is_still_bounded(tmp_path):
    """The size fstat reports is not trusted: at most limit + 1 bytes are read, whatever the file becomes."""
    path = tmp_path / "growing"
    path.write_bytes(b"")
    stop = threading.Event()

    def grow() -> None:
        with path.open("ab") as handle:
            while not stop.is_set():
                handle.write(b"y" * 65536)
                handle.flush()

    writer = threading.Thread(target=grow)
    writer.start()
    try:
        while path.stat().st_size < 2 * 65536:
            pass
        with pytest.raises(files.FileRefused, match="is larger than"):
            files.read_regular(path, "outputs file", limit=65536)
    finally:
        stop.set()
        writer.join()


def test_text_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1"
    path.write_bytes(b"{\"k\": \"\xe9\"}")
    with pytest.raises(files.FileRefused, match=r"is not UTF-8 text \(byte 7\)"):
        files.read_regular(path, "outputs file")


def test_an_unreadable_path_is_refused_with_the_reason(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(files.FileRefused, match="cannot be opened"):
        files.read_regular(loop, "outputs file")


def test_a_report_is_written_whole_with_the_usual_mode_and_keeps_an_existing_mode(tmp_path):
    path = tmp_path / "r.json"
    assert files.write_whole(path, "one", "--report json") == path
    assert path.read_text() == "one" and stat.S_IMODE(path.stat().st_mode) == 0o666 & ~files._umask()
    path.chmod(0o600)
    files.write_whole(path, "two", "--report json")
    assert path.read_text() == "two" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]


def test_a_symlink_is_never_written_through_dangling_or_not(tmp_path):
    """A dangling link to a path under directories that do not exist once made them all (and the file); a link
    to a file replaced that file, wherever it was."""
    target = tmp_path / "real.sarif"
    target.write_text("old")
    link = tmp_path / "link.sarif"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "x" / "y" / "z.json")
    for path in (link, dangling):
        with pytest.raises(files.FileRefused, match=f"--report sarif {path} is a symbolic link: not written through"):
            files.write_whole(path, "new", "--report sarif")
        assert path.is_symlink()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.json", "link.sarif", "real.sarif"]


def test_no_directory_is_created_for_a_file_unless_asked(tmp_path):
    path = tmp_path / "new" / "deeper" / "r.json"
    with pytest.raises(files.FileRefused, match=f"cannot be written: its directory {path.parent} does not exist"):
        files.write_whole(path, "x", "--report html")
    assert list(tmp_path.iterdir()) == []
    assert files.write_whole(path, "x", "outputs file", make_parents=True) == path and path.read_text() == "x"


def test_making_parents_never_makes_a_dangling_links_target(tmp_path):
    (tmp_path / "out").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(files.FileRefused, match="cannot be written"):
        files.write_whole(tmp_path / "out" / "sub" / "r.json", "x", "outputs file", make_parents=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("typed", ["newdir/", "newdir/.", "newdir/..", ".", "/"])
def test_a_path_that_names_a_directory_is_refused_and_makes_nothing(tmp_path, monkeypatch, typed):
    """pathlib drops a trailing slash or ".": "newdir/" would become a file named newdir."""
    monkeypatch.chdir(tmp_path)
    assert not files.names_a_file(typed)
    with pytest.raises(files.FileRefused, match=f"--report json {typed} names a directory, not a file"):
        files.write_whole(typed, "x", "--report json")
    assert list(tmp_path.iterdir()) == []
    assert files.names_a_file("newdir/r.json") and files.names_a_file("r.json")


@pytest.mark.parametrize("special, said", [("fifo", "a FIFO"), ("dir", "a directory"),
                                           ("/dev/null", "a character device"),
                                           ("link-to-fifo", "a symbolic link: not written through"),
                                           ("socket", "a socket")])
def test_a_path_that_is_not_a_regular_file_is_never_replaced(tmp_path, special, said):
    path = {"fifo": tmp_path / "fifo", "dir": tmp_path / "d", "/dev/null": Path("/dev/null"),
            "link-to-fifo": tmp_path / "link", "socket": tmp_path / "sock"}[special]
    if special in ("fifo", "link-to-fifo"):
        os.mkfifo(tmp_path / "fifo")
        if special == "link-to-fifo":
            path.symlink_to(tmp_path / "fifo")
    elif special == "dir":
        path.mkdir()
    elif special == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    before = os.stat(path)
    refusal = said if special == "link-to-fifo" else f"{said}, not a regular file: not replaced"
    with pytest.raises(files.FileRefused, match=f"is {refusal}"):
        files.write_whole(path, "x", "--report sarif")
    after = os.stat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert not list(tmp_path.rglob(".*.partial"))


def test_a_failed_write_leaves_nothing_partial_and_the_old_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    path.write_text("old")

    def refuse(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(files.FileRefused, match="cannot be written: No space left on device"):
        files.write_whole(path, "new", "--report json")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_an_interrupted_write_leaves_nothing_partial(tmp_path, monkeypatch):
    def interrupt(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        files.write_whole(tmp_path / "r.json", "new", "--report json")
    assert list(tmp_path.iterdir()) == []


def test_a_parent_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(files.FileRefused, match="cannot be written"):
        files.write_whole(blocker / "x.sarif", "x", "--report sarif")


def test_json_is_read_and_what_is_not_json_is_refused(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"StackName": "TapStackx"}')
    assert files.read_json(path, "stack record") == {"StackName": "TapStackx"}
    path.write_text("{not json")
    with pytest.raises(files.FileRefused, match=r"stack record .* is not JSON: Expecting property name .* at line 1"):
        files.read_json(path, "stack record")
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(files.FileRefused, match="is nested too deeply to be read"):
        files.read_json(path, "stack record")
    path.write_text("[" + "1" * 5000 + "]")  # JSON, but more digits than Python turns into an int (ValueError)
    with pytest.raises(files.FileRefused, match="has a number too long to be read"):
        files.read_json(path, "stack record")


def test_a_report_path_hard_linked_to_another_file_leaves_that_file_as_it_was(tmp_path):
    """An intruder's hard link where a report goes (the report path and a file of the victim's are one inode):
    the report replaces the name, it is never written through into the victim's file."""
    victim = tmp_path / "victim.txt"
    victim.write_text("the victim's data\n")
    report = tmp_path / "audit.json"
    os.link(victim, report)
    written = files.write_whole(report, '{"report": true}\n', "--report json")
    assert victim.read_text() == "the victim's data\n"
    assert written.read_text() == '{"report": true}\n' and os.stat(victim).st_nlink == 1
    assert os.stat(report).st_ino != os.stat(victim).st_ino
