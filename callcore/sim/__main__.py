"""``callcore sim``: serve the simulated Asterisk until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from callcore.sim.behaviour import EndpointBehaviour
from callcore.sim.server import SimAsterisk


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="callcore sim", description="Simulated Asterisk 22 (ARI over HTTP/WebSocket)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--user", default="callcore")
    p.add_argument("--password", default="callcore-secret")
    p.add_argument("--app", default="callcore", help="Stasis application inbound calls enter")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--system-name", default="callcore-sim",
                   help="Asterisk's systemname: the prefix of channel ids (give each simulated node its own)")
    p.add_argument("--time-scale", type=float, default=1.0, help="simulated durations are divided by this")
    p.add_argument("--agents", type=int, default=10, help="agent endpoints PJSIP/<prefix>1001...")
    p.add_argument(
        "--agent-prefix", default="", help="endpoint name prefix, e.g. 'agent' for PJSIP/agent1001"
    )
    p.add_argument("--arrival-rate", type=float, default=0.0, help="inbound calls per simulated second")
    p.add_argument("--queue", action="append", default=None, help="queue for arrivals (repeatable)")
    p.add_argument("--patience", type=float, default=60.0, help="caller patience, simulated seconds")
    p.add_argument("--talk-time", type=float, nargs=2, default=(30.0, 120.0), metavar=("LOW", "HIGH"))
    p.add_argument("--p-answer", type=float, default=0.8, help="customers answering on the trunk")
    p.add_argument("--p-busy", type=float, default=0.1)
    p.add_argument("--p-machine", type=float, default=0.05)
    return p


async def serve(args: argparse.Namespace) -> None:
    agents = [f"PJSIP/{args.agent_prefix}{1001 + i}" for i in range(args.agents)]
    sim = SimAsterisk(
        host=args.host,
        port=args.port,
        user=args.user,
        password=args.password,
        app=args.app,
        seed=args.seed,
        time_scale=args.time_scale,
        agents=agents,
        sysname=args.system_name,
    )
    talk = (float(args.talk_time[0]), float(args.talk_time[1]))
    sim.set_endpoint(
        "PJSIP/trunk/*",
        EndpointBehaviour(
            answer_delay=(2.0, 12.0),
            p_answer=args.p_answer,
            p_busy=args.p_busy,
            p_machine=args.p_machine,
            talk_time=talk,
        ),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with sim:
        print(
            f"simulated Asterisk: ARI at {sim.ari_url}/ari (user {args.user}), "
            f"control at {sim.ari_url}/_sim/",
            flush=True,
        )
        if args.arrival_rate > 0:
            sim.start_arrivals(
                args.arrival_rate, args.queue or ["sales"], patience=args.patience, talk_time=talk
            )
        await stop.wait()


def run_sim(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(run_sim(sys.argv[1:]))
