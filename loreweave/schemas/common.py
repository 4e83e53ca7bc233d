"""Field types shared by the game events."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

#: An id of a player, NPC, region, quest... (1 to 64 characters).
Id = Annotated[str, Field(min_length=1, max_length=64)]
#: A world flag's value.
FlagValue = bool | int | float | str
