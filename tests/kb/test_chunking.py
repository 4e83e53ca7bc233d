"""Chunking: split on headings, then paragraphs; never over the size bound; nothing lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loreweave.kb import KnowledgeBaseError, split_text
from loreweave.kb.chunking import document_title

DOC = """# The Reach

Intro paragraph.

## Rivers

The Thorn runs south.

It floods in spring.

### The Delta

Lagoons over a drowned city.

## Mountains

```
# not a heading, inside a fence
```
"""


def test_chunks_follow_headings_and_carry_their_path() -> None:
    chunks = split_text(DOC)
    assert [(c.heading_path, c.text) for c in chunks] == [
        (("The Reach",), "Intro paragraph."),
        (("The Reach", "Rivers"), "The Thorn runs south.\n\nIt floods in spring."),
        (("The Reach", "Rivers", "The Delta"), "Lagoons over a drowned city."),
        (("The Reach", "Mountains"), "```\n# not a heading, inside a fence\n```"),
    ]
    assert [c.ordinal for c in chunks] == [0, 1, 2, 3]
    assert chunks[2].heading == "The Delta"
    assert chunks[2].embedding_text().startswith("The Reach > Rivers > The Delta\n\n")


def test_paragraphs_are_packed_up_to_the_bound_and_split_when_too_long() -> None:
    paragraph = "Word " * 60  # 300 characters
    text = "## Long\n\n" + "\n\n".join([paragraph.strip()] * 5)
    chunks = split_text(text, max_chars=700)
    assert len(chunks) == 3  # 2 + 2 + 1 paragraphs
    assert all(len(c.text) <= 700 and c.heading == "Long" for c in chunks)


def test_a_sentence_longer_than_the_bound_is_cut_between_words() -> None:
    text = "x" * 250 + " " + "y" * 10
    chunks = split_text(text, max_chars=100)
    assert all(len(c.text) <= 100 for c in chunks)
    assert "".join(c.text.replace(" ", "") for c in chunks) == "x" * 250 + "y" * 10


def test_plain_text_without_headings_has_an_empty_heading() -> None:
    (chunk,) = split_text("Just a rumour.\n")
    assert chunk.heading == "" and chunk.heading_path == ()
    assert chunk.embedding_text() == "Just a rumour."


def test_title_is_the_first_level_one_heading_else_the_fallback() -> None:
    assert document_title(DOC, "x") == "The Reach"
    assert document_title("## Only a sub-heading\ntext", "fallback") == "fallback"


def test_an_absurd_bound_is_refused_by_name() -> None:
    with pytest.raises(KnowledgeBaseError, match="max_chars"):
        split_text("text", max_chars=10)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000),
    max_chars=st.integers(min_value=50, max_value=400),
)
def test_any_text_gives_bounded_stripped_chunks(text: str, max_chars: int) -> None:
    chunks = split_text(text, max_chars=max_chars)
    assert all(0 < len(c.text) <= max_chars and c.text == c.text.strip() for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="#`~"), max_size=3000
    ),
    max_chars=st.integers(min_value=50, max_value=400),
)
def test_text_without_markup_loses_no_character(text: str, max_chars: int) -> None:
    chunks = split_text(text, max_chars=max_chars)
    kept = "".join("".join(c.text.split()) for c in chunks)
    assert kept == "".join(text.split())
