"""The base class of typed events and the decorator that declares them."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

E = TypeVar("E", bound="Event")


class Event(BaseModel):
    """A typed event payload.

    Declare one with :func:`event`; fields a newer minor version added that this
    process does not know are kept (``extra="allow"``) and survive re-encoding.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[str] = "1.0"
    #: Payload field that orders handling: frames with the same key run one at a time.
    KEY: ClassVar[str | None] = None

    def to_wire(self) -> dict[str, Any]:
        """The payload as plain MessagePack-able values, unknown fields included.

        Only JSON's types (str, int, float, bool, None, lists and string-keyed maps): the codec
        encodes them with msgspec, which would also take sets or datetimes that MessagePack has no type for.
        """
        # model_dump(mode="json") with its defaults, less its Python-level argument handling.
        return self.__pydantic_serializer__.to_python(self, mode="json")  # type: ignore[no-any-return]

    @property
    def key(self) -> str | None:
        """The value of the ordering key field, if the event declares one."""
        return None if self.KEY is None else str(getattr(self, self.KEY))


def event(type: str, version: str = "1.0", key: str | None = None) -> Callable[[type[E]], type[E]]:
    """Declare an event class with its type (``npc.said``), schema version and ordering key,
    and register it in the default registry."""

    def declare(cls: type[E]) -> type[E]:
        from loreweave.schemas.registry import registry

        cls.TYPE = type
        cls.VERSION = version
        cls.KEY = key
        registry.register(cls)
        return cls

    return declare
