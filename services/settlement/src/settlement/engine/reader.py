"""Reading a parsed TOML policy table with errors that name the offending key."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from shared.money import fen

from .errors import PolicyError
from .types import AID_CLASSES, AidClass

T = TypeVar("T")
_MISSING = object()


class Table:
    """One TOML table being read. Keys not read by the time ``finish`` is called are refused,
    so a misspelt key is an error rather than a silently ignored setting."""

    def __init__(self, data: object, path: str, source: str):
        if not isinstance(data, Mapping):
            raise PolicyError("must be a table", key=path or None, source=source)
        self.data: Mapping[str, object] = data
        self.path = path
        self.source = source
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str | None, message: str) -> PolicyError:
        key = self.path if name is None else self.key(name)
        return PolicyError(message, key=key or None, source=self.source)

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: object = _MISSING) -> object:
        self._seen.add(name)
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            raise self.error(name, "missing")
        return default

    def table(self, name: str) -> Table:
        return Table(self.raw(name), self.key(name), self.source)

    def string(self, name: str, default: str | None = None) -> str:
        value = self.raw(name, _MISSING if default is None else default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, "must be a non-empty string")
        return value

    def string_list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.raw(name, _MISSING if default is None else default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, "must be a list of non-empty strings")
        if len(set(value)) != len(value):
            raise self.error(name, "must not repeat an entry")
        return list(value)

    def number(self, name: str, check: Callable[[Decimal, str], Decimal]) -> Decimal:
        return check(self.raw(name), self.key(name))  # type: ignore[arg-type]

    def finish(self) -> None:
        for name in sorted(set(self.data) - self._seen):
            raise self.error(name, "unknown key")


class Checker:
    """Converts policy numbers (TOML integers, decimals or numeric strings) to Decimal, and
    collects the places a file departs from the plan's fixed numbers (``breaches``)."""

    def __init__(self, source: str):
        self.source = source
        self.breaches: list[PolicyError] = []

    def error(self, key: str, message: str) -> PolicyError:
        return PolicyError(message, key=key, source=self.source)

    def breach(self, key: str, message: str) -> None:
        """Record that ``key`` departs from the plan; ``policy.check_plan`` raises it."""
        self.breaches.append(self.error(key, message))

    def decimal(self, value: object, key: str) -> Decimal:
        if isinstance(value, bool):
            raise self.error(key, "must be a number")
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, str):
            try:
                value = Decimal(value.strip())
            except InvalidOperation:
                raise self.error(key, "must be a number") from None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise self.error(key, "must be a number")
        return value

    def money(self, value: object, key: str) -> Decimal:
        amount = self.decimal(value, key)
        if amount < 0:
            raise self.error(key, "must not be negative")
        try:
            rounded = fen(amount)
        except InvalidOperation:  # more digits than a Decimal holds
            raise self.error(key, "is too large") from None
        if amount != rounded:
            raise self.error(key, "must have at most two decimals")
        return rounded

    def ratio(self, value: object, key: str) -> Decimal:
        ratio = self.decimal(value, key)
        if not 0 <= ratio <= 1:
            raise self.error(key, "must be between 0 and 1")
        return ratio

    def per_class(
        self,
        value: object,
        key: str,
        classes: Iterable[AidClass],
        convert: Callable[[object, str], T],
        fallback: T | None = None,
    ) -> dict[AidClass, T]:
        """A value that may differ by aid class: a plain number (same for every class) or a table
        ``{ default = …, key = …, assisted = …, none = … }``."""
        if not isinstance(value, Mapping):
            converted = convert(value, key)
            return dict.fromkeys(classes, converted)
        for name in value:
            if name != "default" and name not in AID_CLASSES:
                raise self.error(
                    f"{key}.{name}", "unknown aid class (key, assisted, none, default)"
                )
        out: dict[AidClass, T] = {}
        default = convert(value["default"], f"{key}.default") if "default" in value else fallback
        for c in classes:
            if c in value:
                out[c] = convert(value[c], f"{key}.{c}")
            elif default is not None:
                out[c] = default
            else:
                raise self.error(f"{key}.{c}", "missing (give a value for this class or a default)")
        return out

    def per_level(
        self,
        value: object,
        key: str,
        levels: Iterable[int],
        convert: Callable[[object, str], T],
    ) -> dict[int, T]:
        """A value that may differ by hospital level: a plain number or ``{ 1 = …, 2 = … }``."""
        levels = tuple(levels)
        if not isinstance(value, Mapping):
            converted = convert(value, key)
            return dict.fromkeys(levels, converted)
        out: dict[int, T] = {}
        for name, item in value.items():
            if not (isinstance(name, str) and name.isdigit() and int(name) in levels):
                raise self.error(f"{key}.{name}", "not a hospital level of this policy")
            out[int(name)] = convert(item, f"{key}.{name}")
        for level in levels:
            if level not in out:
                raise self.error(f"{key}.{level}", "missing")
        return out
