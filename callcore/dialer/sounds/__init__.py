"""The recordings the dialer plays, shipped in the package, and the check that Asterisk has them.

``callcore-safe-harbour.wav`` (8 kHz, 16-bit mono, about 8 s: "We are sorry, all of our agents are busy.
This call was made by an automated dialer. We will call you back. Goodbye.") is the default message of the
abandoned-call rules: a live person no operator could take within the grace hears it. Asterisk finds it as
``custom/callcore-safe-harbour`` in its sounds directory for the language in use, for example
``/var/lib/asterisk/sounds/en/custom/callcore-safe-harbour.wav``; ``python -m callcore.dialer.sounds DIR``
copies it there. A campaign whose messages Asterisk does not have is refused when it starts, and
``callcore doctor`` checks the default one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from callcore.dialer.campaign import CampaignSettings, MachineHandling, Mode

SAFE_HARBOUR_ID = "custom/callcore-safe-harbour"
BUNDLED = {SAFE_HARBOUR_ID: "callcore-safe-harbour.wav"}


def bundled(sound_id: str = SAFE_HARBOUR_ID) -> Path:
    return Path(str(resources.files(__name__).joinpath(BUNDLED[sound_id])))


def install(sounds_dir: Path) -> list[Path]:
    """Copy the shipped recordings under ``sounds_dir`` (Asterisk's sounds directory of a language)."""
    out = []
    for sound_id, name in BUNDLED.items():
        target = sounds_dir / Path(sound_id).parent / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundled(sound_id), target)
        out.append(target)
    return out


def needed(settings: CampaignSettings) -> list[str]:
    """Sound ids (``sound:`` media) a campaign may have to play: the safe-harbour message for campaigns with
    operators, the agentless message, the machine message."""
    media = []
    if settings.mode is not Mode.AGENTLESS:
        media.append(settings.safe_harbour_message)
    if settings.mode is Mode.AGENTLESS or (settings.amd and settings.machine_handling is MachineHandling.LEAVE_MESSAGE):
        media.append(settings.agentless_message or settings.safe_harbour_message)
    return sorted({m.removeprefix("sound:") for m in media if m.startswith("sound:")})


async def available(client: Any) -> set[str]:
    """Sound ids Asterisk has (``GET /ari/sounds`` through an ARI client with ``request``)."""
    data = json.loads(await client.request("GET", "/sounds") or b"[]")
    return {str(s.get("id")) for s in data if isinstance(s, dict)}


def missing(settings: CampaignSettings, available: Iterable[str]) -> list[str]:
    have = set(available)
    return [s for s in needed(settings) if s not in have]
