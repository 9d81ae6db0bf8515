"""`pytest --nbval` on a recorded notebook executes it again and compares its outputs with the recorded ones,
with tests/nbval_sanitize.cfg masking what differs between runs without being a result (times, paths,
timestamps, commits): the same numbers pass, other numbers fail. (`--nbval-lax`, which `make test` uses at
the smoke profile, compares nothing: only that every cell runs.)"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
RECORDED = TESTS / "fixtures" / "recorded_small.ipynb"


def _nbval(notebook: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-current-env",
                           *flags, str(notebook)], cwd=notebook.parent, capture_output=True, text=True, timeout=300)


def test_nbval_passes_a_recorded_notebook_whose_numbers_come_out_again(tmp_path):
    nb = tmp_path / RECORDED.name
    shutil.copy(RECORDED, nb)
    # the recorded output names another machine's path and another wall time: masked, not compared
    assert "/work/recorded/clone/" in RECORDED.read_text()
    done = _nbval(nb, "--nbval", "--nbval-sanitize-with", str(TESTS / "nbval_sanitize.cfg"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _nbval(nb, "--nbval").returncode != 0   # unsanitised, the path and the time differ


def test_nbval_fails_a_recorded_notebook_whose_numbers_differ(tmp_path):
    nb = tmp_path / RECORDED.name
    data = json.loads(RECORDED.read_text())
    out = data["cells"][1]["outputs"][0]
    out["text"] = [line.replace("drop 0.064", "drop 0.065") for line in out["text"]] if isinstance(out["text"], list) \
        else out["text"].replace("drop 0.064", "drop 0.065")
    nb.write_text(json.dumps(data))
    done = _nbval(nb, "--nbval", "--nbval-sanitize-with", str(TESTS / "nbval_sanitize.cfg"))
    assert done.returncode != 0 and "0.065" in done.stdout
    # --nbval-lax, as `make test` runs the smoke notebooks, does not compare outputs
    assert _nbval(nb, "--nbval-lax").returncode == 0
