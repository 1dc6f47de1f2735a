"""The exit codes' one home (platform_spec.exit_codes): one name per code, and its docstring's table names every
one. That no program writes a code as a number elsewhere: tests/unit/test_architecture.py."""

from __future__ import annotations

import re

from platform_spec import exit_codes


def test_the_exit_code_home_gives_each_code_one_name():
    codes = {name: value for name, value in vars(exit_codes).items() if name.startswith("EXIT_")}
    assert len(set(codes.values())) == len(codes), codes
    documented = {int(code) for code in re.findall(r"^    (\d+) +EXIT_", exit_codes.__doc__ or "", re.MULTILINE)}
    assert documented == set(codes.values())
