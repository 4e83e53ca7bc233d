"""Quest definitions: the YAML files designers edit, validated with errors naming file and field.

A file holds one quest (a mapping), a list of quests, or ``quests: [...]``::

    id: ash-crawlers
    title: Ash-crawlers in the Galleries
    giver: brannoc
    region: cindermouth
    time_limit_minutes: 1440      # game minutes; the quest fails when they pass
    prerequisites: [the-dry-paths]
    objectives:
      - {id: crawlers, kind: defeat, target: ash-crawler, count: 4}
    rewards: {xp: 60, gold: 25, items: [ember-ward], flags: {galleries_cleared: true}}
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loreweave.config import read_yaml
from loreweave.protocol import ConfigError
from loreweave.schemas import Objective, Rewards


class QuestDefinition(BaseModel):
    """One quest as designed."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=2000)
    giver: str | None = Field(default=None, max_length=64, description="NPC id.")
    region: str | None = Field(default=None, max_length=64)
    prerequisites: list[str] = Field(default_factory=list, description="Quests to complete first.")
    time_limit_minutes: int | None = Field(default=None, ge=1, description="Game minutes to finish in.")
    repeatable: bool = False
    objectives: list[Objective] = Field(min_length=1)
    rewards: Rewards = Field(default_factory=Rewards)

    @model_validator(mode="after")
    def _objective_ids_unique(self) -> QuestDefinition:
        seen: set[str] = set()
        for index, objective in enumerate(self.objectives):
            if objective.id in seen:
                raise ValueError(f"objectives[{index}].id: {objective.id!r} is used twice")
            seen.add(objective.id)
        return self


def _where(location: tuple[Any, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _documents(path: Path) -> list[tuple[str, Any]]:
    data = read_yaml(path)
    if isinstance(data, dict) and "quests" in data and "id" not in data:
        data = data["quests"]
        prefix = "quests"
    else:
        prefix = ""
    if isinstance(data, dict):
        return [("", data)]
    if isinstance(data, list):
        return [(f"{prefix}[{index}]", item) for index, item in enumerate(data)]
    raise ConfigError(str(path), "must hold a quest (a mapping) or a list of quests")


def load_quest_files(paths: Iterable[Path]) -> dict[str, QuestDefinition]:
    """Load and check quests from files.

    Raises:
        ConfigError: naming the file and the field (``examples/quests/x.yaml: objectives[0].count``),
            for bad YAML, a bad value, a quest id used twice, an unknown prerequisite or a cycle.
    """
    quests: dict[str, QuestDefinition] = {}
    origin: dict[str, str] = {}
    for path in paths:
        for prefix, document in _documents(path):
            if not isinstance(document, dict):
                raise ConfigError(f"{path}: {prefix or 'quest'}", "must be a mapping of quest fields")
            try:
                quest = QuestDefinition.model_validate(document)
            except ValidationError as exc:
                error = exc.errors()[0]
                field = _where((*([prefix] if prefix else []), *error["loc"])) or prefix or "quest"
                message = error["msg"].removeprefix("Value error, ")
                if error["type"] == "extra_forbidden":
                    message = "is not a quest field"
                raise ConfigError(f"{path}: {field}", message) from None
            if quest.id in quests:
                raise ConfigError(f"{path}: {_where((prefix, 'id')) if prefix else 'id'}",
                                  f"quest {quest.id!r} is already defined in {origin[quest.id]}")
            quests[quest.id] = quest
            origin[quest.id] = str(path)
    for quest_id, quest in quests.items():
        for index, needed in enumerate(quest.prerequisites):
            if needed not in quests:
                raise ConfigError(f"{origin[quest_id]}: prerequisites[{index}]", f"unknown quest {needed!r}")
    _refuse_cycles(quests, origin)
    return quests


def load_quests(directory: Path) -> dict[str, QuestDefinition]:
    """Load every ``*.yaml`` and ``*.yml`` file of a directory (see :func:`load_quest_files`)."""
    if not directory.is_dir():
        raise ConfigError(str(directory), "is not a directory of quest files")
    return load_quest_files(sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]))


def _refuse_cycles(quests: dict[str, QuestDefinition], origin: dict[str, str]) -> None:
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(quest_id: str, path: list[str]) -> None:
        if state.get(quest_id) == 2:
            return
        if state.get(quest_id) == 1:
            cycle = " -> ".join([*path[path.index(quest_id):], quest_id])
            raise ConfigError(f"{origin[quest_id]}: prerequisites", f"form a cycle: {cycle}")
        state[quest_id] = 1
        for needed in quests[quest_id].prerequisites:
            visit(needed, [*path, quest_id])
        state[quest_id] = 2

    for quest_id in sorted(quests):
        visit(quest_id, [])
