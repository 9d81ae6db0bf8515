"""README.md's results table is what the committed result files say, and goes stale when one changes."""
import json
import shutil
from pathlib import Path

import pytest

from hebm_lib import cli, paths
from hebm_lib.report import status

ROOT = Path(status.__file__).resolve().parents[2]
README = ROOT / "README.md"


def _block(text: str) -> str:
    return text[text.index(status.README_BEGIN):text.index(status.README_END) + len(status.README_END)]


def test_the_readme_table_is_what_the_committed_results_give():
    assert _block(README.read_text()) == status.readme_table(ROOT / "results"), \
        "README.md's results table is stale: run `hebm status --readme` and commit it"


def test_the_readme_table_goes_stale_when_a_result_changes(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "results", tmp_path / "results")
    from hebm_lib.report import manifest
    book_own = {f"{a.id}.json" for a in manifest.ARTEFACTS if a.source == "book"}   # counted apart: not in the totals
    changed = [p for p in sorted((tmp_path / "results").glob("cpu/*.json")) + sorted((tmp_path / "results").glob("paper/*.json"))
               if p.name not in book_own]
    assert changed, "no committed result to change"
    data = json.loads(changed[0].read_text())
    data["claims"].append({"claim": "one more claim, holding", "holds": True, "evidence": "test"})
    changed[0].write_text(json.dumps(data))
    assert status.readme_table(tmp_path / "results") != _block(README.read_text())
    # and the command says so, exit 1, without writing
    shutil.copy(README, tmp_path / "README.md")
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("HEBM_STORED_DIR", str(tmp_path / "results"))
    assert cli.main(["status", "--readme", "--check"]) == 1
    assert (tmp_path / "README.md").read_text() == README.read_text()
    assert cli.main(["status", "--readme"]) == 0
    assert cli.main(["status", "--readme", "--check"]) == 0
    assert "one more claim" not in (tmp_path / "README.md").read_text()   # counted, not quoted
    assert _block((tmp_path / "README.md").read_text()) == status.readme_table(tmp_path / "results")


def test_the_readme_table_names_every_artefact_with_its_headline():
    table = status.readme_table(ROOT / "results")
    for a in status.ARTEFACTS:
        assert a.headline and f"| {a.headline} |" in table, a.id


def test_a_readme_without_the_markers_is_one_clear_error():
    with pytest.raises(ValueError, match="README_BEGIN"):
        status.replace_readme_block("# no table here\n", "x")
