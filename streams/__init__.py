"""The network side: protocol adapters, the websocket/HTTP server, event fan-out and storage.

Only `streams` touches sockets. Audio flows in through `streams.protocols`,
through `voice`, and back out as events through `streams.hub`.
"""
