"""``python -m callcore.dialer.sounds /var/lib/asterisk/sounds/en``: install the shipped recordings."""

from __future__ import annotations

import sys
from pathlib import Path

from callcore.dialer.sounds import install


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m callcore.dialer.sounds ASTERISK_SOUNDS_DIR  (e.g. /var/lib/asterisk/sounds/en)",
              file=sys.stderr)
        return 2
    for path in install(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
