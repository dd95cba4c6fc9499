"""The project's copies of the contract's vectors (tests/vectors/) are the contract's own, wherever the
contract's originals are beside the repository (as in CI); a user's clone has only the copies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

COPIES = Path(__file__).resolve().parent / "vectors"
ORIGINALS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


@pytest.mark.parametrize("name", ["frames.json", "signatures.json"])
def test_copies_are_well_formed(name: str) -> None:
    cases = json.loads((COPIES / name).read_text())["cases"]
    assert len(cases) >= 4 and all(isinstance(case, dict) for case in cases)


@pytest.mark.parametrize("name", ["frames.json", "signatures.json"])
def test_copies_match_the_contract(name: str) -> None:
    original = ORIGINALS / name
    if not original.exists():
        pytest.skip(
            f"the contract's originals are not beside this clone ({ORIGINALS}); the copies stand alone"
        )
    assert json.loads((COPIES / name).read_text()) == json.loads(original.read_text()), (
        f"tests/vectors/{name} differs from the contract's {original}: copy it again"
    )
