"""Prometheus text exposition of the actors' ``statistics()`` and counters."""

from __future__ import annotations

from quart import Response

from web.services import Services


def render(svc: Services) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP chat_{name} {help_text}")
        lines.append(f"# TYPE chat_{name} {kind}")
        for labels, value in samples:
            lines.append(f"chat_{name}{labels} {value:g}")

    registry = svc.registry.statistics()
    metric("users_online", "gauge", "Users with at least one live session.", [("", registry.users_online)])
    metric("sessions", "gauge", "Live WebSocket sessions.", [("", registry.sessions)])
    metric(
        "registry_mailbox_depth",
        "gauge",
        "Messages waiting in the registry mailbox.",
        [("", registry.mailbox_depth)],
    )
    rooms = svc.rooms.statistics()
    metric("rooms_running", "gauge", "Room actors running.", [("", len(rooms))])
    metric(
        "room_online",
        "gauge",
        "Online users per running room.",
        [(f'{{room="{_label(r.room_id)}"}}', r.online) for r in rooms],
    )
    metric(
        "room_mailbox_depth",
        "gauge",
        "Messages waiting in a room mailbox.",
        [(f'{{room="{_label(r.room_id)}"}}', r.mailbox_depth) for r in rooms],
    )
    metric(
        "room_restarts_total",
        "counter",
        "Room actor restarts by the supervisor.",
        [("", svc.rooms.restarts())],
    )
    metric(
        "journal_pending", "gauge", "Messages waiting for the next group commit.", [("", svc.journal.depth)]
    )
    metric("messages_committed_total", "counter", "Messages stored.", [("", svc.journal.committed_messages)])
    metric("commits_total", "counter", "Group commits (transactions).", [("", svc.journal.committed_batches)])
    for name, value in sorted(svc.counters.items()):
        metric(f"{name}_total", "counter", f"Count of {name.replace('_', ' ')}.", [("", value)])
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_response(svc: Services) -> Response:
    return Response(render(svc), content_type="text/plain; version=0.0.4; charset=utf-8")
