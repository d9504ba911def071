"""The shipped Grafana dashboard and provisioning (grafana/): every panel's stats_v2 query, sent
as Grafana's Sentry data source sends it, is answered by our API with series Grafana can draw;
every Prometheus expression names metrics /metrics serves; every data source a panel uses is
provisioned. No Grafana needed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from django.test import Client

from usage.seeding import DemoSeed, demo_seed

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "statsapi.json").read_text())


def panels() -> list[dict[str, Any]]:
    return [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]


def targets(query_type: str | None = None, datasource: str | None = None) -> list[dict[str, Any]]:
    found = []
    for panel in panels():
        for target in panel["targets"]:
            if query_type is not None and target.get("queryType") != query_type:
                continue
            if datasource is not None and target["datasource"]["type"] != datasource:
                continue
            found.append(target)
    return found


def stats_v2_url(target: dict[str, Any], org: str, project_id: int, start: datetime) -> str:
    """The request Grafana's Sentry data source makes for ``target``: zone-less start and end,
    parameters in Go's url.Values.Encode order (sorted keys), ``$project`` replaced."""
    params: list[tuple[str, str]] = [
        ("start", start.strftime("%Y-%m-%dT%H:%M:%S")),
        ("end", (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")),
        ("interval", target["statsInterval"]),
    ]
    params += [("category", value) for value in target["statsCategory"]]
    params += [("field", value) for value in target["statsFields"]]
    params += [("groupBy", value) for value in target["statsGroupBy"]]
    params += [
        ("project", str(project_id) if value == "$project" else value)
        for value in target["projectIds"]
    ]
    params += [("outcome", value) for value in target["statsOutcome"]]
    params += [("reason", value) for value in target["statsReason"]]
    params.sort(key=lambda pair: pair[0])  # Go sorts by key, keeping each key's values in order
    return f"/api/0/organizations/{org}/stats_v2/?{urlencode(params)}"


@pytest.fixture
def seed(db: None) -> DemoSeed:
    return demo_seed(slug="grafana", username="grafana")


def test_the_dashboard_has_the_panels_operators_ask_for() -> None:
    titles = " ".join(panel["title"].lower() for panel in panels())
    for words in ("outcome", "category", "top projects", "ingest rate", "4xx", "5xx", "latency"):
        assert words in titles, words
    assert len(targets("statsV2")) >= 5
    assert len(targets(datasource="prometheus")) >= 6


def test_every_stats_v2_panel_query_is_answered_with_drawable_series(
    client: Client, seed: DemoSeed
) -> None:
    # Real counts: one accepted and one filtered error through ingest, one attachment.
    assert (
        client.post(
            f"/api/{seed.project.pk}/store/?sentry_key={seed.key.public_key}",
            data=b'{"message": "grafana"}',
            content_type="application/json",
        ).status_code
        == 200
    )
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {seed.plaintext}"}
    answered = 0
    for target in targets("statsV2"):
        url = stats_v2_url(target, "grafana", seed.project.pk, start)
        response = client.get(url, **auth)
        assert response.status_code == 200, (url, response.content)
        body = response.json()
        assert len(body["intervals"]) == 24, url
        for group in body["groups"]:
            for field in target["statsFields"]:
                # Grafana draws a series only when it has one number per interval.
                assert len(group["series"][field]) == len(body["intervals"]), url
                assert all(isinstance(value, int) for value in group["series"][field])
            assert set(group["by"]) == set(target["statsGroupBy"]), url
        answered += 1
    assert answered == len(targets("statsV2"))

    errors = targets("statsV2")[0]
    assert errors["statsCategory"] == ["error"]
    assert errors["statsGroupBy"] == ["outcome"]
    body = client.get(stats_v2_url(errors, "grafana", seed.project.pk, start), **auth).json()
    accepted = [g for g in body["groups"] if g["by"] == {"outcome": "accepted"}]
    assert accepted
    assert accepted[0]["totals"]["sum(quantity)"] >= 1


def test_every_prometheus_expression_names_metrics_the_server_exports(client: Client) -> None:
    client.get("/api/0/")  # so the per-request families have samples
    exported = set(
        re.findall(r"^# TYPE (\w+) (\w+)$", client.get("/metrics").content.decode(), re.M)
    )
    names = {name for name, _ in exported}
    for name, kind in exported:
        if kind == "counter":
            names.add(f"{name}_total")
        if kind == "histogram":
            names.update({f"{name}_bucket", f"{name}_count", f"{name}_sum"})
    for target in targets(datasource="prometheus"):
        used = set(re.findall(r"\bstatsapi_\w+", target["expr"]))
        assert used, target["expr"]
        assert used <= names, (used - names, target["expr"])
        for label in re.findall(r"by \(([^)]*)\)", target["expr"]):
            assert {part.strip() for part in label.split(",")} <= {
                "le",
                "endpoint",
                "status",
                "method",
                "outcome",
                "category",
                "reason",
                "scope",
            }


def test_the_provisioning_files_load_and_match_the_dashboard() -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/statsapi.yaml").read_text())
    provisioned = {source["uid"]: source["type"] for source in sources["datasources"]}
    assert provisioned == {
        "statsapi-sentry": "grafana-sentry-datasource",
        "statsapi-prometheus": "prometheus",
    }
    used = {(t["datasource"]["uid"], t["datasource"]["type"]) for t in targets()}
    assert used <= set(provisioned.items())
    sentry = next(s for s in sources["datasources"] if s["uid"] == "statsapi-sentry")
    assert set(sentry["jsonData"]) == {"url", "orgSlug"}
    assert set(sentry["secureJsonData"]) == {"authToken"}
    boards = yaml.safe_load((GRAFANA / "provisioning/dashboards/statsapi.yaml").read_text())
    assert boards["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert DASHBOARD["uid"] == "statsapi-usage"
