"""The composition root and the ``chat-server`` command.

:func:`serve` installs the Hypercorn patches (:mod:`transport.hypercorn_patches`),
opens the chat system (:func:`web.system.open_chat_system`: storage, the
journal, the registry, the rooms, the writer, the heartbeat), builds the
HTTP side on it and runs Hypercorn beside the actors. If an actor failure
escalates out of its supervisor, everything is cancelled, Hypercorn
included: the process stops with a log line and a non-zero exit instead of
answering HTTP with dead actors behind it.

Shutdown (SIGTERM, SIGINT, or the ``stop`` event in tests): /healthz turns
503, every session is closed with 1001, Hypercorn stops accepting and drains,
the journal flushes what is pending, storage closes, and the process exits 0.
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import hypercorn.trio
import trio
from prometheus_client import CollectorRegistry

from actors.supervisor import SupervisorGaveUp
from cluster.link import RedisLink
from cluster.throttle import RedisWindows, Window
from storage.database import describe_db_url
from storage.passwords import Passwords
from storage.private_files import private_directory
from transport import hypercorn_patches
from web import create_user, operators
from web.app import create_app, create_metrics_app
from web.client_address import ClientAddress
from web.cluster_limits import ClusterLogins, ClusterRate
from web.config import Config, ConfigError, load_config
from web.deactivation import watch_deactivations
from web.hypercorn_setup import hypercorn_config
from web.logging_setup import setup_logging
from web.login_throttle import LoginLimits, Logins, LoginThrottle
from web.metrics import register_collectors
from web.ratelimit import Rate, SlidingWindow
from web.revocation import Revocations
from web.services import Limits, Services
from web.system import open_chat_system
from web.tokens import TokenService, load_or_create_secret

log = logging.getLogger("web.server")


@dataclass(frozen=True, slots=True)
class Running:
    """What a started server tells its starter: where it listens and its parts."""

    url: str
    port: int
    services: Services


def _limits(config: Config, link: RedisLink | None) -> Limits:
    """The throttles: in this process's memory, or with ``link`` (the cluster mode) in Redis for every process."""
    window = config.rate_window
    login_limits = LoginLimits(
        per_pair=config.login_failures,
        per_address=config.login_failures_per_address,
        per_user=config.login_failures_per_user,
        window=window,
        user_window=config.login_user_window,
    )
    login: Logins
    register: Rate
    rooms: Rate
    lookups: Rate
    refreshes: Rate
    blocks: Rate
    changes: Rate
    if link is None:
        login = LoginThrottle(login_limits)
        register = SlidingWindow(config.register_attempts, window)
        rooms = SlidingWindow(config.room_creations, window)
        lookups = SlidingWindow(config.user_lookups, window)
        refreshes = SlidingWindow(config.session_refreshes, window)
        blocks = SlidingWindow(config.block_changes, window)
        changes = SlidingWindow(config.message_changes, window)
    else:
        windows = RedisWindows(link)
        login = ClusterLogins(windows, login_limits)
        register = ClusterRate(windows, Window("register", config.register_attempts, window))
        rooms = ClusterRate(windows, Window("room-creations", config.room_creations, window))
        lookups = ClusterRate(windows, Window("user-lookups", config.user_lookups, window))
        refreshes = ClusterRate(windows, Window("session-refreshes", config.session_refreshes, window))
        blocks = ClusterRate(windows, Window("block-changes", config.block_changes, window))
        changes = ClusterRate(windows, Window("message-changes", config.message_changes, window))
    return Limits(
        login=login,
        register_by_address=register,
        room_creations_by_user=rooms,
        user_lookups_by_user=lookups,
        session_refreshes_by_address=refreshes,
        block_changes_by_user=blocks,
        message_changes_by_user=changes,
        enabled=config.rate_limit_enabled,
        rooms_per_user=config.rooms_per_user,
    )


async def _serve_http(
    app: object,
    hc: object,
    stop: trio.Event,
    done: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    try:
        await hypercorn.trio.serve(app, hc, shutdown_trigger=stop.wait, task_status=task_status)  # type: ignore[arg-type]
    finally:
        done.set()


def settle_garbage_collector() -> None:
    """Keep the collector's pauses short once the server is up.

    A full collection walks every tracked object, and with a thousand
    connections it stopped the loop for 100-190 ms, the whole tail of the
    chatty benchmark's latency. Everything alive at start-up (modules,
    classes, configuration) lives as long as the process, so it is frozen
    out of every future collection. The youngest generation is collected
    every 10,000 allocations rather than 700: the same work in fewer stops.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


async def serve(
    config: Config,
    stop: trio.Event,
    *,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the whole server until ``stop`` is set, then shut down gracefully."""
    hypercorn_patches.install()  # changes Hypercorn for the whole process: see the module
    private_directory(config.data_dir)
    secret = load_or_create_secret(config.jwt_secret, config.data_dir)
    async with open_chat_system(config) as system, trio.open_nursery() as http:
        db = system.db
        link = system.link
        announce = None if link is None else functools.partial(link.publish, link.control)
        revocations = Revocations(db.credentials, announce, db.operators)
        await revocations.load()
        system.control_listeners.append(revocations.heard)
        svc = Services(
            config=config,
            db=db,
            journal=system.journal,
            registry=system.registry,
            registry_ref=system.registry_ref,
            rooms=system.rooms,
            writer=system.writer,
            tokens=TokenService(secret, config.jwt_issuer, config.token_ttl, config.page_token_ttl),
            passwords=Passwords(config.password_workers, config.password_queue),
            limits=_limits(config, link),
            client_address=ClientAddress(config.trusted_proxies),
            revocations=revocations,
            latency=system.latency,
            metrics=CollectorRegistry(auto_describe=False),
            serving=system.serving,
            read_markers=system.read_markers,
            joined_rooms=system.joined_rooms,
            blocks=system.blocks,
        )
        register_collectors(svc)
        if system.blocks is not None and svc.limits.enabled:
            system.blocks.throttle = svc.limits.block_changes_by_user.take
        http.start_soon(watch_deactivations, revocations, system.registry_ref, config.deactivation_check)
        stop_accepting, http_done = trio.Event(), trio.Event()
        app = create_app(svc, metrics_here=config.metrics_port is None)
        binds = await http.start(_serve_http, app, hypercorn_config(config), stop_accepting, http_done)
        if config.metrics_port is not None:
            await http.start(
                _serve_http,
                create_metrics_app(svc),
                hypercorn_config(config, port=config.metrics_port),
                stop_accepting,
                trio.Event(),
            )
        url = binds[0]
        port = int(url.rsplit(":", 1)[1])
        settle_garbage_collector()
        svc.ready = True
        log.info("listening on %s with storage %s", url, describe_db_url(config.db_url))
        if config.public_origin is None and config.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning(
                "server.public_origin is not set: browsers may open /ws only from http://<the address "
                "they connected to>:%d; set CHAT_PUBLIC_ORIGIN to the origin users open",
                port,
            )
        task_status.started(Running(url, port, svc))

        await stop.wait()
        log.info("shutting down: closing sessions with 1001")
        svc.ready = False
        with trio.move_on_after(config.shutdown_timeout):
            log.info("closed %d sessions", await system.close_sessions())
            stop_accepting.set()
            await http_done.wait()
        http.cancel_scope.cancel()
    log.info("stopped")


async def _main(config: Config) -> None:
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for signum in signals:
                    log.info("received %s: shutting down", signal.Signals(signum).name)
                    stop.set()
                    return

            nursery.start_soon(watch_signals)
            await serve(config, stop)
            nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chat-server", description="Run the chat server.")
    parser.add_argument("--config", type=Path, help="a TOML file (default: the repository's config.toml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    make = commands.add_parser(
        "create-user",
        help="create an account (password from the terminal or one line of stdin)",
        description="Create an account in the configured database; the server may be running.",
    )
    make.add_argument("username")
    operators.add_commands(commands)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    if args.command == "create-user":
        raise SystemExit(create_user.main(config, args.username))
    if args.command in operators.COMMANDS:
        raise SystemExit(operators.main(config, args.command, args.username))
    setup_logging(config.log_level, config.log_format)
    try:
        trio.run(_main, config)
    except BaseExceptionGroup as group:
        gave_up, rest = group.split(SupervisorGaveUp)
        first = (gave_up or rest or group).exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        if isinstance(first, KeyboardInterrupt):
            raise SystemExit(130) from None
        # A supervisor that gave up has already logged the crash with its traceback.
        trace = None if isinstance(first, SupervisorGaveUp) else first
        log.critical("server stopped: %s: %s", type(first).__name__, first, exc_info=trace)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
