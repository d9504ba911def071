"""Moved to ``tests/redis_cluster.py`` (shared with tests/ingest); re-exported here."""

from redis_cluster import (
    BUS_OFFSET,
    HOST,
    STARTUP_TIMEOUT,
    RedisClusterNodes,
    free_ports,
    running_cluster,
)

__all__ = [
    "BUS_OFFSET",
    "HOST",
    "STARTUP_TIMEOUT",
    "RedisClusterNodes",
    "free_ports",
    "running_cluster",
]
