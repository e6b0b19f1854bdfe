"""``chat-server create-user NAME``: an operator makes an account without the HTTP API.

For the first account of a closed deployment, or a user locked out by the
login throttle's address limit. The same rules as ``POST /register`` apply
(username and password validation, uniqueness on ``username_key``, argon2id),
against the database the configuration names; the server may be running.

The password is read from the terminal without echo (asked twice), or as
one line from standard input when that is not a terminal, never from the
command line, where it would end up in shell histories and process lists.
"""

from __future__ import annotations

import getpass
import sys

import trio

from storage.database import Database, UsernameTaken, open_database
from storage.passwords import Passwords
from web import validation
from web.config import Config
from web.errors import ApiError
from wire.shapes import User


class CreateUserFailed(Exception):
    """Why the account was not made, in words for the operator."""


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CreateUserFailed("the two passwords differ; nothing was created")
    return first


async def create_user(config: Config, username: str, password: str) -> User:
    try:
        name = validation.username(username)
        secret = validation.password(password)
    except ApiError as error:
        raise CreateUserFailed(error.message) from None
    async with open_database(config.db_url) as db:
        outcome = await _insert(db, name, secret)
    if isinstance(outcome, CreateUserFailed):
        raise outcome
    return outcome


async def _insert(db: Database, name: str, secret: str) -> User | CreateUserFailed:
    taken = CreateUserFailed(f"the username {name!r} is taken")
    if await db.find_login(name) is not None:
        return taken
    try:
        return await db.create_user(name, await Passwords(1).hash(secret))
    except UsernameTaken:  # registered meanwhile
        return taken


def main(config: Config, username: str) -> int:
    """Run the command; the process's exit status (0 made, 1 refused)."""
    try:
        password = read_password()
        user = trio.run(create_user, config, username, password)
    except CreateUserFailed as failed:
        print(f"create-user: {failed}", file=sys.stderr)
        return 1
    print(f"created {user.username} (user_id {user.user_id})")
    return 0
