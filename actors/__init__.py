"""The actor system: rooms, sessions and the registry, supervised on Trio.

Nothing in this package knows about HTTP, Quart or SQL. Actors talk through
:class:`actors.ref.ActorRef` values and typed messages (``actors.messages``);
storage is reached only through the small protocol in ``storage.interface``.
"""
