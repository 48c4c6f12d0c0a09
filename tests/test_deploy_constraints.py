"""constraints.txt pins every runtime dependency within pyproject's ranges; requirements.lock has the same pins
with hashes and the image installs it with --require-hashes; the
phonenumbers data the image removes is data callcore never reads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            out[name.lower()] = version
    return out


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = pins()
    for dep in deps:
        req = Requirement(dep)
        name = req.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{name}=={pinned[name]} outside {dep}"


def _lock() -> dict[str, tuple[str, list[str]]]:
    sys.path.insert(0, str(REPO / "deploy"))
    try:
        from make_constraints import lock_pins  # type: ignore[import-not-found]  # deploy/ is not a package
    finally:
        sys.path.remove(str(REPO / "deploy"))
    pins: dict[str, tuple[str, list[str]]] = lock_pins((REPO / "requirements.lock").read_text())
    return pins


def test_every_locked_dependency_has_hashes_and_the_same_pin_as_constraints() -> None:
    lock = _lock()
    assert {n: v for n, (v, _h) in lock.items()} == pins(), "requirements.lock and constraints.txt disagree"
    for name, (version, hashes) in lock.items():
        assert hashes, f"{name}=={version} has no hash"
        for h in hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", h), f"{name}: {h!r} is not a sha256 hash"
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        req = Requirement(dep)
        name = req.name.lower().replace("_", "-")
        assert name in lock and req.specifier.contains(lock[name][0], prereleases=True), dep


def test_the_lock_reader_refuses_a_loose_pin() -> None:
    sys.path.insert(0, str(REPO / "deploy"))
    try:
        from make_constraints import lock_pins
    finally:
        sys.path.remove(str(REPO / "deploy"))
    assert lock_pins("a==1 \\\n    --hash=sha256:" + "0" * 64 + "\n# c\n") == {"a": ("1", ["sha256:" + "0" * 64])}
    with pytest.raises(ValueError, match="not an exact pin"):
        lock_pins("aiohttp>=3.9\n")


def test_the_image_installs_the_lock_with_required_hashes() -> None:
    text = (REPO / "Dockerfile").read_text()
    runtime = text.split("AS runtime")[1]
    assert re.search(r"pip install --require-hashes --no-deps -r /tmp/wheels/requirements\.lock", runtime)
    # callcore's own wheel adds nothing unhashed: no dependency resolution, no index
    assert re.search(r"pip install --no-deps --no-index /tmp/wheels/\*\.whl", runtime)
    assert "pip check" in runtime
    assert "requirements.lock" in text.split("AS runtime")[0], "the build stage copies requirements.lock"


def test_phone_normalisation_and_time_zones_work_without_geocoder_and_carrier_data(tmp_path: Path) -> None:
    import phonenumbers

    shutil.copytree(Path(phonenumbers.__file__).parent, tmp_path / "phonenumbers",
                    ignore=shutil.ignore_patterns("geodata", "carrierdata", "__pycache__"))
    code = ("import phonenumbers, sys; assert 'site-packages' not in phonenumbers.__file__, phonenumbers.__file__\n"
            "from phonenumbers import timezone\n"
            "from callcore.dialer import phones\n"
            "n = phonenumbers.parse('8 (916) 123-45-67', 'RU')\n"
            "print(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164),"
            " ','.join(timezone.time_zones_for_number(n)))\n")
    assert not (tmp_path / "phonenumbers" / "geodata").exists()
    env = {"PYTHONPATH": f"{tmp_path}:{REPO}:{sysconfig.get_paths()['purelib']}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "+79161234567" and "Europe/Moscow" in result.stdout
