"""The inbound ACD.

``core/`` is the pure decision logic (``Engine.handle(event, now) -> commands``: no I/O, no clock, no
asyncio); ``runtime/`` is the imperative shell that turns ARI events into core events and commands into ARI
requests, timers, journal entries and operator notifications. ``ports`` is what the HTTP layer sees.
"""
