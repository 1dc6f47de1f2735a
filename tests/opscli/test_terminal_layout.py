"""The terminal views at 80 and 140 columns: nothing that names, proves or fixes is cut (a resource, a reason, the
evidence of a FAIL, a command), lines break only at spaces, and a token too long for its line stands whole on a
line of its own; `rules list` and the --compliance view keep every word whole too."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from rich.console import Console

from opscli import terminal
from opscli.cli import State, cli
from opscli.model import FRAMEWORKS, Finding, Report, compliance_view
from platform_spec import catalog
from platform_spec.result import Status


def said(text: str) -> str:
    """What a view says, whatever its line breaks: its words joined by single spaces."""
    return " ".join(text.split())


def joined(text: str) -> str:
    """A view with its commands' lines joined as a shell joins them (a backslash ending a line)."""
    return text.replace(" \\\n", " ")


def assert_fits(text: str, width: int) -> None:
    """Every line within `width`, but for a line that is one token longer than that (never broken: a quoted
    shell word is one), which may continue a command (a backslash after it)."""
    for line in text.splitlines():
        assert len(line) <= width or len(terminal.shell_words(line.removesuffix(" \\"))) == 1, (width, line)


def view(report: Report, width: int, *, show_all: bool = False) -> str:
    buffer = io.StringIO()
    terminal.table(report, terminal.VisibleConsole(file=buffer, width=width, no_color=True, emoji=False,
                                                   highlight=False), 1, show_all=show_all)
    return buffer.getvalue()


@pytest.mark.parametrize("width", [30, 80, 140])
def test_the_evidence_and_the_command_are_whole_at_80_and_140_columns(width):
    """Issue 33's cut rows (`admits tcp 22 from 0.0.…`, `allows account 11112222…`) and a KMS command wrapped
    in the middle of the key's id: every word is shown, lines break only at spaces, and a token too long for its
    column has a line of its own (on a narrow terminal too, without lines of blanks)."""
    key = "arn:aws:kms:ap-northeast-1:123456789012:key/1111-2222-3333-4444-555566667777"
    principal = "arn:aws:iam::111122223333:role/partner-integration-role-with-a-long-name"
    items = [
        Finding("STK-NET-002", "STK-NET-002", Status.FAIL, "AWS::EC2::SecurityGroup WebSecurityGroupA1B2C3D4 "
                "(sg-0123456789abcdef0)", "admits tcp 22 from 0.0.0.0/0 and tcp 3389 from ::/0 (SecurityGroupIngress "
                "of the group, rule sgr-0a1b2c3d4e5f67890)"),
        Finding("STK-POLICY-001", "STK-POLICY-001", Status.FAIL, "AWS::SQS::QueuePolicy JobsQueuePolicy (https://"
                "sqs.ap-northeast-1.amazonaws.com/123456789012/video-jobs-prod)",
                f"statement AllowPartner allows account 111122223333 ({principal}) sqs:SendMessage without a "
                "condition"),
        Finding("STK-KMS-002", "STK-KMS-002", Status.FAIL, f"AWS::KMS::Key EncryptionKey3A692D6E ({key})",
                "EnableKeyRotation is not true", evidence={"id": key}),
    ]
    text = view(Report(command="audit", target={"stack": "TapStackprod"}, findings=items), width, show_all=True)
    assert_fits(text, width)
    assert all(line.strip() or not line for line in text.splitlines())
    for f in items:
        assert f.reason in said(text)
    tokens = set(text.split())
    assert {"0.0.0.0/0", "::/0", "sgr-0a1b2c3d4e5f67890)", f"({principal})", f"({key})"} <= tokens
    fix = text[text.index(" fix now", text.index("STK-KMS-002 The")):]
    assert f"aws kms enable-key-rotation --key-id {key}" in said(joined(fix))
    assert all(key in line for line in text.splitlines() if "arn:aws:kms" in line)


def test_every_command_of_the_catalog_keeps_its_tokens_at_80_columns():
    """Each rule's "fix now", laid out in the explained-FAIL block at 80 columns: the same tokens in the same
    order, none broken."""
    for rule in catalog.CATALOG.values():
        if not rule.now:
            continue
        lines = terminal.flow(rule.now, 80, hang=terminal.DETAIL_LABEL + 2, first=terminal.DETAIL_LABEL + 2)
        assert " ".join(line for _, line in lines if line).split() == rule.now.split(), rule.id


def test_rules_list_never_breaks_a_word_at_80_columns():
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["rules", "list", "--no-color"], obj=State())
    assert result.exit_code == 0
    assert_fits(result.stdout, 80)
    shown = set(result.stdout.split())
    for rule in catalog.CATALOG.values():
        assert rule.id in shown and set(rule.title.split()) <= shown | {w + "," for w in shown}, rule.id
    assert set(result.stdout.split()) >= {"aspect,", "nag,", "checkov,", "template,", "live"}


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_compliance_view_never_breaks_a_control_or_a_rule_at_80_columns(framework):
    items = [Finding(f"c.{n}", rule_id, Status.PASS, "r", "ok") for n, rule_id in enumerate(catalog.CATALOG)]
    grouped = compliance_view(items, framework)
    buffer = io.StringIO()
    terminal.compliance_table(grouped, framework, Console(file=buffer, width=80, no_color=True))
    text = buffer.getvalue()
    assert_fits(text, 80)
    shown = {token.rstrip(":,") for token in text.split()}
    for control, entry in grouped.items():
        assert control in shown and set(entry["rules"]) <= shown, control


HOSTILE = "inv'; touch {tmp}/ran #\n$(touch {tmp}/ran)\u202egnp"


@pytest.mark.parametrize("width", [40, 80])
def test_a_command_copied_from_the_terminal_is_one_command_and_runs_nothing_else(width, tmp_path):
    """The explained FAIL's "fix now", copied from the terminal as it is laid out and pasted into bash, is the
    very command JSON holds: its lines end in a backslash, never break inside a quoted word, and no word that
    starts a line (an id an intruder chose, such as `poweroff`) runs as a command of its own. What AWS answered
    ("found") keeps an intruder's line feed as its escape, so it draws no line of its own."""
    import subprocess

    from opscli.explain import explanation

    hostile = HOSTILE.format(tmp=tmp_path)
    bucket = "tapstackprod-intakebucketdf3620f2-abcdefghijkl"
    failure = Finding("STK-RES-001", "STK-RES-001", Status.FAIL, f"AWS::S3::Bucket IntakeBucket ({bucket})",
                      f"inventory {hostile} -> arn:aws:s3:::elsewhere",
                      evidence={"id": bucket, "inventories": ["poweroff", hostile, "sh"]})
    text = view(Report(command="audit", target={"stack": "TapStackprod"}, findings=[failure]), width)
    assert_fits(text, width)
    block = text[text.index(" fix now"):text.index(" in code")].removeprefix(" fix now")
    assert all(line.endswith(" \\") for line in block.splitlines()[:-1]) and len(block.splitlines()) > 2

    def run(command: str) -> bytes:
        script = 'aws() { printf "%s\\0" "$@"; printf "\\1"; }\npoweroff() { printf RAN; }\nsh() { printf RAN; }\n'
        return subprocess.run(["bash", "--norc", "--noprofile", "-c", script + command], capture_output=True,
                              check=True, env={"LC_ALL": "C.UTF-8"}).stdout

    pasted = run(block)
    assert pasted == run(explanation(failure)["remediation"]["now"]) and b"RAN" not in pasted
    assert pasted.split(b"\1")[1].split(b"\0")[-2].decode() == hostile
    assert not (tmp_path / "ran").exists()
    found = text[text.index(" found"):text.index(" why")]
    assert "\\x0a" in found and "#\n" not in found
