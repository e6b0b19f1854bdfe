"""/metrics as a scraper sees it: exact numbers, the process, and send-to-deliver latency."""

from __future__ import annotations

import socket

import httpx
import pytest
import trio
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from actors.latency import LatencyHistogram
from tests.conftest import Api, Connect, Server, start_server, with_config
from web.config import Config


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The metrics are the process's, whatever the database: SQLite only."""
    return sqlite_url


DELIVERY = "chat_message_delivery_seconds"


async def scrape(http: httpx.AsyncClient, url: str = "/metrics") -> dict[str, Metric]:
    r = await http.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(r.text)}


def value(families: dict[str, Metric], sample: str, **labels: str) -> float:
    """The one sample named ``sample`` with exactly ``labels``."""
    found = [s.value for f in families.values() for s in f.samples if s.name == sample and s.labels == labels]
    assert len(found) == 1, (sample, labels, found)
    return found[0]


def deliveries(families: dict[str, Metric], kind: str) -> float:
    return value(families, f"{DELIVERY}_count", kind=kind)


async def test_metrics_parse_as_prometheus_text_and_keep_the_chat_series(api: Api, connect: Connect) -> None:
    with trio.fail_after(10):
        await connect(await api.account(), join="lobby")
        families = await scrape(api.http)
    assert value(families, "chat_sessions") == 1
    assert value(families, "chat_users_online") == 1
    assert value(families, "chat_rooms_running") == 1
    assert value(families, "chat_room_online", room="lobby") == 1
    assert value(families, "chat_room_mailbox_depth", room="lobby") == 0
    assert value(families, "chat_registry_mailbox_depth") == 0
    assert value(families, "chat_journal_pending") == 0
    assert value(families, "chat_room_restarts_total") == 0
    assert value(families, "chat_sessions_opened_total") == 1
    assert families["chat_messages_committed"].type == "counter"
    assert families["chat_commits"].type == "counter"
    assert families[DELIVERY].type == "histogram"


async def test_a_counter_past_a_million_reads_back_exactly(api: Api, server: Server) -> None:
    server.running.services.count("logins_failed", 1_234_567)
    with trio.fail_after(10):
        families = await scrape(api.http)
    assert value(families, "chat_logins_failed_total") == 1_234_567


async def test_the_process_reports_its_memory_open_files_and_cpu(api: Api) -> None:
    with trio.fail_after(10):
        families = await scrape(api.http)
    assert value(families, "process_resident_memory_bytes") > 1_000_000
    assert value(families, "process_open_fds") >= 3
    assert value(families, "process_cpu_seconds_total") > 0
    assert "python_info" in families and "python_gc_collections" in families


async def test_a_group_and_a_private_message_each_add_one_delivery(api: Api, connect: Connect) -> None:
    with trio.fail_after(10):
        before = await scrape(api.http)
        alice, bob = await api.account(), await api.account()
        a = await connect(alice, join="lobby")
        await connect(bob, join="lobby")  # a join notice goes through the delivery queue too
        ack = await a.command({"type": "group", "room_id": "lobby", "content": "hello"})
        assert ack["type"] == "ack"
        after_group = await scrape(api.http)
        ack = await a.command({"type": "private", "target_id": bob.user_id, "content": "psst"})
        assert ack["type"] == "ack"
        after_private = await scrape(api.http)
    assert deliveries(after_group, "group") == deliveries(before, "group") + 1
    assert deliveries(after_group, "private") == deliveries(before, "private")
    assert deliveries(after_private, "private") == deliveries(before, "private") + 1
    assert deliveries(after_private, "group") == deliveries(after_group, "group")
    assert 0 < value(after_private, f"{DELIVERY}_sum", kind="private") < 10
    assert value(after_private, f"{DELIVERY}_bucket", kind="private", le="+Inf") == 1


async def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(api: Api, server: Server) -> None:
    server.running.services.count("logins", 2_000_001)
    with trio.fail_after(10):
        r = await api.http.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    families = {family.name: family for family in parse_openmetrics(r.text)}
    assert value(families, "chat_logins_total") == 2_000_001
    assert families[DELIVERY].type == "histogram"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_metrics_port_serves_the_same_series_and_the_main_port_none(
    config: Config, nursery: trio.Nursery
) -> None:
    port = _free_port()
    server = await start_server(nursery, with_config(config, metrics_port=port))
    server.running.services.count("rooms_created", 1_000_000)
    async with httpx.AsyncClient(timeout=10) as http:
        with trio.fail_after(10):
            families = await scrape(http, f"http://127.0.0.1:{port}/metrics")
            main = await http.get(f"{server.http}/metrics")
    assert value(families, "chat_rooms_created_total") == 1_000_000
    assert value(families, "chat_rooms_running") == 1
    assert "process_resident_memory_bytes" in families and DELIVERY in families
    assert main.status_code == 404
    server.stop.set()


async def test_two_servers_in_one_process_report_their_own_counters(
    config: Config, nursery: trio.Nursery
) -> None:
    first = await start_server(nursery, config)
    second = await start_server(nursery, config)
    first.running.services.count("logins", 5)
    second.running.services.count("logins", 7)
    async with httpx.AsyncClient(timeout=10) as http:
        with trio.fail_after(10):
            one = await scrape(http, f"{first.http}/metrics")
            two = await scrape(http, f"{second.http}/metrics")
    assert value(one, "chat_logins_total") == 5
    assert value(two, "chat_logins_total") == 7
    first.stop.set()
    second.stop.set()


def test_a_latency_on_a_bucket_bound_counts_in_that_bucket() -> None:
    histogram = LatencyHistogram((0.001, 0.01))
    for seconds in (0.0005, 0.001, 0.002, 0.01, 3.0):
        histogram.observe(seconds)
    snapshot = histogram.snapshot()
    assert snapshot.cumulative == (2, 4, 5)
    assert snapshot.count == 5
    assert snapshot.total == pytest.approx(3.0135)
