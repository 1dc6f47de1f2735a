"""What the local commands start from: a valid suffix and its synthesized template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdk_app.config import AppConfig, ConfigError
from platform_utils import files

ROOT = Path(__file__).resolve().parents[1]


class UsageError(ValueError):
    """Bad input to a local command (exit code 2)."""


def load_stack(suffix: str, template: Path | None, *, synthesized_by: str) -> tuple[AppConfig, dict[str, Any]]:
    """The config for `suffix` and its template (`template`, or cdk.out/TapStack<suffix>.template.json)."""
    try:
        config = AppConfig.for_suffix(suffix)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    path = template or ROOT / "cdk.out" / f"{config.stack_name}.template.json"
    try:
        template = files.read_json(path, "template")
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist: synthesize first ({synthesized_by} does)") from None
    except files.FileRefused as exc:
        raise UsageError(str(exc)) from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise UsageError(f"template {path} has no Resources map: not a CloudFormation template")
    return config, template
