"""The designers' console: a world's live story, why each event happened, lore, NPC minds and an
operations glance, in a browser on localhost (``loreweave console``)."""

from loreweave.console.app import create_app
from loreweave.console.causality import CausalNode, CausalTree, build_tree
from loreweave.console.live import LiveFeed, WorldContext
from loreweave.console.npcs import NpcView, RankedMemory, WorldState, load_world_state, parse_world_state
from loreweave.console.operations import ActorCounters, OperationsGlance, glance, percentile, reaction_ms
from loreweave.console.server import ConsoleServer, knowledge_base_on, open_console, start_console
from loreweave.console.state import ConsoleState
from loreweave.console.story import KINDS, STORY_TYPES, StoryFilter, StoryItem, classify, from_entry, from_frame

__all__ = [
    "KINDS",
    "STORY_TYPES",
    "ActorCounters",
    "CausalNode",
    "CausalTree",
    "ConsoleServer",
    "ConsoleState",
    "LiveFeed",
    "NpcView",
    "OperationsGlance",
    "RankedMemory",
    "StoryFilter",
    "StoryItem",
    "WorldContext",
    "WorldState",
    "build_tree",
    "classify",
    "create_app",
    "from_entry",
    "from_frame",
    "glance",
    "knowledge_base_on",
    "load_world_state",
    "open_console",
    "parse_world_state",
    "percentile",
    "reaction_ms",
    "start_console",
]
