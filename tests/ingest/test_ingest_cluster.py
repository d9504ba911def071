"""Ingest on Redis Cluster (REDIS_CLUSTER=True, REDIS_URL at one node): quotas and outcome sets
work whichever node holds their keys, cost one batch per node touched, and a cluster that cannot
be reached is a 503 that counts nothing. (Exact quotas across processes are tested for both
deployments in test_ingest_quotas.py.)"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from django.test import Client
from ingest_helpers import (
    QUOTA_WINDOW,
    Packet,
    event_envelope,
    make_key,
    outcome_totals,
    post_envelope,
    post_store,
    same_everywhere,
    totals,
)
from redis_cluster import HOST, RedisClusterNodes, running_cluster

from ingest.store import QuotaTake, get_store
from organizations.models import Organization, ProjectKey

CLOSED = "redis://127.0.0.1:1/0"
SINGLE_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) >= 1
    assert isinstance(response.json()["detail"], str)


def counters_by_node(nodes: RedisClusterNodes, quotas_prefix: str) -> dict[str, int]:
    """Every quota counter under the prefix -> the port of the node that holds it."""
    found = {}
    for port in nodes.ports:
        client = nodes.node_client(port)
        try:
            for name in client.scan_iter(match=f"{quotas_prefix}[ko]:*", count=1000):
                found[name] = port
        finally:
            client.close()
    return found


def test_it_refuses_events_past_a_key_limit_on_a_cluster(
    client: Client, db: None, on_cluster: RedisClusterNodes
) -> None:
    key = make_key(rate_limit_count=3, rate_limit_window=QUOTA_WINDOW)
    statuses = [post_envelope(client, key, event_envelope()).status_code for _ in range(10)]
    assert statuses == [200] * 3 + [429] * 7
    assert totals(key) == same_everywhere(10, 7, 0)
    assert outcome_totals(key) == {
        ("error", "accepted", None): 3,
        ("error", "rate_limited", "key_quota"): 7,
    }


def test_an_organization_limit_spans_its_projects_on_a_cluster(
    client: Client, db: None, on_cluster: RedisClusterNodes, settings: Any
) -> None:
    first = make_key()
    organization = first.project.organization
    Organization.objects.filter(pk=organization.pk).update(
        rate_limit_count=3, rate_limit_window=QUOTA_WINDOW
    )
    second = ProjectKey.objects.create(
        project=organization.projects.create(slug="second", name="Second")
    )
    statuses = [
        post_envelope(client, key, event_envelope()).status_code
        for _ in range(5)
        for key in (first, second)
    ]
    assert statuses == [200] * 3 + [429] * 7
    assert totals(first)["organization"] == (10, 7, 0)
    assert totals(first)["project"] == (5, 3, 0)
    assert totals(second)["project"] == (5, 4, 0)
    assert outcome_totals(second) == {
        ("error", "accepted", None): 1,
        ("error", "rate_limited", "org_quota"): 4,
    }
    # The counter sits on the node that owns its slot, and holds exactly the accepted events.
    counters = counters_by_node(on_cluster, settings.QUOTAS_PREFIX)
    assert len(counters) == 1
    (name, port), *_ = counters.items()
    node = on_cluster.node_client(port)
    try:
        assert node.get(name) == "3"
    finally:
        node.close()


def test_a_warm_request_sends_one_batch_to_each_node_holding_its_quotas(
    client: Client,
    db: None,
    on_cluster: RedisClusterNodes,
    settings: Any,
    redis_prefix: str,
    round_trips: list[Packet],
) -> None:
    # The TSDB on the single Redis, so that every packet sent to the cluster is the store's.
    settings.TSDB_OPTIONS = {"url": SINGLE_REDIS_URL, "prefix": redis_prefix + "ts:"}
    key = make_key(rate_limit_count=1000, rate_limit_window=QUOTA_WINDOW)
    Organization.objects.filter(pk=key.project.organization_id).update(
        rate_limit_count=1000, rate_limit_window=QUOTA_WINDOW
    )
    assert post_envelope(client, key, event_envelope()).status_code == 200
    counters = counters_by_node(on_cluster, settings.QUOTAS_PREFIX)
    assert len(counters) == 2  # the key's and the organization's
    for body in (event_envelope(), event_envelope({"message": "two"})):
        round_trips.clear()
        assert post_envelope(client, key, body).status_code == 200
        to_cluster = sorted(p.port for p in round_trips if p.port in on_cluster.ports)
        assert to_cluster == sorted(set(counters.values()))
    assert totals(key) == same_everywhere(3)


@pytest.mark.parametrize("quota", [None, 100])
def test_a_cluster_down_from_the_start_is_503_and_counts_nothing(
    client: Client, db: None, on_cluster: RedisClusterNodes, settings: Any, quota: int | None
) -> None:
    key = make_key(rate_limit_count=quota, rate_limit_window=60 if quota else None)
    settings.REDIS_URL = CLOSED  # quotas and outcome sets; the TSDB stays on the cluster
    assert_unavailable(post_envelope(client, key, event_envelope()))
    assert_unavailable(post_store(client, key, {"message": "m"}))
    settings.REDIS_URL = on_cluster.url
    assert totals(key) == same_everywhere(0)
    assert outcome_totals(key) == {}
    assert post_envelope(client, key, event_envelope()).status_code == 200
    assert totals(key) == same_everywhere(1)


def test_a_cluster_that_goes_down_while_serving_is_503_and_counts_nothing(
    client: Client, db: None, on_cluster: RedisClusterNodes, settings: Any
) -> None:
    key = make_key(rate_limit_count=100, rate_limit_window=QUOTA_WINDOW)
    with running_cluster() as quota_nodes:
        # Quotas and outcome sets on a second cluster, stopped after two events.
        settings.REDIS_URL = quota_nodes.url
        for _ in range(2):
            assert post_envelope(client, key, event_envelope()).status_code == 200
    for _ in range(2):
        assert_unavailable(post_envelope(client, key, event_envelope()))
        assert_unavailable(post_store(client, key, {"message": "m"}))
    assert totals(key) == same_everywhere(2)


def test_a_quota_stays_exact_when_its_slot_moves_to_another_node(
    client: Client, db: None, on_cluster: RedisClusterNodes, settings: Any
) -> None:
    key = make_key(rate_limit_count=2, rate_limit_window=QUOTA_WINDOW)
    with running_cluster() as quota_nodes:
        settings.REDIS_URL = quota_nodes.url  # the TSDB stays on the session's cluster
        assert post_envelope(client, key, event_envelope()).status_code == 200
        ((name, source),) = counters_by_node(quota_nodes, settings.QUOTAS_PREFIX).items()
        target = next(port for port in quota_nodes.ports if port != source)
        nodes = {port: quota_nodes.node_client(port) for port in quota_nodes.ports}
        try:
            # Move the counter's slot as redis-cli --cluster reshard does; the store's slot
            # table still names the old node, which now answers MOVED.
            slot = nodes[source].cluster("KEYSLOT", name)
            ids = {port: nodes[port].cluster("MYID") for port in nodes}
            nodes[target].cluster("SETSLOT", slot, "IMPORTING", ids[source])
            nodes[source].cluster("SETSLOT", slot, "MIGRATING", ids[target])
            nodes[source].execute_command("MIGRATE", HOST, target, "", 0, 5000, "KEYS", name)
            for node in nodes.values():
                node.cluster("SETSLOT", slot, "NODE", ids[target])
            assert post_envelope(client, key, event_envelope()).status_code == 200
            assert post_envelope(client, key, event_envelope()).status_code == 429
            assert counters_by_node(quota_nodes, settings.QUOTAS_PREFIX) == {name: target}
            assert nodes[target].get(name) == "2"
        finally:
            for node in nodes.values():
                node.close()
    assert totals(key) == same_everywhere(3, 1, 0)


def test_it_gives_nothing_back_to_a_counter_whose_window_has_ended(
    db: None, on_cluster: RedisClusterNodes, settings: Any
) -> None:
    # A take granted just before its window ends, given back just after: the counter is gone,
    # and giving back must not leave a negative counter that never expires.
    store = get_store()
    take = QuotaTake(
        name=f"{settings.QUOTAS_PREFIX}k:1:60:0", limit=5, amount=2, expire_at=int(time.time()) - 1
    )
    assert store.exchange([take], []) == [True]
    store.give_back([take])
    assert counters_by_node(on_cluster, settings.QUOTAS_PREFIX) == {}
