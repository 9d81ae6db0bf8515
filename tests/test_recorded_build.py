"""The recorded build, readable without running it: `make readme` keeps each recorded result's executed
notebook beside it in results/cpu/; a clone's `hebm toc` renders it as the artefact's page, labelled with its
commit, date and profile, until this build runs the notebook; the status page and the landing table show the
recorded verdicts, never "0 of 0 tested claims hold"."""
import json

import nbformat
import pytest

from hebm_lib import paths
from hebm_lib.report import book, manifest, results, status

FIG7 = manifest.get("fig7")


@pytest.fixture
def clone(tmp_path, monkeypatch):
    """A checkout with no build: REPO_ROOT (book/generated/) and the recorded results/ in tmp_path."""
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(results, "stored_dir", lambda profile: tmp_path / "results" / profile)
    (tmp_path / "book" / "generated").mkdir(parents=True)
    return tmp_path


def _result(claims=((True, "the move shrinks"), (False, "the gap closes")), profile="cpu"):
    r = results.Result("fig7", "Figure 7", profile, ["MNIST"], [0, 1], "cpu (CPU (x86_64, 2 cores))")
    r.rows.append(results.Row("z_2 MMD²", "prior -> posterior", 0.1084, 0.00734, 2))
    r.claims += [results.Claim(text, holds, "e") for holds, text in claims]
    return r


def _executed(title="# Figure 7: Langevin transitions", widgets=False):
    """A small executed notebook as papermill leaves it: title and prose, parameters, an image output."""
    params = nbformat.v4.new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]})
    injected = nbformat.v4.new_code_cell('profile = "cpu"', metadata={"tags": ["injected-parameters", "hide-input"]})
    plot = nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})])
    if widgets:
        plot.outputs.append(nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "bar"}))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"{title}\n\nWhat the paper claims."),
                                         params, injected, plot])
    if widgets:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"abc": {"x": 1}}}}
    return nb


def _record(clone, res=None):
    """A finished build (its result and executed notebook), recorded as `make readme` records it."""
    build = clone / "build" / "results" / "cpu"
    results.write(res or _result(), build)
    nbformat.write(_executed(widgets=True), clone / "book" / "generated" / f"{FIG7.notebook}.ipynb")
    return status.record_build("cpu", out_dir=build, stored_root=clone / "results")


def test_recording_a_build_keeps_its_executed_notebooks_without_widget_state(clone):
    copied = _record(clone)
    kept = clone / "results" / "cpu" / f"{FIG7.notebook}.ipynb"
    assert kept in copied and clone / "results" / "cpu" / "fig7.json" in copied
    nb = json.loads(kept.read_text())
    assert "widgets" not in nb["metadata"]
    outputs = nb["cells"][3]["outputs"]
    assert outputs[0]["data"]["image/png"] == "iVBORw0KGgo="   # the figure as the book shows it
    assert all("application/vnd.jupyter.widget-view+json" not in o.get("data", {}) for o in outputs)


def test_a_clone_renders_the_recorded_page_labelled_with_its_commit_date_and_profile(clone):
    _record(clone)
    built = clone / "book" / "generated" / f"{FIG7.notebook}.ipynb"
    built.unlink()                      # a fresh clone: nothing built
    assert book.has_page(FIG7)
    assert f"file: book/generated/{FIG7.notebook}" in book.toc_yaml()
    page = nbformat.read(built, as_version=4)
    res = results.read("fig7", "cpu", clone / "results" / "cpu")
    label = page.cells[1].source
    assert page.cells[0].source == "# Figure 7: Langevin transitions"   # the label right below the title
    assert "recorded build" in label and results.commit_label(res) in label
    assert res["provenance"]["created"][:10] in label and "`cpu` profile" in label
    assert "hebm run fig7 --profile cpu" in label
    verdicts = page.cells[2]             # then the verdicts, before the page's own prose
    assert book.VERDICTS_MARK in verdicts.metadata and "1 of 2 claims hold" in verdicts.source
    assert "**holds**: the move shrinks" in verdicts.source and "**does not hold**: the gap closes" in verdicts.source
    assert page.cells[3].source == "What the paper claims."
    assert page.cells[4].metadata.tags == ["parameters", "remove-cell"]
    # an artefact with neither a run nor a record: a page that says so (the toc stays the manifest's list)
    assert not book.has_page(manifest.get("tab2")) and "file: book/generated/tab2_generation_quality" in book.toc_yaml()
    none = nbformat.read(clone / "book" / "generated" / "tab2_generation_quality.ipynb", as_version=4)
    assert "No page yet" in none.cells[0].source and "hebm run tab2 --profile cpu" in none.cells[0].source
    assert book.ran_here(manifest.get("tab2")) is None   # a later run replaces it


def test_a_page_this_build_ran_replaces_the_recorded_one(clone):
    _record(clone)
    built = clone / "book" / "generated" / f"{FIG7.notebook}.ipynb"
    built.unlink()
    book.toc_yaml()
    assert book.RECORDED_MARK in nbformat.read(built, as_version=4).metadata
    nbformat.write(_executed("# Figure 7 (this build)"), built)   # hebm run / make book writes its page here
    book.toc_yaml()
    page = nbformat.read(built, as_version=4)
    assert page.cells[0].source.startswith("# Figure 7 (this build)") and book.RECORDED_MARK not in page.metadata
    # a record made from a copy keeps no notebook: the copy is the old record, not this build's run
    built.unlink()
    book.toc_yaml()                      # the copy again
    copied = status.record_build("cpu", out_dir=clone / "build" / "results" / "cpu", stored_root=clone / "results")
    assert not (clone / "results" / "cpu" / f"{FIG7.notebook}.ipynb").exists()
    assert all(p.suffix == ".json" for p in copied)


def test_the_status_page_and_landing_table_show_the_recorded_verdicts(clone):
    _record(clone)
    page = status.render("cpu", clone / "nothing-built")
    assert "0 of 0 tested claims hold" not in page and "**1 of 2 tested claims hold**" in page
    # every verdict recorded: said once at the top, not in every row
    assert "(all from the recorded build, commit `" in page
    assert "| {doc}`Figure 7 <fig7_langevin_transitions>` | ran, 1 of 2 claims hold |" in page
    glance = status.glance("cpu", clone / "nothing-built")
    assert "**1 of 2 tested claims hold**" in glance and "(all: from the recorded build, commit `" in glance
    assert "| {doc}`Figure 7 <generated/fig7_langevin_transitions>` | ran, 1 of 2 claims hold |" in glance
    # a value to its spread's precision, in the folded detail
    assert ":::{dropdown} Figure 7" in page and "| 0.1084\u00a0±\u00a00.0073 | 2 |" in page
    # this build ran another page: the recorded verdicts are marked row by row
    fig3 = results.Result("fig3", "Figure 3", "cpu", [], [0], "cpu")
    fig3.claims.append(results.Claim("the diagram is drawn", True, "e"))
    results.write(fig3, clone / "built")
    page, glance = status.render("cpu", clone / "built"), status.glance("cpu", clone / "built")
    assert "**2 of 3 tested claims hold**" in page and "(1 run by this build, the others from the recorded build" in page
    assert "| {doc}`Figure 7 <fig7_langevin_transitions>` | ran, 1 of 2 claims hold (recorded) |" in page
    assert "| {doc}`Figure 3 <fig3_model_diagram>` | **reproduced** |" in page
    assert "| {doc}`Figure 7 <generated/fig7_langevin_transitions>` | ran, 1 of 2 claims hold (recorded) |" in glance
    assert "| {doc}`Figure 3 <generated/fig3_model_diagram>` | reproduced |" in glance
    # this build's own result wins over the recorded one
    results.write(_result(claims=((True, "a"), (True, "b"))), clone / "built")
    assert "| {doc}`Figure 7 <fig7_langevin_transitions>` | **reproduced** |" in status.render("cpu", clone / "built")


def test_a_damaged_result_of_this_build_is_refused_not_replaced_by_the_recorded_one(clone):
    _record(clone)
    (clone / "built").mkdir()
    (clone / "built" / "fig7.json").write_text("{ truncated")
    row = next(line for line in status.render("cpu", clone / "built").splitlines() if "Figure 7" in line)
    assert "refused" in row and "recorded" not in row


@pytest.mark.parametrize("value, spread, cell", [
    (5.94265, 2.96834, "5.9\u00a0±\u00a03.0"), (0.123, 0.031, "0.123\u00a0±\u00a00.031"),
    (-0.75, 0.25, "-0.75\u00a0±\u00a00.25"), (1.75, 0.1, "1.75\u00a0±\u00a00.10"), (812.4, 35.2, "812\u00a0±\u00a035"),
    (3.0, None, "3"), (3.0, 0.0, "3 ± 0")])
def test_a_value_is_printed_to_its_spread_s_precision(value, spread, cell):
    assert status._pm(value, spread) == cell


def test_without_any_result_the_pages_say_so_never_0_of_0(clone):
    for page in (status.render("cpu", clone / "nothing-built"), status.glance("cpu", clone / "nothing-built")):
        assert "0 of 0" not in page and "No `cpu` result yet, in this build or recorded: `make book`" in page


def test_the_kept_notebooks_stay_small():
    """Every executed notebook kept in results/ (the recorded build's and the stored runs') is committed: each
    under 3 MB and all together under 30 MB (figures embedded as the book shows them, no widget state)."""
    kept = sorted((paths.REPO_ROOT / "results").glob("*/*.ipynb"))
    assert kept, "results/paper/ keeps the stored runs' notebooks"
    sizes = {p.relative_to(paths.REPO_ROOT).as_posix(): p.stat().st_size for p in kept}
    assert max(sizes.values()) < 3e6 and sum(sizes.values()) < 30e6, sizes
    assert all("application/vnd.jupyter.widget-state+json" not in p.read_text() for p in kept
               if p.parent.name == book.RECORDED)


def test_a_notebook_run_by_hebm_run_is_recorded_and_shown(clone, monkeypatch):
    """`hebm run fig7 --profile cpu` writes build/executed/cpu/: that page, newer than the recorded copy, is the
    book's page and the one `make readme` keeps."""
    monkeypatch.setenv("HEBM_BUILD_DIR", str(clone / "build"))
    _record(clone)
    built = clone / "book" / "generated" / f"{FIG7.notebook}.ipynb"
    built.unlink()
    book.toc_yaml()                      # the recorded copy
    executed = clone / "build" / "executed" / "cpu" / f"{FIG7.notebook}.ipynb"
    executed.parent.mkdir(parents=True)
    nbformat.write(_executed("# Figure 7 (hebm run)"), executed)
    assert book.ran_here(FIG7) == executed
    book.toc_yaml()
    assert nbformat.read(built, as_version=4).cells[0].source.startswith("# Figure 7 (hebm run)")
    status.record_build("cpu", out_dir=clone / "build" / "results" / "cpu", stored_root=clone / "results")
    kept = nbformat.read(clone / "results" / "cpu" / f"{FIG7.notebook}.ipynb", as_version=4)
    assert kept.cells[0].source.startswith("# Figure 7 (hebm run)")


def test_pages_recorded_at_several_commits_of_one_day_are_named_in_one_phrase():
    labels = {"recorded build, commit `aaa`, 2026-12-05", "recorded build, commit `bbb` (uncommitted changes), 2026-12-05"}
    assert status._recorded_summary(labels) == ("recorded build of 2026-12-05 (commits `aaa`, `bbb` (uncommitted "
                                                "changes); each page names its own)")
    assert status._recorded_summary({"recorded build, commit `aaa`, 2026-12-05"}) == "recorded build, commit `aaa`, 2026-12-05"


def test_a_page_this_build_ran_shows_its_verdicts_on_top_once(clone, monkeypatch):
    monkeypatch.delenv("HEBM_RESULTS_DIR", raising=False)   # make test's: this build's results are the clone's
    results.write(_result(((True, "the move shrinks"), (True, "the chain mixes"))), clone / "build" / "results" / "cpu")
    built = clone / "book" / "generated" / f"{FIG7.notebook}.ipynb"
    nbformat.write(_executed(), built)
    book.toc_yaml()
    book.toc_yaml()                      # a second `make html`: replaced, not doubled
    page = nbformat.read(built, as_version=4)
    tops = [c for c in page.cells if book.VERDICTS_MARK in c.metadata]
    assert len(tops) == 1 and page.cells[1] is tops[0] and page.cells[0].source == "# Figure 7: Langevin transitions"
    assert "2 of 2 claims hold" in tops[0].source and "**holds**: the chain mixes" in tops[0].source
    assert page.cells[2].source == "What the paper claims."
    assert book.verdicts_markdown({"profile": "cpu", "claims": []}) is None   # a figure that tests no claim
