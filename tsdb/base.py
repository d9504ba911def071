"""The TSDB contract: models, rollup maths and the `BaseTSDB` every backend extends.

A backend stores integer counters in buckets. Each rollup ``(seconds, samples)`` keeps
``samples`` buckets of ``seconds`` each; the bucket of rollup ``r`` starting at ``b`` expires at
``b + r * samples``. Everything that is arithmetic (bucket normalisation, the series for a
window, the optimal rollup, derived resolutions, point caps, retention) lives here, once.
A backend implements two storage primitives, ``_write`` and ``_read``, plus ``validate`` and
``flush``; it may override a derived method only to make it faster (``_read_multi``, several
models in one read, is derived from ``_read``).

Timestamps going in are aware ``datetime`` objects (any zone; they are converted to UTC) or
Unix epoch seconds as ``int``/``float``. A naive ``datetime`` is refused with ``ValueError``:
it is ambiguous, and treating it as local time is the bug this module exists to avoid.
Bucket timestamps coming out are ``int`` epoch seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final, Generic, NamedTuple, TypeAlias, TypeVar

__all__ = [
    "DEFAULT_ROLLUPS",
    "MAX_POINTS",
    "MAX_STORED_BUCKETS",
    "TSDB_RETRY_AFTER_SECONDS",
    "BaseTSDB",
    "Columns",
    "IncrItem",
    "TSDBLimitExceeded",
    "TSDBModel",
    "TSDBUnavailable",
    "Timestamp",
    "format_seconds",
    "parse_rollups",
    "to_epoch",
]

Timestamp: TypeAlias = datetime | float
"""An aware datetime, or Unix epoch seconds (``int`` is accepted wherever ``float`` is)."""

K = TypeVar("K", bound=Hashable)

DEFAULT_ROLLUPS: Final[tuple[tuple[int, int], ...]] = ((10, 360), (60, 720), (3600, 2160))
MAX_POINTS: Final = 10_000
"""Most points one series may return (``check_limits``)."""
MAX_STORED_BUCKETS: Final = 100_000
"""Most stored buckets one series may read (``check_limits``)."""

_DAY: Final = 86_400
_WEEK: Final = 7 * _DAY
_US: Final = 1_000_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)


class TSDBUnavailable(Exception):
    """The store cannot be reached (or refuses writes). Callers answer 503 and retry later."""


TSDB_RETRY_AFTER_SECONDS: Final = 5
"""The delay (seconds) to suggest in ``Retry-After`` when answering 503 for TSDBUnavailable."""


class TSDBLimitExceeded(ValueError):
    """A read would return more than MAX_POINTS points or read more than MAX_STORED_BUCKETS
    buckets per series. The message names the limit and suggests a coarser resolution."""


class TSDBModel(IntEnum):
    """What is counted. The integers are part of stored keys: never change or reuse one.

    The storage layer gives no meaning to a model's keys: what each model counts and how its
    keys are made is the business of its writers and readers (``usage.catalogue``).
    """

    # The "generated" series: accepted events, bucketed by the event's own timestamp.
    project = 1

    project_total_received = 100
    project_total_rejected = 101
    project_total_blacklisted = 102

    organization_total_received = 200
    organization_total_rejected = 201
    organization_total_blacklisted = 202

    key_total_received = 300
    key_total_rejected = 301
    key_total_blacklisted = 302

    project_total_received_ip_address = 400
    project_total_received_release_version = 401
    project_total_received_error_message = 402
    project_total_received_browser_extensions = 403
    project_total_received_legacy_browsers = 404
    project_total_received_localhost = 405
    project_total_received_web_crawlers = 406

    # A quantity, and how many records added to it: 500/501 per project (written by earlier
    # versions, no longer written), 502/503 per organization, 504/505 per DSN key.
    outcome_quantity = 500
    outcome_times_seen = 501
    organization_outcome_quantity = 502
    organization_outcome_times_seen = 503
    key_outcome_quantity = 504
    key_outcome_times_seen = 505


IncrItem: TypeAlias = (
    tuple[TSDBModel, Hashable] | tuple[TSDBModel, Hashable, Timestamp | None, int | None]
)
"""An ``incr_multi`` item: ``(model, key)`` or ``(model, key, timestamp, count)``; a ``None``
timestamp or count falls back to the call's own."""

# (model, rollup seconds, bucket start) -> {field: count}
WritePlan: TypeAlias = dict[tuple[int, int, int], dict[str, int]]


def to_microseconds(timestamp: Timestamp) -> int:
    """Exact integer microseconds since the epoch (UTC). Naive datetimes: ValueError."""
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None or timestamp.utcoffset() is None:
            raise ValueError(
                f"naive datetime {timestamp.isoformat()} is ambiguous: pass an aware datetime"
            )
        return (timestamp - _EPOCH) // _ONE_US
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise TypeError(f"timestamp must be an aware datetime or epoch seconds, not {timestamp!r}")
    if isinstance(timestamp, int):
        return timestamp * _US
    if not math.isfinite(timestamp):
        raise ValueError(f"timestamp must be finite, not {timestamp!r}")
    return round(timestamp * _US)


def to_epoch(timestamp: Timestamp) -> int:
    """Whole epoch seconds (floored) of an aware datetime or epoch seconds."""
    return to_microseconds(timestamp) // _US


def format_seconds(seconds: int) -> str:
    """A resolution as the API writes it: ``86400 -> "1d"``, ``300 -> "5m"``, ``15 -> "15s"``."""
    for unit, size in (("d", _DAY), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_rollups(value: object) -> tuple[tuple[int, int], ...]:
    """Validate a rollup configuration: a non-empty sequence of ``(seconds, samples)`` pairs of
    positive ints, seconds strictly ascending. Returns it as a tuple of tuples.

    Raises ValueError naming the offending entry.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise ValueError(
            f"rollups must be a non-empty list of (seconds, samples) pairs, not {value!r}"
        )
    rollups: list[tuple[int, int]] = []
    for entry in value:
        if (
            isinstance(entry, str | bytes)
            or not isinstance(entry, Sequence)
            or len(entry) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in entry)
        ):
            raise ValueError(
                f"each rollup must be a (seconds, samples) pair of positive integers, not {entry!r}"
            )
        seconds, samples = int(entry[0]), int(entry[1])
        if rollups and seconds <= rollups[-1][0]:
            raise ValueError(
                f"rollups must be ordered finest first with distinct seconds: {seconds} "
                f"comes after {rollups[-1][0]}"
            )
        rollups.append((seconds, samples))
    return tuple(rollups)


class Columns(NamedTuple, Generic[K]):
    """What ``BaseTSDB.get_columns`` returns: the window's bucket timestamps once, and per
    model and key one count per timestamp (the same order), instead of a ``(ts, count)`` pair
    per point. For readers that format or sum many series: the per-point pairing is theirs
    to do (or to skip)."""

    timestamps: list[int]
    counts: dict[TSDBModel, dict[K, list[int]]]


class BaseTSDB:
    """Counters in rollup buckets. Subclasses implement ``_write``, ``_read``, ``validate`` and
    ``flush``; everything else is derived here.

    ``rollups``: ordered ``(seconds, samples)`` pairs, finest first (default 10 s x 360,
    1 min x 720, 1 h x 2160). ``clock``: returns the current epoch seconds (tests inject one).

    The daily summary (``daily``): when the coarsest rollup divides a day and keeps at least
    two days (the default 1 h x 2160 does), every count is also added to a 1-day bucket
    (aligned to UTC midnight) that expires when the first coarsest bucket of its day does.
    It is not a kept rollup (resolutions, the optimal rollup, limits and retention are the
    coarsest rollup's, exactly as without it): a read at a multiple of 1 day takes every day
    whose coarsest buckets are all still kept from it (one value instead of 24), and the
    first, partly expired day from the coarsest buckets, so it returns exactly the sums of
    the coarsest buckets. A write counts a day only while that day is whole, so a day is read
    from the summary only when summary and coarsest buckets hold the same counts.
    """

    def __init__(
        self,
        rollups: Sequence[tuple[int, int]] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rollups: tuple[tuple[int, int], ...] = parse_rollups(
            DEFAULT_ROLLUPS if rollups is None else rollups
        )
        self.clock = clock
        # rollup seconds -> how long one of its buckets lives (seconds * samples)
        self._retention: dict[int, int] = {r: r * n for r, n in self.rollups}
        self._rollup_us: tuple[tuple[int, int], ...] = tuple((r, r * _US) for r, _ in self.rollups)
        # The daily summary: see ``daily``.
        coarsest, samples = self.rollups[-1]
        self.daily: int | None = None
        if coarsest < _DAY and _DAY % coarsest == 0 and coarsest * samples >= 2 * _DAY:
            self.daily = _DAY
            self._retention[_DAY] = coarsest * samples
        self._stored_us: tuple[tuple[int, int], ...] = self._rollup_us + (
            ((_DAY, _DAY * _US),) if self.daily else ()
        )

    # -- storage primitives ------------------------------------------------------------------

    def _write(self, plan: WritePlan) -> None:
        """Add every count in ``plan`` ((model, rollup, bucket) -> {field: count}; rollup is a
        kept rollup or ``daily``). A bucket's data must disappear at ``self.expires_at``."""
        raise NotImplementedError

    def _read(
        self, model: int, rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[int]]:
        """The stored counts of ``fields`` in ``buckets`` of kept ``rollup``: one row per field,
        one column per bucket, 0 where nothing is stored."""
        raise NotImplementedError

    def _read_multi(
        self, models: list[int], rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[list[int]]]:
        """``_read`` for several models at once: one block of rows per model, in ``models``
        order. This default calls ``_read`` once per model; a backend whose ``_read`` costs a
        round trip overrides it to read every model in one."""
        return [self._read(model, rollup, buckets, fields) for model in models]

    def _read_spans(
        self, models: list[int], spans: list[tuple[int, list[int]]], fields: list[str]
    ) -> list[list[list[list[int]]]]:
        """``_read_multi`` of several ``(rollup, buckets)`` spans at once: one result per
        span. This default reads span by span; a backend whose read costs a round trip
        overrides it to read them all in one."""
        return [self._read_multi(models, rollup, buckets, fields) for rollup, buckets in spans]

    def validate(self) -> None:
        """Check that the store is reachable; raise TSDBUnavailable if not."""
        raise NotImplementedError

    def flush(self) -> None:
        """Delete everything this backend stored (its own prefix only). For tests."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections. The backend may not be used afterwards."""

    # -- bucket maths ------------------------------------------------------------------------

    def now(self) -> int:
        """The current epoch seconds, from ``clock``."""
        return math.floor(self.clock())

    def normalize_to_epoch(self, timestamp: Timestamp, seconds: int) -> int:
        """Start (epoch seconds) of the ``seconds``-long bucket holding ``timestamp``, buckets
        being aligned to multiples of ``seconds`` since the epoch."""
        return (to_microseconds(timestamp) // (seconds * _US)) * seconds

    def expires_at(self, rollup: int, bucket: int) -> int:
        """Epoch seconds at which ``bucket`` of kept ``rollup`` expires."""
        return bucket + self._retention[rollup]

    def oldest_kept_bucket(self, rollup: int, now: int | None = None) -> int:
        """Start of the oldest bucket of kept ``rollup`` still stored at ``now``."""
        now = self.now() if now is None else now
        return (now // rollup) * rollup - self._retention[rollup] + rollup

    def get_source_rollup(self, rollup: int) -> int:
        """The kept rollup a resolution of ``rollup`` seconds is read from: itself if kept,
        else the largest kept rollup dividing it. Anything else raises ValueError."""
        if isinstance(rollup, bool) or not isinstance(rollup, int) or rollup <= 0:
            raise ValueError(f"Invalid rollup {rollup!r}: must be a positive integer of seconds")
        for seconds, _ in reversed(self.rollups):
            if rollup % seconds == 0:
                return seconds
        kept = ", ".join(str(r) for r, _ in self.rollups)
        raise ValueError(
            f"Invalid rollup {rollup}: must be a whole multiple of a kept rollup ({kept} seconds)"
        )

    def _span(self, start: Timestamp, end: Timestamp) -> tuple[int, int]:
        start_us, end_us = to_microseconds(start), to_microseconds(end)
        if start_us > end_us:
            raise ValueError("start must be before or equal to end")
        return start_us, end_us

    def get_series(self, start: Timestamp, end: Timestamp, rollup: int) -> list[int]:
        """The bucket timestamps of the window at resolution ``rollup``, ascending.

        Walked backwards from ``end``: the last is ``floor(end / rollup) * rollup`` and there
        are ``floor((end - start) / rollup) + 1`` of them. ``rollup`` must be valid
        (``get_source_rollup``); ``start > end`` raises ValueError.
        """
        self.get_source_rollup(rollup)
        first, last, _, _ = self._window(start, end, rollup)
        return list(range(first, last + 1, rollup))

    def _points(self, start_us: int, end_us: int, rollup: int) -> int:
        return (end_us - start_us) // (rollup * _US) + 1

    def _coarse_fallback(self, start_us: int, end_us: int, base: int) -> int:
        """Smallest multiple of ``base`` among 1 day, 7 days, 14 days, ... (each rounded up to
        a multiple of ``base``) whose series fits MAX_POINTS."""
        day = math.lcm(base, _DAY)
        if self._points(start_us, end_us, day) <= MAX_POINTS:
            return day
        week = math.lcm(base, _WEEK)
        span_s = (end_us - start_us) // _US
        weeks = max(1, span_s // (week * MAX_POINTS))
        while self._points(start_us, end_us, weeks * week) > MAX_POINTS:
            weeks += 1
        return weeks * week

    def get_optimal_rollup(
        self, start: Timestamp, end: Timestamp, *, now: Timestamp | None = None
    ) -> int:
        """The resolution (seconds) used when the caller names none.

        The finest kept rollup that still keeps every bucket it would return: with ``K`` points
        and first bucket ``first``, rollup ``r`` qualifies iff
        ``first >= floor(now / r) * r - (samples - 1) * r`` (and ``K <= MAX_POINTS``, which
        only matters for windows reaching into the future). If none qualifies, the coarsest
        kept rollup; if that returns more than MAX_POINTS points, the smallest of 1 day,
        7 days, 14 days, ... (multiples of the coarsest rollup) that fits.
        """
        start_us, end_us = self._span(start, end)
        now_s = self.now() if now is None else to_epoch(now)
        for rollup, rollup_us in self._rollup_us:
            count = (end_us - start_us) // rollup_us + 1
            if count > MAX_POINTS:
                continue
            first = (end_us // rollup_us) * rollup - (count - 1) * rollup
            if first >= self.oldest_kept_bucket(rollup, now_s):
                return rollup
        coarsest = self.rollups[-1][0]
        if self._points(start_us, end_us, coarsest) <= MAX_POINTS:
            return coarsest
        return self._coarse_fallback(start_us, end_us, coarsest)

    def _window(self, start: Timestamp, end: Timestamp, rollup: int) -> tuple[int, int, int, int]:
        """(first bucket, last bucket, number of points, span in microseconds) of the window
        at ``rollup``."""
        start_us, end_us = self._span(start, end)
        count = self._points(start_us, end_us, rollup)
        last = (end_us // (rollup * _US)) * rollup
        return last - (count - 1) * rollup, last, count, end_us - start_us

    def _check_window(
        self, window: tuple[int, int, int, int], rollup: int, source: int, now: int
    ) -> None:
        first, last, points, span_us = window
        if points > MAX_POINTS:
            coarser = self._coarse_fallback(0, span_us, self.rollups[-1][0])
            raise TSDBLimitExceeded(
                f"This request would return {points:,} points per series, more than the limit "
                f"of {MAX_POINTS:,} points. Use a coarser resolution, e.g. "
                f"{format_seconds(coarser)}."
            )
        begin = max(first, self.oldest_kept_bucket(source, now))
        stored = max(0, (last + rollup - begin + source - 1) // source)
        if stored > MAX_STORED_BUCKETS:
            coarsest = self.rollups[-1][0]
            coarser = rollup * 2 if source == coarsest else coarsest
            raise TSDBLimitExceeded(
                f"This request would read {stored:,} stored buckets per series, more than the "
                f"limit of {MAX_STORED_BUCKETS:,} stored buckets. Use a coarser resolution, "
                f"e.g. {format_seconds(coarser)}."
            )

    def check_limits(
        self,
        start: Timestamp,
        end: Timestamp,
        rollup: int,
        *,
        now: Timestamp | None = None,
    ) -> None:
        """Raise TSDBLimitExceeded if a read of the window at ``rollup`` would return more
        than MAX_POINTS points or read more than MAX_STORED_BUCKETS stored buckets per series
        (buckets past retention are not read, so they do not count); ValueError for an
        invalid rollup or ``start > end``. ``get_range`` and ``get_sums`` check it too."""
        source = self.get_source_rollup(rollup)
        window = self._window(start, end, rollup)
        now_s = self.now() if now is None else to_epoch(now)
        self._check_window(window, rollup, source, now_s)

    # -- writes --------------------------------------------------------------------------------

    def incr(
        self,
        model: TSDBModel,
        key: Hashable,
        timestamp: Timestamp | None = None,
        count: int = 1,
    ) -> None:
        """Add ``count`` to ``key`` of ``model`` at ``timestamp`` (default: now) in every
        rollup. Buckets already expired at that moment are not written."""
        self.incr_multi(((model, key),), timestamp, count)

    def incr_multi(
        self,
        items: Iterable[IncrItem],
        timestamp: Timestamp | None = None,
        count: int = 1,
    ) -> None:
        """Add many counts at once, in every rollup: each item is ``(model, key)`` or
        ``(model, key, timestamp, count)`` (``None`` parts take the call's ``timestamp`` and
        ``count``). Keys are stored as ``str(key)``. All or nothing is sent in one go; on
        TSDBUnavailable the caller cannot tell whether the counts landed."""
        plan = self._plan_writes(items, timestamp, count)
        if plan:
            self._write(plan)

    def _plan_writes(
        self,
        items: Iterable[IncrItem],
        timestamp: Timestamp | None,
        count: int,
    ) -> WritePlan:
        now = self.clock()
        default_us = round(now * _US) if timestamp is None else to_microseconds(timestamp)
        now_s = math.floor(now)
        rollups = self._stored_us
        retention = self._retention
        plan: WritePlan = {}
        for item in items:
            if len(item) == 2:
                model, key = item
                ts_us, n = default_us, count
            else:
                model, key, ts, n_or_none = item
                ts_us = default_us if ts is None else to_microseconds(ts)
                n = count if n_or_none is None else n_or_none
            if type(model) is not TSDBModel:
                model = TSDBModel(model)
            if not n:
                continue
            field = str(key)
            for rollup, rollup_us in rollups:
                bucket = (ts_us // rollup_us) * rollup
                if bucket + retention[rollup] <= now_s:
                    continue  # already expired: storing it would only be deleted again
                fields = plan.get((model, rollup, bucket))
                if fields is None:
                    plan[(model, rollup, bucket)] = {field: n}
                else:
                    fields[field] = fields.get(field, 0) + n
        return plan

    # -- reads ---------------------------------------------------------------------------------

    def _get_counts(
        self,
        models: Iterable[TSDBModel],
        keys: Iterable[K],
        start: Timestamp,
        end: Timestamp,
        rollup: int | None,
        now: Timestamp | None = None,
    ) -> tuple[list[int], dict[TSDBModel, dict[K, list[int]]]]:
        """The window's bucket timestamps, and per model and key one count per bucket. The
        window, its rollup and the retention are worked out once for every model."""
        model_list = list(dict.fromkeys(TSDBModel(model) for model in models))
        keys = list(dict.fromkeys(keys))
        now = self.now() if now is None else to_epoch(now)
        if rollup is None:
            rollup = self.get_optimal_rollup(start, end, now=now)
        source = self.get_source_rollup(rollup)
        window = self._window(start, end, rollup)
        self._check_window(window, rollup, source, now)
        first, last, points, _ = window
        series = list(range(first, last + 1, rollup))
        begin = max(first, self.oldest_kept_bucket(source, now))
        buckets = list(range(begin, last + rollup, source))
        if not keys or not model_list:
            return series, {model: {} for model in model_list}
        if not buckets:
            return series, {model: {key: [0] * points for key in keys} for model in model_list}
        fields = [str(key) for key in keys]
        daily = self.daily
        if daily and rollup % daily == 0 and source == self.rollups[-1][0]:
            return series, self._get_days(model_list, keys, fields, window, rollup, source, begin)
        blocks = self._read_multi([int(model) for model in model_list], source, buckets, fields)
        return series, {
            model: self._align(keys, rows, first, points, rollup, source, buckets)
            for model, rows in zip(model_list, blocks, strict=True)
        }

    def _get_days(
        self,
        models: list[TSDBModel],
        keys: list[K],
        fields: list[str],
        window: tuple[int, int, int, int],
        rollup: int,
        source: int,
        begin: int,
    ) -> dict[TSDBModel, dict[K, list[int]]]:
        """Counts at ``rollup`` (a multiple of ``daily``) from the daily summary for every
        whole day kept, and from the coarsest rollup ``source`` (buckets from ``begin``, the
        oldest kept) for the first day if it is partly expired (see the class docstring)."""
        day = _DAY
        first, last, points, _ = window
        end = last + rollup
        day_begin = -(-begin // day) * day
        spans: list[tuple[int, list[int]]] = []
        if begin < day_begin:
            spans.append((source, list(range(begin, day_begin, source))))
        days = list(range(day_begin, end, day))
        if days:
            spans.append((day, days))
        results = self._read_spans([int(model) for model in models], spans, fields)
        partial = begin < day_begin
        day_buckets = ([day_begin - day] if partial else []) + days
        counts: dict[TSDBModel, dict[K, list[int]]] = {}
        for index, model in enumerate(models):
            if partial and days:
                rows = [
                    [sum(hours), *whole]
                    for hours, whole in zip(results[0][index], results[1][index], strict=True)
                ]
            elif partial:
                rows = [[sum(hours)] for hours in results[0][index]]
            else:
                rows = results[0][index]
            counts[model] = self._align(keys, rows, first, points, rollup, day, day_buckets)
        return counts

    @staticmethod
    def _align(
        keys: list[K],
        rows: list[list[int]],
        first: int,
        points: int,
        rollup: int,
        source: int,
        buckets: list[int],
    ) -> dict[K, list[int]]:
        """Rows read from ``buckets`` of kept rollup ``source`` as ``points`` counts per key at
        ``rollup``: zeros in front for buckets past retention, source buckets summed into the
        coarser bucket holding them."""
        if source == rollup:
            if len(buckets) == points:
                return dict(zip(keys, rows, strict=True))
            pad = [0] * (points - len(buckets))
            return {key: pad + row for key, row in zip(keys, rows, strict=True)}
        # ``buckets`` run contiguously from the first one kept to the end of the last point:
        # with zeros in front for the ones past retention, every ``factor`` consecutive values
        # are one point. Grouped and summed in C (zip over one iterator), not value by value.
        factor = rollup // source
        pad = [0] * ((buckets[0] - first) // source)
        counts: dict[K, list[int]] = {}
        for key, row in zip(keys, rows, strict=True):
            values = iter(pad + row if pad else row)
            counts[key] = list(map(sum, zip(*[values] * factor, strict=True)))
        return counts

    def get_range(
        self,
        model: TSDBModel,
        keys: Iterable[K],
        start: Timestamp,
        end: Timestamp,
        rollup: int | None = None,
        *,
        now: Timestamp | None = None,
    ) -> dict[K, list[tuple[int, int]]]:
        """Series of ``(bucket_ts, count)`` per key, keyed by the very objects passed in.

        Every series has the same timestamps (``get_series(start, end, rollup)``), ascending,
        zero-filled. ``rollup`` (seconds) is any kept rollup or whole multiple of one (summed
        from the largest kept rollup dividing it; a bucket sums its whole span); ``None``
        picks ``get_optimal_rollup``. Buckets older than the source rollup's retention read
        as 0 and are not fetched. ``now`` (default: the clock) is the moment retention and
        the rollup choice are judged at: a caller that already decided the window passes the
        ``now`` it used. Raises ValueError for a bad rollup or ``start > end``,
        TSDBLimitExceeded past the point caps, TSDBUnavailable when the store is down.
        """
        series, counts = self._get_counts((model,), keys, start, end, rollup, now)
        return {key: list(zip(series, row, strict=True)) for key, row in counts[model].items()}

    def get_columns(
        self,
        models: Iterable[TSDBModel],
        keys: Iterable[K],
        start: Timestamp,
        end: Timestamp,
        rollup: int | None = None,
        *,
        now: Timestamp | None = None,
    ) -> Columns[K]:
        """``get_range_multi`` in columns: ``Columns(timestamps, {model: {key: counts}})``, the
        timestamps those of every series (``get_series(start, end, rollup)``), each key's
        counts one per timestamp. The same read, the same numbers, without building a pair
        per point. Arguments and errors as for ``get_range_multi``."""
        series, counts = self._get_counts(models, keys, start, end, rollup, now)
        return Columns(series, counts)

    def get_range_multi(
        self,
        models: Iterable[TSDBModel],
        keys: Iterable[K],
        start: Timestamp,
        end: Timestamp,
        rollup: int | None = None,
        *,
        now: Timestamp | None = None,
    ) -> dict[TSDBModel, dict[K, list[tuple[int, int]]]]:
        """``get_range`` of the same keys and window for several models in one read:
        ``{model: {key: [(bucket_ts, count), ...]}}``, one entry per distinct model.

        Every series of every model has the same timestamps: the window, its rollup (``None``
        picks ``get_optimal_rollup`` once, for all of them) and the retention are worked out
        once. ``now`` and errors as for ``get_range``.
        """
        series, counts = self._get_counts(models, keys, start, end, rollup, now)
        return {
            model: {key: list(zip(series, row, strict=True)) for key, row in rows.items()}
            for model, rows in counts.items()
        }

    def get_sums(
        self,
        model: TSDBModel,
        keys: Iterable[K],
        start: Timestamp,
        end: Timestamp,
        rollup: int | None = None,
        *,
        now: Timestamp | None = None,
    ) -> dict[K, int]:
        """Total per key over the window: the sum of ``get_range``'s counts, same arguments."""
        _, counts = self._get_counts((model,), keys, start, end, rollup, now)
        return {key: sum(row) for key, row in counts[model].items()}
