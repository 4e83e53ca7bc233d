"""Language: speech and narrative in each player's locale, lore terms never translated."""

from __future__ import annotations

import pytest

from loreweave.actors.language import Language, PhrasebookTranslator
from loreweave.actors.runtime import RequestError
from loreweave.schemas import (
    LanguageLocalized,
    LanguageTranslate,
    NarrativeAmbience,
    NarrativeBeat,
    NpcSaid,
    NpcSpawned,
    PlayerJoined,
)

from .conftest import ask, eventually, settle, small_map


async def test_phrasebook_keeps_glossary_terms() -> None:
    translator = PhrasebookTranslator()
    result = await translator.translate("A storm breaks over The Mirewood. Thank you, my friend!", "fr",
                                        ["The Mirewood"])
    assert result.text == "Une tempête éclate sur The Mirewood. Merci, mon ami!"
    assert result.coverage == 1.0 and result.protected == ("The Mirewood",)
    partial = await translator.translate("The storm drums on every roof.", "de-AT", [])
    assert partial.text.startswith("Der Sturm drums auf") and 0 < partial.coverage < 1
    assert translator.supports("es-MX") and not translator.supports("ja")


async def test_a_remembered_translation_still_follows_the_glossary_and_the_language() -> None:
    translator = PhrasebookTranslator()
    line = "A storm breaks over The Mirewood."
    first = await translator.translate(line, "fr", ["The Mirewood"])
    assert await translator.translate(line, "fr-CA", ["The Mirewood"]) is first  # same language: remembered
    unprotected = await translator.translate(line, "fr", [])
    assert unprotected.protected == () and unprotected.text != first.text
    assert (await translator.translate(line, "de", ["The Mirewood"])).text.startswith("Ein Sturm")
    assert (await translator.translate(line, "fr", ["The Mirewood"])).text == first.text


async def test_lines_and_narrative_reach_each_locale(bus, start_node, world, frames) -> None:
    actor = Language(glossary=["Drowned Mother"])
    await start_node(actor)
    await bus.emit(small_map(), world, source="test")
    await bus.emit(NpcSpawned(npc_id="tam", name="Tam Fennick", region="ford"), world, source="test")
    await bus.emit(PlayerJoined(player_id="ann", region="ford", locale="fr"), world, source="test")
    await bus.emit(PlayerJoined(player_id="bob", region="ford", locale="de"), world, source="test")
    await bus.emit(PlayerJoined(player_id="cat", region="ford", locale="en"), world, source="test")
    await bus.emit(PlayerJoined(player_id="dan", region="ford", locale="fr-CA"), world, source="test")
    # maps, NPCs and players come through different handlers: wait until all are known
    await eventually(lambda: world in actor.state.worlds and len(actor.state.worlds[world].locales) == 4
                     and {"Tam Fennick", "The Mirewood"} <= set(actor.state.worlds[world].glossary))
    await bus.emit(NpcSaid(npc_id="tam", text="Good day, my friend. Tam Fennick thanks you.", to_player="ann"),
                   world, source="test")
    await bus.emit(NpcSaid(npc_id="tam", text="Welcome to Fennick's Ford.", to_player="cat"), world, source="test")
    await eventually(lambda: len(frames.of(LanguageLocalized)) == 1)
    await bus.emit(NarrativeBeat(text="A storm breaks over The Mirewood.", kind="weather"), world, source="test")
    await bus.emit(NarrativeAmbience(region="ford", text="Snow again.", player_id="bob"), world, source="test")
    await eventually(lambda: len(frames.of(LanguageLocalized)) >= 5)
    await settle(frames)
    out = [(item.source_type, item.locale, item.player_id, item.text) for item in frames.of(LanguageLocalized)]
    assert sorted(out) == sorted([
        ("npc.said", "fr", "ann", "Bonjour, mon ami. Tam Fennick thanks vous."),
        ("narrative.beat", "de", None, "Ein Sturm bricht herein über The Mirewood."),
        ("narrative.beat", "fr", None, "Une tempête éclate sur The Mirewood."),
        ("narrative.beat", "fr-CA", None, "Une tempête éclate sur The Mirewood."),
        ("narrative.ambience", "de", "bob", "Schon wieder Schnee."),
    ])
    ids = {frame.id: frame.type for frame in frames.frames}
    assert all(ids[f.causation_id] == f.payload.source_type for f in frames.frames_of(LanguageLocalized))

    answer = await ask(bus, world, LanguageTranslate(text="Pray to the Drowned Mother at dawn.", locale="es"))
    assert "Drowned Mother" in answer.text and "alba" in answer.text and answer.protected == ["Drowned Mother"]
    with pytest.raises(RequestError, match="cannot translate into 'ja'"):
        await ask(bus, world, LanguageTranslate(text="hello", locale="ja"))
