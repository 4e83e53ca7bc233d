"""The embedder: the bundled all-MiniLM-L6-v2, offline, unit vectors of 384 dimensions."""

from __future__ import annotations

import os

import numpy as np

from loreweave.kb import DIMENSIONS, Embedder


async def test_vectors_are_unit_length_and_meaningful(embedder: Embedder) -> None:
    vectors = await embedder.embed(
        ["The knight swore an oath of silence.", "A sworn knight vowed to stay silent.", "Eel prices fell."]
    )
    assert vectors.shape == (3, DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert (await embedder.embed([])).shape == (0, DIMENSIONS)


async def test_the_model_is_loaded_with_the_hub_switched_off(embedder: Embedder) -> None:
    await embedder.embed_one("warm")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
