"""Read what the app owns over REST after a (re)connect: the ``Snapshot`` carried by ``Connected``.

Asterisk replays nothing after a reconnect (no new StasisStart for calls already in the app), so this
snapshot is the only way for consumers to learn which channels and bridges survived an outage.
"""

from __future__ import annotations

from callcore.ari.api import AriApi
from callcore.ari.events import Snapshot
from callcore.errors import AriNotFound


async def take_snapshot(api: AriApi) -> Snapshot:
    """``GET /applications/{app}``, ``GET /channels``, ``GET /bridges``; channels filtered to the app's.

    An app that Asterisk does not know (404: no websocket and no channels) gives an empty snapshot.
    """
    try:
        app = await api.get_application()
    except AriNotFound:
        return Snapshot()
    wanted = set(app.channel_ids)
    channels = [c for c in await api.list_channels() if c.id in wanted] if wanted else []
    ours = {c.id for c in channels}
    app_bridges = set(app.bridge_ids)
    bridges = []
    stasis_bridges = []
    for b in await api.list_bridges():
        if b.id in app_bridges or any(cid in ours for cid in b.channels):
            bridges.append(b)
        elif b.bridge_class == "stasis":
            stasis_bridges.append(b)
    return Snapshot(application=app, channels=channels, bridges=bridges, stasis_bridges=stasis_bridges)
