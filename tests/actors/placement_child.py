"""A node holding partition leases in a child process, for the SIGSTOP test of tests/actors/test_placement.py.

Usage: ``python placement_child.py NATS_URL DSN SCHEMA LEASE_BUCKET NODE_BUCKET PARTITIONS``.
Prints one line per event: ``ACQUIRED p token`` (after fencing it in PostgreSQL), ``READY``
once it owns every partition, ``LOST p``, then ``REFUSED p token current`` or ``COMMITTED p
token`` for the commit it attempts with the token it had (a handler that was mid-flight when
the process froze). Stops gracefully when stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
import nats

from loreweave.actors.runtime.placement import Placement, PlacementSettings
from loreweave.db.fencing import StaleLeaseError, check_fence


async def main(url: str, dsn: str, schema: str, lease_bucket: str, node_bucket: str, partitions: int) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, server_settings={"search_path": f'"{schema}"'})
    nc = await nats.connect(url, name="placement-child")
    tokens: dict[int, int] = {}

    async def commit(partition: int, token: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await check_fence(conn, partition, token, bucket=lease_bucket)

    async def acquired(partition: int, token: int) -> None:
        await commit(partition, token)
        tokens[partition] = token
        print(f"ACQUIRED {partition} {token}", flush=True)

    async def lost(partition: int) -> None:
        print(f"LOST {partition}", flush=True)
        token = tokens[partition]
        try:
            await commit(partition, token)
        except StaleLeaseError as error:
            print(f"REFUSED {partition} {error.token} {error.current}", flush=True)
        else:
            print(f"COMMITTED {partition} {token}", flush=True)

    settings = PlacementSettings(
        partitions=partitions, lease_ttl=1, renew_interval=0.25, lease_bucket=lease_bucket, node_bucket=node_bucket
    )
    placement = Placement(nc.jetstream(), settings=settings, on_acquired=acquired, on_lost=lost)
    await placement.start()
    while len(placement.owned) < partitions:
        await asyncio.sleep(0.02)
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await placement.stop()
    await nc.close()
    await pool.close()


if __name__ == "__main__":
    url, dsn, schema, lease_bucket, node_bucket, partitions = sys.argv[1:7]
    asyncio.run(main(url, dsn, schema, lease_bucket, node_bucket, int(partitions)))
