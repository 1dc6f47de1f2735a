"""opscli.terminal's views: the answer first (verdict and counts, then what needs someone, then each FAIL
explained), a clean run on one screen, hostile names as text. At 80 and 140 columns nothing that names, proves or
fixes is cut (a resource, a reason, the evidence of a FAIL, a command), lines break only at spaces, and a token too
long for its line stands whole on a line of its own; `rules list` and the --compliance view keep every word whole
too."""

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


def lines_of(report: Report, *, show_all: bool = False, width: int = 80) -> list[str]:
    """The terminal view's lines, as a plain rich Console (not the VisibleConsole opscli prints with) lays them out."""
    import io

    from rich.console import Console

    from opscli.terminal import table

    buffer = io.StringIO()
    table(report, Console(file=buffer, width=width, no_color=True), 3, show_all=show_all)
    return buffer.getvalue().splitlines()


def entries(lines: list[str]) -> list[tuple[list[str], str]]:
    """The entries of the terminal view's list of findings: (the head line's status, rule and first word of the
    resource; everything the entry says, its lines joined with single spaces)."""
    start = next(i for i, line in enumerate(lines) if line in ("needs someone:", "every check:")) + 1
    out: list[tuple[list[str], str]] = []
    for line in lines[start:]:
        if not line.strip():
            break
        if not line.startswith(" "):
            out.append((line.split("  ")[0].split() and [part.strip() for part in line.split("  ") if part][:3], ""))
        out[-1] = (out[-1][0], " ".join(f"{out[-1][1]} {line}".split()))
    return out


def test_the_view_puts_the_answer_first_and_shows_only_what_needs_someone():
    """Issue 13: ARNs wrapped every 11 characters and 52 identical ERROR rows; issue 26: 1,608 lines for a clean
    audit, totals last; issue 33: reasons and evidence cut with an ellipsis. Now: verdict and counts first, by
    service and severity, then one entry per FAIL and ERROR (identical ERRORs as one), every word of it shown
    and wrapped only at spaces, then each FAIL explained."""
    arn = "arn:aws:kms:ap-northeast-1:123456789012:key/1111-2222-3333-4444-555566667777"
    items = [Finding("key.rotation", "STK-KMS-002", Status.FAIL, f"AWS::KMS::Key EncryptionKey3A692D6E ({arn})",
                     "EnableKeyRotation is not true", severity="MEDIUM",
                     evidence={"id": arn})]
    items += [Finding("stack.x", "STK-STACK-001", Status.ERROR, f"AWS::RDS::DBInstance Db{n} (rds-{n})",
                      "could not look: endpoint unreachable") for n in range(52)]
    items += [Finding("secret.pending", "STK-SECRET-005", Status.PASS,
                      "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-credentials-prod-AbCdEf", "none")]
    report = Report(command="audit", target={"suffix": "prod", "stack": "TapStackprod", "region": "ap-northeast-1",
                                             "account": "123456789012"}, findings=items, api_calls=3, seconds=1.0)
    for show_all in (False, True):
        lines = lines_of(report, show_all=show_all)
        assert max(len(line) for line in lines) <= 80
        assert lines[0] == "opscli audit — TapStackprod · ap-northeast-1 · account 123456789012"
        assert lines[1].startswith("FAIL  1 PASS · 1 FAIL · 52 ERROR  (exit code 3")
        rows = entries(lines)
        assert [row[0][0] for row in rows] == (["FAIL MED", "ERROR ×52"] + (["PASS"] if show_all else []))
        assert rows[0] == (["FAIL MED", "STK-KMS-002", "EncryptionKey3A692D6E"],
                           f"FAIL MED STK-KMS-002 EncryptionKey3A692D6E ({arn}) EnableKeyRotation is not true")
        assert any(line.strip() == f"({arn})" for line in lines)  # whole, on a line of its own
        assert rows[1] == (["ERROR ×52", "STK-STACK-001", "52 resources"],
                           "ERROR ×52 STK-STACK-001 52 resources could not look: endpoint unreachable")
        service = next(i for i, line in enumerate(lines) if line.startswith("not passing, by service"))
        assert [line.split() for line in lines[service + 2:service + 4]] == [["KMS", "1", "·"], ["RDS", "·", "52"]]
        explained = lines.index("STK-KMS-002 The customer-managed key rotates automatically")
        labels = [line.split()[0] for line in lines[explained + 1:] if line.startswith(" ") and line[1] != " "]
        assert labels == ["resource", "found", "why", "fix", "in", "controls"]
        fix = next(i for i, line in enumerate(lines) if line.startswith(" fix now"))
        assert lines[fix].split()[:5] == ["fix", "now", "aws", "kms", "enable-key-rotation"]
        # The key's ARN, wherever a line holds it, is whole: moved to a line of its own, never broken.
        assert all(arn in line for line in lines if "arn:aws:kms" in line)
        assert arn in " ".join(lines[fix:fix + 2])
        assert any(line.startswith(" controls ISO/IEC 27001:2022 8.24") for line in lines[explained:])


def test_a_clean_run_fits_one_screen():
    items = [Finding(f"c.{n}", "STK-KMS-002", Status.PASS, f"AWS::KMS::Key Key{n} (k-{n})", "on") for n in range(555)]
    report = Report(command="audit", target={"suffix": "prod", "stack": "TapStackprod"}, findings=items,
                    coverage={"declared": 139, "read": 128, "no_reader": ["AWS::CDK::Metadata"]})
    lines = lines_of(report)
    assert len(lines) <= 30 and max(len(line) for line in lines) <= 80, lines
    assert lines[1].startswith("PASS  555 PASS") and "nothing needs someone" in lines[-1]
    assert len(lines_of(report, show_all=True)) > 555


def test_a_run_that_judged_nothing_never_reads_as_a_pass():
    assert lines_of(Report(command="audit", target={"suffix": "x"}))[1].startswith("NOTHING JUDGED")


def test_hostile_names_are_shown_as_text_never_as_markup():
    hostile = "[blink]x[/blink]"  # no space: a resource label splits on spaces
    items = [Finding("c", "STK-KMS-002", Status.FAIL, f"AWS::{hostile}::Key Key{hostile} ({hostile})", hostile,
                     severity="MEDIUM")]
    lines = lines_of(Report(command="audit", target={"suffix": "x", "stack": f"TapStack{hostile}"},
                            findings=items), show_all=True, width=200)
    assert lines[0].startswith(f"opscli audit — TapStack{hostile}")
    assert lines[lines.index("not passing, by service:") + 2].startswith(hostile)  # the service, as text
    (head, said), = entries(lines)
    assert head == ["FAIL MED", "STK-KMS-002", f"Key{hostile} ({hostile})"] and said.endswith(f") {hostile}")
