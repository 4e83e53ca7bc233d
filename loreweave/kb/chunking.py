"""Split Markdown or plain text into chunks of bounded size, on headings then paragraphs.

A chunk never crosses a heading, so every chunk can be named by its document and
heading. Paragraphs of one section are packed together up to ``max_chars``; a
paragraph too long for one chunk is split between sentences, and a sentence too long
is split between words (a word too long, between characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loreweave.kb.errors import KnowledgeBaseError

#: Default largest chunk, in characters. all-MiniLM-L6-v2 reads at most 256 word
#: pieces (about 1,000 characters of English); longer text would be cut silently.
MAX_CHUNK_CHARS = 900

_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True, slots=True)
class TextChunk:
    """One piece of a document: its place among the chunks, its headings and its text."""

    ordinal: int
    heading_path: tuple[str, ...]
    text: str

    @property
    def heading(self) -> str:
        """The nearest heading above the chunk ('' for text before any heading)."""
        return self.heading_path[-1] if self.heading_path else ""

    def embedding_text(self) -> str:
        """What gets embedded: the heading path gives the model the chunk's context."""
        if not self.heading_path:
            return self.text
        return " > ".join(self.heading_path) + "\n\n" + self.text


def document_title(text: str, fallback: str) -> str:
    """The first level-1 heading of ``text``, else ``fallback`` (usually the file stem)."""
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = _HEADING.match(line)
        if match and not in_fence and len(match.group(1)) == 1:
            return match.group(2).strip()
    return fallback


def split_text(text: str, *, max_chars: int = MAX_CHUNK_CHARS) -> list[TextChunk]:
    """Split Markdown (or plain text) into chunks of at most ``max_chars`` characters."""
    if max_chars < 50:
        raise KnowledgeBaseError("max_chars", f"must be at least 50, got {max_chars}")
    chunks: list[TextChunk] = []
    for path, paragraphs in _sections(text):
        for piece in _pack(paragraphs, max_chars):
            chunks.append(TextChunk(len(chunks), path, piece))
    return chunks


def _sections(text: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """(heading path, paragraphs) for each heading's section, in order."""
    sections: list[tuple[tuple[str, ...], list[str]]] = []
    stack: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    lines: list[str] = []
    in_fence = False

    def end_paragraph() -> None:
        if lines:
            paragraph = "\n".join(lines).strip()
            if paragraph:
                paragraphs.append(paragraph)
            lines.clear()

    def end_section() -> None:
        end_paragraph()
        if paragraphs:
            sections.append((tuple(title for _, title in stack), list(paragraphs)))
            paragraphs.clear()

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            lines.append(line)
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            end_section()
            level = len(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, match.group(2).strip()))
        elif not line.strip() and not in_fence:
            end_paragraph()
        else:
            lines.append(line.rstrip())
    end_section()
    return sections


def _pack(paragraphs: list[str], max_chars: int) -> list[str]:
    """Greedily join paragraphs (or their pieces) into chunks of at most ``max_chars``."""
    pieces: list[str] = []
    for paragraph in paragraphs:
        pieces.extend(_split_long(paragraph, max_chars) if len(paragraph) > max_chars else [paragraph])
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}\n\n{piece}" if current else piece
        if len(candidate) <= max_chars:
            current = candidate
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def _split_long(paragraph: str, max_chars: int) -> list[str]:
    """Split one over-long paragraph between sentences, then words, then characters."""
    units: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if len(sentence) <= max_chars:
            units.append(sentence)
        else:
            units.extend(_split_words(sentence, max_chars))
    out: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current} {unit}" if current else unit
        if len(candidate) <= max_chars:
            current = candidate
        else:
            out.append(current)
            current = unit
    if current:
        out.append(current)
    return out


def _split_words(sentence: str, max_chars: int) -> list[str]:
    out: list[str] = []
    current = ""
    for word in sentence.split():
        while len(word) > max_chars:
            if current:
                out.append(current)
                current = ""
            out.append(word[:max_chars])
            word = word[max_chars:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= max_chars:
            current = candidate
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    return out
