"""Reading docker-compose.yml the way `docker compose` does, for the offline checks and the
smoke test: YAML (anchors and merge keys included) and `${VAR}` interpolation from an env
file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(KeyError):
    pass


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``KEY=value`` lines; blank lines and ``#`` comments skipped; optional quotes removed."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=value: {raw!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def variables(text: str) -> list[tuple[str, str | None]]:
    """Every variable a string refers to, with its operator (``None``, ``:-``, ``:?``, ...)."""
    return [
        (m["braced"] or m["bare"], m["op"]) for m in _VARIABLE.finditer(text) if not m["escaped"]
    ]


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's rules: ``$$`` is a literal ``$``; ``${V:-d}`` / ``${V-d}`` default when unset
    (``:-`` also when empty); ``${V:?msg}`` / ``${V?msg}`` fail; unset plain ``${V}`` is ""."""

    def one(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["bare"]
        op, arg = m["op"], m["arg"] or ""
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return interpolate(arg, env)
            return value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise MissingVariable(f"{name}: {arg}")
            return value
        return value or ""

    return _VARIABLE.sub(one, text)


def service_environment(service: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): interpolate(str(v), env) for k, v in raw.items()}


def service_command(service: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    command = service["command"]
    assert isinstance(command, list), "use the exec (list) form for commands"
    return [interpolate(str(part), env) for part in command]
