"""The storyteller's knowledge base: lore search, NPC memories and concept evolution on
PostgreSQL + pgvector.

Every function takes a :class:`KnowledgeBase` (a pool and an embedder)::

    kb = KnowledgeBase(database.pool)
    await ingest_path(kb, "examples/worlds/thornwake", world="thornwake")
    hits = await search(kb, "Who rules Vel Arath?", world="thornwake")
    context = await prompt_context(kb, "thornwake", "the stolen lantern", owner="npc-42")
"""

from loreweave.kb.api import context_handler, handle_context, handle_search, search_handler
from loreweave.kb.chunking import MAX_CHUNK_CHARS, TextChunk, split_text
from loreweave.kb.concepts import (
    CONCEPT_KINDS,
    Concept,
    ConceptChange,
    ConceptHistory,
    ConceptKind,
    ConceptVersion,
    StoryEvent,
    concept_history,
    define_concept,
)
from loreweave.kb.context import PromptContext, prompt_context
from loreweave.kb.embed import DIMENSIONS, MODEL_NAME, Embedder, default_embedder
from loreweave.kb.errors import KnowledgeBaseError, NotFoundError, UnknownWorldError
from loreweave.kb.events import RecordedEvent, recent_events, record_event
from loreweave.kb.ingest import IngestProgress, IngestReport, ingest_path, remove_document
from loreweave.kb.journal import STORY_EVENT_TYPES, import_entries, import_journal
from loreweave.kb.importance import AIImportance, ImportanceRater, estimate_importance
from loreweave.kb.memory import (
    STORYTELLER,
    Memory,
    MemorySettings,
    RecalledMemory,
    RecallWeights,
    forget,
    list_memories,
    memory_settings,
    recall,
    remember,
    set_memory_settings,
)
from loreweave.kb.observations import Observed, observe
from loreweave.kb.reflection import ReflectionWriter, ScriptedReflection, maybe_reflect, reflect
from loreweave.kb.samples import SAMPLE_WORLDS_DIR, ingest_sample_worlds, seed_concepts
from loreweave.kb.fusion import FUSIONS, Fusion, weighted_fusion
from loreweave.kb.search import METHODS, Method, SearchHit, reciprocal_rank_fusion, search
from loreweave.kb.store import KnowledgeBase
from loreweave.kb.worlds import ensure_world, list_worlds

__all__ = [
    "CONCEPT_KINDS",
    "DIMENSIONS",
    "FUSIONS",
    "MAX_CHUNK_CHARS",
    "METHODS",
    "MODEL_NAME",
    "SAMPLE_WORLDS_DIR",
    "STORYTELLER",
    "STORY_EVENT_TYPES",
    "AIImportance",
    "Concept",
    "ConceptChange",
    "ConceptHistory",
    "ConceptKind",
    "ConceptVersion",
    "Embedder",
    "Fusion",
    "ImportanceRater",
    "IngestProgress",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Memory",
    "MemorySettings",
    "Method",
    "NotFoundError",
    "Observed",
    "PromptContext",
    "RecallWeights",
    "RecalledMemory",
    "RecordedEvent",
    "ReflectionWriter",
    "ScriptedReflection",
    "SearchHit",
    "StoryEvent",
    "TextChunk",
    "UnknownWorldError",
    "concept_history",
    "context_handler",
    "default_embedder",
    "define_concept",
    "ensure_world",
    "estimate_importance",
    "forget",
    "handle_context",
    "handle_search",
    "import_entries",
    "import_journal",
    "ingest_path",
    "ingest_sample_worlds",
    "list_memories",
    "list_worlds",
    "maybe_reflect",
    "memory_settings",
    "observe",
    "prompt_context",
    "recall",
    "recent_events",
    "reciprocal_rank_fusion",
    "record_event",
    "reflect",
    "remember",
    "remove_document",
    "search",
    "search_handler",
    "seed_concepts",
    "set_memory_settings",
    "split_text",
    "weighted_fusion",
]
