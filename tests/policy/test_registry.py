"""The rule registry (platform_spec.registry): it finds every rule module of platform_spec.rules, imports it, and
reads back the rules each one registered, with the module as the rule's one home."""

from __future__ import annotations

import sys


def test_every_registered_rule_has_one_home_and_the_registry_found_it():
    """A rule module registers its rules when imported, and the registry imports the rule modules it finds
    (platform_spec/rules/stk_*.py). A rule registered anywhere else (a helper module, imported by chance) would
    depend on that chance: every rule's home is a module the registry found, one home per rule id."""
    from platform_spec import registry, rule

    homes: dict[str, set[str]] = {}
    for registered in (*rule.REGISTERED, *rule.STACK_RULES, *rule.ACCOUNT_RULES, *rule.LIVE_RULES):
        homes.setdefault(registered.rule_id, set()).add(registered.module)
    assert {rule_id: found for rule_id, found in homes.items() if len(found) != 1} == {}
    assert {rule_id: found for rule_id, found in homes.items() if not found <= set(registry.RULE_MODULES)} == {}
    assert {rule_id: found.pop() for rule_id, found in homes.items()} == registry.HOME_BY_ID


def test_the_registry_finds_a_new_rule_module_and_leaves_helpers_alone(tmp_path, monkeypatch):
    """Discovery imports every stk_*.py of the package, in name order, and nothing else: a helper, a subpackage
    and a file whose name is no module name are not imported (each would fail here if it were)."""
    from platform_spec import registry, rule

    package = tmp_path / "found_rules"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "stk_new.py").write_text(
        "from platform_spec.rule import plain_rule\n"
        "from platform_spec.result import Result\n"
        "def check(resource_type, properties):\n"
        "    return Result.ok('fine')\n"
        "plain_rule('STK-NEW-001', {'AWS::SNS::Topic'}, check)\n")
    (package / "stk_another.py").write_text("")
    (package / "helper.py").write_text("raise AssertionError('a helper was imported')\n")
    (package / "stk_not-a-module.py").write_text("raise AssertionError('not a module name')\n")
    (package / "stk_package").mkdir()
    (package / "stk_package" / "__init__.py").write_text("raise AssertionError('a subpackage was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(rule, "REGISTERED", [])  # the real registry keeps its rules
    import found_rules

    try:
        assert registry.discover(found_rules) == ("found_rules.stk_another", "found_rules.stk_new")
        [new] = rule.REGISTERED
        assert (new.rule_id, new.module, new.resource_types) == ("STK-NEW-001", "found_rules.stk_new",
                                                                 frozenset({"AWS::SNS::Topic"}))
    finally:
        for name in [n for n in sys.modules if n == "found_rules" or n.startswith("found_rules.")]:
            del sys.modules[name]

