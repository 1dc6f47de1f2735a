"""The EC2 deployers' translation of a CloudFormation security-group rule into an EC2 IpPermission."""

from __future__ import annotations

from localenv.deployers import ec2


def test_a_rule_to_a_peer_group_keeps_its_ports_as_numbers_and_its_description():
    rule = {"IpProtocol": "tcp", "FromPort": "5432", "ToPort": 5432, "SourceSecurityGroupId": "sg-1",
            "Description": "from the API"}
    assert ec2._permission(rule, "SourceSecurityGroupId") == {
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": "sg-1", "Description": "from the API"}]}


def test_a_rule_to_address_ranges_without_ports_or_description():
    rule = {"IpProtocol": -1, "CidrIp": "10.0.0.0/16", "CidrIpv6": "::/0", "DestinationSecurityGroupId": ""}
    assert ec2._permission(rule, "DestinationSecurityGroupId") == {
        "IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
