"""Find and read lore files: Markdown or plain text, UTF-8, of bounded size.

Every file is checked before anything is written, so a bad file in a folder stops an
ingestion with one clear line naming it, and leaves the knowledge base as it was.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from loreweave.kb.chunking import document_title
from loreweave.kb.errors import KnowledgeBaseError

#: File name endings read as lore; other files in a folder (YAML, images...) are skipped.
SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
#: Largest file accepted, in bytes (a long novel is about 1 MiB).
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A lore file read from disk: its key in the knowledge base, text and content hash."""

    path: Path
    source: str
    title: str
    text: str
    content_hash: str


def discover(path: Path) -> list[tuple[Path, str]]:
    """The lore files under ``path`` as (file, source key), sorted by key.

    A folder is searched recursively (hidden entries skipped) and each key is the file's
    path relative to it; a single file's key is its name, so ingesting a file alone or
    with its folder names it the same way.

    Raises:
        KnowledgeBaseError: ``path`` does not exist, is a file of an unsupported type,
            or is a folder with no lore files.
    """
    if not path.exists():
        raise KnowledgeBaseError("path", f"{path} does not exist")
    if path.is_file():
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise KnowledgeBaseError(
                "path", f"{path} is not a Markdown or text file ({', '.join(sorted(SUPPORTED_SUFFIXES))})"
            )
        return [(path, path.name)]
    if not path.is_dir():
        raise KnowledgeBaseError("path", f"{path} is neither a file nor a folder")
    found = [
        (file, file.relative_to(path).as_posix())
        for file in path.rglob("*")
        if file.is_file()
        and file.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in file.relative_to(path).parts)
    ]
    if not found:
        raise KnowledgeBaseError("path", f"{path} holds no Markdown or text files")
    return sorted(found, key=lambda item: item[1])


def read_source(path: Path, source: str, *, max_bytes: int = MAX_FILE_BYTES) -> SourceFile:
    """Read one lore file, refusing huge, binary or non-UTF-8 files by name.

    Raises:
        KnowledgeBaseError: naming the file and the reason.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise KnowledgeBaseError(
            "path", f"{path} is {_size(size)}, over the {_size(max_bytes)} limit for one lore file; split it"
        )
    data = path.read_bytes()
    if b"\x00" in data[:65536]:
        raise KnowledgeBaseError("path", f"{path} is a binary file, not Markdown or text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeBaseError(
            "path", f"{path} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    return SourceFile(
        path=path,
        source=source,
        title=document_title(text, path.stem),
        text=text,
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"
