"""Errors the settlement engine raises; the service maps them to problem+json responses."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises."""


class PolicyError(EngineError):
    """A policy file is invalid. Raised at load time, so a bad policy stops start-up.

    ``key`` is the dotted path of the offending key (``funds[2].ratio``), ``source`` the file.
    """

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None):
        self.key = key
        self.source = source
        self.detail = message
        text = message if key is None else f"{key}: {message}"
        if source is not None:
            text = f"{source}: {text}"
        super().__init__(text)


class NoPolicyInForce(EngineError):
    """No policy is effective on the requested date."""


class BillInputError(EngineError):
    """Bill input the engine refuses; ``field`` names it (``items[3].amount``)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
