"""The NPC actor, its schedules and its dialogue interface."""

from loreweave.actors.npc.actor import Npc, NpcActorState, NpcRecord, NpcWorld, standing
from loreweave.actors.npc.dialogue import (
    DialogueLine,
    DialogueRequest,
    DialogueWriter,
    FallbackDialogue,
    ScriptedDialogue,
)
from loreweave.actors.npc.schedule import Plan, mood, plan, scheduled, update_needs

__all__ = [
    "DialogueLine", "DialogueRequest", "DialogueWriter", "FallbackDialogue", "Npc", "NpcActorState",
    "NpcRecord", "NpcWorld", "Plan", "ScriptedDialogue", "mood", "plan", "scheduled", "standing",
    "update_needs",
]
