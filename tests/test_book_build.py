"""`make html` on a fresh clone (no notebook run): the status page, the toc and the Jupyter Book build with
warnings as errors, every artefact page from the recorded build's notebook where it kept one (here: one small
fixture), the landing page with the recorded verdicts."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "recorded_small.ipynb"


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout")
    clone = tmp_path_factory.mktemp("clone")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    for rel in listed:   # what a clone has (and this tree's uncommitted files): no build/, no book/generated/
        if (ROOT / rel).is_file() and not rel.startswith(("build/", "book/generated/", "_build/")):
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, clone / rel)
    # the recorded build kept Figure 7's executed notebook (a small stand-in; its result is the committed one)
    shutil.copy(FIXTURE, clone / "results" / "cpu" / "fig7_langevin_transitions.ipynb")
    # and none of Table 2's (as before a build is first recorded): its page says how to make it
    (clone / "results" / "cpu" / "tab2_generation_quality.ipynb").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEBM_")}
    bindir = Path(sys.executable).parent
    for cmd in ([sys.executable, "-m", "hebm_lib", "status", "--profile", "cpu", "--out", "book/generated/status.md"],
                [sys.executable, "-m", "hebm_lib", "toc"],
                [str(bindir / "jupyter-book"), "build", "-W", "-n", "--keep-going", "."]):
        done = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return clone / "_build" / "html"


def test_a_fresh_clone_builds_the_book_with_warnings_as_errors(fresh_build):
    assert (fresh_build / "book" / "intro.html").is_file() and (fresh_build / "book" / "generated" / "status.html").is_file()


def test_the_landing_page_shows_the_recorded_verdicts(fresh_build):
    intro = (fresh_build / "book" / "intro.html").read_text()
    from hebm_lib.report import manifest
    book_own = {a.id for a in manifest.ARTEFACTS if a.source == "book"}   # counted apart from the papers' claims
    recorded = [r for r in (json.loads(p.read_text()) for p in (ROOT / "results" / "cpu").glob("*.json"))
                if r["artefact"] not in book_own]
    held = sum(1 for r in recorded for c in r["claims"] if c["holds"] is True)
    tested = sum(1 for r in recorded for c in r["claims"] if c["holds"] is not None)
    assert tested and f"{held} of {tested} tested claims hold" in intro and "0 of 0" not in intro
    assert "from the recorded build" in intro and "which this build did not rerun" in intro


def test_every_artefact_has_a_page_the_recorded_one_labelled(fresh_build):
    from hebm_lib.report import manifest
    for a in manifest.runnable():
        assert (fresh_build / "book" / "generated" / f"{a.notebook}.html").is_file(), a.id
    fig7 = (fresh_build / "book" / "generated" / "fig7_langevin_transitions.html").read_text()
    res = json.loads((ROOT / "results" / "cpu" / "fig7.json").read_text())
    assert "The recorded build" in fig7 and res["provenance"]["git"]["commit"][:10] in fig7
    assert "drop 0.064" in fig7   # the kept notebook's own output
    tab2 = (fresh_build / "book" / "generated" / "tab2_generation_quality.html").read_text()
    assert "No page yet" in tab2 and "notebooks/tab2_generation_quality.md" in tab2
