"""The quests actor and the quest definition files it runs."""

from loreweave.actors.quests.actor import Quests, QuestsState, QuestWorld
from loreweave.actors.quests.definitions import QuestDefinition, load_quest_files, load_quests

__all__ = ["QuestDefinition", "QuestWorld", "Quests", "QuestsState", "load_quest_files", "load_quests"]
