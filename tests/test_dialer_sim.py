from __future__ import annotations

import json

import pytest

from callcore.dialer.campaign import Mode
from callcore.dialer.sim_engine import Scenario, simulate_mode
from callcore.dialer.simulate import SimParams, format_table, main, run_simulation
from callcore.errors import InputError


def test_tiny_progressive_scenario_by_hand() -> None:
    # One operator, every call answered after 5 s, talk exactly 100 s, no wrap-up, one hour:
    # connects at 5, 110, 215, ... (every 105 s) -> 35 connects, the last one at 3575 s is cut at 3600 s.
    sc = Scenario(agents=1, answer_rate=1.0, answer_delay=(5.0, 5.0), aht=100.0, talk_fixed=True,
                  wrapup=0.0, hours=1.0)
    r = simulate_mode(sc, Mode.PROGRESSIVE)
    assert r["connected"] == 35
    assert r["occupancy"] == pytest.approx((34 * 100 + 25) / 3600)
    assert r["dials_per_hour"] == 35
    assert r["abandon_rate"] == 0.0
    assert r["mean_wait_between_calls"] == pytest.approx((3600 - 3425) / 35)


def test_tiny_preview_scenario_by_hand() -> None:
    # Preview adds 10 s of think time before every dial: cycle 10 + 5 + 100 = 115 s.
    sc = Scenario(agents=1, answer_rate=1.0, answer_delay=(5.0, 5.0), aht=100.0, talk_fixed=True,
                  wrapup=0.0, hours=1.0, preview_think=10.0)
    r = simulate_mode(sc, Mode.PREVIEW)
    # Connects at 15 + 115k <= 3600 -> k = 0..31, the last at 3580 s is cut to 20 s.
    assert r["connected"] == 32
    assert r["occupancy"] == pytest.approx((31 * 100 + 20) / 3600)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("agents", "p", "aht"), [(3, 0.5, 60.0), (10, 0.2, 120.0), (25, 0.6, 300.0)])
def test_progressive_and_preview_never_abandon(agents: int, p: float, aht: float, seed: int) -> None:
    sc = Scenario(agents=agents, answer_rate=p, aht=aht, hours=1.0, seed=seed)
    for mode in (Mode.PROGRESSIVE, Mode.PREVIEW):
        r = simulate_mode(sc, mode)
        assert r["abandoned"] == 0 and r["abandon_rate"] == 0.0
        assert 0.0 < r["occupancy"] <= 1.0
        assert r["connected"] == r["human_answers"]


def test_seeded_determinism() -> None:
    sc = Scenario(agents=8, answer_rate=0.3, aht=90.0, hours=1.0, seed=7)
    a = run_simulation(SimParams(sc, (Mode.PROGRESSIVE, Mode.PREDICTIVE)))
    b = run_simulation(SimParams(sc, (Mode.PROGRESSIVE, Mode.PREDICTIVE)))
    assert a == b
    c = run_simulation({"agents": 8, "answer_rate": 0.3, "aht": 90.0, "hours": 1.0, "seed": 8,
                        "modes": ["progressive", "predictive"]})
    assert c["modes"] != a["modes"]


def test_predictive_beats_progressive_on_reference_scenario() -> None:
    sc = Scenario(agents=20, answer_rate=0.2, answer_delay=(3.0, 12.0), give_up=20.0, aht=120.0,
                  wrapup=5.0, hours=2.0, seed=3)
    prog = simulate_mode(sc, Mode.PROGRESSIVE)
    pred = simulate_mode(sc, Mode.PREDICTIVE)
    assert 0.0 <= prog["occupancy"] <= 1.0 and 0.0 <= pred["occupancy"] <= 1.0
    assert pred["occupancy"] > prog["occupancy"] + 0.15
    assert pred["abandon_rate"] <= 0.03
    assert pred["calls_per_operator_hour"] > prog["calls_per_operator_hour"]


@pytest.mark.parametrize(("agents", "p", "aht", "hours"), [
    (5, 0.1, 180.0, 2.0),
    (5, 0.6, 60.0, 2.0),
    (10, 0.1, 180.0, 2.0),
    (12, 0.35, 600.0, 3.0),
    (40, 0.6, 60.0, 1.0),
    (100, 0.3, 180.0, 0.75),
])
def test_predictive_abandonment_stays_under_target(agents: int, p: float, aht: float, hours: float) -> None:
    for seed in (1, 2):
        sc = Scenario(agents=agents, answer_rate=p, aht=aht, hours=hours, seed=seed)
        r = simulate_mode(sc, Mode.PREDICTIVE)
        assert r["human_answers"] > 0
        assert r["abandon_rate"] <= 0.03, r


def test_machines_need_no_operator() -> None:
    sc = Scenario(agents=5, answer_rate=0.5, aht=60.0, hours=1.0, machine_share=0.5)
    r = simulate_mode(sc, Mode.PROGRESSIVE)
    base = simulate_mode(Scenario(agents=5, answer_rate=0.5, aht=60.0, hours=1.0), Mode.PROGRESSIVE)
    assert r["connected"] < base["connected"]
    assert r["abandon_rate"] == 0.0


def test_cli_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dialer", "--agents", "4", "--answer-rate", "0.4", "--aht", "60", "--hours", "0.5",
            "--modes", "progressive,predictive,preview", "--answer-delay", "3-12", "--give-up", "20",
            "--wrapup", "5"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["modes"]) == {"progressive", "predictive", "preview"}
    assert out["scenario"]["agents"] == 4
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "operator occupancy" in table and "predictive" in table
    assert format_table(out).splitlines()[0].split() == ["progressive", "predictive", "preview"]


def test_cli_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--agents", "0"]) == 2
    assert "operator" in capsys.readouterr().err
    assert main(["--answer-delay", "5-30", "--give-up", "20"]) == 2
    assert main(["--modes", "agentless"]) == 2
    with pytest.raises(SystemExit):
        main(["--modes", "sideways"])
    with pytest.raises(InputError):
        run_simulation({"agentz": 3})
