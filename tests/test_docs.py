"""The README's promises: every command it shows exists, and its set-up commands are the
ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from haechi.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> set[tuple[str, ...]]:
    root = typer.main.get_command(app)
    found: set[tuple[str, ...]] = set()
    for name, cmd in getattr(root, "commands", {}).items():
        found.add((name,))
        found.update((name, sub) for sub in getattr(cmd, "commands", {}))
    assert found, "the CLI exposes no commands"
    return found


def test_every_cli_example_in_the_readme_exists() -> None:
    commands = _commands()
    pattern = r"^(?:\$ )?(?:\.venv/bin/)?haechi ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?"
    used = re.findall(pattern, README, flags=re.MULTILINE)
    assert used, "the README shows no CLI examples"
    for group, verb in used:
        if (group,) not in commands:
            raise AssertionError(f"README uses 'haechi {group}', which does not exist")
        # A command without subcommands takes arguments where a group takes a verb.
        is_group = any(len(c) == 2 and c[0] == group for c in commands)
        if verb and is_group and (group, verb) not in commands:
            raise AssertionError(f"README uses 'haechi {group} {verb}', which does not exist")


def test_readme_test_command_is_what_ci_runs() -> None:
    assert "bash scripts/test.sh" in README
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_every_setting_is_documented() -> None:
    from haechi.config import Settings

    for name in Settings.model_fields:
        if name in {"data_dir", "database_url"} or f"HAECHI_{name.upper()}" in README:
            continue
        raise AssertionError(f"HAECHI_{name.upper()} is not in the README's settings table")


def test_every_role_has_its_rights_defined_in_every_domain() -> None:
    """A role added to the core must be thought through in each domain, not default to
    nothing (or everything) by accident."""
    from haechi.auth import PERMISSIONS, Role
    from haechi.moderation.permissions import MOD_PERMISSIONS

    roles = {r.value for r in Role}
    assert set(MOD_PERMISSIONS) == roles
    assert {r.value for r in PERMISSIONS} == roles
