from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from kit import canonical

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**53, max_value=2**53) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20)


@given(json_values)
def test_round_trip_is_stable(value: object) -> None:
    data = canonical.dumps(value)
    assert canonical.loads(data) == value
    assert canonical.dumps(canonical.loads(data)) == data
    assert canonical.is_canonical(data)


def test_keys_sorted_no_whitespace_utf8() -> None:
    assert canonical.dumps({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()


@pytest.mark.parametrize("text", ['{"a":1.5}', '{"a":NaN}', '{"a":1,"a":2}', "[1,", b"\xff".decode("latin-1")])
def test_strict_reading(text: str) -> None:
    with pytest.raises(canonical.CanonicalJSONError):
        canonical.loads(text)


def test_floats_cannot_be_written() -> None:
    with pytest.raises(canonical.CanonicalJSONError, match="floats"):
        canonical.dumps({"x": 0.1})
