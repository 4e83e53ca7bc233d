"""Settings: per-world settings, validated, versioned, and broadcast when they change.

An update is checked whole against :class:`~loreweave.schemas.WorldSettings`; a bad value
refuses the whole update with an error naming the setting. ``expected_version`` makes an
update conditional (optimistic concurrency). A change that changes nothing is not a version.

Answers: ``settings.get``, ``settings.update``. Consumes: ``world.closed``.
Emits: ``settings.changed`` (what changed and the whole new settings).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import ConfigError, now_us
from loreweave.schemas import (
    SettingsChanged,
    SettingsCurrent,
    SettingsGet,
    SettingsRevision,
    SettingsUpdate,
    WorldClosed,
    WorldSettings,
)

#: Revisions kept per world.
HISTORY = 100


def _by_world(frame: object) -> str:
    return frame.world  # type: ignore[attr-defined]


class WorldSettingsRecord(BaseModel):
    """One world's settings and their history."""

    version: int = 0
    settings: WorldSettings = Field(default_factory=WorldSettings)
    history: list[SettingsRevision] = Field(default_factory=list)


class SettingsState(BaseModel):
    """Every world's settings."""

    worlds: dict[str, WorldSettingsRecord] = Field(default_factory=dict)


def validate_changes(current: WorldSettings, changes: dict[str, Any]) -> WorldSettings:
    """The settings after ``changes``, or a :class:`ConfigError` naming the bad setting."""
    known = set(WorldSettings.model_fields)
    for name in changes:
        if name not in known:
            raise ConfigError(name, f"is not a setting (known: {', '.join(sorted(known))})")
    try:
        return WorldSettings.model_validate({**current.model_dump(), **changes})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        raise ConfigError(where, f"{error['msg']} (got {error.get('input')!r})") from None


class Settings(GameActor[SettingsState]):
    """Keeps each world's settings."""

    name = "settings"

    def __init__(self, *, seed: int = 0, heartbeat_s: float = 5.0) -> None:
        super().__init__(SettingsState(), seed=seed, heartbeat_s=heartbeat_s)

    def _record(self, world: str) -> WorldSettingsRecord:
        return self.state.worlds.setdefault(world, WorldSettingsRecord())

    @reply("lw.rpc.*.settings.get", key=_by_world)
    async def get(self, event: SettingsGet, ctx: Context) -> SettingsCurrent:
        """The world's settings (defaults until the first change)."""
        record = self._record(ctx.frame.world)
        return SettingsCurrent(
            version=record.version, settings=record.settings.model_copy(),
            history=list(record.history) if event.include_history else [],
        )

    @reply("lw.rpc.*.settings.update", key=_by_world)
    async def update(self, event: SettingsUpdate, ctx: Context) -> SettingsCurrent:
        """Apply a change if valid (and at ``expected_version``), then broadcast it."""
        record = self._record(ctx.frame.world)
        if event.expected_version is not None and event.expected_version != record.version:
            raise ConfigError(
                "expected_version", f"is {event.expected_version} but the settings are at version {record.version}"
            )
        updated = validate_changes(record.settings, event.changes)
        before, after = record.settings.model_dump(), updated.model_dump()
        changes = {name: after[name] for name in event.changes if before[name] != after[name]}
        if changes:
            record.version += 1
            record.settings = updated
            record.history.append(SettingsRevision(version=record.version, changes=changes, by=event.by, ts=now_us()))
            del record.history[:-HISTORY]
            await ctx.emit(SettingsChanged(version=record.version, changes=changes, settings=updated, by=event.by))
        return SettingsCurrent(version=record.version, settings=record.settings.model_copy())

    @on("lw.*.world.closed", key=_by_world)
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world's settings."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)
