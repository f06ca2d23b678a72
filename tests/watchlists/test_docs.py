"""docs/alerts.md and docs/watchlists.md: the generated field tables are current, the example alert is valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from watchlists.alerts import Alert
from watchlists.field_tables import MODELS, blocks, field_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(("doc", "name"), [("alerts.md", "alert"), ("watchlists.md", "entry")])
def test_field_tables_are_current(doc: str, name: str) -> None:
    """Regenerate: ``python -c 'from pathlib import Path; from watchlists.field_tables import update_doc;
    update_doc(Path("docs/alerts.md")); update_doc(Path("docs/watchlists.md"))'``."""
    assert blocks(DOCS / doc)[name].strip() == field_table(MODELS[name]).strip()


def test_example_alert_is_a_valid_message() -> None:
    text = (DOCS / "alerts.md").read_text()
    [example] = re.findall(r"```json\n(.*?)```", text, re.S)
    alert = Alert.from_json(example)
    assert alert.schema_version == 4
    assert alert.score == pytest.approx(alert.factors[0].score * alert.factors[1].score, abs=1e-3)
