"""constraints.txt pins every runtime dependency within pyproject's ranges; the image installs with it; the
phonenumbers data the image removes is data callcore never reads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

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


def test_the_image_installs_with_the_constraints() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"pip install -c /tmp/wheels/constraints\.txt", text)
    assert "constraints.txt" in text.split("AS runtime")[0], "the build stage copies constraints.txt"


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
