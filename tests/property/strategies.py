"""Named hypothesis strategies for the pure rules: suffixes, names, tag values, configs, and opscli's findings and
property values."""

from __future__ import annotations

from hypothesis import strategies as st

from cdk_app.config import AppConfig
from opscli.model import SEVERITIES, Finding
from platform_spec import catalog
from platform_spec.naming import max_suffix_length
from platform_spec.result import Status
from platform_spec.tagging import REQUIRED_TAG_KEYS

#: Valid environment suffixes: lowercase alphanumeric runs joined by single hyphens, within the length limit.
valid_suffixes = st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,3}", fullmatch=True).filter(
    lambda s: len(s) <= max_suffix_length())

#: Arbitrary short text, including the characters that naming rules forbid.
any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)

#: Characters a suffix must never contain.
forbidden_suffix_chars = st.sampled_from([*"ABCXYZ _.:/@!#é\t", "\u3042"])

#: Valid tag values (AWS's tag charset), not empty.
tag_values = st.text(alphabet=st.sampled_from(list("abcXYZ019 _.:/=+-@")), min_size=1, max_size=40).filter(
    lambda v: v.strip() == v and v != "")

#: Extra tags whose keys never collide with AWS's reserved prefix.
extra_tags = st.dictionaries(
    keys=st.from_regex(r"[A-Z][a-zA-Z0-9]{0,20}", fullmatch=True).filter(lambda k: not k.lower().startswith("aws")),
    values=tag_values, max_size=5)

#: Valid configs built through the same parser the app uses.
configs = st.builds(
    lambda suffix, project, cost, owner, cls, extra: AppConfig.for_suffix(
        suffix, project=project, costCenter=cost, owner=owner, dataClassification=cls, extraTags=extra),
    valid_suffixes, tag_values, tag_values, tag_values, tag_values, extra_tags)

REQUIRED = REQUIRED_TAG_KEYS

#: CloudFormation resource types, real ones from the registry mixed with arbitrary AWS-shaped names.
resource_types = st.one_of(
    st.sampled_from(sorted({t for r in __import__("platform_spec.registry", fromlist=["RESOURCE_RULES"]).RESOURCE_RULES
                            for t in r.resource_types})),
    st.from_regex(r"AWS::[A-Z][A-Za-z0-9]{1,12}::[A-Z][A-Za-z0-9]{1,16}", fullmatch=True),
)

#: JSON-like property values.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)

#: Arbitrary properties dicts, sometimes with the keys the rules read.
properties = st.dictionaries(
    st.sampled_from([
        "MultiAZ", "KmsKeyId", "StorageEncrypted", "Engine", "TransitEncryptionMode", "Tags", "NumCacheClusters",
        "DesiredCount", "RetentionInDays", "Name", "NetworkConfiguration", "ClusterSettings", "EndpointConfiguration",
        "AccessLogSetting", "Integration", "FileSystemPolicy", "Volumes", "ContainerDefinitions", "Parameters",
        "ManagedPolicyArns", "PolicyDocument", "Policies", "LoadBalancerAttributes", "FileSystemTags",
        "BackupRetentionPeriod", "ReplicasPerNodeGroup", "AuthToken", "EnableKeyRotation", "KeySpec",
        "TransitEncryptionEnabled", "MultiAZEnabled", "AutomaticFailoverEnabled", "Family", "DBParameterGroupName",
        "PubliclyAccessible", "HttpMethod", "TracingEnabled", "DBInstanceIdentifier", "LogGroupName",
        "Encrypted", "AtRestEncryptionEnabled", "EnablePerformanceInsights", "PerformanceInsightsKMSKeyId",
        "KmsMasterKeyId", "Environment", "DeletionProtection"]) | st.text(max_size=10),
    json_values, max_size=8)

#: AWS-managed KMS key aliases.
aws_managed_aliases = st.from_regex(r"alias/aws/[a-z0-9-]{1,20}", fullmatch=True)

#: Region names of AWS's shape other than ap-northeast-1 (where no copy of the stack's data may go).
other_regions = st.from_regex(r"(us|eu|ap|sa|ca|me|af|il|mx)-(north|south|east|west|central|southeast)-[1-9]|"
                              r"ap-northeast-[2-9]", fullmatch=True)

#: Twelve-digit account ids.
account_ids = st.from_regex(r"[0-9]{12}", fullmatch=True)

#: Text a view lays out: words of ASCII, of wide (two-cell) characters or long enough to exceed any line (an ARN,
#: a command's id), joined by one space or, now and then, by several.
layout_words = st.text(alphabet=st.sampled_from([*"abcXYZ019-_/:.()", "\u3042", "\u6f22"]), max_size=90)
layout_text = st.lists(st.tuples(layout_words, st.sampled_from([" ", " ", " ", "  "])), max_size=25).map(
    lambda parts: "".join(word + space for word, space in parts).rstrip(" "))

#: opscli's findings with catalog rule ids or arbitrary ones, any status, any text (including markup and emoji codes).
findings = st.builds(
    Finding,
    check_id=st.from_regex(r"[a-z]+\.[a-z_]+", fullmatch=True),
    rule_id=st.one_of(st.sampled_from(sorted(catalog.CATALOG)), st.from_regex(r"X-[A-Z]{3}", fullmatch=True)),
    status=st.sampled_from(list(Status)),
    resource=any_text | st.just("arn:aws:secretsmanager:ap-northeast-1:1:secret:[bold]x:smile:"),
    reason=any_text,
    severity=st.sampled_from(SEVERITIES),
    title=any_text,
)

#: Property values as templates and readers give them: scalars (booleans, numbers, strings such as "true" or
#: "30" or an ARN), lists and maps of them. Few scalars, so values that are equal but typed apart (1 and True,
#: 30 and "30") meet often.
_scalars = st.sampled_from([True, False, 1, 0, 30, 30.0, 3.5, "true", "false", "1", "30", "", "k-1",
                            "arn:aws:kms:ap-northeast-1:1:key/k-1"])
property_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["Action", "Resource", "Statement", "Key", "Value"]), inner, max_size=3), max_leaves=8)


def _pieces(text: str) -> st.SearchStrategy[list[str]]:
    """`text` cut at up to four places (anywhere: inside "secretsmanager" too)."""
    return st.lists(st.integers(0, len(text)), max_size=4).map(
        lambda cuts: [text[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(text)], strict=True)])


_SECRET_TEXT = st.sampled_from(["arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-fx:password::",
                                "arn:aws-cn:secretsmanager:{token}:999999999999:secret:other",
                                "{{resolve:secretsmanager:arn:aws:secretsmanager:ap-northeast-1:123456789012:"
                                "secret:api-key}}", "arn:aws:kms:ap-northeast-1:123456789012:key/k-1"])
#: Text naming a secret (or not) as a template writes it: whole, in an Fn::Sub, or cut into an Fn::Join's pieces
#: (some an intrinsic, some a nested Fn::Join), so that no one string need hold "secretsmanager".
secret_naming_values = st.one_of(
    _SECRET_TEXT,
    _SECRET_TEXT.map(lambda text: {"Fn::Sub": text.replace("123456789012", "${AWS::AccountId}")}),
    _SECRET_TEXT.flatmap(_pieces).flatmap(lambda parts: st.lists(
        st.sampled_from(["plain", "ref", "join"]), min_size=len(parts), max_size=len(parts)).map(
        lambda kinds: {"Fn::Join": ["", [
            part if kind == "plain" else {"Fn::Join": ["", [part]]} if kind == "join" else
            [part, {"Ref": "AWS::AccountId"}][part == "123456789012"]
            for part, kind in zip(parts, kinds, strict=True)]]})))
#: Resources whose properties hold such text among other values, at any depth.
secret_reading_resources = st.dictionaries(
    st.sampled_from(["Task", "Policy", "Fn", "Other"]),
    st.fixed_dictionaries({"Type": st.just("AWS::ECS::TaskDefinition"), "Properties": st.recursive(
        st.one_of(secret_naming_values, _scalars),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
            st.sampled_from(["ValueFrom", "Secrets", "Environment", "Fn::Join"]), inner, max_size=3),
        max_leaves=6)}), max_size=3)
