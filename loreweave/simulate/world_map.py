"""The simulator's world: the Thornwake Reach (``examples/worlds/thornwake``), its NPCs and shop.

Region and NPC ids match the quest files in ``examples/quests``.
"""

from __future__ import annotations

from collections import deque

from loreweave.schemas import NpcSpawned, RegionSpec, WorldOpened

REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec(id="vel-arath", name="Vel Arath", biome="city", faction="Tide Council",
               neighbours=["glasswater", "brine-coast", "pale-orchard", "wrack-isle"]),
    RegionSpec(id="glasswater", name="Glasswater Delta", biome="coast", faction="Glasswater Fellowship",
               neighbours=["vel-arath", "mirewood", "brine-coast"]),
    RegionSpec(id="brine-coast", name="Brine Coast", biome="coast", faction="House Scarrow",
               neighbours=["vel-arath", "glasswater"]),
    RegionSpec(id="mirewood", name="The Mirewood", biome="swamp", faction="Reedfolk",
               neighbours=["glasswater", "fennicks-ford"]),
    RegionSpec(id="fennicks-ford", name="Fennick's Ford", biome="plains", faction="Tide Council",
               neighbours=["mirewood", "cindermouth", "pale-orchard"]),
    RegionSpec(id="cindermouth", name="Cindermouth", biome="mountain", faction="Ashen Covenant",
               neighbours=["fennicks-ford"]),
    RegionSpec(id="pale-orchard", name="The Pale Orchard", biome="downs",
               neighbours=["fennicks-ford", "vel-arath"]),
    RegionSpec(id="wrack-isle", name="Wrack Isle", biome="coast", neighbours=["vel-arath"]),
)

NPCS: tuple[NpcSpawned, ...] = (
    NpcSpawned(npc_id="hesper-quill", name="Hesper Quill", role="spymaster", region="vel-arath"),
    NpcSpawned(npc_id="grey-abbess", name="The Grey Abbess", role="priest", region="vel-arath",
               traits=["devout"]),
    NpcSpawned(npc_id="oren-halloway", name="Oren Halloway", role="smuggler", region="glasswater",
               social="vel-arath", schedule="night"),
    NpcSpawned(npc_id="ysa-scarrow", name="Ysa Scarrow", role="salter", region="brine-coast", traits=["outdoor"]),
    NpcSpawned(npc_id="wren", name="Wren of the Reeds", role="guide", region="mirewood", schedule="wanderer"),
    NpcSpawned(npc_id="tam-fennick", name="Tam Fennick", role="farmer", region="fennicks-ford"),
    NpcSpawned(npc_id="brannoc", name="Brannoc", role="miner", region="cindermouth"),
    NpcSpawned(npc_id="perrin-dale", name="Perrin Dale", role="shepherd", region="pale-orchard",
               schedule="wanderer"),
    NpcSpawned(npc_id="old-mott", name="Old Mott", role="lamp-keeper", region="wrack-isle", schedule="night"),
)

#: Things players pick up and fight anywhere (quests name some of them).
ITEMS = ("eel", "moon-salt", "lamp-oil", "white-blossom", "saint-irri-lantern", "reed", "obsidian")
FOES = ("ash-crawler", "drowned-light", "brinehound", "mire-drake")
#: Items the shop sells (the payments actor's default catalogue).
SHOP = ("lantern-oil", "glass-charm", "reed-boat", "ember-cloak", "tide-pass")
LOCALES = ("en", "en", "en", "en", "en", "en", "fr", "de", "es", "fr-CA")


def opening(clock_speed: float | None = None) -> WorldOpened:
    """The ``world.opened`` event of the Thornwake Reach."""
    return WorldOpened(
        title="The Thornwake Reach",
        regions=list(REGIONS),
        factions=sorted({region.faction for region in REGIONS if region.faction}),
        clock_speed=clock_speed,
    )


def neighbours() -> dict[str, list[str]]:
    """Region id -> neighbouring region ids."""
    return {region.id: list(region.neighbours) for region in REGIONS}


def next_step(start: str, goal: str) -> str:
    """The first region on a shortest path from ``start`` to ``goal`` (``goal`` itself if adjacent)."""
    graph = neighbours()
    came: dict[str, str] = {start: start}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if here == goal:
            break
        for there in graph.get(here, []):
            if there not in came:
                came[there] = here
                queue.append(there)
    if goal not in came or goal == start:
        return start
    step = goal
    while came[step] != start:
        step = came[step]
    return step
