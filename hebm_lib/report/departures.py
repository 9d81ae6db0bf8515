"""Where a page's profile departs from the paper, and why a claim that does not hold there fails: shown under
every page's claims at `cpu` (and `smoke`), read from the configs and the page's own result, never typed.

- ``config_departures``: for every config the page resolved, each setting that differs between this profile and
  `paper`, read from the two resolved configs (training length, the EBM prior's width, depth, K, s and
  lr x iterations, the observation noise, the KL schedule, the data set);
- ``DEPARTURES``: what a config diff cannot say (a model shared with another page, an evaluation protocol),
  each with why it is kept here and the claims it bears on;
- ``failure_reasons``: for a claim that does not hold, the departures that bear on it, how much of the `paper`
  profile's training its models had, and, for a claim about Ours, what the page measured of its EBM.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

from ..configs import ExperimentConfig, config_from_dict, get_config
from . import margins
from .results import Row, md_cell, with_spread


def _ebm(cfg: ExperimentConfig) -> str | None:
    p = cfg.prior
    if p is None:
        return None
    inference = ("" if p.posterior_langevin is None else
                 f"; posterior Langevin {p.posterior_langevin[0]} steps of {p.posterior_langevin[1]:g}")
    return (f"{p.hidden} units x {p.layers} layers{'' if p.spectral_norm else ' (no spectral norm)'}, K {p.langevin_steps}, "
            f"s {p.langevin_step_size:g}, lr {p.lr:g} (lr x iterations {p.lr * cfg.train.iterations:.2g}){inference}")


def _schedule(cfg: ExperimentConfig) -> str:
    s = cfg.schedule
    fields = {k: v for k, v in vars(s).items()}
    return s.kind + (" (" + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items()) + ")"
                     if fields else "")


# (setting in words, its value in a resolved config): the settings a reader compares with the paper's
SETTINGS: tuple[tuple[str, Callable[[ExperimentConfig], object]], ...] = (
    ("data set", lambda c: c.data.name + ("" if c.data.n_train is None else f" (first {c.data.n_train:,})")),
    ("training iterations x batch", lambda c: f"{c.train.iterations:,} x {c.train.batch_size}"),
    ("generator/encoder lr", lambda c: f"{c.train.lr:g}"),
    ("likelihood p(x | z)", lambda c: f"Gaussian, sigma {c.nets.sigma:.3g}"
                                      if getattr(c.nets, "likelihood", "gaussian") == "gaussian"
                                      and isinstance(getattr(c.nets, "sigma", None), float)
                                      else getattr(c.nets, "likelihood", None)),
    ("EBM prior", _ebm),
    ("KL weight", _schedule),
    ("free nats", lambda c: None if c.train.free_nats is None else f"{c.train.free_nats[0]:g} nats throughout"
                             if c.train.free_nats[1] >= c.train.iterations else
                             "{:g} nats, held {:,}, to 0 over {:,}".format(*c.train.free_nats)),
)


def config_departures(configs: dict, profile: str) -> list[tuple[str, str, str, str]]:
    """(configs, setting, value at ``profile``, value at `paper`) for each setting that differs, configs that
    differ the same way joined in one row; ``configs``: a result's resolved configs (hash -> dict)."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for d in configs.values():
        here = config_from_dict({k: v for k, v in d.items() if k != "extra"})
        paper = get_config(d["name"], "paper", d.get("extra"))
        for setting, read in SETTINGS:
            a, b = read(here), read(paper)
            if a != b:
                rows.setdefault((setting, str(a if a is not None else "-"), str(b if b is not None else "-")), []).append(d["name"])
    return [(", ".join(dict.fromkeys(names)), *key) for key, names in rows.items()]


def iteration_share(configs: dict) -> dict[str, float]:
    """config name -> its training iterations here as a fraction of the `paper` profile's."""
    out = {}
    for d in configs.values():
        paper = get_config(d["name"], "paper", d.get("extra"))
        out[d["name"]] = d["train"]["iterations"] / paper.train.iterations
    return out


@dataclass(frozen=True)
class Departure:
    """What the config diff cannot say: ``what`` departs, ``why`` it is kept at this profile (a number in it),
    and the claims it bears on (``bears_on``: words of the claim, any of them; empty: every claim of the page)."""
    artefacts: tuple[str, ...]
    what: str
    why: str
    bears_on: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ("cpu",)


DEPARTURES = (
    Departure(("tab2", "tab6"),
              "Ours, VLAE, the VAE and the HVAE are Table 1's Fashion-MNIST models (VLAE's nets, observation noise "
              "sigma {svhn_fid_ours.nets.sigma}), while LEBM keeps its own sigma {svhn_fid_lebm.nets.sigma}; at `paper` "
              "Ours has the authors' FID config's sigma {paper:svhn_fid_ours.nets.sigma}, LEBM {paper:svhn_fid_lebm.nets.sigma}",
              "the four are trained once for Tables 1, 2, 5 and 6 (Table 1 is the book's longest page); retraining "
              "them at the FID config's sigma would add eight model trainings to the book's `cpu` build. A "
              "larger sigma weighs reconstruction less, so it raises the MSE and blurs samples",
              ("SVHN", "than LEBM")),
    Departure(("tab5",),
              "the energy nets are {fmnist_ours.prior.layers} layers deep here (the nef = {fmnist_ours.prior.hidden} "
              "net is Table 1's Fashion-MNIST model's); the paper's is a {paper:svhn_fid_ours.prior.layers}-layer perceptron",
              "sharing the nef = 50 model with Tables 1, 2 and 6 saves two trainings; the depth is the same at "
              "every width here, so the widths are still compared among themselves",
              ("nef",)),
    Departure(("tab4",),
              "the model is the 3DShapes pages' Ours, trained with K = {celeba64_ours.prior.langevin_steps}, s = "
              "{celeba64_ours.prior.langevin_step_size}; the paper trains CelebA-64 with K = "
              "{paper:celeba64_ours.prior.langevin_steps} (its s {paper:celeba64_ours.prior.langevin_step_size})",
              "shared with Table 2's CelebA column and Supp. Table 2; the paper's K in training would multiply "
              "the cost of its Langevin chains accordingly",
              ("K = 15 to K = 60",)),
    Departure(("tab3",),
              "LEBM infers with the shared encoder at `cpu`; LEBM's own inference is posterior Langevin "
              "(steps and step size {paper:anomaly_lebm.prior.posterior_langevin} in its `paper` row)",
              "posterior Langevin made LEBM's training step 5x slower and its score 20 decoder gradients an image: "
              "about 15 minutes more for the book's `cpu` build",
              ("LEBM",)),
    Departure(("fig9",),
              "{settings.steps} Adam steps per attack (the `paper` profile's {paper:settings.steps})",
              "the attack has converged by then: measured once on Table 1's `cpu` MNIST Ours (seed 0, 50 pairs), "
              "300 steps moved the target progress of no layer by more than 0.003 at budgets 3 and 6 "
              "(60 steps: 0.061 / 0.038 / 0.041 at budget 3; 300 steps: 0.060 / 0.037 / 0.041)",
              ("attacking",)),
    Departure(("vhp_tab1",),
              "REWO's and GECO's kappa and nu are raised (the KL weight row above)",
              "in 2,000 iterations the smoothed reconstruction error of these nets floors at 0.0005-0.002 by seed, "
              "above the paper's kappa^2 = 0.0004, so REWO's first phase would never end; with nu 5, beta would "
              "need about 4,600 iterations to climb from 1e-3 to 1. REWO's paper calls its first phase necessary: "
              "cut short, it learns less of a representation",
              ("REWO", "GECO", "warm-up")),
)


def departures_for(artefact: str, profile: str) -> list[Departure]:
    return [d for d in DEPARTURES if artefact in d.artefacts and profile in d.profiles]


_FIELD = re.compile(r"\{(?:(paper):)?([\w.]+)\}")


def fill(text: str, artefact: str, profile: str) -> str:
    """``text`` with each {config.section.field} read from that config at ``profile`` ({paper:...}: at `paper`)
    and {settings.key} from the artefact's evaluation settings: a departure's numbers are never typed."""
    from .manifest import get as get_artefact

    def value(match):
        at = match.group(1) or profile
        head, *path = match.group(2).split(".")
        v = get_artefact(artefact).settings(at) if head == "settings" else get_config(head, at)
        for key in path:
            v = v[key] if isinstance(v, dict) else getattr(v, key)
        return f"{v:.3g}" if isinstance(v, float) else str(v)
    return _FIELD.sub(value, text)


_GENERIC_WORDS = {"ours", "vlae", "vae", "lebm", "hvae", "hvae6", "provlae", "betavae", "iwae", "vhp", "fid", "k", "0", "digit",
                  "held", "out", "nef"}   # words of configs and rows that name a system or a setting, not a data set


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower().replace("-", "")))


def _ebm_model(rows, claim: str) -> str | None:
    """The label of the EBM model a claim is about, among the rows whose metric begins with "EBM": the model whose
    row setting names a word of the claim (a data set, a config), else the page's first; None without such rows."""
    ebm = [r for r in rows if r.metric.startswith("EBM") and r.reproduced is not None]
    # "svhn_fid_ours" -> {svhn}; "ours (mnist)" -> {mnist}: matched against the claim's words
    named = [r for r in ebm if (_words(r.setting.replace("_", " ")) - _GENERIC_WORDS) & _words(claim)]
    return (named or ebm)[0].setting.split(",")[0] if ebm else None


class Reason(NamedTuple):
    """One reason a claim fails: ``cause`` in words, ``numbers`` the page's numbers that show it ("–": none)."""
    cause: str
    numbers: str = "–"


def _num(row, unit: str = "", signed: bool = False) -> str:
    """A row's mean to its seed spread's precision (results.with_spread); ``signed``: a "+" before a lead above 0."""
    text = with_spread(row.reproduced, row.spread) + unit
    return ("+" + text) if signed and row.reproduced > 0 and not text.startswith("+") else text


def _ebm_measured(rows, claim: str) -> list[Reason]:
    """What the page measured of the EBM the claim is about, from the rows whose metric begins with "EBM": the
    model whose row setting names a word of the claim (a data set, a config), else the page's first."""
    ebm = [r for r in rows if r.metric.startswith("EBM") and r.reproduced is not None]
    if not ebm:
        return []
    model = _ebm_model(rows, claim)

    def first(prefix):
        return next((r for r in ebm if r.metric.startswith(prefix) and r.setting.split(",")[0] == model), None)
    kl, gap, off = first("EBM KL"), first("EBM energy gap"), first("EBM off")
    if kl is None:
        return []
    out = [Reason(f"how far Ours' EBM moves its prior from N(0, I)" + (f" ({kl.setting})" if gap else ""),
                  f"KL {_num(kl, ' nats')}" + (f"; energy gap {_num(gap, ' nats')}" if gap else ""))]
    if off is not None and _words(off.metric[len("EBM off: "):].split(" (")[0]) & _words(claim):   # the claim's metric
        out.append(Reason(f"with the EBM off ({off.setting})", f"{off.metric[len('EBM off: '):]} {_num(off)}"))
    return out


def _lead_moved(rows, key) -> Reason | None:
    """How the lead of ``key`` (margins.keys) moved from half-way to the end, and in how many seeds it rose."""
    found = margins.lead_change(rows, key)
    if found is None:
        return None
    baseline, what, half, end, change = found
    return Reason(f"Ours' lead over {baseline} on {what}, from half-way through training to the end",
                  f"{_num(half, signed=True)} → {_num(end, signed=True)} ({change.note.removeprefix('the lead ')})")


CAPACITY = "ebm_capacity"   # the book's capacity page: what lifting the cap does on Table 2's first column


def _capacity_numbers(profile: str) -> Reason | None:
    """The capacity page's refit numbers at ``profile`` (this build's run, else the recorded one); None when
    neither has been run."""
    from .results import read, read_stored
    try:
        res = read(CAPACITY, profile) or read_stored(CAPACITY, profile)
    except ValueError:
        return None
    fid = {r["setting"]: Row(r["metric"], r["setting"], r["reproduced"], r.get("spread"))
           for r in (res or {}).get("rows", []) if r["metric"].startswith("FID")}
    names = ("Ours' EBM as trained (the authors' cap)", "refit: LEBM's energy net", "LEBM as trained (its own generator)")
    if not all(n in fid and fid[n].reproduced is not None for n in names):
        return None
    capped, refit, lebm = (fid[n] for n in names)
    return Reason("on the book's capacity page (Table 2's first column), LEBM's uncapped energy net refit on Ours' "
                  "frozen generator",
                  f"FID {_num(capped)} (as trained) → {_num(refit)} (refit); LEBM's own {_num(lebm)}")


def _cap_decides(rows, claim) -> Reason | None:
    """The first reason of a claim about Ours that the spectral norm's cap decides: Ours is within the seed spread
    of a baseline at the end of training (the claim's lead rows: |lead| <= its sd) and its EBM's KL is under 1/2
    nat; None otherwise (a claim without lead rows included: nothing says it is a tie)."""
    ebm = {r.metric: r for r in rows if r.metric.startswith("EBM") and r.reproduced is not None
           and r.setting.split(",")[0] == _ebm_model(rows, claim.claim)}
    kl, bound, cap = (ebm.get(m) for m in ("EBM KL(p_alpha || N(0, I))", "EBM 1/2 E_p|grad f|^2", "EBM Lipschitz cap of f"))
    if kl is None or bound is None or cap is None or kl.reproduced > 0.5:
        return None
    ties = []
    for _, setting in claim.leads or []:
        end = next((r for r in rows if r.metric.startswith(margins.LEAD) and r.setting == f"{setting} / 100% of training"), None)
        if end is not None and end.spread is not None and abs(end.reproduced) <= end.spread:
            ties.append((setting.rsplit(' / vs ', 1)[-1], end))
    if not ties:   # Ours apart from every baseline: the cap is not what decides the claim
        return None
    return Reason(f"the authors' spectral norm caps the prior: Ours' EBM's KL from N(0, I) is under its log-Sobolev "
                  f"bound 1/2 E_p|grad f|^2, at most 1/2 nat for a 1-Lipschitz f (the cap: this f's layers' spectral "
                  f"norms multiplied), and Ours is within the seed spread of {', '.join(name for name, _ in ties)} at "
                  f"the end of training",
                  f"KL {_num(kl, ' nats')} ≤ 1/2 E_p|grad f|^2 = {_num(bound)}; cap {_num(cap)}; "
                  + "; ".join(f"lead over {name} at the end {_num(end, signed=True)}" for name, end in ties))


def failure_reasons(artefact: str, profile: str, result) -> list[tuple[str, list[Reason]]]:
    """(claim, reasons) for each claim of ``result`` that does not hold, each reason a cause and its numbers;
    a departure of the page is named by its number in the list above them (D1, D2, ...)."""
    share_all = iteration_share(result.configs)
    out = []
    for c in result.claims:
        if c.holds is not False:
            continue
        reasons = [Reason(f"D{i}, listed above") for i, d in enumerate(departures_for(artefact, profile), 1)
                   if not d.bears_on or any(w.lower() in c.claim.lower() for w in d.bears_on)]
        cap = _cap_decides(result.rows, c) if "ours" in c.claim.lower() and artefact != CAPACITY else None
        if cap:   # first: where the cap decides, the rest is detail
            reasons[:0] = [cap] + [r for r in [_capacity_numbers(profile)] if r]
        # the configs the claim names (a data set's: "MNIST: ..." -> mnist_*), else all of the page's
        share = {n: v for n, v in share_all.items() if (_words(n.replace("_", " ")) - _GENERIC_WORDS) & _words(c.claim)} or share_all
        if share:
            low, high = min(share.values()), max(share.values())
            reasons.append(Reason("its models trained for a fraction of the `paper` profile's iterations",
                                  f"{100 * low:.2g}%" + (f"-{100 * high:.2g}%" if high > low * 1.05 else "")))
        if "ours" in c.claim.lower():
            reasons += _ebm_measured(result.rows, c.claim)
        reasons += [m for m in (_lead_moved(result.rows, key) for key in c.leads or []) if m]
        out.append((c.claim, reasons))
    return out


def why_table(reasons: list[tuple[str, list[Reason]]]) -> list[str]:
    """The lines of a Markdown table of ``reasons`` (failure_reasons): claim | cause | numbers, one row per reason,
    the claim named in its first row."""
    lines = ["| claim | cause | numbers |", "|---|---|---|"]
    for claim, why in reasons:
        for i, r in enumerate(why):
            lines.append(f"| {f'*{md_cell(claim)}*' if i == 0 else ''} | {md_cell(r.cause)} | {md_cell(r.numbers)} |")
    return lines


def markdown(artefact: str, profile: str, result) -> str:
    """The page's section: the departures as a table, then why each failing claim fails here. Empty at `paper`."""
    if profile == "paper":
        return ""
    parts = []
    diff = config_departures(result.configs, profile)
    if diff:
        parts += [f"**Where the `{profile}` profile departs from the paper's settings** (read from the configs at "
                  f"both profiles):", "",
                  f"| configs | setting | `{profile}` | `paper` profile |", "|---|---|---|---|"]
        parts += [f"| {md_cell(n)} | {md_cell(s)} | {md_cell(a)} | {md_cell(b)} |" for n, s, a, b in diff]
        parts.append("")
    for i, d in enumerate(departures_for(artefact, profile), 1):
        parts.append(fill(f"- **D{i}.** {d.what}. *Why here:* {d.why}.", artefact, profile))
    reasons = failure_reasons(artefact, profile, result)
    if reasons:
        parts += ["", f"**Why a claim does not hold at `{profile}`**, in this page's numbers (a ± b: a mean "
                      f"and its sd over seeds, to the sd's precision):", "", *why_table(reasons)]
    return "\n".join(parts)
