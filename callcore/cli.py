"""The ``callcore`` command line.

Every subcommand imports its implementation lazily, so ``callcore --help`` is instant and a broken
optional part never stops the others. Exit codes: 0 success, 1 failure at run time, 2 bad usage or bad
configuration (the message names the setting), 130 interrupted.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence

from callcore.errors import CallcoreError, ConfigError

Handler = Callable[[list[str]], int]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _run(argv: list[str]) -> int:
    from callcore.service.main import main as run_main

    return run_main(argv)


def _demo(argv: list[str]) -> int:
    from callcore.service.demo import main as demo_main

    return demo_main(argv)


def _sim(argv: list[str]) -> int:
    from callcore.sim.__main__ import run_sim

    return run_sim(argv)


def _db(argv: list[str]) -> int:
    from callcore.service.dbcli import main as db_main

    return db_main(argv)


def _queue(argv: list[str]) -> int:
    from callcore.directory.cli import queue_main

    return queue_main(argv)


def _agent(argv: list[str]) -> int:
    from callcore.directory.cli import agent_main

    return agent_main(argv)


def _account(argv: list[str]) -> int:
    from callcore.web.cli import account_main

    return account_main(argv)


def _department(argv: list[str]) -> int:
    from callcore.web.cli import department_main

    return department_main(argv)


def _campaign(argv: list[str]) -> int:
    from callcore.dialer.cli import campaign_main

    return campaign_main(argv)


def _dnc(argv: list[str]) -> int:
    from callcore.dialer.cli import dnc_main

    return dnc_main(argv)


def _route(argv: list[str]) -> int:
    from callcore.agi.cli import route_main

    return route_main(argv)


def _report(argv: list[str]) -> int:
    from callcore.directory.report import main as report_main

    return report_main(argv)


def _simulate(argv: list[str]) -> int:
    text = "usage: callcore simulate dialer [options]   (see: callcore simulate dialer --help)"
    if argv and argv[0] in ("-h", "--help"):
        print(text + "\n\nPacing simulation of an outbound campaign in virtual time.")
        return EXIT_OK
    if not argv or argv[0] != "dialer":
        print(text, file=sys.stderr)
        return EXIT_USAGE
    from callcore.dialer.simulate import main as simulate_main

    return simulate_main(argv[1:])


def _doctor(argv: list[str]) -> int:
    from callcore.config import load_settings
    from callcore.doctor import run_doctor

    if argv and argv[0] in ("-h", "--help"):
        print("usage: callcore doctor\n\nChecks a live installation (ARI, AMI, FastAGI, database, dialplan names)"
              " using the CALLCORE_* settings and prints what is wrong.")
        return EXIT_OK
    return asyncio.run(run_doctor(load_settings()))


def _config(argv: list[str]) -> int:
    from callcore.config import load_settings, settings_reference

    if argv and argv[0] == "check":
        settings = load_settings()
        print(f"configuration is valid (instance {settings.instance_id})")
        return EXIT_OK
    for env, default, doc in settings_reference():
        print(f"{env:34} {default:28} {doc}")
    return EXIT_OK


COMMANDS: dict[str, tuple[Handler, str]] = {
    "run": (_run, "run the service (ARI, FastAGI, AMI, journal, HTTP API) until SIGTERM"),
    "demo": (_demo, "run the service against the simulated Asterisk and show it working"),
    "sim": (_sim, "run the simulated Asterisk (ARI over HTTP/WebSocket; the demo adds a simulated AMI)"),
    "db": (_db, "database: migrate | status"),
    "queue": (_queue, "manage queues: create | list | show | update | delete"),
    "agent": (_agent, "manage agents (operators): create | list | show | update | delete | token"),
    "account": (_account, "desktop/wallboard sign-in accounts: password | list | delete"),
    "department": (_department, "department directory shown to operators: set | list | delete"),
    "campaign": (_campaign, "outbound campaigns: create | list | show | start | pause | stop | upload | report"),
    "dnc": (_dnc, "do-not-call list: add | remove | import | check"),
    "route": (_route, "inbound routing for the FastAGI hook: did | vip | hours | holiday | test"),
    "report": (_report, "reports: queues | queue-log"),
    "simulate": (_simulate, "simulate dialer: pacing simulation in virtual time"),
    "doctor": (_doctor, "check a live installation and say what is wrong"),
    "config": (_config, "print the configuration reference, or 'config check' to validate the environment"),
}


def usage() -> str:
    lines = ["usage: callcore <command> [options]", "", "commands:"]
    lines += [f"  {name:10} {text}" for name, (_h, text) in COMMANDS.items()]
    lines += ["", "callcore <command> --help shows the options of a command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return EXIT_OK if args else EXIT_USAGE
    if args[0] in ("-V", "--version"):
        from callcore import __version__

        print(f"callcore {__version__}")
        return EXIT_OK
    entry = COMMANDS.get(args[0])
    if entry is None:
        print(f"callcore: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return EXIT_USAGE
    if args[0] not in ("run", "demo"):  # these configure logging from their own settings
        from callcore.logs import configure_cli_logging

        configure_cli_logging()
    try:
        code = entry[0](args[1:])
        sys.stdout.flush()   # a closed pipe shows here, not as a message at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (CallcoreError, BaseExceptionGroup) as exc:
        failure = first_error(exc)
        if failure is None:
            raise
        if isinstance(failure, BrokenPipeError):
            return _reader_gone()
        if isinstance(failure, ConfigError):
            print(f"callcore: configuration error: {failure}", file=sys.stderr)
            return EXIT_USAGE
        print(f"callcore: {failure}", file=sys.stderr)
        return EXIT_FAILURE


def first_error(exc: BaseException) -> BaseException | None:
    """The first CallcoreError (or BrokenPipeError) in ``exc``, looking inside exception groups (a task
    group's failure wraps the error that ended it); None when there is none."""
    if isinstance(exc, CallcoreError | BrokenPipeError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_error(inner)
            if found is not None:
                return found
    return None


def _reader_gone() -> int:
    """The reader of our output closed it (``callcore report calls | head``): stop quietly, as Unix tools do."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())   # the interpreter's final flush must not fail again
    except (OSError, ValueError):
        pass
    return EXIT_OK
