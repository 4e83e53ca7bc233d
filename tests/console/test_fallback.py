"""An NPC line the script wrote because the model failed says why, and the console shows it."""

from __future__ import annotations

from loreweave.actors.npc import Npc
from loreweave.actors.npc.dialogue import DialogueLine, DialogueRequest, FallbackDialogue, ScriptedDialogue
from loreweave.console import from_frame
from loreweave.schemas import NpcSpawned, PlayerSpoke
from loreweave.testing import eventually


class SilentModel:
    """A model tier that never answers in time."""

    async def line(self, request: DialogueRequest) -> DialogueLine:
        raise TimeoutError("no tier answered")


async def test_a_fallen_back_line_names_the_error_and_the_console_shows_it(bus, start_node, world) -> None:
    npc = Npc(seed=1, writer=FallbackDialogue(SilentModel(), ScriptedDialogue(1), timeout_s=0.5))
    await start_node(npc)
    said = []

    async def keep(msg: object) -> None:
        said.append(bus.decode(msg.data))  # type: ignore[attr-defined]

    await bus.nc.subscribe(f"lw.{world}.npc.said", cb=keep)
    await bus.nc.flush()
    await bus.emit(NpcSpawned(npc_id="mira", name="Mira", role="ferrywoman", region="ford"), world, source="test")

    async def answered() -> bool:
        if not said:
            await bus.emit(PlayerSpoke(player_id="p1", npc_id="mira", text="Is the river safe?"), world, source="test")
        return bool(said)

    await eventually(answered, timeout=10, interval=0.5)
    line = said[0]
    assert line.payload.tier == "scripted" and line.payload.fallback == "TimeoutError"
    assert line.version == "1.1"
    item = from_frame(line)
    assert item.fallback == "TimeoutError" and item.tier == "scripted"
