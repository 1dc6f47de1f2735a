"""Policy-as-code for the StreamTech platform: one rule catalog and pure predicates shared by every engine.

Importable with the standard library alone, so Checkov (in its own environment) can load it.
"""
