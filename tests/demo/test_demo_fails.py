"""When the end is not what the story expects, `scrumy demo` says what ended wrong and exits 1
(in process, with the expectations changed: Dana's item is said to belong in ClickUp)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from demo import cli as demo_cli
from demo.report import Expected
from demo.story import EXPECTED
from demo.world import DANA
from primitives.enums import ProviderName, TaskState
from scrumy.cli import cli

pytestmark = pytest.mark.filterwarnings(
    # slack_sdk's oauth.v2.access passes aiohttp.BasicAuth, which aiohttp now deprecates.
    "ignore::DeprecationWarning"
)


def test_an_item_that_ends_elsewhere_fails_the_demo_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = {**EXPECTED, "8": Expected(DANA.slack_id, TaskState.CREATED, ProviderName.CLICKUP)}
    monkeypatch.setattr(demo_cli, "EXPECTED", wrong)

    result = CliRunner().invoke(cli, ["demo"])

    assert result.exit_code == 1, result.output
    assert "demo failed: 1 thing(s) ended wrong" in result.output
    assert (
        "item 8 (Review the new design mockups): Dana Ortiz, created, Notion; expected "
        "Dana Ortiz, created, ClickUp"
    ) in result.output
    assert "demo passed" not in result.output
