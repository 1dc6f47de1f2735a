"""`python -m localenv` up/down bookkeeping (the running server itself is the tests' shared deployment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from localenv.__main__ import main
from tests.conftest import ROOT


def test_down_without_a_deployment_is_a_usage_error(tmp_path, capsys):
    assert main(["down", "--suffix", "nothing", "--state-dir", str(tmp_path)]) == 2
    assert "no local deployment of TapStacknothing is running" in capsys.readouterr().err


def test_down_removes_a_stale_or_unreadable_record(tmp_path, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "TapStackold.json").write_text(json.dumps({"pid": int(dead.stdout)}))
    assert main(["down", "--suffix", "old", "--state-dir", str(tmp_path)]) == 0
    assert "was not running" in capsys.readouterr().out and not (tmp_path / "TapStackold.json").exists()
    (tmp_path / "TapStackbad.json").write_text("{not json")
    assert main(["down", "--suffix", "bad", "--state-dir", str(tmp_path)]) == 2
    assert "is not a localenv state file" in capsys.readouterr().err


def test_up_refuses_a_second_deployment_of_the_same_stack(tmp_path, capsys):
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"Resources": {}}))
    (tmp_path / "TapStacktwice.json").write_text(json.dumps({"pid": os.getpid(), "endpoint": "http://127.0.0.1:1"}))
    code = main(["up", "--suffix", "twice", "--template", str(template), "--state-dir", str(tmp_path)])
    assert code == 2 and "TapStacktwice is already up at http://127.0.0.1:1" in capsys.readouterr().err


def test_bad_suffix_and_missing_template_are_usage_errors(tmp_path, capsys):
    assert main(["up", "--suffix", "Bad!", "--state-dir", str(tmp_path)]) == 2
    assert "environmentSuffix 'Bad!' is not allowed" in capsys.readouterr().err
    assert main(["down", "--suffix", "Bad!", "--state-dir", str(tmp_path)]) == 2
    assert main(["up", "--suffix", "x", "--template", str(tmp_path / "none.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_down_stops_a_running_deployment(tmp_path):
    """`down` against a real `up` process of its own, of an empty template (not the session's deployment)."""
    import time

    state_dir = tmp_path / "state"
    template_path = tmp_path / "empty.json"
    template_path.write_text(json.dumps({"Resources": {}}))
    process = subprocess.Popen([sys.executable, "-m", "localenv", "up", "--suffix", "downtest", "--template",
                                str(template_path), "--outputs", str(tmp_path / "o.json"), "--state-dir",
                                str(state_dir)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (state_dir / "TapStackdowntest.json").exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
            time.sleep(0.1)
        assert main(["down", "--suffix", "downtest", "--state-dir", str(state_dir)]) == 0
        assert process.wait(20) == 0
        assert "is up on the local emulator" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_every_botocore_session_of_an_emulator_process_shares_one_model_loader(monkeypatch):
    """moto makes botocore sessions of its own (three at import, to list EC2's regions): in the emulator's
    process they share one loader of service models, so each model is parsed once."""
    import botocore.loaders
    import botocore.session

    from localenv.emulator import configure_moto

    monkeypatch.setattr(botocore.session, "create_loader", botocore.loaders.create_loader)  # a fresh process's
    assert botocore.session.Session().get_component("data_loader") is not \
        botocore.session.Session().get_component("data_loader")
    configure_moto()
    one, two = botocore.session.Session(), botocore.session.Session()
    assert one.get_component("data_loader") is two.get_component("data_loader")
    own = botocore.session.Session()
    own.set_config_variable("data_path", "/elsewhere")
    assert own.get_component("data_loader") is not one.get_component("data_loader")  # another data path


def test_an_emulator_process_keeps_a_model_loader_it_already_shares(monkeypatch):
    """A process that put its own shared loader in botocore's place (the tests put opscli's) keeps it: the
    emulator's configuration neither wraps nor replaces it."""
    import botocore.session

    from localenv.emulator import configure_moto

    def own_loader(data_path=None):
        return shared

    shared = botocore.session.create_loader(None)
    monkeypatch.setattr(botocore.session, "create_loader", own_loader)
    configure_moto()
    assert botocore.session.create_loader is own_loader
    assert botocore.session.Session().get_component("data_loader") is shared
