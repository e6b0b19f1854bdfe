"""``chat-server make-admin NAME`` and ``chat-server deactivate NAME``: operators' commands on accounts.

Beside ``create-user`` (:mod:`web.create_user`), and like it against the
database the configuration names, whether a server is running or not:

* ``make-admin``: the account becomes a site administrator, who acts as
  the owner of every room (it moderates anywhere, and only another site
  administrator is at its level). A running server sees it at the next
  moderation command: the rooms ask the database then.
* ``deactivate``: the account cannot log in any more (403 ``deactivated``),
  its tokens are refused and its sessions closed with 1008; its messages
  stay in the history. A running server takes it up within
  ``moderation.deactivation_check`` seconds (:mod:`web.deactivation`).

The account is named as at login (case and width do not matter). Exit
status 0 when done (also when it was done already, which is said), 1 when
there is no such account.
"""

from __future__ import annotations

import sys
from typing import Any

import trio

from storage.database import open_database
from web.config import Config

COMMANDS = {
    "make-admin": (
        "make an account a site administrator (the owner's rights in every room)",
        "made {name} a site administrator",
        "{name} is a site administrator already",
    ),
    "deactivate": (
        "deactivate an account: it cannot log in, its sessions close, its messages stay",
        "deactivated {name}; a running server closes its sessions within moderation.deactivation_check seconds",
        "{name} is deactivated already",
    ),
}


class NoSuchAccount(Exception):
    pass


def add_commands(commands: Any) -> None:
    """Add the subcommands to ``chat-server``'s parser (``commands``: its ``add_subparsers``)."""
    for name, (text, _, _) in COMMANDS.items():
        command = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        command.add_argument("username", help="as the user logs in")


async def run(config: Config, command: str, username: str) -> tuple[str, bool]:
    """Carry out ``command`` on the account; its username as stored, and whether anything changed.

    The refusal is raised outside the database's block: inside it, it would
    come out wrapped in the exception group of the bridge's nursery.
    """
    changed = False
    async with open_database(config.db_url) as db:
        found = await db.find_login(username)
        if found is not None:
            user_id = found[0].user_id
            if command == "make-admin":
                changed = await db.operators.make_admin(user_id)
            else:
                changed = await db.operators.deactivate(user_id)
    if found is None:
        raise NoSuchAccount(username)
    return found[0].username, changed


def main(config: Config, command: str, username: str) -> int:
    """Run the command; the process's exit status (0 done, 1 no such account)."""
    try:
        name, changed = trio.run(run, config, command, username)
    except NoSuchAccount:
        print(f"{command}: there is no account {username!r}", file=sys.stderr)
        return 1
    _, done, already = COMMANDS[command]
    print((done if changed else already).format(name=name))
    return 0
