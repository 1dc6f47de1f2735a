"""Deployers of the PostgreSQL instance, its subnet group and parameter group."""

from __future__ import annotations

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::RDS::DBSubnetGroup")
def db_subnet_group(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    name = p["DBSubnetGroupName"]
    ctx.client("rds").create_db_subnet_group(DBSubnetGroupName=name, SubnetIds=p["SubnetIds"],
                                              DBSubnetGroupDescription=p["DBSubnetGroupDescription"],
                                              Tags=tags(p))
    return name, {}


@deployer("AWS::RDS::DBParameterGroup")
def db_parameter_group(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    rds = ctx.client("rds")
    name = p.get("DBParameterGroupName", lid.lower())
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=p["Family"],
                                  Description=p["Description"], Tags=tags(p))
    rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=[
        {"ParameterName": k, "ParameterValue": str(v), "ApplyMethod": "pending-reboot"}
        for k, v in p.get("Parameters", {}).items()])
    return name, {}


@deployer("AWS::RDS::DBInstance")
def db_instance(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    keys = ("DBInstanceIdentifier", "Engine", "EngineVersion", "DBInstanceClass", "MultiAZ", "StorageEncrypted",
            "KmsKeyId", "BackupRetentionPeriod", "DBParameterGroupName", "DBSubnetGroupName",
            "VPCSecurityGroups", "MasterUsername", "MasterUserPassword", "PubliclyAccessible", "Port",
            "EnablePerformanceInsights", "PerformanceInsightsKMSKeyId", "EnableCloudwatchLogsExports",
            "DeletionProtection", "CopyTagsToSnapshot", "StorageType", "DBName", "MaxAllocatedStorage",
            "EnableIAMDatabaseAuthentication", "AutoMinorVersionUpgrade", "MonitoringInterval",
            "MonitoringRoleArn", "CACertificateIdentifier")
    args = {k: p[k] for k in keys if k in p}
    args["VpcSecurityGroupIds"] = args.pop("VPCSecurityGroups", [])
    args["AllocatedStorage"] = int(p.get("AllocatedStorage", 20))
    args.setdefault("PubliclyAccessible", False)  # CloudFormation's default inside a VPC subnet group
    for key in ("Port", "BackupRetentionPeriod", "MaxAllocatedStorage", "MonitoringInterval"):
        if key in args:
            args[key] = int(args[key])
    db = ctx.client("rds").create_db_instance(**args, Tags=tags(p))["DBInstance"]
    endpoint = db.get("Endpoint", {})
    return db["DBInstanceIdentifier"], {"Endpoint.Address": endpoint.get("Address", f"{lid}.local"),
                                        "Endpoint.Port": str(endpoint.get("Port", args.get("Port", 5432))),
                                        "DBInstanceArn": db["DBInstanceArn"]}
