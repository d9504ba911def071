"""RedisTSDB on Redis Cluster: spread over nodes, exact across them, one batch per node, and
fast, honest failures. The contract suite runs on the cluster too (``tsdb_backend``)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis_cluster import RedisClusterNodes

from tsdb.base import TSDBModel, TSDBUnavailable
from tsdb.inmemory import InMemoryTSDB
from tsdb.redis import RedisTSDB

M = TSDBModel
Sent = list[tuple[int, list[tuple[Any, ...]]]]


class NodeCountingConnection(redis.Connection):
    """Records every batch it sends with the port of its node: one batch is one round trip."""

    sent: Sent = []

    def pack_commands(self, commands: Any) -> Any:
        commands = [tuple(args) for args in commands]
        NodeCountingConnection.sent.append((self.port, commands))
        return super().pack_commands(commands)

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        NodeCountingConnection.sent.append((self.port, [args]))
        super().send_command(*args, **kwargs)


@pytest.fixture
def counting_cluster_tsdb(
    redis_cluster: RedisClusterNodes, tsdb_prefix: str
) -> Iterator[RedisTSDB]:
    """A RedisTSDB on a cluster client whose node connections record what they send; every
    primary is connected (and the handshakes forgotten) before the test starts."""
    client = RedisCluster.from_url(redis_cluster.url, connection_class=NodeCountingConnection)
    backend = RedisTSDB(prefix=tsdb_prefix, client=client)
    backend.validate()
    NodeCountingConnection.sent.clear()
    yield backend
    backend.flush()
    client.close()


def names(commands: list[tuple[Any, ...]]) -> list[str]:
    return [str(args[0]).upper() for args in commands]


def keys_on_node(nodes: RedisClusterNodes, port: int, prefix: str) -> set[str]:
    client = nodes.node_client(port)
    try:
        return set(client.scan_iter(match=f"{prefix}*", count=1000))
    finally:
        client.close()


def node_of(backend: RedisTSDB, key: str) -> int:
    port: int = backend.client.get_node_from_key(key).port
    return port


def test_it_builds_a_cluster_client_from_one_node_url(
    cluster_tsdb: RedisTSDB, redis_cluster: RedisClusterNodes
) -> None:
    assert isinstance(cluster_tsdb.client, RedisCluster)
    primaries = {node.port for node in cluster_tsdb.client.get_primaries()}
    assert primaries == set(redis_cluster.ports)
    # No blind retries on the cluster either: a resent HINCRBY could count twice.
    assert cluster_tsdb.client.retry.get_retries() == 0


def test_it_spreads_keys_over_every_node_and_keeps_the_strings_of_one_key_together(
    cluster_tsdb: RedisTSDB, redis_cluster: RedisClusterNodes, tsdb_prefix: str
) -> None:
    now = int(time.time())
    cluster_tsdb.incr_multi(
        [(model, key) for model in (M.project_total_received, M.project) for key in range(500)],
        now,
    )

    per_node = {
        port: keys_on_node(redis_cluster, port, tsdb_prefix) for port in redis_cluster.ports
    }
    assert all(len(keys) > 500 for keys in per_node.values()), per_node
    # The hash tag {key}: every string of one counted key (both models, all three rollups)
    # is in one slot, so one script per key writes them all.
    for key in range(500):
        strings = [
            cluster_tsdb.make_key(model, rollup, cluster_tsdb.block_of(rollup, now)[0], str(key))
            for model in (M.project_total_received, M.project)
            for rollup in (10, 60, 3600)
        ]
        assert len({cluster_tsdb.client.keyslot(name) for name in strings}) == 1
        [port] = [port for port, keys in per_node.items() if strings[0] in keys]
        assert set(strings) <= per_node[port]


def test_incr_multi_and_get_range_count_exactly_across_nodes(cluster_tsdb: RedisTSDB) -> None:
    reference = InMemoryTSDB()
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(20240601)
    models = (M.project_total_received, M.organization_total_received, M.key_total_rejected)
    items: list[Any] = [
        (
            rng.choice(models),
            rng.randrange(40),
            now - timedelta(seconds=rng.randrange(2 * 3600)),
            rng.randrange(1, 50),
        )
        for _ in range(600)
    ]
    for start in range(0, len(items), 200):
        cluster_tsdb.incr_multi(items[start : start + 200])
        reference.incr_multi(items[start : start + 200])

    keys = list(range(40))
    for model in models:
        for rollup in (10, 60, 3600):
            window = now - timedelta(minutes={10: 20, 60: 120, 3600: 180}[rollup]), now
            got = cluster_tsdb.get_range(model, keys, *window, rollup=rollup)
            assert got == reference.get_range(model, keys, *window, rollup=rollup)
        expected = sum(count for item_model, _, _, count in items if item_model == model)
        sums = cluster_tsdb.get_sums(model, keys, now - timedelta(hours=4), now, rollup=3600)
        assert sum(sums.values()) == expected


def test_incr_multi_sends_one_batch_to_each_node_it_touches(
    counting_cluster_tsdb: RedisTSDB, redis_cluster: RedisClusterNodes
) -> None:
    sent = NodeCountingConnection.sent
    now = int(time.time())
    items = [(model, key) for model in (M.project_total_received, M.project) for key in range(200)]

    counting_cluster_tsdb.incr_multi(items, timestamp=now)

    ports = [port for port, _ in sent]
    assert sorted(ports) == sorted(redis_cluster.ports)  # one batch per node, each node once
    client = counting_cluster_tsdb.client
    slots = []
    counters = 0
    for port, commands in sent:
        assert set(names(commands)) == {"EVALSHA"}
        for command in commands:
            keys = command[3 : 3 + int(command[2])]
            # One script per slot: its keys share the slot, on the node it was sent to.
            [slot] = {client.keyslot(key) for key in keys}
            assert client.nodes_manager.get_node_from_slot(slot).port == port
            slots.append(slot)
            counters += len(keys)
    assert len(slots) == len(set(slots)) == len({client.keyslot(f"{{{k}}}") for k in range(200)})
    assert counters == 2 * 200 * 4  # 3 rollups and the daily summary


def test_get_range_sends_one_batch_of_getranges_to_each_node(
    counting_cluster_tsdb: RedisTSDB, redis_cluster: RedisClusterNodes
) -> None:
    sent = NodeCountingConnection.sent
    now = datetime.now(UTC)
    keys = list(range(1000))
    counting_cluster_tsdb.incr_multi([(M.project_total_received, key) for key in keys], now)
    sent.clear()
    start = now - timedelta(seconds=86399)

    result = counting_cluster_tsdb.get_range(M.project_total_received, keys, start, now)

    assert sorted(port for port, _ in sent) == sorted(redis_cluster.ports)
    assert {name for _, commands in sent for name in names(commands)} == {"GETRANGE"}
    series = counting_cluster_tsdb.get_series(start, now, 3600)
    blocks = {counting_cluster_tsdb.block_of(3600, ts)[0] for ts in series}
    assert sum(len(commands) for _, commands in sent) == 1000 * len(blocks)
    assert all(len(series) == 24 and series[-1][1] == 1 for series in result.values())


def test_validate_asks_every_primary_for_the_cluster_state(
    counting_cluster_tsdb: RedisTSDB, redis_cluster: RedisClusterNodes
) -> None:
    counting_cluster_tsdb.validate()

    sent = NodeCountingConnection.sent
    assert sorted(port for port, _ in sent) == sorted(redis_cluster.ports)
    assert all(commands == [("CLUSTER INFO",)] for _, commands in sent)


def test_flush_deletes_only_its_own_prefix_on_every_node(
    cluster_tsdb: RedisTSDB, redis_cluster: RedisClusterNodes, tsdb_prefix: str
) -> None:
    neighbours = [f"{tsdb_prefix[:-1]}x:unrelated:{n}" for n in range(30)]
    client = cluster_tsdb.client
    for key in neighbours:
        client.set(key, "keep me", ex=60)
    try:
        cluster_tsdb.incr_multi([(M.project, key) for key in range(300)])
        assert all(keys_on_node(redis_cluster, port, tsdb_prefix) for port in redis_cluster.ports)

        cluster_tsdb.flush()

        for port in redis_cluster.ports:
            assert keys_on_node(redis_cluster, port, tsdb_prefix) == set()
        assert [client.get(key) for key in neighbours] == [b"keep me"] * len(neighbours)
    finally:
        for key in neighbours:
            client.delete(key)


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.incr(M.project, 1),
        lambda b: b.get_range(
            M.project, [1], datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC)
        ),
        lambda b: b.validate(),
        lambda b: b.flush(),
    ],
    ids=["incr", "get_range", "validate", "flush"],
)
def test_it_raises_tsdb_unavailable_fast_when_the_cluster_is_unreachable(call: Any) -> None:
    # Nothing listens on port 1: the cluster client cannot even learn the slot map.
    backend = RedisTSDB(url="redis://127.0.0.1:1/0", prefix="test:tsdb:down:", cluster=True)
    started = time.monotonic()
    for _ in range(2):  # and again: each use tries to connect anew, and fails as fast
        with pytest.raises(TSDBUnavailable, match="Redis is unavailable"):
            call(backend)
    assert time.monotonic() - started < 2
    backend.close()


def test_a_hung_node_fails_the_call_fast_and_drops_the_write_when_it_wakes_up(
    redis_cluster: RedisClusterNodes, tsdb_prefix: str
) -> None:
    backend = RedisTSDB(url=redis_cluster.url, prefix=tsdb_prefix, cluster=True, socket_timeout=0.3)
    backend.validate()  # connected to every primary before one of them hangs
    now = int(time.time())
    keys = list(range(100))  # every node holds some of these
    hung = node_of(backend, backend.make_key(M.project, 10, backend.block_of(10, now)[0], "0"))
    on_hung = [
        k for k in keys if node_of(backend, backend.make_key(M.project, 10, 0, str(k))) == hung
    ]
    assert 0 < len(on_hung) < len(keys)
    try:
        with redis_cluster.paused(hung):
            started = time.monotonic()
            with pytest.raises(TSDBUnavailable):
                backend.incr_multi([(M.project, key) for key in keys], now)
            with pytest.raises(TSDBUnavailable):
                backend.validate()
            # Each call waits for one timeout, not one per command sent to the hung node.
            assert time.monotonic() - started < 1.5

        # The other nodes applied their part at once. The hung node, woken up after the
        # write's deadline (sent + 0.3 s), runs the script, which finds the deadline passed
        # and drops it: the call that failed is not counted there later.
        backend.validate()
        time.sleep(0.3)
        sums = backend.get_sums(M.project, keys, now, now, rollup=10)
        assert sums == {key: 0 if key in on_hung else 1 for key in keys}
        backend.incr_multi([(M.project, key) for key in keys], now)
        sums = backend.get_sums(M.project, keys, now, now, rollup=10)
        assert sums == {key: 1 if key in on_hung else 2 for key in keys}
    finally:
        backend.flush()
        backend.close()
