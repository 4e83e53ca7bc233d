"""What bus authorization and TLS cost: frames/s through the runtime with auth, and auth + TLS, against a
server without either.

    python benchmarks/auth_overhead.py [--frames 40000] [--rounds 4]

Baseline: a nats-server with JetStream and no authorization (what every release before the
security work ran). With auth: the embedded server as `loreweave up` runs it, users and subject
permissions per role; the actor node connects as `actor-node`, the publisher as `game-server`
(every publish and every delivery checked against the roles' permissions). Both run the same
With TLS: the same embedded server with LOREWEAVE_NATS_TLS_* set (a development CA made for the
run, an ECDSA P-256 certificate), every client trusting that CA. All three run the same workload
in the same process, in interleaved rounds; medians are reported, and the ratios against none.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bus_throughput import Counter, bench_actor, console, pump  # noqa: E402

from loreweave.actors.runtime import ActorNode, Bus, frame_for  # noqa: E402
from loreweave.embedded import EmbeddedNats  # noqa: E402
from loreweave.embedded.nats import free_port, nats_server_binary  # noqa: E402
from loreweave.protocol import frame_headers, new_frame_id  # noqa: E402
from loreweave.schemas import PlayerMoved  # noqa: E402
from loreweave.security import BusTls, make_dev_certificates  # noqa: E402

TARGET = 0.9


async def open_server_without_auth(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A plain nats-server with JetStream and no authorization, on a free loopback port."""
    port = free_port()
    process = subprocess.Popen(
        [str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"nats://127.0.0.1:{port}"
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return process, url
        except OSError:
            await asyncio.sleep(0.05)
    process.kill()
    raise RuntimeError("the plain nats-server did not start")


async def run_once(node_url: str, client_url: str, world: str, frames: int, window: int, progress: Progress,
                   label: str, tls: ssl.SSLContext | None = None) -> float:
    """Frames/s: a game server's pre-encoded frames -> decode -> validate -> mailbox -> handler."""
    counter = Counter()
    node = ActorNode(await Bus.connect(node_url, tls=tls), [bench_actor(world, counter, 16)], capacity=window)
    await node.start()
    client = await Bus.connect(client_url, tls=tls)
    wire = []
    for number in range(frames):
        frame = frame_for(PlayerMoved(player_id=f"p{number % 16}", region=f"r{number}"), world, "bench")
        frame.id = frame.correlation_id = new_frame_id()
        wire.append((frame.subject, client.encode(frame), frame_headers(frame)))

    async def send(number: int) -> None:
        subject, data, headers = wire[number]
        await client.nc.publish(subject, data, headers=headers)

    rate = await pump(send, counter, frames, window, progress, label)
    await node.stop()
    await client.close()
    return rate


async def main(frames: int, rounds: int, window: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="lw-auth-bench-"))
    plain, plain_url = await open_server_without_auth(work / "plain")
    secured = EmbeddedNats(work / "secured", tls=BusTls())
    certificates = make_dev_certificates(work / "pki")
    encrypted = EmbeddedNats(work / "encrypted", tls=certificates)
    context = certificates.client_context()
    await secured.start()
    await encrypted.start()
    try:
        for url, tls in ((plain_url, None), (secured.client_url("admin"), None),
                         (encrypted.client_url("admin"), context)):
            setup = await Bus.connect(url, tls=tls)
            await setup.ensure_streams()
            await setup.close()
        none: list[float] = []
        auth: list[float] = []
        tls_on: list[float] = []
        per_round = frames // rounds
        with Progress(console=console, transient=True) as progress:
            for number in range(rounds):
                none.append(await run_once(plain_url, plain_url, f"benchnone{number}", per_round, window, progress,
                                           "no auth"))
                auth.append(await run_once(secured.client_url("actor-node"), secured.client_url("game-server"),
                                           f"benchauth{number}", per_round, window, progress,
                                           "auth: actor-node and game-server"))
                tls_on.append(await run_once(encrypted.client_url("actor-node"), encrypted.client_url("game-server"),
                                             f"benchtls{number}", per_round, window, progress,
                                             "auth + TLS", tls=context))
        for label, rates in (("no authorization", none), ("users + role permissions", auth),
                             ("users + permissions + TLS", tls_on)):
            console.print(f"{label:>26}: median {statistics.median(rates):9,.0f} frames/s "
                          f"(rounds: {', '.join(f'{rate:,.0f}' for rate in rates)})")
        ratio = statistics.median(auth) / statistics.median(none)
        tls_ratio = statistics.median(tls_on) / statistics.median(none)
        console.print(f"ratio auth/none: {ratio:.2f} (target >= {TARGET}); ratio tls/none: {tls_ratio:.2f} "
                      "(auth + TLS against neither; no target)")
        return 0 if ratio >= TARGET else 1
    finally:
        await encrypted.stop()
        await secured.stop()
        plain.terminate()
        plain.wait(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--window", type=int, default=1000)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.frames, args.rounds, args.window)))
