"""Role names, their consumer groups, and the CLI's answer to a bad role list."""

from __future__ import annotations

import subprocess

import pytest

from cli.runtime.roles import STREAM_ROLES, group_id, parse_roles
from streams.errors import UnknownRole
from tests.streams.harness import WISMO
from wismo.settings import Settings


def test_roles_are_validated_deduplicated_and_put_in_canonical_order() -> None:
    assert parse_roles("warehouse, timeline,normalise,timeline") == (
        "normalise",
        "timeline",
        "warehouse",
    )
    assert parse_roles(STREAM_ROLES) == STREAM_ROLES


@pytest.mark.parametrize("text", ["timeline,bogus", "", " , "])
def test_unknown_or_missing_roles_are_refused(text: str) -> None:
    with pytest.raises(UnknownRole):
        parse_roles(text)


def test_processes_with_the_same_agent_roles_share_a_group_and_others_do_not() -> None:
    settings = Settings()
    assert group_id(settings, ["timeline"]) == group_id(settings, ["timeline", "warehouse"])
    assert group_id(settings, ["timeline"]) != group_id(settings, ["normalise", "timeline"])
    assert group_id(settings, ["warehouse", "api"]) == "wismo.services"


def test_wismo_run_with_an_unknown_role_exits_2_with_the_known_ones() -> None:
    result = subprocess.run(
        [WISMO, "run", "--roles", "timeline,teleport"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "teleport" in result.stderr
    assert "normalise" in result.stderr
