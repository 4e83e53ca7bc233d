"""GPU utilisation and memory through NVML (``nvidia-ml-py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GpuSample:
    """One GPU at one moment."""

    index: int
    name: str
    utilization_pct: float
    memory_used_bytes: int
    memory_total_bytes: int

    @property
    def memory_pct(self) -> float:
        """Memory used, in percent of the total."""
        return 100.0 * self.memory_used_bytes / self.memory_total_bytes if self.memory_total_bytes else 0.0


class GpuUnavailable(Exception):
    """No GPU can be read here (no driver, no device, no NVML); the message says why."""


class GpuReader(Protocol):
    """Reads every GPU the process can see."""

    def read(self) -> list[GpuSample]:
        """Current samples; raises :class:`GpuUnavailable` if there is no GPU to read."""


class NvmlReader:
    """Reads GPUs through NVML; initialises it on first use and keeps it."""

    def __init__(self) -> None:
        self._ready = False

    def _init(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise GpuUnavailable("nvidia-ml-py is not installed") from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise GpuUnavailable(f"NVML cannot start: {exc}") from None
        self._ready = True

    def read(self) -> list[GpuSample]:
        """Utilisation and memory of every device."""
        if not self._ready:
            self._init()
        import pynvml

        try:
            count = pynvml.nvmlDeviceGetCount()
            if count == 0:
                raise GpuUnavailable("NVML reports no GPU")
            samples = []
            for index in range(count):
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                name = pynvml.nvmlDeviceGetName(handle)
                utilization = pynvml.nvmlDeviceGetUtilizationRates(handle)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                samples.append(GpuSample(
                    index=index, name=name.decode() if isinstance(name, bytes) else str(name),
                    utilization_pct=float(utilization.gpu), memory_used_bytes=int(memory.used),
                    memory_total_bytes=int(memory.total)))
            return samples
        except pynvml.NVMLError as exc:
            raise GpuUnavailable(f"NVML query failed: {exc}") from None

    def close(self) -> None:
        """Shut NVML down if it was started."""
        if self._ready:
            import pynvml

            pynvml.nvmlShutdown()
            self._ready = False
