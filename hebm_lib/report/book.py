"""The book's table of contents, generated from the manifest (the one list of artefacts)."""
from __future__ import annotations

import shutil

from .. import paths
from ..io import atomic_write_text
from . import results
from .manifest import ARTEFACTS, Artefact, runnable
from .results import changed_since, describe_changes, read_stored

# parts of the book, by the source of the artefact (the manifest's order within a part)
PARTS = (
    ("Reproductions (cpu profile, executed by papermill)", ("paper", "supplement")),
    ("The seed paper's comparisons (pro-VLAE, ICLR 2020)", ("pro-VLAE",)),
    ("The VHP + REWO baseline's comparison (NeurIPS 2019)", ("VHP",)),
    ("The book's own analysis (not the paper's claims)", ("book",)),
)
GENERATED = "book/generated"
STORED = "results/paper"
STORED_EARLIER = "book/generated/stored"   # the stored runs' pages: copies labelled at their top


RECORDED = "cpu"   # the profile whose build `make readme` records in results/<profile>/, pages and all
RECORDED_MARK = "hebm_recorded"   # notebook metadata of a recorded page's copy: a build's own run replaces it


def _built(a: Artefact):
    return paths.REPO_ROOT / GENERATED / f"{a.notebook}.ipynb"


def _is_copy(path) -> bool:
    import json
    try:
        return RECORDED_MARK in json.loads(path.read_text()).get("metadata", {})
    except (OSError, ValueError):
        return False


def ran_here(a: Artefact, pages=None):
    """The notebook this build executed for ``a`` at the book's profile, None without one: `make book`'s
    (book/generated/, or ``pages``) or `hebm run`'s (build/executed/cpu/), the newer of the two; never a
    recorded page's copy."""
    pages = paths.REPO_ROOT / GENERATED if pages is None else pages
    found = [p for p in (pages / f"{a.notebook}.ipynb", paths.build_dir() / "executed" / RECORDED / f"{a.notebook}.ipynb")
             if p.is_file() and not _is_copy(p)]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def recorded_notebook(a: Artefact):
    """The executed notebook the recorded build kept for artefact ``a`` (results/cpu/<notebook>.ipynb)."""
    return results.stored_dir(RECORDED) / f"{a.notebook}.ipynb"


def has_page(a: Artefact) -> bool:
    """Whether the book has a page of ``a``'s run: this build ran its notebook, or the recorded build kept one."""
    return bool(a.notebook) and (ran_here(a) is not None or recorded_notebook(a).exists())


def _on_top(nb, cells: list) -> None:
    """Put ``cells`` right below the page's title (its first line, split from the paragraphs that follow)."""
    import nbformat
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown" or not first.source.startswith("# "):
        nb.cells[0:0] = cells
        return
    title, _, rest = first.source.partition("\n")
    first.source = title
    nb.cells[1:1] = cells + ([nbformat.v4.new_markdown_cell(rest.lstrip("\n"))] if rest.strip() else [])


VERDICTS_MARK = "hebm_verdicts"   # cell metadata of the verdicts put on a page's top (replaced, never doubled)


def verdicts_markdown(res: dict | None) -> str | None:
    """A page's verdicts, for its top: each claim its notebook tests, held or not, from its result file (None
    without claims: a figure that tests none). The numbers and reasons stay in the page's claims section."""
    claims = (res or {}).get("claims") or []
    if not claims:
        return None
    spread = {True: ", beyond the seed spread too", False: ", not beyond the seed spread"}
    held = sum(c.get("holds") is True for c in claims)
    # a colon fence: a backtick fence's first line may not hold the title's `cpu`
    lines = [f":::{{admonition}} Verdicts at the `{res['profile']}` profile: {held} of {len(claims)} "
             f"{'claims hold' if len(claims) != 1 else 'claim holds'}", ":class: tip", ""]
    lines += [f"- **{results.claim_verdict(c.get('holds'))}**"
              f"{spread.get(c.get('beyond_spread'), '') if c.get('holds') else ''}: {c['claim']}" for c in claims]
    lines += ["", "Each claim's numbers and, where it fails, why: the section *Which claims hold at this profile* "
                  "below.", ":::"]
    return "\n".join(lines)


def _verdicts_cells(nb, res: dict | None) -> list:
    """The page's verdicts as a cell to put on its top ([] without claims), any put there before removed."""
    import nbformat
    nb.cells = [c for c in nb.cells if VERDICTS_MARK not in c.get("metadata", {})]
    text = verdicts_markdown(res)
    if text is None:
        return []
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata[VERDICTS_MARK] = True
    return [cell]


def _show_parameters(nb) -> None:
    """A kept page shows the parameters it ran with: papermill's injected cell, not the defaults above it
    (which read `profile = "cpu"`, `device = "auto"` on a `paper` run)."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if "injected-parameters" in tags and "hide-input" in tags:
            tags.remove("hide-input")


def artefact_page(a: Artefact) -> str | None:
    """The book page (docname) of artefact ``a``'s notebook at the book's profile (None: ``a`` has no notebook).
    The notebook this build executed is the page; without one, a copy of the recorded build's (results/cpu/),
    labelled at its top with the commit, date and profile it ran at, is written in its place, so that a
    fresh clone renders every page without running one; without either, a page that says so. A later run of
    the notebook overwrites the copy."""
    if not a.notebook:
        return None
    built, source, here = _built(a), recorded_notebook(a), ran_here(a)
    import nbformat
    if here is not None:
        if here != built:   # `hebm run`'s, newer than make book's page or the recorded copy
            built.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(here, built)
        try:
            res = results.read(a.id, RECORDED)
        except ValueError:
            res = None
        nb = nbformat.read(built, as_version=4)
        verdicts = _verdicts_cells(nb, res)
        if verdicts:
            _on_top(nb, verdicts)
            atomic_write_text(built, nbformat.writes(nb))
        return f"{GENERATED}/{a.notebook}"
    if not source.exists():   # the page says so, and the toc stays the manifest's list
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
            f"# {a.label}: {a.title}\n\n```{{note}}\nNo page yet: this build did not run this notebook and the "
            f"recorded build kept none. `hebm run {a.id} --profile {RECORDED}` (or `make book`) makes it; its source "
            f"is `notebooks/{a.notebook}.md`.\n```")])
        nb.metadata[RECORDED_MARK] = {"placeholder": True}
        atomic_write_text(built, nbformat.writes(nb))
        return f"{GENERATED}/{a.notebook}"
    nb = nbformat.read(source, as_version=4)
    try:
        res = results.read(a.id, RECORDED, results.stored_dir(RECORDED))
    except ValueError:
        res = None
    if res:
        when = (f"at {results.commit_label(res)} on {res['provenance']['created'][:10]}, `{RECORDED}` profile, "
                f"{results.run_devices(res)}")
    else:
        when = f"at the `{RECORDED}` profile (its result file `results/{RECORDED}/{a.id}.json` is missing or unreadable)"
    label = nbformat.v4.new_markdown_cell(
        f"```{{note}}\nThe recorded build's page, not run by this build: executed {when}. "
        f"`hebm run {a.id} --profile {RECORDED}` (or `make book`) runs it again and replaces this page.\n```")
    _on_top(nb, [label] + _verdicts_cells(nb, res))
    _show_parameters(nb)
    nb.metadata[RECORDED_MARK] = {"source": f"results/{RECORDED}/{a.notebook}.ipynb"}
    atomic_write_text(built, nbformat.writes(nb))
    return f"{GENERATED}/{a.notebook}"


def stored_page(a: Artefact) -> str | None:
    """The book page (docname) of artefact ``a``'s stored `paper` run, None without one: a copy of its executed
    notebook (written under STORED_EARLIER) that says at its top where and when it ran, what remakes it, and,
    when the run was made with settings that have changed since, that it is not evidence for today's model."""
    source = results.stored_dir("paper") / f"{a.notebook}.ipynb"
    if not a.notebook or not source.exists():
        return None
    try:
        stored = read_stored(a.id)
    except ValueError:   # refused (the status page says why): shown as it is
        return f"{STORED}/{a.notebook}"
    import nbformat
    nb = nbformat.read(source, as_version=4)
    changes = changed_since(stored) if stored else {}
    remake = f"`hebm run {a.id} --profile paper --device cuda --store` remakes it"
    where = (f"{results.run_devices(stored)}, {results.commit_label(stored)}, {stored['provenance']['created'][:10]}"
             if stored else "its result file is missing")
    if changes:
        top = [nbformat.v4.new_markdown_cell(
            "```{warning}\nThis stored `paper`-profile run was made with settings that have changed since: "
            f"{describe_changes(changes)}. Its numbers and claims are those of the earlier models, kept for the "
            f"record; they are not evidence for today's model (`hebm campaign --plan` lists it to redo; {remake}). "
            f"Made: {where}.\n```"), nbformat.v4.new_markdown_cell(stored_numbers(stored))]
    else:
        top = [nbformat.v4.new_markdown_cell(f"```{{note}}\nA stored `paper`-profile run: {where}. {remake}.\n```")]
    _on_top(nb, top)
    _show_parameters(nb)
    atomic_write_text(paths.REPO_ROOT / STORED_EARLIER / f"{a.notebook}.ipynb", nbformat.writes(nb))
    return f"{STORED_EARLIER}/{a.notebook}"


def stored_numbers(stored: dict) -> str:
    """Markdown: a stored run's numbers beside the paper's, each source named apart. The outputs of an earlier
    notebook below it may call both "paper" (Table 1's did: the paper's numbers and the `paper` profile's)."""
    lines = [f"The stored run's numbers as its result file records them, each source named apart (the outputs below "
             f"were printed by the notebook of that time, whose headers and legends may call both sources \"paper\"):",
             "", f"| metric | setting | {results.PRINTED} | {results.stored_label(stored)} |", "|---|---|---|---|"]
    lines += [f"| {results.md_cell(r['metric'])} | {results.md_cell(r['setting'])} | {results.value_cell(r.get('paper'), r['unit'])} | "
              f"{results.value_cell(r['reproduced'], r['unit'], r.get('spread'))} |" for r in stored["rows"]]
    return "\n".join(lines)


def toc_yaml() -> str:
    """_toc.yml: the fixed pages, then every artefact with a notebook, grouped by source."""
    lines = ["# Generated by `python -m hebm_lib toc` from hebm_lib/report/manifest.py: edit the manifest, not this file.",
             "format: jb-book", "root: book/intro", "parts:", "  - caption: Using this book", "    chapters:",
             "      - file: book/reproduce", f"      - file: {GENERATED}/status", "      - file: book/glossary"]
    sources = {s for _, group in PARTS for s in group}
    missing = {a.source for a in ARTEFACTS} - sources
    if missing:
        raise ValueError(f"manifest sources without a part of the book: {sorted(missing)}")
    for caption, group in PARTS:
        pages = [artefact_page(a) for a in runnable() if a.source in group]
        if pages:   # this build's notebooks, else the recorded build's, else a page that says there is none
            lines += [f"  - caption: {caption}", "    chapters:"]
            lines += [f"      - file: {page}" for page in pages]
    stored = [page for page in map(stored_page, runnable()) if page]
    if stored:
        lines += ["  - caption: Stored paper-profile runs (made once on a GPU, rendered by every build)", "    chapters:"]
        lines += [f"      - file: {page}" for page in stored]
    return "\n".join(lines) + "\n"
