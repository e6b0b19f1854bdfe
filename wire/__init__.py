"""The client contract, without I/O: what goes over the chat socket and in the API's JSON.

RFC 6455 frames (:mod:`wire.frames`), the close codes (:mod:`wire.close_codes`),
strict JSON (:mod:`wire.strict_json`), the commands a client sends
(:mod:`wire.commands`), the users, rooms and messages as clients see them
(:mod:`wire.shapes`), the events the server sends (:mod:`wire.events`) and the
clock their timestamps use (:mod:`wire.clock`). Every other package imports
this one; it imports none of them, so the contract can be read, tested and
reused (a second server process, a client library) on its own.
"""
