"""The README's configuration reference is the one the code generates (regenerate: see update_readme)."""

from __future__ import annotations

import re
from pathlib import Path

from streamer.service.config_reference import markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- config-reference:start -->\n)(.*?)(<!-- config-reference:end -->)", re.S)


def update_readme() -> None:
    """Rewrites the block: `python -c 'from tests.test_readme import update_readme; update_readme()'`."""
    README.write_text(BLOCK.sub(lambda m: m.group(1) + markdown() + "\n" + m.group(3), README.read_text()))


def test_readme_configuration_reference_is_current() -> None:
    match = BLOCK.search(README.read_text())
    assert match is not None, "README lost its config-reference markers"
    assert match.group(2).strip() == markdown().strip(), "run update_readme() (see its docstring)"


def test_readme_alert_example_is_a_valid_alert() -> None:
    from watchlists.alerts import Alert

    text = README.read_text()
    section = text[text.index("## Alerts") :]
    example = section[section.index("```json\n") + 8 : section.index("\n```", section.index("```json\n"))]
    alert = Alert.from_json(example)
    assert alert.schema_version == 4
    assert alert.entry.id == "amber-2026-1187"
