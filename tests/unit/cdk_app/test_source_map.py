"""The source map (construct path -> the Python line that declares it) is what SARIF and the gate point at:
every synthesized resource resolves to a line of cdk_app/ that exists, and the committed copy is current."""

from __future__ import annotations

import json

import pytest

from cdk_app import source_map
from platform_utils.source_map import resource_sites
from tests.conftest import ROOT

pytestmark = [pytest.mark.synth]


def test_the_committed_map_is_the_one_synthesis_records(synth):
    recorded = json.loads((synth.outdir / source_map.FILE_NAME).read_text())
    assert recorded == json.loads(source_map.COMMITTED.read_text()), \
        "cdk_app/source_map.json is stale: run python -m cdk_app.source_map --write"


def test_every_resource_resolves_to_a_line_of_our_code_that_declares_it(synth):
    sites = source_map.load(source_map.COMMITTED)
    found = resource_sites(synth.template, sites)
    assert set(found) == set(synth.template["Resources"])  # every resource, CDK's own children included
    for lid, (file, line) in found.items():
        lines = (ROOT / file).read_text().splitlines()
        assert file.startswith("cdk_app/") and 1 <= line <= len(lines), (lid, file, line)
    # a security group declared in the API construct points at its ec2.SecurityGroup( line
    group = next(lid for lid, r in synth.template["Resources"].items()
                 if r["Properties"].get("GroupName") == "nlb-sg-test")
    file, line = found[group]
    assert file == "cdk_app/constructs/api.py" and "ec2.SecurityGroup(" in (ROOT / file).read_text().splitlines()[
        line - 1]


def test_a_missing_or_foreign_map_gives_no_site(tmp_path):
    assert source_map.load(tmp_path / "none.json") == {}
    (tmp_path / "foreign.json").write_text(json.dumps({"constructs": {"A": "x.py:1"}}))
    assert source_map.load(tmp_path / "foreign.json") == {}
    (tmp_path / "garbage.json").write_text("\x00not json")
    assert source_map.load(tmp_path / "garbage.json") == {}
    assert source_map.site_of(None, {"": "a.py:1"}) is None
    assert source_map.site_of("Stack/X/Resource", {}) is None
    assert source_map.site_of("Stack/X/Resource", {"X": "cdk_app/x.py:7"}) == ("cdk_app/x.py", 7)
    assert source_map.site_of("Stack/Y", {"": "cdk_app/s.py:3"}) == ("cdk_app/s.py", 3)
    assert source_map.site_of("Stack/X", {"X": "cdk_app/x.py:seven"}) is None
    # a map from elsewhere cannot make a report point outside the repository or write to a terminal
    for foreign in ("/etc/passwd:1", "../x.py:3", "cdk_app/../../x.py:3", "C:/x.py:3", "x\x1b[2J.py:4", "x.py:0",
                    "x.py:\u0661", "x.py:3\n"):
        assert source_map.site_of("Stack/X", {"X": foreign}) is None, foreign


@pytest.mark.parametrize("text, parsed", [
    ("cdk_app/constructs/database.py:58", ("cdk_app/constructs/database.py", 58)),
    ("cdk_app/x.py:1000000", ("cdk_app/x.py", 1_000_000)),
    ("cdk_app/x.py:1000001", None),  # no file of the app is that long: not a line of ours
    ("cdk_app/x.py:99999999999999999999999", None),  # a foreign map's number, never carried into SARIF
    ("cdk_app/x.py:0", None), ("/etc/passwd:1", None), ("cdk_app/../x.py:1", None), ("cdk_app/x.py:١٢", None),
])
def test_a_site_is_a_plain_path_of_the_app_and_a_line_it_can_have(text, parsed):
    from platform_utils.source_map import Site

    site = Site.parse(text)
    assert (site.file, site.line) == parsed if parsed else site is None
