"""Docs that must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from connector.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_variable_the_settings_read() -> None:
    code = (ROOT / "connector" / "config.py").read_text()
    read = set(re.findall(r'env(?:\.get\(|, )"([A-Z][A-Z0-9_]+)"', code))
    assert {"DATABASE_URL", "REDIS_URL", "MLC_ENCRYPTION_KEYS"} <= read
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / "deploy" / "env.example")
                                .read_text(), re.M))
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


def test_procfile_points_at_real_commands() -> None:
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines()
                 if line.strip())
    assert set(lines) == {"release", "web", "worker", "beat", "flower"}
    runner = CliRunner()
    for command in lines.values():
        argv = command.split()
        assert argv[0] == "ml-connector"
        words = [w for w in argv[1:] if not w.startswith("-") and "$" not in w and ":" not in w]
        result = runner.invoke(cli, [*words[:2], "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_every_command_has_help() -> None:
    runner = CliRunner()

    def walk(group: object, path: list[str]) -> None:
        for name, cmd in getattr(group, "commands", {}).items():
            result = runner.invoke(cli, [*path, name, "--help"])
            assert result.exit_code == 0, (path, name, result.output)
            assert (cmd.help or "").strip(), f"{' '.join([*path, name])} has no help text"
            walk(cmd, [*path, name])

    walk(cli, [])
