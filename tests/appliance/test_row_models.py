"""Typed accessors for rows the appliance reads back from its own SQLite (mypy --strict)."""

from __future__ import annotations

import pytest

from appliance.deploy.records import Rollout
from appliance.deploy.unfinished import Unfinished
from appliance.errors import DatabaseError
from appliance.promotions import store
from kit import exitcodes


def test_unfinished_from_row_maps_the_find_columns_by_name() -> None:
    row = ("D-0001", "P-0001", "web@1.0", "prod", "dana", "2025-01-01T00:00:00Z", '{"targets": 1}')
    u = Unfinished.from_row(row, owner_alive=False, pid="42")
    assert u == Unfinished(deployment="D-0001", promotion="P-0001", release="web@1.0", environment="prod",
                           deployer="dana", started_at="2025-01-01T00:00:00Z", owner_alive=False, pid="42")
    assert u.to_dict()["state"] == "orphaned"


def test_rollout_from_row_parses_detail_and_keeps_column_order() -> None:
    row = ("D-0002", "t1", "deployed", "ab" * 32, "services: {}\n", None, "2025-01-01T00:00:00Z",
           "2025-01-01T00:01:00Z", '{"services":[]}', "web@1.0", "prod", "P-0002")
    r = Rollout.from_row(row)
    assert (r.deployment_id, r.target, r.state, r.lock_sha256, r.lock_text) == row[:5]
    assert (r.sticker, r.started_at, r.finished_at) == (None, row[6], row[7])
    assert r.detail == {"services": []}
    assert (r.release, r.environment, r.promotion_id) == ("web@1.0", "prod", "P-0002")


def test_a_stored_decision_record_must_be_a_json_object() -> None:
    assert store.loads_record('{"verdict":"pass"}') == {"verdict": "pass"}
    with pytest.raises(DatabaseError, match="not a JSON object") as caught:
        store.loads_record('["verdict"]')
    assert caught.value.exit_code == exitcodes.IO_ERROR
