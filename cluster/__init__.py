"""The cluster mode: several server processes sharing one database and one Redis (docs/cluster.md).

Redis orders each room and conversation (:mod:`cluster.log`), carries what
is published to the processes that have members (:mod:`cluster.subscriber`),
and counts who is online where (:mod:`cluster.presence`); each process keeps
its own members in room actors of its own (:mod:`cluster.room`,
:mod:`cluster.registry`) and says that it is alive (:mod:`cluster.node`).
Nothing here runs in the default, single-process mode.
"""
