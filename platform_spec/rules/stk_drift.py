"""STK-DRIFT-001: a declared property whose live value differs and breaks no other rule (judged by opscli drift,
over every declared property; a value that breaks a rule is reported under that rule)."""

from __future__ import annotations

DRIFT_ID = "STK-DRIFT-001"
