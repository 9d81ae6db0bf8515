"""The book's status page: every figure and table, the best evidence for it (a stored `paper`-profile run,
else this build's run), and a verdict that does not flatter: "reproduced" only when every claim the
notebook tests holds; otherwise "ran, k of n claims hold", with untested claims counted apart."""
from __future__ import annotations

import json

from .. import paths
from . import results as _results
from .book import stored_page
from .manifest import ARTEFACTS, get as get_artefact
from .margins import LEAD, LEAD_CHANGE
from .results import with_spread as _pm
from .results import (changed_fields, changed_since, commit_label, describe_changes, md_cell, model_labels,
                      paper_data_replaced, profile_banner, read, read_stored, run_devices)


def verdict(res: dict) -> str:
    claims = res["claims"]
    held = sum(1 for c in claims if c["holds"] is True)
    untested = sum(1 for c in claims if c["holds"] is None)
    tested = len(claims) - untested
    if not claims:
        return "ran (no claim tested)"
    if held == len(claims):
        return "**reproduced**"
    return f"ran, {held} of {tested} claims hold" + (f" ({untested} not tested)" if untested else "")


def _fmt(v, unit=""):
    if v is None:
        return "–"
    return f"{v:g}{unit}" if isinstance(v, (int, float)) else str(v)


def _this_or_recorded(a, profile: str, out_dir=None) -> tuple[dict | None, str, bool]:
    """(result, refusal, recorded): this build's result for artefact ``a``; without one, the recorded build's
    (results/<profile>/, which `make readme` keeps), marked recorded. A damaged result of this build is
    refused and said, never replaced by the recorded one; `paper` has stored runs, not a recorded build."""
    if not a.notebook:
        return None, "", False
    try:
        res = read(a.id, profile, out_dir)
    except ValueError as exc:
        return None, str(exc), False
    if res is None and profile != "paper":
        res, _ = _read_quiet(a.id, profile, _results.stored_dir(profile), False)
        return res, "", res is not None
    return res, "", False


def _claims_line(held: int, tested: int, profile: str, results_read: int) -> str:
    """The page's first words: how many tested claims hold; never "0 of 0" for a build that has no result."""
    if not results_read:
        return f"No `{profile}` result yet, in this build or recorded: `make book` runs every notebook"
    if not tested:
        return f"No claim tested at the `{profile}` profile"
    return f"**{held} of {tested} tested claims hold** at the `{profile}` profile"


def _recorded_summary(labels: set[str]) -> str:
    """The recorded builds a page's verdicts come from, in one phrase: one label as it is; several of one day
    (pages re-recorded at later commits) as "recorded build of DAY (commits a, b, ...)"."""
    if len(labels) == 1:
        return next(iter(labels))
    days: dict[str, list[str]] = {}
    for label in sorted(labels):   # "recorded build, commit `abc` (uncommitted changes), 2026-12-05"
        commit, day = label.removeprefix("recorded build, commit ").rsplit(", ", 1)
        days.setdefault(day, []).append(commit)
    return "; ".join(f"recorded build of {day} (commits {', '.join(commits)}; each page names its own)"
                     for day, commits in days.items())


def _recorded_label(res: dict) -> str:
    return f"recorded build, {commit_label(res)}, {res['provenance']['created'][:10]}"


def render(profile: str, out_dir=None) -> str:
    rows, details, held, tested, recorded_from, ran_here = [], [], 0, 0, set(), 0
    for a in ARTEFACTS:
        res, build_refused, recorded = _this_or_recorded(a, profile, out_dir)
        try:
            stored = read_stored(a.id) if a.notebook and profile != "paper" else None
        except ValueError as exc:
            stored, refused = None, str(exc)
        else:
            refused = ""
        label = f"{{doc}}`{a.label} <{a.notebook}>`" if a.notebook else a.label   # hebm toc writes every page
        if res:
            build = verdict(res) + (" (recorded)" if recorded else "")
            h, n, _, _ = _counts(res) if a.source != "book" else (0, 0, 0, 0)   # the book's own: counted apart
            held, tested = held + h, tested + n
            if recorded:
                recorded_from.add(_recorded_label(res))
            else:
                ran_here += 1
        elif build_refused:
            build = f"refused: {build_refused}"
        else:
            build = {"implemented": "not run in this build", "planned": "planned",
                     "not-reproducible": "nothing to reproduce"}[a.status]
        changes = changed_since(stored) if stored else {}
        if stored:
            paper_cell = (f"**made with earlier settings** ({changed_fields(changes)}): not evidence for today's model"
                          if changes else f"{verdict(stored)}; {_iterations(stored)}")
            page = stored_page(a)
            if page:
                paper_cell += f"; {{doc}}`page </{page}>`"
        else:
            paper_cell = f"refused: {refused}" if refused else "–"
        note = f" ({a.note})" if a.note and not res else ""
        # the verdicts before the words: on a phone they are what fits
        rows.append(f"| {label} | {build} | {paper_cell} | {a.title}{note} |")
        if stored:
            details.append(_detail(a, stored, "paper profile, stored run" + (", made with earlier settings" if changes else ""),
                                   changes))
        if res:
            details.append(_detail(a, res, f"{profile} profile, " + (_recorded_label(res) if recorded else "this build")))
    if not ran_here:
        rows = [row.replace(" (recorded) |", " |") for row in rows]
    where = []
    if ran_here:
        where.append(f"{ran_here} run by this build")
    if recorded_from:
        where.append(("the others" if ran_here else "all") + f" from the {_recorded_summary(recorded_from)} "
                     f"(`results/{profile}/`)")
    lines = [
        "# Status: every figure and table",
        "",
        _claims_line(held, tested, profile, ran_here + len(recorded_from))
        + (f" ({', '.join(where)})" if where else "") + ". A row reads *reproduced* only when every claim its "
        "notebook tests holds" + ("; *(recorded)* marks a verdict of the recorded build that this build did not rerun"
                                  if ran_here and recorded_from else "") + ".",
        "",
        f"```{{note}}\n{profile_banner(profile)}\n```",
        "",
        f"| artefact | `{profile}` profile | `paper` profile (stored run) | what |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Generated by `python -m hebm_lib status` from `hebm_lib/report/manifest.py`, the stored `paper`-profile "
        f"runs in `results/paper/` and the `{profile}` result files (this build's, else the recorded build's). "
        "Paper values are as printed in the paper; reproduced values come only from runs.",
        "",
    ]
    folded = (["## Each artefact's claims, numbers and provenance", "",
               "Each folded below: the run's datasets, seeds, devices, commit and time, its models, its claims and "
               "every number beside the paper's.", ""] + details) if details else []
    return "\n".join(lines + _ebm_effects(profile, out_dir) + _lead_trends(profile, out_dir)
                     + _run_times(profile, out_dir) + folded) + "\n"


CAPACITY_PAGE = "ebm_capacity"
CAPACITY_ROWS = ("Ours' EBM as trained (the authors' cap)", "refit: LEBM's energy net", "LEBM as trained (its own generator)")


def capacity_sentence(read_result, link: str) -> str:
    """One sentence on why many EBM claims fail: the spectral norm's bound, the KLs every page measured of its Ours
    EBM, and the capacity page's refit numbers, all read through ``read_result(artefact id)`` (None when not run);
    ``link``: the capacity page's link, as the caller's page writes one. Empty before any page has the numbers."""
    kls = [r["reproduced"] for a in ARTEFACTS if a.notebook and a.id != CAPACITY_PAGE
           for r in (read_result(a.id) or {}).get("rows", [])
           if r["metric"] == "EBM KL(p_alpha || N(0, I))" and r["reproduced"] is not None]
    cap = read_result(CAPACITY_PAGE) or {}
    fid = {r["setting"]: r["reproduced"] for r in cap.get("rows", []) if r["metric"].startswith("FID")}
    if not kls:
        return ""
    text = ("**Why many of the EBM claims fail here:** the authors' energy net is spectrally normalised, so f is "
            "1-Lipschitz and, by the Gaussian log-Sobolev inequality, KL(p_alpha || N(0, I)) <= 1/2 E_p|grad f|^2 <= "
            f"1/2 nat, whatever the scale; the pages measure {min(kls):.2f}-{max(kls):.2f} nats.")
    if all(fid.get(n) is not None for n in CAPACITY_ROWS):
        text += (f" With Ours' generator frozen, an energy net without the cap (LEBM's) takes its FID from "
                 f"{fid[CAPACITY_ROWS[0]]:.3g} to {fid[CAPACITY_ROWS[1]]:.3g}, LEBM's own {fid[CAPACITY_ROWS[2]]:.3g} "
                 f"({link}).")
    return text


EBM_SUMMARY = ("EBM KL(p_alpha || N(0, I))", "EBM 1/2 E_p|grad f|^2", "EBM energy gap f(z+) - f(z-)",
               "EBM Langevin move by f / |z_K|")


def _ebm_effects(profile: str, out_dir=None) -> list[str]:
    """What the joint EBM prior changes on each page that trains Ours (its rows whose metric begins with EBM):
    how far the learned prior is from N(0, I), and the page's own metric with the EBM switched off."""
    rows = []
    for a in ARTEFACTS:
        res, _, _ = _this_or_recorded(a, profile, out_dir)
        ebm = [r for r in (res or {}).get("rows", []) if r["metric"].startswith("EBM")]
        if not ebm:
            continue
        first = {}
        for r in ebm:
            first.setdefault(r["metric"], r)
        cells = [_fmt(first[m]["reproduced"]) if m in first else "–" for m in EBM_SUMMARY]
        off = "; ".join(f"{md_cell(r['metric'][9:])} {md_cell(r['setting'])}: {_fmt(r['reproduced'])} "
                        f"({md_cell(r['note'])})" if r["note"].startswith("with") else
                        f"{md_cell(r['metric'][9:])} {md_cell(r['setting'])}: {_fmt(r['reproduced'])}"
                        for r in ebm if r["metric"].startswith("EBM off"))
        rows.append(f"| {a.label} | {first[EBM_SUMMARY[0]]['setting'] if EBM_SUMMARY[0] in first else '–'} | "
                    + " | ".join(cells) + f" | {off or '–'} |")
    if not rows:
        return []
    return ["## What the EBM prior changes", "",
            "Measured on each page's own models (`hebm_lib/evaluation/ebm_effect.py`): the KL of the learned prior "
            "from N(0, I), its log-Sobolev bound 1/2 E_p|grad f|^2 (at most 1/2 nat for the authors' 1-Lipschitz energy "
            "net) and the energy gap in nats, how far f moves a prior sample (its chain against the same chain "
            "with f = 0, relative to the sample's size), "
            "and the page's own metric with the EBM switched off (prior samples from N(0, I); the anomaly score "
            "without f). Near 0 for the first three, and the same metric with the EBM off, mean the prior did little.",
            "", "| artefact | model | KL from N(0, I) | its bound | energy gap | move by f / size | the page's metric, EBM off |",
            "|---|---|---|---|---|---|---|", *rows, ""]


def _lead_trends(profile: str, out_dir=None) -> list[str]:
    """Each "Ours beats X" comparison's lead half-way through training and at the end, and how it moved
    between them (the rows hebm_lib.report.margins keeps): is a failing claim on its way to holding?"""
    rows = []
    for a in ARTEFACTS:
        res, _, _ = _this_or_recorded(a, profile, out_dir)
        kept = [r for r in (res or {}).get("rows", []) if r["metric"].startswith(LEAD)]
        at = {(r["metric"], r["setting"]): r for r in kept}
        for r in kept:
            if not r["metric"].endswith(LEAD_CHANGE):
                continue
            metric = r["metric"][len(LEAD) + 2:-len(LEAD_CHANGE)]
            half, end = (at.get((f"{LEAD}: {metric}", f"{r['setting']} / {pct}% of training")) for pct in (50, 100))
            cell = lambda x: "–" if x is None else _pm(x["reproduced"], x["spread"])
            rows.append(f"| {a.label} | {md_cell(r['setting'])} | {md_cell(metric)} | {cell(half)} | {cell(end)} | "
                        f"{cell(r)} ({md_cell(r['note'].removeprefix('the lead '))}) |")
    if not rows:
        return []
    return ["## Does Ours' lead move with training?", "",
            "Each \"Ours beats X\" comparison measured again at the weights every model kept half-way through its "
            "training (`hebm_lib/report/margins.py`): Ours' lead, signed so that above 0 is the paper's order, "
            "mean ± sd over seeds. A lead below 0 at the end that rose in every seed is a claim that longer "
            "training may bring to hold; each page plots it at the fractions of its `lead_at` setting and at the end.", "",
            "| artefact | comparison | metric | lead at 50% | lead at the end | change (seeds where it rose) |",
            "|---|---|---|---|---|---|", *rows, ""]


def glance(profile: str, out_dir=None) -> str:
    """The landing page's table: per artefact this build's verdict (else the recorded build's, marked), the
    stored `paper` run's and the paper's claim, linked to its page; from the same result files as the status page."""
    rows, held, tested, recorded_from, found = [], 0, 0, set(), 0
    for a in ARTEFACTS:
        if not a.notebook:
            continue
        res, refused, recorded = _this_or_recorded(a, profile, out_dir)
        try:
            stored = read_stored(a.id) if profile != "paper" else None
        except ValueError:
            stored = None
        build = (verdict(res).replace("**", "") + (" (recorded)" if recorded else "") if res
                 else f"refused ({' '.join(refused.split())[:80]})" if refused else "not run in this build")
        if res:
            h, t, _, _ = _counts(res) if a.source != "book" else (0, 0, 0, 0)   # the book's own claims: not the paper's
            held, tested, found = held + h, tested + t, found + 1
            if recorded:
                recorded_from.add(_recorded_label(res))
        paper = ("made with earlier settings (not counted)" if stored and changed_since(stored)
                 else verdict(stored).replace("**", "") if stored else "no stored run")
        label = f"{{doc}}`{a.label} <generated/{a.notebook}>`"
        rows.append(f"| {label} | {build} | {paper} | {md_cell(a.headline)} |")
    mixed = recorded_from and found > len([r for r in rows if "(recorded) |" in r])
    if recorded_from and not mixed:   # every verdict is the recorded build's: said once, not in every row
        rows = [row.replace(" (recorded) |", " |") for row in rows]
    source = (f" ({'*(recorded)*' if mixed else 'all'}: from the {_recorded_summary(recorded_from)}, which this "
              "build did not rerun)" if recorded_from else "")
    return "\n".join([
        f"{_claims_line(held, tested, profile, found)}{source}; a row reads *reproduced* only "
        "when every claim its page tests holds. The {doc}`status page <generated/status>` has every claim with its numbers.", "",
        # the verdicts before the claim's words: on a phone they are what fits
        f"| artefact | `{profile}` profile | `paper` profile (stored run) | the paper's claim |",
        "|---|---|---|---|", *rows, "",
        "The counts are of the claims of the paper and of the baselines' papers; the book's own analysis is "
        "counted apart on its page.", "",
        capacity_sentence(lambda artefact: _this_or_recorded(get_artefact(artefact), profile, out_dir)[0],
                          f"{{doc}}`the book's capacity page <generated/{CAPACITY_PAGE}>`"), ""])


def _run_times(profile: str, out_dir=None) -> list[str]:
    """Each notebook's wall time in this build (its result's own record) beside what the manifest expects."""
    rows, total = [], 0.0
    for a in ARTEFACTS:
        res, _, recorded = _this_or_recorded(a, profile, out_dir)
        if res is not None:
            total += res["wall_time_s"] / 60
            expected = f"{a.expected_cpu_minutes:g}" if a.expected_cpu_minutes and profile == "cpu" else "–"
            rows.append(f"| {a.label} | {res['wall_time_s'] / 60:.1f}{' (recorded)' if recorded else ''} | {expected} |")
    if all("(recorded)" in row for row in rows):
        rows = [row.replace(" (recorded) |", " |") for row in rows]
    if not rows:
        return []
    return ["## Run times", "",
            f"Minutes each notebook took (wall time, as its result records it; *(recorded)* where the recorded "
            f"build's stands in for this build's; in `make book` two "
            f"notebooks share the machine), and what `hebm_lib/report/manifest.py` expects (`expected_cpu_minutes`, "
            f"which orders the build). Added up they make {total:.0f} notebook-minutes; two run at a time "
            f"(`BOOK_JOBS=2`), so the notebooks took about {total / 2:.0f} minutes of the build's wall time, "
            "the figure the build's time limit is about.", "",
            "| artefact | run (min) | expected (min) |", "|---|---|---|", *rows, ""]


def _iterations(res: dict) -> str:
    its = sorted({m["iterations"] for m in res["models"]})
    written = sorted({c["train"]["iterations"] for c in res["configs"].values()})
    if not its:
        return "no model"
    return "/".join(f"{i:,}" for i in its) + " iterations" + (", settings overridden" if res["overrides"] else "")


def _detail(a, res, which: str, changes: dict | None = None) -> str:
    prov = res["provenance"]
    # folded: the page's first screen is the verdicts; a dropdown may hold no section title
    out = [f":::{{dropdown}} {a.label}: {a.title} ({which})", ""]
    if changes:
        out += [f"```{{warning}}\nThis run trained models whose settings have changed since: "
                f"{describe_changes(changes)}. Its numbers and claims are those of the earlier models, kept for "
                f"the record; they are not counted for today's model.\n```", ""]
    out += [
           f"Datasets: {', '.join(res['datasets']) or '–'}; seeds {res['seeds']}; {run_devices(res)}; "
           f"wall time {res['wall_time_s']:.0f} s; {commit_label(res)}; written {prov['created']}; "
           f"config hashes {', '.join('`' + h + '`' for h in res['configs'])}."
           + (f" Overridden settings: `{json.dumps(res['overrides'])}`." if res.get("overrides") else "")
           + (f" Expected at `cpu`: about {a.expected_cpu_minutes:g} min." if a.expected_cpu_minutes else "")
           + (f" Configs: {', '.join('`' + c + '`' for c in a.configs)}." if a.configs else ""), ""]
    if res.get("models"):
        out += ["| model | seed | iterations | training time (s) | device | mode |", "|---|---|---|---|---|---|"]
        # an ablation's variants of one config apart (Table 1 trains five of fmnist_vlae)
        labels = model_labels(res["configs"], res["profile"], res.get("overrides"))
        out += [f"| {md_cell(labels.get(m.get('config_hash'), m['config']))} | {m['seed']} | {m['iterations']:,} | {_fmt(m['train_wall_time_s'])} | "
                f"{m.get('device_name') or m.get('device')} | {m.get('mode', '–')} |" for m in res["models"]]
        out.append("")
    if res["claims"]:
        out += ["**Claims**", ""]
        spread = {True: "; beyond the seed spread too", False: "; not beyond the seed spread", None: ""}
        out += [f"- {'✅' if c['holds'] else '❌' if c['holds'] is False else '❔'} {c['claim']}"
                f"{spread[c.get('beyond_spread')] if c['holds'] else ''} ({c['evidence']})" for c in res["claims"]]
        out.append("")
    out += ["| metric | setting | paper | reproduced (± sd over seeds) | seeds |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        out.append(f"| {md_cell(r['metric'])} | {md_cell(r['setting'])} | {_fmt(r['paper'], r['unit'])} | "
                   f"{_pm(r['reproduced'], r['spread'], r['unit'])} | {r['n_seeds']} |")
    return "\n".join(out + ["", ":::"]) + "\n"


def _claims_cell(res: dict | None) -> str:
    if res is None:
        return "-"
    tested = [c for c in res["claims"] if c["holds"] is not None]
    return f"{sum(c['holds'] for c in tested)} of {len(tested)}" if tested else "none tested"


def artefact_table(out_dir=None, warn=None) -> str:
    """`hebm list`: per artefact its id, what it is, the data the `cpu` build uses (a substitute named as
    one), the claims holding in this build's `cpu` result and in the stored `paper` run. A result file that
    cannot be read is "refused" in its cell and ``warn``-ed in one line naming it (default: on stderr)."""
    import sys
    warn = warn or (lambda line: print(f"hebm: warning: {line}", file=sys.stderr))
    from .. import data as data_lib
    from ..configs import get_config
    rows = [("id", "artefact", "claims hold: cpu", "paper (stored run)", "data at cpu (a stand-in: 'for' the paper's)")]
    for a in ARTEFACTS:
        labels = []
        for name in a.configs:
            try:
                here = data_lib.spec(get_config(name, "cpu").data.name)
                paper = paper_data_replaced(name, here.name)
                label = here.display_name + (f" for {paper.display_name}" if paper else "")
            except ValueError:
                continue
            if label not in labels:
                labels.append(label)
        refused = False
        try:
            cpu = read(a.id, "cpu", out_dir) if a.notebook else None
        except ValueError as exc:   # this build's result is damaged: said, never replaced by the recorded one
            cpu, refused = None, True
            warn(" ".join(str(exc).split()))
        recorded = ""
        if cpu is None and a.notebook and out_dir is None and not refused:   # no build here: the last recorded one
            cpu, _ = _read_quiet(a.id, "cpu", paths.stored_root() / "cpu", False)
            recorded = " (recorded)" if cpu else ""
        try:
            stored = read_stored(a.id) if a.notebook else None
        except ValueError as exc:
            paper = "refused"
            warn(" ".join(str(exc).split()))
        else:
            paper = ("earlier settings" if stored and changed_since(stored) else _claims_cell(stored)) if stored \
                else "none"
        what = f"{a.label}: {a.title}" if a.notebook else f"{a.label}: {a.title} ({a.status})"
        cpu_cell = ("refused" if refused else _claims_cell(cpu) + recorded) if a.notebook else "-"
        rows.append((a.id, what if len(what) <= 50 else what[:49].rstrip() + "…", cpu_cell, paper,
                     "; ".join(labels) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


# The README's results table sits between these lines; `hebm status --readme` rewrites it from the result
# files committed in the repository (results/paper/: the stored runs; results/cpu/: the last `make book`'s,
# recorded by `hebm status --readme --record-build`), so a visitor sees what reproduces without building.
README_BEGIN = "<!-- results: generated by `hebm status --readme` from results/; edit the manifest, not this table -->"
README_END = "<!-- end of results -->"


def _read_quiet(artefact: str, profile: str, directory, stored: bool) -> tuple[dict | None, str]:
    try:
        res = read_stored(artefact, profile, directory) if stored else read(artefact, profile, directory)
    except ValueError as exc:
        return None, f"refused ({' '.join(str(exc).split())[:80]})"
    return res, ""


def _counts(res: dict) -> tuple[int, int, int, int]:
    """(claims holding, tested, comparisons holding beyond the seed spread too, comparisons with that mark)."""
    tested = [c for c in res["claims"] if c["holds"] is not None]
    marked = [c for c in tested if c.get("beyond_spread") is not None]
    return (sum(1 for c in tested if c["holds"]), len(tested), sum(1 for c in marked if c["beyond_spread"] and c["holds"]),
            len(marked))


def readme_table(stored_root) -> str:
    """The README's block: per artefact the paper's headline, the stored `paper` run's verdict and the
    recorded `cpu` build's (the status page's words), with the totals; read from ``stored_root``/<profile>/."""
    from pathlib import Path
    root = Path(stored_root)
    # claims held, tested, artefacts with a result, comparisons beyond the seed spread, comparisons so marked
    rows, totals = [], {"paper": [0, 0, 0, 0, 0], "cpu": [0, 0, 0, 0, 0]}
    created, earlier = [], 0
    for a in ARTEFACTS:
        if not a.notebook:
            continue
        cells = []
        for profile in ("paper", "cpu"):
            res, refused = _read_quiet(a.id, profile, root / profile, profile == "paper")
            if res is None:
                cells.append(refused or ("no stored run" if profile == "paper" else "not recorded"))
                continue
            if profile == "paper" and changed_since(res):
                held, tested, _, _ = _counts(res)
                earlier += 1
                cells.append(f"made with earlier settings: {held} of {tested} held then (not counted)")
                continue
            held, tested, beyond, marked = _counts(res)
            if profile == "cpu":
                created.append(res["provenance"]["created"][:10])
            if a.source != "book":   # the book's own claims are not counted with the papers'
                t = totals[profile]
                totals[profile] = [t[0] + held, t[1] + tested, t[2] + 1, t[3] + beyond, t[4] + marked]
            cells.append(verdict(res).replace("**", ""))
        rows.append(f"| [{a.label}](notebooks/{a.notebook}.md) | {a.headline} | {cells[0]} | {cells[1]} |")
    cpu, paper = totals["cpu"], totals["paper"]
    return "\n".join([
        README_BEGIN,
        f"At the `cpu` profile (the book's build{', recorded ' + max(created) if created else ''}): "
        f"**{cpu[0]} of {cpu[1]} tested claims hold** over {cpu[2]} artefacts"
        + (f" (of the {cpu[4]} comparisons the paper prints without error bars, {cpu[3]} also hold beyond the seed "
           f"spread)" if cpu[4] else "") + ". Stored `paper`-profile runs: "
        f"{paper[2]} artefacts, {paper[0]} of {paper[1]} claims hold"
        f"{f' ({earlier} more made with settings that have changed since)' if earlier else ''}. A row reads *reproduced* only when every "
        "claim its notebook tests holds; the claims, numbers and provenance are on the book's status page. "
        "The counts are of the claims of the paper and of the baselines' papers (the book's own analysis apart).",
        "",
        *([sentence, ""] if (sentence := capacity_sentence(lambda artefact: _read_quiet(artefact, "cpu", root / "cpu", False)[0],
                                                            f"[the book's capacity page](notebooks/{CAPACITY_PAGE}.md)")) else []),
        "| artefact | the paper's claim (its numbers: `paper_values/`) | `paper` profile, stored run | `cpu` profile, book build |",
        "|---|---|---|---|",
        *rows,
        README_END,
    ])


def replace_readme_block(readme: str, block: str) -> str:
    if README_BEGIN not in readme or README_END not in readme:
        raise ValueError("README.md has no results block; put the two marker lines of hebm_lib/report/status.py "
                         "(README_BEGIN, README_END) where the table goes")
    head, rest = readme.split(README_BEGIN, 1)
    return head + block + rest.split(README_END, 1)[1]


WIDGET_MIME = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")


def _without_widgets(text: str) -> str:
    """An executed notebook without widget state (progress bars: kilobytes each, nothing a page shows)."""
    nb = json.loads(text)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("widgets", None)
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for mime in WIDGET_MIME:
                data.pop(mime, None)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def record_build(profile: str = "cpu", out_dir=None, stored_root=None, notebooks_dir=None) -> list:
    """Copy this build's result files into results/<profile>/ (the committed record the README reads), each
    with its executed notebook (book.ran_here: make book's or hebm run's; widget state dropped, figures as the
    book shows them), so that a clone renders the recorded pages without running them (book.artefact_page). A
    recorded notebook whose result is recorded anew without one is removed: it would show other numbers."""
    import shutil
    from pathlib import Path
    from .book import ran_here
    src = paths.results_dir(profile, out_dir)
    dest = Path(stored_root or paths.stored_root()) / profile
    copied = []
    for a in ARTEFACTS:
        res, _ = _read_quiet(a.id, profile, src, False) if a.notebook else (None, "")
        if res is None:   # only results that read back whole, of this profile
            continue
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / f"{a.id}.json", dest / f"{a.id}.json")
        copied.append(dest / f"{a.id}.json")
        page, kept = ran_here(a, notebooks_dir and Path(notebooks_dir)), dest / f"{a.notebook}.ipynb"
        if page is not None:   # make book's or hebm run's, never a recorded page's copy
            kept.write_text(_without_widgets(page.read_text()))
            copied.append(kept)
        elif kept.exists():
            kept.unlink()
    if not copied:
        raise ValueError(f"no {profile} result in {src}; build the book first (make book)")
    return copied
