"""The registry of event types: validates payloads on decode."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from pydantic import ValidationError

from loreweave.protocol.errors import FrameError, SchemaError
from loreweave.protocol.subjects import check_token
from loreweave.schemas.base import Event


class EventRegistry:
    """Event types by name; implements the codec's :class:`~loreweave.protocol.PayloadSchema`.

    A frame is accepted when its type is registered and its major version equals
    the registered one; any minor version is accepted (unknown fields are kept,
    missing new fields take their defaults).
    """

    def __init__(self) -> None:
        self._events: dict[str, type[Event]] = {}
        self._accepted: dict[tuple[str, str], Callable[[Any], Event]] = {}

    def register(self, cls: type[Event]) -> None:
        """Add an event class; a second class for the same type is refused."""
        domain, _, name = cls.TYPE.partition(".")
        check_token(f"{cls.__name__}.TYPE", domain)
        check_token(f"{cls.__name__}.TYPE", name)
        _major_minor(cls.VERSION, f"{cls.__name__}.VERSION")
        existing = self._events.get(cls.TYPE)
        if existing is not None and existing is not cls:
            raise SchemaError(cls.TYPE, f"already declared by {existing.__qualname__}")
        self._events[cls.TYPE] = cls
        self._accepted.clear()

    def get(self, event_type: str) -> type[Event]:
        """The class of an event type; raise :class:`FrameError` (``unknown_type``) if none."""
        try:
            return self._events[event_type]
        except KeyError:
            raise FrameError("type", f"unknown event type {event_type!r}", "unknown_type") from None

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._events

    def __iter__(self) -> Iterator[type[Event]]:
        return iter(sorted(self._events.values(), key=lambda cls: cls.TYPE))

    def validate(self, event_type: str, version: str, payload: dict[str, Any]) -> Event:
        """Return the typed payload, or raise :class:`FrameError` naming the field."""
        validate = self._accepted.get((event_type, version))
        if validate is None:
            validate = self._accept(event_type, version)
        try:
            return validate(payload)  # type: ignore[no-any-return]
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "payload"
            raise FrameError(f"payload.{where}", error["msg"], "invalid_payload") from None


    def _accept(self, event_type: str, version: str) -> Callable[[Any], Event]:
        """The validator of an accepted (type, version): the model's own, since ``model_validate``
        adds ~0.5 µs per call for options not used here."""
        cls = self.get(event_type)
        major, _ = _major_minor(version, "version")
        supported, _ = _major_minor(cls.VERSION, "version")
        if major != supported:
            raise FrameError(
                "version",
                f"{event_type} {version} is not supported (this process reads {supported}.x)",
                "bad_version",
            )
        validate = cls.__pydantic_validator__.validate_python
        if len(self._accepted) < 10_000:
            self._accepted[(event_type, version)] = validate
        return validate


def _major_minor(version: str, field: str) -> tuple[int, int]:
    major, dot, minor = version.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise FrameError(field, f"must be 'MAJOR.MINOR', got {version!r}", "bad_version")
    return int(major), int(minor)


#: The registry every declared event joins.
registry = EventRegistry()
