"""Dialer simulator: runs the real pacer and campaign logic over hours of virtual traffic in seconds.

``callcore simulate dialer --agents 20 --answer-rate 0.3 --aht 180 --hours 8 --seed 1
[--modes progressive,predictive,preview] [--answer-delay 3-12] [--give-up 20] [--wrapup 5] [--json]``

Reported per mode: operator occupancy (talk time / logged-in time), abandonment rate (abandoned /
human-answered; abandoned = no operator within the connect grace of 2 s after answer), calls per
operator-hour, mean wait between calls (idle time per connected call), dials per hour.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from callcore.dialer.campaign import Mode
from callcore.dialer.sim_engine import Scenario, simulate_mode
from callcore.errors import InputError

DEFAULT_MODES: tuple[Mode, ...] = (Mode.PROGRESSIVE, Mode.PREDICTIVE)


@dataclass(frozen=True, slots=True)
class SimParams:
    scenario: Scenario = field(default_factory=Scenario)
    modes: tuple[Mode, ...] = DEFAULT_MODES

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimParams:
        fields = {f.name for f in dataclasses.fields(Scenario)}
        unknown = set(data) - fields - {"modes"}
        if unknown:
            raise InputError(f"unknown simulation parameters: {sorted(unknown)}")
        sc_args = {k: v for k, v in data.items() if k in fields}
        if "answer_delay" in sc_args:
            sc_args["answer_delay"] = tuple(sc_args["answer_delay"])
        modes = tuple(Mode(m) for m in data.get("modes", DEFAULT_MODES))
        return cls(Scenario(**sc_args), modes)


def validate(sc: Scenario) -> None:
    if sc.agents < 1:
        raise InputError("at least one operator is needed", field="--agents")
    if not 0.0 < sc.answer_rate <= 1.0:
        raise InputError("answer rate must be in (0, 1]", field="--answer-rate")
    lo, hi = sc.answer_delay
    if not 0.0 <= lo <= hi <= sc.give_up:
        raise InputError("answer delay must be a range within [0, give-up time]",
                         field="--answer-delay")
    if sc.aht <= 0 or sc.hours <= 0 or sc.wrapup < 0 or sc.give_up <= 0:
        raise InputError("durations must be positive", field="--aht")
    if not 0.0 <= sc.machine_share < 1.0:
        raise InputError("machine share must be in [0, 1)", field="--machine-share")


def run_simulation(params: SimParams | Mapping[str, Any]) -> dict[str, Any]:
    """Simulate every requested mode on the same scenario and seed; returns plain data (JSON-ready)."""
    p = params if isinstance(params, SimParams) else SimParams.from_mapping(params)
    validate(p.scenario)
    results = {str(m): simulate_mode(p.scenario, m) for m in p.modes}
    return {"scenario": dataclasses.asdict(p.scenario), "modes": results}


_ROWS = (
    ("occupancy", "operator occupancy", "{:.3f}"),
    ("abandon_rate", "abandonment rate", "{:.2%}"),
    ("calls_per_operator_hour", "calls / operator-hour", "{:.1f}"),
    ("mean_wait_between_calls", "mean wait between calls (s)", "{:.1f}"),
    ("dials_per_hour", "dials / hour", "{:.0f}"),
    ("human_answers", "live answers", "{:.0f}"),
    ("abandoned", "abandoned calls", "{:.0f}"),
)


def format_table(result: Mapping[str, Any]) -> str:
    modes: Mapping[str, Mapping[str, float]] = result["modes"]
    names = list(modes)
    width = max(len(label) for _, label, _ in _ROWS) + 2
    lines = ["".ljust(width) + "".join(n.rjust(14) for n in names)]
    for key, label, fmt in _ROWS:
        lines.append(label.ljust(width) + "".join(fmt.format(modes[n][key]).rjust(14) for n in names))
    return "\n".join(lines)


def _delay(text: str) -> tuple[float, float]:
    try:
        parts = [float(x) for x in text.split("-")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or LO-HI seconds") from exc
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or LO-HI seconds")
    return parts[0], parts[1]


def _modes(text: str) -> tuple[Mode, ...]:
    try:
        return tuple(Mode(m.strip()) for m in text.split(",") if m.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"modes are a comma list of {[m.value for m in Mode]}") from exc


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="callcore simulate dialer", description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--answer-rate", type=float, default=0.3, help="probability that a dial is answered")
    ap.add_argument("--aht", type=float, default=180.0, help="mean talk time, seconds (exponential)")
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--modes", type=_modes, default=DEFAULT_MODES,
                    help="comma list: progressive,predictive,preview")
    ap.add_argument("--answer-delay", type=_delay, default=(3.0, 12.0), help="seconds, N or LO-HI uniform")
    ap.add_argument("--give-up", type=float, default=20.0, help="unanswered calls end after this")
    ap.add_argument("--wrapup", type=float, default=5.0)
    ap.add_argument("--think", type=float, default=10.0, help="preview think time per lead, seconds")
    ap.add_argument("--machine-share", type=float, default=0.0, help="share of answers that are machines")
    ap.add_argument("--abandon-target", type=float, default=0.03)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["dialer"]:
        args_list = args_list[1:]
    a = build_parser().parse_args(args_list)
    if Mode.AGENTLESS in a.modes:
        print("agentless campaigns have no operators to simulate", file=sys.stderr)
        return 2
    sc = Scenario(agents=a.agents, answer_rate=a.answer_rate, answer_delay=a.answer_delay,
                  give_up=a.give_up, aht=a.aht, wrapup=a.wrapup, hours=a.hours, seed=a.seed,
                  machine_share=a.machine_share, preview_think=a.think, abandon_target=a.abandon_target)
    try:
        result = run_simulation(SimParams(sc, a.modes))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(result))
    else:
        print(format_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
