"""`pip install .` ships the whole library: every module of hebm_lib/ and every file it reads from a checkout."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hebm_lib import paths

ROOT = Path(paths.__file__).resolve().parent.parent


def _source_tree(dest: Path) -> None:
    """The files git would commit (tracked and new, not ignored), copied: a build in place would write into
    the checkout's build/, which is the book's cache."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    for rel in listed:
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    _source_tree(src)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src),
                    "-w", str(out)], check=True, capture_output=True)
    (whl,) = out.glob("hebm_lib-*.whl")
    return set(zipfile.ZipFile(whl).namelist())


def test_the_wheel_holds_every_module_of_the_package(wheel_names):
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "hebm_lib").rglob("*.py")}
    assert len(modules) > 40
    assert not modules - wheel_names, f"missing from the wheel: {sorted(modules - wheel_names)}"


def test_the_wheel_holds_every_file_the_library_reads_from_a_checkout(wheel_names):
    read = [*paths.NOTEBOOKS_DIR.glob("*.md"), *paths.PAPER_VALUES_DIR.glob("*.csv"), paths.CHECKSUMS_FILE,
            paths.STEP_TIMES_FILE, *(ROOT / "results" / "paper").glob("*.json"),
            *(ROOT / "results" / "cpu").glob("*.json")]   # `hebm list` shows the recorded cpu build's verdicts
    expected = {"hebm_lib/shipped/" + p.relative_to(ROOT).as_posix() for p in read}
    assert len(expected) > 55
    assert not expected - wheel_names, f"missing from the wheel: {sorted(expected - wheel_names)}"


def test_the_wheel_declares_what_the_code_imports(wheel_names):
    # every third-party top-level import of the library, by its distribution's name; an import inside
    # try/except is optional (triton: torch brings it on CUDA machines, and the code runs without it)
    import ast
    import re
    imported = set()
    for p in (ROOT / "hebm_lib").rglob("*.py"):
        tree = ast.parse(p.read_text())
        optional = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) for b in t.body for n in ast.walk(b)}
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    distribution = {"sklearn": "scikit-learn", "yaml": "pyyaml", "PIL": "pillow", "IPython": "ipython",
                    "torch_fidelity": "torch-fidelity", "jupyter_client": "jupyter-client"}
    stdlib = set(sys.stdlib_module_names) | {"hebm_lib", "__future__"}
    needed = {distribution.get(m, m).lower() for m in imported - stdlib}
    pyproject = (ROOT / "pyproject.toml").read_text()
    block = pyproject[pyproject.index("dependencies = ["):pyproject.index("]", pyproject.index("dependencies = ["))]
    declared = {re.split(r"[<>=!\[ ]", d.strip().strip('"'))[0].lower() for d in block.split("[", 1)[1].split(",")
                if d.strip().strip('"')}
    assert not needed - declared, f"imported but not in pyproject's dependencies: {sorted(needed - declared)}"


def test_the_packages_pinned_for_the_book_satisfy_what_the_wheel_declares():
    """requirements.txt's tested pins and pyproject's dependencies agree: every pin is allowed by the wheel's
    specifier for that package (the wheel stays loose, for installs beside other packages)."""
    import tomllib
    from packaging.requirements import Requirement
    declared = {Requirement(d).name.lower(): Requirement(d) for d in
                tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        pin = line.split("#")[0].strip()
        if pin:
            req = Requirement(pin)
            (version,) = [s.version for s in req.specifier]
            if req.name.lower() in declared:
                assert declared[req.name.lower()].specifier.contains(version), (pin, str(declared[req.name.lower()]))
