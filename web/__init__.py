"""The web layer: Quart-Trio routes, the WebSocket adapter and the composition root."""
