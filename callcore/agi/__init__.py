"""FastAGI server and scripts (route, lookup, dnc-check, callback).

``AgiServer(settings, AgiScripts(PgAgiStore(pool), SystemClock()).scripts())``.
"""

from callcore.agi.scripts import AgiScripts
from callcore.agi.server import AgiServer, Script
from callcore.agi.session import AgiSession
from callcore.agi.store import AgiStore, PgAgiStore

__all__ = ["AgiScripts", "AgiServer", "AgiSession", "AgiStore", "PgAgiStore", "Script"]
