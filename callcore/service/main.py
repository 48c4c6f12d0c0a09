"""``callcore run``: the service process.

Exit codes: 0 clean shutdown after SIGTERM/SIGINT; 1 a component failed at run time; 2 bad configuration
(the message names the setting); 3 the database could not be found or migrated at start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from typing import Any

import structlog

from callcore.config import load_settings
from callcore.errors import CallcoreError, ConfigError, StoreError
from callcore.logs import configure_logging

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_DATABASE = 3

log = structlog.get_logger(__name__)


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def serve(stop: asyncio.Event | None = None) -> int:
    from callcore.service.app import Service

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = stop or asyncio.Event()
    install_signal_handlers(stop)
    service = Service(settings)
    freezer = asyncio.get_running_loop().create_task(_freeze_when_started(service), name="gc-freeze")
    try:
        await service.run(stop)
    except StoreError as exc:
        log.error("database_unavailable_at_start", error=str(exc))
        return EXIT_DATABASE
    finally:
        freezer.cancel()
    return EXIT_OK


async def _freeze_when_started(service: Any) -> None:
    """What start-up built (modules, configuration, the directory) lives as long as the process: once the
    service runs, move it out of the garbage collector's reach, whose full passes over it otherwise stall the
    event loop for tens of milliseconds each time calls have created enough objects."""
    await service.started.wait()
    gc.collect()
    gc.freeze()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="callcore run",
        description="Run the callcore service until SIGTERM/SIGINT. Settings come from CALLCORE_* environment "
                    "variables and the optional TOML file named by CALLCORE_CONFIG (see `callcore config`).")
    parser.parse_args(argv)
    try:
        return asyncio.run(serve())
    except (CallcoreError, BaseExceptionGroup) as exc:
        from callcore.cli import first_error

        failure = first_error(exc)   # a component's failure arrives wrapped in the service's task group
        if not isinstance(failure, CallcoreError):
            raise
        if isinstance(failure, ConfigError):
            print(f"callcore: configuration error: {failure}", file=sys.stderr)
            return EXIT_CONFIG
        if isinstance(failure, StoreError):
            print(f"callcore: {failure}", file=sys.stderr)
            return EXIT_DATABASE
        print(f"callcore: {failure}", file=sys.stderr)
        return EXIT_FAILURE
