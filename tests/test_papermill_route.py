"""The plain papermill route the README gives, without hebm: jupytext's text -> ipynb on stdout, papermill
reading stdin, the parameters injected; the executed notebook ran every cell and wrote its result."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_the_readmes_papermill_one_liner_runs_a_notebook(tmp_path):
    env = dict(os.environ, HEBM_BUILD_DIR=str(tmp_path / "build"), HEBM_RESULTS_DIR=str(tmp_path / "results"),
               HEBM_CACHE_DIR=str(tmp_path / "cache"), PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    out = tmp_path / "out.ipynb"
    cmd = f"jupytext --to ipynb -o - notebooks/fig3_model_diagram.md | papermill - {out} -p profile smoke"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    nb = json.loads(out.read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    params = next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    assert 'profile = "smoke"' in "".join(params["source"])
    result = json.loads((tmp_path / "results" / "fig3.json").read_text())
    assert result["profile"] == "smoke" and result["artefact"] == "fig3"
