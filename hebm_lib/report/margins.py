"""Is a failing "Ours beats X" claim on its way to holding? The claim's margin against training length.

For each baseline X of a claim, Ours' lead (Ours' metric minus X's, signed so that a positive lead is the
paper's order) per seed at the weights the trainer keeps part-way (``progress-*.pt``, at 1/4, 1/2 and 3/4 of
training; a page measures those of its ``lead_at`` setting) and at the end, measured by the page's own metric
with the page's own settings. Shown as a plot and
a sentence per baseline, and kept as rows of the result whose metric begins with ``LEAD``: one per fraction of
training, and one for the change from half-way to the end (the status page and the README read them)."""
from __future__ import annotations

from typing import Callable

import pandas as pd

from .results import Row, md_cell

LEAD = "Ours' lead over training"
LEAD_CHANGE = ", change from 50% to 100% of training"
HALF, END = 0.5, 1.0


def _fraction(iteration: int, total: int) -> float:
    return round(iteration / total, 2)


def measure(trained: dict, evaluate: Callable, final: dict | None = None, at=None) -> pd.DataFrame:
    """The metric of every model of ``trained`` ({label: {seed: TrainedModel}}) at each of its kept weights:
    (label, seed, fraction, value). ``evaluate(label, seed, model)`` measures one model as the page does and
    returns a number, or a dict of numbers (one column each: a measurement that gives several at once);
    ``final`` ({(label, seed): the same}) holds what the page already measured at the end, not measured again;
    ``at``: the fractions of training measured part-way (None: every kept one; a page's ``lead_at`` setting)."""
    final = final or {}
    rows = []
    for label, by_seed in trained.items():
        for seed, tm in by_seed.items():
            total = tm.info["iterations"]
            for iteration, model in tm.progress():
                frac = _fraction(iteration, total)
                if frac != END and at is not None and frac not in at:
                    continue
                known = final.get((label, seed)) if frac == END else None
                got = known if known is not None else evaluate(label, seed, model)
                rows.append(dict(label=label, seed=seed, fraction=frac,
                                 **({k: float(v) for k, v in got.items()} if isinstance(got, dict) else {"value": float(got)})))
    return pd.DataFrame(rows)


def leads(values: pd.DataFrame, better: str, ours: str = "ours", column: str = "value") -> pd.DataFrame:
    """Ours' lead over every other label of ``values`` (from :func:`measure`; ``column``: which of its numbers),
    per seed and fraction of training where both kept weights: (baseline, seed, fraction, lead), positive when
    Ours is ahead."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    sign = 1.0 if better == "higher" else -1.0
    mine = values[values.label == ours][["seed", "fraction", column]].rename(columns={column: "ours"})
    other = values[values.label != ours].merge(mine, on=["seed", "fraction"])
    return pd.DataFrame({"baseline": other.label, "seed": other.seed, "fraction": other.fraction,
                         "lead": sign * (other.ours - other[column])})


def lead_over_training(run, title: str, metric: str, better: str, trained: dict, evaluate: Callable,
                       final: dict | None = None, ours: str = "ours", unit: str = "", at=None) -> None:
    """Ours' lead over each other model of ``trained`` ({label: {seed: TrainedModel}}, ``ours`` among them) on
    ``metric`` (``better``: "higher" or "lower") at every fraction of training where both kept weights
    (:func:`measure`, :func:`leads`; ``at``: the fractions measured part-way), shown and kept by :func:`show`."""
    show(run, title, metric, better, leads(measure(trained, evaluate, final, at), better, ours), unit)


def show(run, title: str, metric: str, better: str, table: pd.DataFrame, unit: str = "",
         what: str = "") -> None:
    """Plot Ours' leads (from :func:`leads`; ``what``: how they were made, when not one model against one),
    say per baseline how the lead moved from half-way to the end, and add the rows; only a line saying why
    when no model kept weights part-way."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display
    if table.empty or table.fraction.nunique() < 2:
        display(Markdown(f"*{title}: no weights were kept part-way through training (models trained before the "
                         f"trainer kept them): no margin against training length. Delete their cache folders to "
                         f"retrain them.*"))
        return
    sentences = []
    fig, ax = plt.subplots(figsize=(8.4, 3.0))   # the width of the pages' other figures: their footer fits
    for i, (baseline, frame) in enumerate(table.groupby("baseline", sort=False)):
        by_frac = frame.groupby("fraction").lead.agg(["mean", "std", "count"]).reset_index()
        pct = 100 * by_frac.fraction
        ax.plot(pct, by_frac["mean"], marker="o", color=f"C{i}", label=f"vs {baseline}")
        if by_frac["count"].max() > 1:
            ax.fill_between(pct, by_frac["mean"] - by_frac["std"], by_frac["mean"] + by_frac["std"],
                            color=f"C{i}", alpha=0.15, lw=0)
        for r in by_frac.itertuples():
            run.result.rows.append(Row(
                f"{LEAD}: {metric}", f"{title} / vs {baseline} / {100 * r.fraction:.0f}% of training",
                round(float(r.mean), 5), None if r.count < 2 else round(float(r.std), 5), int(r.count), None, unit,
                "higher", f"Ours minus {baseline}, signed so that a positive lead is the paper's order; the same "
                          f"seeds at the same fraction of their training"))
        sentences.append(_trend(run, title, metric, baseline, frame, by_frac, unit))
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="% of training", ylabel=f"Ours' lead,\n{metric}", xlim=(0, 105),
           title=f"{title}: above 0, Ours ahead (the paper's order)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    run.watermark(fig)
    fig.tight_layout()
    plt.show()
    part_way = sorted(f for f in table.fraction.unique() if f != END)
    kept = ", ".join(f"{100 * f:.0f}" for f in part_way[:-1]) + (" and " if len(part_way) > 1 else "") + \
        f"{100 * part_way[-1]:.0f}%"
    display(Markdown(f"Ours' lead on {md_cell(metric)} ({'higher' if better == 'higher' else 'lower'} is better; "
                     f"mean ± sd over seeds, shaded) at the weights kept at {kept} of training and at the end, "
                     f"each measured as the page measures the end{what}.\n\n" + "\n".join(sentences)))


def _trend(run, title: str, metric: str, baseline: str, frame: pd.DataFrame, by_frac: pd.DataFrame,
           unit: str) -> str:
    """The sentence (and the row) on how the lead over ``baseline`` moved from half-way to the end."""
    first, last = by_frac.iloc[0], by_frac.iloc[-1]
    start = f"{first['mean']:+.4g} at {100 * first.fraction:.0f}% → {last['mean']:+.4g} at the end"
    per_seed = frame.pivot(index="seed", columns="fraction", values="lead")
    if HALF not in per_seed or END not in per_seed:
        return f"- vs {baseline}: {start}."
    change = (per_seed[END] - per_seed[HALF]).dropna()
    rose, fell, n = int((change > 0).sum()), int((change < 0).sum()), len(change)
    run.result.rows.append(Row(
        f"{LEAD}: {metric}{LEAD_CHANGE}", f"{title} / vs {baseline}",
        round(float(change.mean()), 5), None if n < 2 else round(float(change.std()), 5), n, None, unit, "n/a",
        f"the lead rose in {rose} of {n} seeds"))
    ahead = last["mean"] > 0
    every = "every seed" if n > 1 else "its one seed"
    if rose == n:
        way = f"still rising in {every}: " + ("the paper's order is growing" if ahead else
                                                "moving toward the paper's order; longer training may reach it")
    elif fell == n:
        way = f"falling in {every}: " + ("the paper's order is shrinking" if ahead else
                                           "moving away from the paper's order")
    else:
        way = f"rising in {rose} of {n} seeds: no common direction"
    return f"- vs {baseline}: {start}; from half-way to the end {way}."


def keys(title: str, metric: str, baselines) -> list[list[str]]:
    """The (metric, setting) of the rows on how Ours' lead over each of ``baselines`` moved, as :func:`show` names
    them: what a claim passes as ``run.claim(..., leads=...)``."""
    return [[f"{LEAD}: {metric}{LEAD_CHANGE}", f"{title} / vs {b}"] for b in baselines]


def lead_change(rows, key):
    """The rows of how the lead of ``key`` (from :func:`keys`) moved, from ``rows`` (the result's): (baseline,
    the metric, the lead half-way, at the end, the change row whose note says in how many seeds it rose); None
    when the page kept no such rows."""
    metric, setting = key
    get = lambda m, s: next((r for r in rows if r.metric == m and r.setting == s), None)
    change = get(metric, setting)
    if change is None:
        return None
    per_fraction = metric[:-len(LEAD_CHANGE)]
    half, end = get(per_fraction, f"{setting} / 50% of training"), get(per_fraction, f"{setting} / 100% of training")
    if half is None or end is None:
        return None
    return setting.rsplit(" / vs ", 1)[-1], per_fraction[len(LEAD) + 2:], half, end, change

