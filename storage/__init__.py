"""Persistence: Tortoise ORM behind a trio-asyncio bridge, and password hashing.

Tortoise is asyncio-only. Everything asyncio stays inside this package: the
rest of the server calls plain Trio functions on :class:`storage.database.Database`
and :class:`storage.journal.Journal`.
"""
