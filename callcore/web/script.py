"""A project's call script in sections.

Scripts are plain text with optional section headings on their own line, ``[greeting]``, ``[questions]``,
``[answers]``, ``[closing]`` and ``[difficult]`` (phrases for difficult callers, one per line). Text before
the first heading is the greeting. Placeholders (``{caller_name}``) are filled in before splitting.
"""

from __future__ import annotations

import re

SECTIONS = ("greeting", "questions", "answers", "closing")
DIFFICULT = "difficult"
_HEADING = re.compile(r"^\s*\[(\w+)\]\s*$")

# used when a project's script has no [difficult] section of its own
DEFAULT_PHRASES = (
    "I understand this is frustrating, and I want to help you sort it out.",
    "I can hear that you are upset. Let us go through it together, step by step.",
    "I will stay on the line with you until we know the next step.",
    "If the language continues I will have to end this call; I would rather help you.",
)


def sections(rendered: str) -> dict[str, object]:
    """``{"sections": [{"id", "text"}...], "phrases": [...]}``; unknown headings become their own sections."""
    parts: dict[str, list[str]] = {}
    order: list[str] = []
    current = "greeting"
    for line in rendered.splitlines():
        m = _HEADING.match(line)
        if m:
            current = m[1].lower()
            continue
        if current not in parts:
            parts[current] = []
            order.append(current)
        parts[current].append(line)
    out = [{"id": name, "text": "\n".join(parts[name]).strip()} for name in order
           if name != DIFFICULT and "\n".join(parts[name]).strip()]
    out.sort(key=lambda s: SECTIONS.index(s["id"]) if s["id"] in SECTIONS else len(SECTIONS))
    phrases = [p.strip() for p in parts.get(DIFFICULT, []) if p.strip()]
    return {"sections": out, "phrases": phrases or list(DEFAULT_PHRASES)}
