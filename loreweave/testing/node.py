"""Run a ``loreweave run`` node in a child process: start it, wait until it is ready, kill it.

Readiness is a signal, not a sleep: the node logs ``node started: <actors>`` once every actor
has loaded its state and the server has its subscriptions (:meth:`ActorNode.start` returns),
and :meth:`NodeProcess.start` returns when that line appears. The child's output is kept in a
log file (and its last lines in memory, for error messages).
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from loreweave.embedded.nats import _die_with_parent, _prctl

#: What a node prints once it serves its actors (the runtime's "node started" log line).
READY_PATTERN = re.compile(r"\bnode started: ")
#: Output lines that report a failure inside the node (a log line at ERROR or above).
ERROR_PATTERN = re.compile(r"(^| )(ERROR|CRITICAL) ")


class NodeError(RuntimeError):
    """A node process exited or never became ready; the message carries its last output lines."""


def loreweave_run(
    actors: Sequence[str], *, seed: int = 0, quests_dir: Path | None = None, extra: Sequence[str] = ()
) -> list[str]:
    """The command line of ``loreweave run --actors a,b,c`` with this interpreter."""
    command = [sys.executable, "-m", "loreweave", "run", "--actors", ",".join(actors), "--seed", str(seed)]
    if quests_dir is not None:
        command += ["--quests", str(quests_dir)]
    return [*command, *extra]


def node_env(
    nats_url: str,
    database_url: str | None = None,
    data_dir: Path | None = None,
    *,
    base: Mapping[str, str] | None = None,
    **settings: str,
) -> dict[str, str]:
    """The environment of a node: ``base`` (default ``os.environ``) with the ``LOREWEAVE_*`` settings.

    ``settings`` are extra variables without their prefix, e.g. ``log_level="INFO"``. The log
    level is INFO unless given, since readiness is read from the log.
    """
    env = dict(os.environ if base is None else base)
    env["LOREWEAVE_NATS_URL"] = nats_url
    if database_url is not None:
        env["LOREWEAVE_DATABASE_URL"] = database_url
    if data_dir is not None:
        env["LOREWEAVE_DATA_DIR"] = str(data_dir)
    env["LOREWEAVE_LOG_LEVEL"] = "INFO"
    for name, value in settings.items():
        env[f"LOREWEAVE_{name.upper()}"] = value
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class NodeProcess:
    """A node as a child process that can be started again after it is killed.

    Args:
        command: the command line, e.g. :func:`loreweave_run` (...).
        env: its environment, e.g. :func:`node_env` (...).
        log_path: where its output is appended (default: kept in memory only).
        ready_pattern: the output line that says it is ready.
        keep_lines: how many last output lines to keep for error messages.
    """

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        *,
        log_path: Path | None = None,
        ready_pattern: re.Pattern[str] = READY_PATTERN,
        keep_lines: int = 40,
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.log_path = log_path
        self.ready_pattern = ready_pattern
        self.lines: collections.deque[str] = collections.deque(maxlen=keep_lines)
        #: Output lines matching :data:`ERROR_PATTERN`, each with the exception of the traceback that
        #: followed it, all starts together (see :meth:`take_errors`).
        self.errors: list[str] = []
        #: Processes started so far.
        self.starts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def pid(self) -> int | None:
        """The running child's pid."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether a child was started and has not exited."""
        return self._process is not None and self._process.returncode is None

    @property
    def returncode(self) -> int | None:
        """The last child's exit status (negative: the signal that ended it)."""
        return self._process.returncode if self._process is not None else None

    @property
    def ready(self) -> bool:
        """Whether the running child has printed its readiness line."""
        return self.running and self._ready.is_set()

    async def start(self, timeout: float = 60.0) -> None:
        """Start the child and return once it printed its readiness line.

        Raises:
            NodeError: it exited first, or was not ready within ``timeout`` (it is then killed).
        """
        await self.spawn()
        await self.wait_ready(timeout)

    async def spawn(self) -> None:
        """Start the child without waiting for it (see :meth:`wait_ready`)."""
        if self.running:
            raise NodeError("the node is already running")
        self._ready = asyncio.Event()
        self._process = await asyncio.create_subprocess_exec(
            *self.command,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Its own session: a Ctrl-C meant for us does not kill it mid-check; it dies with us.
            start_new_session=True,
            preexec_fn=_die_with_parent if _prctl is not None else None,
        )
        self.starts += 1
        self._reader = asyncio.create_task(self._read(self._process))

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once the child printed its readiness line.

        Raises:
            NodeError: it exited first, or was not ready within ``timeout`` (it is then killed).
        """
        process = self._process
        if process is None:
            raise NodeError("the node was never started")
        ready = asyncio.create_task(self._ready.wait())
        exited = asyncio.create_task(process.wait())
        done, _ = await asyncio.wait({ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        exited.cancel()
        if ready in done:
            return
        if exited in done:
            if self._reader is not None:
                await self._reader
            raise NodeError(f"the node exited with code {process.returncode} before it was ready:\n{self.tail()}")
        await self.kill()
        raise NodeError(f"the node was not ready within {timeout}s:\n{self.tail()}")

    async def kill(self) -> int | None:
        """SIGKILL the child (no drain, no cleanup) and reap it; returns its exit status."""
        return await self._signal(signal.SIGKILL, None)

    async def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the child (it drains and stops), SIGKILL it after ``timeout``; returns its exit status."""
        return await self._signal(signal.SIGTERM, timeout)

    async def wait(self) -> int | None:
        """Wait until the child exits on its own."""
        if self._process is None:
            return None
        code = await self._process.wait()
        if self._reader is not None:
            await self._reader
        return code

    def take_errors(self) -> list[str]:
        """The error lines logged since the last call."""
        errors, self.errors = self.errors, []
        return errors

    def tail(self) -> str:
        """The child's last output lines."""
        return "\n".join(self.lines)

    async def _signal(self, signum: signal.Signals, timeout: float | None) -> int | None:
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            try:
                process.send_signal(signum)
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        if self._reader is not None:
            await self._reader
        return process.returncode

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        log = open(self.log_path, "a", encoding="utf-8") if self.log_path is not None else None
        in_traceback = False
        try:
            if log is not None:
                log.write(f"--- start {self.starts}: pid {process.pid}: {' '.join(self.command)}\n")
            async for raw in process.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                if log is not None:
                    log.write(line + "\n")
                    log.flush()
                if not self._ready.is_set() and self.ready_pattern.search(line):
                    self._ready.set()
                if ERROR_PATTERN.search(line):
                    self.errors.append(line)
                elif line.startswith("Traceback "):
                    in_traceback = True
                elif in_traceback and line and not line[0].isspace():
                    in_traceback = False
                    if self.errors:  # the exception that the error line above reported
                        self.errors[-1] += f" ({line})"
        finally:
            if log is not None:
                log.close()
