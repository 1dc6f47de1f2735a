"""Deployers of Lambda functions, layers and event source mappings (placeholder code: the asset bucket is not local)."""

from __future__ import annotations

import io
import zipfile

from localenv.deployers.base import DeployContext, deployer, tag_map


@deployer("AWS::Lambda::LayerVersion")
def lambda_layer(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    """A placeholder layer (the asset bucket is not local): the local consumer runs with the installed
    dependencies."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("python/placeholder.py", "")
    layer = ctx.client("lambda").publish_layer_version(
        LayerName=p.get("LayerName") or f"{ctx.stack_name}-{lid}"[:64], Content={"ZipFile": code.getvalue()},
        Description=p.get("Description", ""), CompatibleRuntimes=p.get("CompatibleRuntimes", []))
    return layer["LayerVersionArn"], {}


@deployer("AWS::Lambda::EventSourceMapping")
def event_source_mapping(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    """Created disabled: the local consumer of the monitor's queue is `python -m opscli.monitor`, started by
    `localenv up`; an enabled mapping would have the emulator hand the queue's messages to a function it cannot
    run."""
    args = {k: p[k] for k in ("FunctionResponseTypes",) if k in p}
    args.update({k: int(p[k]) for k in ("BatchSize", "MaximumBatchingWindowInSeconds") if k in p})
    mapping = ctx.client("lambda").create_event_source_mapping(
        EventSourceArn=p["EventSourceArn"], FunctionName=p["FunctionName"], Enabled=False, **args)
    return mapping["UUID"], {"EventSourceMappingId": mapping["UUID"]}


@deployer("AWS::Lambda::Function")
def lambda_function(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    """Created with placeholder code (the asset bucket is not local); never invoked: custom resources do not
    run locally, and the monitor's local consumer is a process of its own."""
    name = p.get("FunctionName") or f"{ctx.stack_name}-{lid}"[:64]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.js", "exports.handler = async () => ({});\n")
    args = {k: p[k] for k in ("Runtime", "Handler", "Description", "Architectures", "Environment") if k in p}
    args.update({k: int(p[k]) for k in ("MemorySize", "Timeout") if k in p})
    function = ctx.client("lambda").create_function(
        FunctionName=name, Role=p["Role"], Code={"ZipFile": code.getvalue()}, Tags=tag_map(p), **args)
    return name, {"Arn": function["FunctionArn"]}
