"""The chat socket after the 101: taken over from Hypercorn and spoken to in RFC 6455 frames.

:mod:`transport.takeover` is the hand-over's contract, :mod:`transport.hypercorn_patches`
the (risky, explicitly installed) changes to Hypercorn that make it, and
:mod:`transport.websocket` the reader/writer shell over the taken socket.
"""
