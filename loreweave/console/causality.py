"""Why did this happen: an event's causal chain as a tree, from the frames of its conversation.

Every frame carries the id of the conversation's first frame (``correlation_id``) and of the
frame whose handling emitted it (``causation_id``). The frames of one conversation, from the
journal and from what the console saw live, are linked by those ids into a tree: back from the
chosen event to the frame that started it, and forward to everything it caused. Frames that were
never journaled nor visible to a designer (a game server's input, a weather change) still appear,
by id and time (a frame id is a ULID: it carries its millisecond), as "not journaled" nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from loreweave.console.story import StoryItem
from loreweave.protocol.ids import frame_id_millis, is_frame_id

#: Most nodes one tree shows; the rest are counted.
MAX_NODES = 400


@dataclass
class CausalNode:
    """One frame of a causal tree.

    Attributes:
        id: the frame id.
        item: the event, or None when the frame is not in the journal nor seen live.
        ts_us: its time (from the id when the frame itself is missing).
        note: why a missing frame is missing, and what is known of it.
        on_path: whether it lies between the root and the chosen event.
        focus: whether it is the chosen event.
        children: what its handling emitted, in time order.
    """

    id: str
    item: StoryItem | None = None
    ts_us: int = 0
    note: str = ""
    on_path: bool = False
    focus: bool = False
    children: list[CausalNode] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        """Whether the frame itself is unknown (only its id is)."""
        return self.item is None


@dataclass
class CausalTree:
    """A conversation's tree, rooted at the frame that started it.

    Attributes:
        root: the first frame.
        focus: the chosen event's node.
        correlation_id: the conversation.
        size: frames in the tree.
        hidden: frames left out beyond :data:`MAX_NODES`.
    """

    root: CausalNode
    focus: CausalNode
    correlation_id: str
    size: int
    hidden: int = 0

    def path(self) -> list[CausalNode]:
        """The nodes from the root down to the chosen event."""
        nodes, node = [self.root], self.root
        while not node.focus:
            node = next((child for child in node.children if child.on_path), None)  # type: ignore[assignment]
            if node is None:
                break
            nodes.append(node)
        return nodes


def _id_time(frame_id: str) -> int:
    return frame_id_millis(frame_id) * 1000 if is_frame_id(frame_id) else 0


def _players(items: Iterable[StoryItem]) -> list[str]:
    return sorted({item.player for item in items if item.player})


def build_tree(items: Iterable[StoryItem], focus_id: str) -> CausalTree:
    """The causal tree of the conversation holding ``focus_id``, from its frames ``items``.

    Raises:
        KeyError: ``focus_id`` is not among ``items``.
    """
    by_id: dict[str, StoryItem] = {}
    for item in items:
        by_id.setdefault(item.id, item)
    focus_item = by_id[focus_id]
    correlation = focus_item.correlation_id or focus_item.id
    nodes: dict[str, CausalNode] = {i: CausalNode(i, item, item.ts_us) for i, item in by_id.items()}

    def node_for(frame_id: str) -> CausalNode:
        if frame_id not in nodes:
            nodes[frame_id] = CausalNode(frame_id, None, _id_time(frame_id))
        return nodes[frame_id]

    # Link each frame to its cause; a cause nobody journaled becomes a node of its own.
    parents: dict[str, str] = {}
    for frame_id, item in by_id.items():
        cause = item.causation_id
        if cause and cause != frame_id:
            node_for(cause)
            parents[frame_id] = cause
    root_id = correlation
    node_for(root_id)
    # A missing cause that is not the conversation's first frame hangs under it (its own cause is unknown).
    for frame_id, node in list(nodes.items()):
        if frame_id != root_id and frame_id not in parents and node.missing:
            parents[frame_id] = root_id
    # The first frame has no cause in its conversation; a stray row of another conversation, or a
    # cycle of ids, hangs under the first frame rather than looping.
    parents.pop(root_id, None)
    for frame_id in list(parents):
        seen, cursor = {frame_id}, parents[frame_id]
        while cursor != root_id and cursor in parents and cursor not in seen:
            seen.add(cursor)
            cursor = parents[cursor]
        if cursor != root_id:
            parents[frame_id] = root_id
    for frame_id, parent in sorted(parents.items(), key=lambda pair: (nodes[pair[0]].ts_us, pair[0])):
        nodes[parent].children.append(nodes[frame_id])

    focus = nodes[focus_id]
    focus.focus = True
    cursor: str | None = focus_id
    while cursor is not None:
        nodes[cursor].on_path = True
        cursor = parents.get(cursor)
    for node in nodes.values():
        if node.missing:
            node.note = _missing_note(node, root_id)
    root = nodes[root_id]
    shown = _prune(root, MAX_NODES)
    return CausalTree(root=root, focus=focus, correlation_id=correlation, size=len(nodes), hidden=len(nodes) - shown)


def _missing_note(node: CausalNode, root_id: str) -> str:
    players = _players(child.item for child in node.children if child.item is not None)
    who = f" (player {', '.join(players)})" if players else ""
    if node.id == root_id:
        started = "a game server's input" if players else "a game server's input or a timer's tick"
        return f"the frame that started it{who}: {started}, not journaled; its id and time come from the frames it caused"
    return f"not journaled nor visible to a designer{who}: an actor's intermediate frame"


def missing_label(node: CausalNode, root: bool) -> str:
    """What to call a frame known only by its id: the game server's frame when it started a player's
    conversation, else the conversation's first frame, or an unseen frame in between."""
    if not root:
        return "unseen frame"
    players = _players(child.item for child in node.children if child.item is not None)
    return "game-server frame" if players else "first frame"


def _prune(root: CausalNode, budget: int) -> int:
    """Keep at most ``budget`` nodes, depth first, always keeping the path to the focus."""
    kept = 0
    stack = [root]
    while stack:
        node = stack.pop()
        kept += 1
        room = budget - kept
        if room <= 0:
            node.children = [child for child in node.children if child.on_path]
        elif len(node.children) > room:
            node.children = [c for c in node.children if c.on_path] + [
                c for c in node.children if not c.on_path][: max(0, room - 1)]
        stack.extend(reversed(node.children))
    return kept
