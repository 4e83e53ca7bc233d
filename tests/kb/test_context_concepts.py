"""A prompt's context states what is true now: a concept changed by story events wins over old lore."""

from __future__ import annotations

from pathlib import Path

from loreweave.actors.npc.bus_dialogue import dialogue_prompt
from loreweave.actors.npc.dialogue import DialogueRequest
from loreweave.kb import ConceptChange, KnowledgeBase, define_concept, ingest_path, prompt_context, record_event


async def test_a_deposed_ruler_is_not_called_by_her_old_title(kb: KnowledgeBase, world: str, tmp_path: Path) -> None:
    (tmp_path / "fells.md").write_text(
        "# The Fells\n\n## Rulers\n\nYrsa Vane, High Jarl of the Fells, rules from the hall at Skarth.\n",
        encoding="utf-8",
    )
    await ingest_path(kb, tmp_path, world=world)
    await define_concept(kb, "Yrsa Vane", "character", "High Jarl of the Fells.", world=world,
                         attributes={"title": "High Jarl"})
    await define_concept(kb, "Oskar Tarn", "character", "A tanner of Skarth.", world=world)
    before = await prompt_context(kb, world, "Who rules the Fells?", lore_k=1)
    assert [c.name for c in before.concepts] == ["Yrsa Vane"] and before.concepts[0].version == 1
    await record_event(kb, world, "npc.deposed", "The moot cast Yrsa Vane out of the hall.",
                       changes=[ConceptChange("Yrsa Vane", "Deposed by the moot; lives in exile.", {"title": None})])
    after = await prompt_context(kb, world, "Who rules the Fells?", lore_k=1)
    current = after.concepts[0]
    assert (current.version, current.summary, current.attributes) == (2, "Deposed by the moot; lives in exile.", {})
    text = after.to_dict()["text"]
    assert text.index("Current facts") < text.index("Lore:")
    assert "Yrsa Vane (character): Deposed by the moot; lives in exile." in text
    assert "High Jarl" not in text.split("Lore:")[0]
    # the NPC's prompt carries it
    prompt = dialogue_prompt(DialogueRequest(npc_id="n", npc_name="Oskar", role="tanner", purpose="reply"), text)
    assert "Deposed by the moot" in prompt
