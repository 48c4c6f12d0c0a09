"""The pure ACD core: plain data in, plain data out. Nothing here imports asyncio, aiohttp, asyncpg or a
module of ``callcore.acd.runtime`` (``tests/test_layout.py`` checks)."""
