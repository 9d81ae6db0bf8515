"""What a notebook reports, written atomically as build/results/<profile>/<artefact>.json.

A result holds rows (metric, setting, paper value, reproduced value, spread over seeds, unit,
better-direction) plus everything needed to trace them: profile, dataset actually used, seeds,
device, wall time, git commit, and the resolved config (with its hash) of every trained model.
"""
from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .. import paths
from ..configs import PROFILES, ExperimentConfig, changed_settings, config_from_dict, get_config
from ..io import atomic_write_text, git_state

SCHEMA = "hebm-result/1"


@dataclass
class Row:
    metric: str
    setting: str
    reproduced: float | None
    spread: float | None = None          # std over seeds (None for one seed)
    n_seeds: int = 1
    paper: float | None = None
    unit: str = ""
    better: str = "higher"               # "higher" | "lower" | "n/a"
    note: str = ""


@dataclass
class Claim:
    claim: str                           # the paper's statement, in words
    holds: bool | None                   # by the paper's standard (None: not testable at this profile)
    evidence: str
    # the second mark of a comparison the paper prints without error bars: whether the order holds beyond the
    # seed spread too (None: not a comparison, or one seed); counted apart from ``holds``
    beyond_spread: bool | None = None
    # the (metric, setting) of each row on how Ours' lead in this claim moved with training (hebm_lib.report.margins):
    # a claim that does not hold says it among its reasons
    leads: list | None = None


@dataclass
class Result:
    artefact: str
    title: str
    profile: str
    datasets: list[str]
    seeds: list[int]
    device: str
    rows: list[Row] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    configs: dict[str, dict] = field(default_factory=dict)  # config hash -> resolved config
    models: list[dict] = field(default_factory=list)        # every trained model used: how it was trained
    overrides: dict = field(default_factory=dict)           # the user's config overrides ({} = the profile as written)
    wall_time_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add_config(self, cfg: ExperimentConfig, extra: dict | None = None) -> None:
        """Record a resolved config; ``extra``: the overrides of this artefact's own (an ablation's), beside
        the user's, so that a stored run can be checked against today's config of the same name."""
        self.configs[cfg.hash] = cfg.to_dict() | ({"extra": extra} if extra else {})

    def add_model(self, cfg: ExperimentConfig, seed: int, info: dict, history: str | None = None) -> None:
        """The provenance of one trained model; ``history``: its training curve's CSV beside this result."""
        entry = {"config": cfg.name, "config_hash": cfg.hash, "seed": seed,
                 **{k: info.get(k) for k in ("iterations", "train_wall_time_s", "device", "device_name", "mode",
                                             "torch", "key", "dataset", "n_train")},
                 # one batched step for several models (hebm_lib.training.ensemble), or trained on its own
                 "training": "ensemble" if info.get("ensemble") else "separate",
                 "final": {k: v for k, v in (info.get("final") or {}).items() if k != "iteration"},
                 "history": history}
        if entry not in self.models:
            self.models.append(entry)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(schema=SCHEMA, provenance=provenance())
        return d


def mean_spread(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def provenance() -> dict:
    git = git_state()
    if os.environ.get("HEBM_GIT_COMMIT"):  # a copy of the tree without its .git (a remote GPU machine)
        git = {"commit": os.environ["HEBM_GIT_COMMIT"], "dirty": os.environ.get("HEBM_GIT_DIRTY", "1") == "1"}
    return {"git": git, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "python": platform.python_version(), "host": platform.machine(),
            # the threads torch ran on (`hebm run --threads`; the book's build: 1 per notebook); older files lack it
            "threads": torch.get_num_threads(),
            "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def paper_data_replaced(name: str, data_name: str):
    """The data set config ``name`` trains on at ``paper``, when ``data_name`` stands in for it; else None."""
    from .. import data
    paper = data.spec(get_config(name, "paper").data.name)
    return None if paper.name == data_name else paper


def commit_label(result: dict) -> str:
    """The commit a results file was written at, as pages print it ("commit `abc1234567` (uncommitted changes)")."""
    git = result["provenance"]["git"]
    return f"commit `{git['commit'][:10]}`" + (" (uncommitted changes)" if git["dirty"] else "")


def training_device(result: dict) -> str:
    """The device(s) that trained a result's models, read from its model records ("NVIDIA H100 80GB HBM3");
    its notebook's own device when it trained none. One phrase for every page that names a run's device."""
    trained = list(dict.fromkeys(m.get("device_name") or m.get("device") for m in result.get("models", [])))
    return " / ".join(d for d in trained if d) or result["device"]


PRINTED = "paper (printed)"   # the column of the paper's own numbers, in every comparison


def stored_label(stored: dict) -> str:
    """The column of a stored `paper`-profile run, with the device that trained its models."""
    return f"`paper` profile (stored run, {training_device(stored)})"


def value_cell(value, unit: str = "", spread=None) -> str:
    """A table cell for a number with its unit and seed spread, never broken across lines; "–" when absent."""
    if value is None:
        return "–"
    return (f"{value:g}{unit}" + ("" if spread is None else f" ± {spread:g}")).replace(" ", "\u00a0")


def with_spread(v, spread=None, unit="") -> str:
    """A mean and its seed spread to the spread's precision (two significant digits of the spread, the mean
    to the same decimals): 5.94265 ± 2.96834 reads 5.9 ± 3.0; without a spread, as it is (%g). Never broken across lines."""
    if not isinstance(v, (int, float)) or not isinstance(spread, (int, float)) or not spread > 0 \
            or math.isinf(spread):
        plain = lambda x, u="": "–" if x is None else f"{x:g}{u}" if isinstance(x, (int, float)) else str(x)
        return plain(v, unit) + ("" if spread is None else f" ± {plain(spread)}")
    decimals = max(0, 1 - math.floor(math.log10(spread)))
    def cut(x):
        return f"{round(x, decimals):.{decimals}f}"
    return f"{cut(v)}{unit}\u00a0±\u00a0{cut(spread)}"


def model_label(name: str, extra: dict | None, variant: str | list[str] | None = None,
                base: ExperimentConfig | None = None) -> str:
    """A model's name in the page's table: an ablation's models (Table 1's variants, Table 5's widths) share a
    config name, so their variant is part of it: the name(s) the notebook gave it (``variant``), else its
    artefact overrides (``extra``), without those that leave ``base`` (the config as named) as it is."""
    names = [variant] if isinstance(variant, str) else list(variant or [])
    if names:
        return f"{name}, " + " / ".join(names)
    if extra and base is not None:
        extra = {k: v for k, v in extra.items() if _setting(base, k) != v}
    return name + (" (" + ", ".join(f"{k} = {v}" for k, v in extra.items()) + ")" if extra else "")


_MISSING = object()


def _setting(cfg: ExperimentConfig, key: str):
    """The value of a dotted override key ("nets.norm") in a resolved config; _MISSING where it names none."""
    v = cfg.to_dict()
    for part in key.split("."):
        if not isinstance(v, dict) or part not in v:
            return _MISSING
        v = v[part]
    return v


def model_labels(configs: dict, profile: str, overrides: dict | None = None,
                 variants: dict | None = None) -> dict[str, str]:
    """config hash -> its model's label (model_label) for a result's resolved ``configs`` (hash -> dict, with an
    ablation's "extra"): two configs of one name label apart, by their variant names (``variants``: hash -> the
    notebook's names), else by the overrides that change them, else by their hash; one config, one label."""
    overrides = overrides or {}
    labels = {}
    for h, d in configs.items():
        extra = d.get("extra")
        base = None
        if extra:
            try:
                base = get_config(d["name"], profile, overrides.get("*", {}) | overrides.get(d["name"], {}))
            except (ValueError, KeyError, TypeError):
                base = None
        labels[h] = model_label(d["name"], extra, (variants or {}).get(h), base)
    count: dict[str, int] = {}
    for label in labels.values():
        count[label] = count.get(label, 0) + 1
    return {h: label + (f" (config {h[:8]})" if count[label] > 1 else "") for h, label in labels.items()}


def claim_verdict(holds) -> str:
    """A claim's verdict in words: how `hebm run` prints it and how a page's verdict box names it."""
    return {True: "holds", False: "does not hold"}.get(holds, "not tested")


def run_devices(result: dict) -> str:
    """Where a result was made: its models' training device, and the notebook's own when it differs (a stored
    `paper` run evaluated on a CPU from models trained on a GPU)."""
    trained = training_device(result)
    if not result.get("models"):
        return f"notebook run on {result['device']} (no model)"
    if trained in result["device"]:   # "cpu (CPU (x86_64, 2 cores))" holds its models' "CPU (x86_64, 2 cores)"
        return f"models trained and notebook run on {result['device']}"
    return f"models trained on {trained}, notebook run on {result['device']}"


def write(result: Result, out_dir=None) -> Path:
    if result.profile not in PROFILES:
        raise ValueError(f"unknown profile {result.profile!r}")
    path = paths.results_dir(result.profile, out_dir) / f"{result.artefact}.json"
    atomic_write_text(path, json.dumps(result.to_dict(), indent=2, default=str))
    return path


# what a stored run (results/<profile>/, made once and rendered by every build) must carry
STORED_FIELDS = {"provenance.git.commit", "provenance.git.dirty", "provenance.created", "provenance.torch",
                 "device", "seeds", "configs", "models", "overrides", "wall_time_s"}
MODEL_FIELDS = {"config", "config_hash", "seed", "iterations", "train_wall_time_s", "device_name", "torch"}


def stored_dir(profile: str):
    """results/<profile>/ of the repository (the stored runs every build renders); $HEBM_STORED_DIR/<profile>
    when set (the tests, or stored runs kept elsewhere)."""
    return paths.stored_root() / profile


def read_stored(artefact: str, profile: str = "paper", directory=None) -> dict | None:
    """A stored run's result (in results/<profile>/, or ``directory``), checked for every provenance field;
    None when there is none."""
    data = read(artefact, profile, directory or stored_dir(profile))
    if data is None:
        return None
    where = f"results/{profile}/{artefact}.json"
    for key in sorted(STORED_FIELDS):
        node = data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"{where}: stored run lacks provenance field {key!r}; re-run it with "
                                 f"`hebm run {artefact} --profile {profile} --store`")
            node = node[part]
    for r in data.get("rows", []):
        bad = [k for k in ("reproduced", "spread") if isinstance(r.get(k), float) and not math.isfinite(r[k])]
        if bad:
            raise ValueError(f"{where}: row {r['metric']!r} / {r['setting']!r} has a non-finite {bad[0]} "
                             f"({r[bad[0]]}); a diverged run is not stored: re-run it with "
                             f"`hebm run {artefact} --profile {profile} --store`")
    for m in data["models"]:
        missing = sorted(MODEL_FIELDS - set(m))
        if missing:
            raise ValueError(f"{where}: model {m.get('config')} seed {m.get('seed')} lacks {', '.join(missing)}; "
                             f"re-run it with `hebm run {artefact} --profile {profile} --store`")
    return data


def changed_since(stored: dict) -> dict[str, list[str]]:
    """Per model config of a stored run, how today's config of that name (with the run's overrides and
    the artefact's own) differs from the one the run trained, as 'section.field: then -> now'; and a data
    set the run's overrides replaced (a substitute, say) against the profile's own. Empty: every model of the
    run is today's model on the profile's data. A run whose configs differ is the evidence of an earlier
    model, not of today's."""
    out = {}
    ov = stored.get("overrides") or {}
    for c in stored["configs"].values():
        name = c.get("name", "?")
        label = name + "".join(f" {k}={v}" for k, v in (c.get("extra") or {}).items())
        try:
            then = config_from_dict({k: v for k, v in c.items() if k != "extra"})
            now = get_config(name, c["profile"], ov.get("*", {}) | ov.get(name, {}) | (c.get("extra") or {}))
        except (ValueError, KeyError, TypeError) as exc:
            out[label] = [f"its config cannot be rebuilt today ({exc})"]
            continue
        written = get_config(name, c["profile"], c.get("extra") or {})
        diff = changed_settings(then, now)
        diff = [f"{d} (the run's override)" for d in changed_settings(then, written)
                if d.startswith("data.") and d not in diff] + diff
        if diff:
            out[label] = diff
    return out


def changed_fields(changes: dict[str, list[str]], limit: int = 3) -> str:
    """The settings that changed since a stored run, by name only (the status table's short form)."""
    names = list(dict.fromkeys(d.split(":")[0] for diffs in changes.values() for d in diffs))
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def describe_changes(changes: dict[str, list[str]], limit: int = 4) -> str:
    """One line: what changed since a stored run, per config (the first ``limit`` settings each)."""
    return "; ".join(f"{name}: " + ", ".join(d[:limit]) + (f" (+{len(d) - limit} more)" if len(d) > limit else "")
                     for name, d in changes.items())


def read(artefact: str, profile: str, out_dir=None) -> dict | None:
    path = paths.results_dir(profile, out_dir) / f"{artefact}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable results file ({exc}); delete it and run the artefact again "
                         f"(`hebm run {artefact} --profile {profile}`)") from None
    wrong = _shape_error(data)
    if wrong:   # JSON, but not what a notebook writes: no page may read fields it lacks
        raise ValueError(f"{path}: not a readable results file ({wrong}); delete it and run the artefact again "
                         f"(`hebm run {artefact} --profile {profile}`)")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA!r}")
    if data.get("profile") != profile:
        raise ValueError(f"{path}: a result of profile {data.get('profile')!r} where one of {profile!r} was "
                         f"expected; run the artefact at {profile!r} or point HEBM_RESULTS_DIR elsewhere")
    return data


# the type of every field of a result (Result.to_dict()), and of each row and claim in it
_SHAPE = {"artefact": str, "title": str, "profile": str, "datasets": list, "seeds": list, "device": str, "rows": list,
          "claims": list, "configs": dict, "models": list, "overrides": dict, "wall_time_s": (int, float),
          "notes": list, "schema": str, "provenance": dict}
_ROW_SHAPE = {"metric": str, "setting": str, "unit": str, "better": str}
_CLAIM_SHAPE = {"claim": str, "evidence": str}


def _shape_error(data) -> str | None:
    """What makes parsed JSON not a result (None: it is one): a field missing or of another type."""
    def wrong(d, shape: dict, what: str) -> str | None:
        if not isinstance(d, dict):
            return f"{what} is {type(d).__name__}, not an object"
        bad = [k for k, kind in shape.items() if not isinstance(d.get(k), kind)]
        return f"{what} lacks {', '.join(bad)} (or holds another type)" if bad else None
    return wrong(data, _SHAPE, "the file") or next(
        (e for i, r in enumerate(data["rows"]) if (e := wrong(r, _ROW_SHAPE, f"row {i + 1}"))), None) or next(
        (e for i, c in enumerate(data["claims"]) if (e := wrong(c, _CLAIM_SHAPE, f"claim {i + 1}"))), None) or next(
        (f"model {i + 1} is not an object" for i, m in enumerate(data["models"]) if not isinstance(m, dict)), None)


def paper_values(artefact: str) -> list[dict]:
    """Rows of paper_values/<artefact>.csv (numbers as printed in the paper)."""
    path = paths.PAPER_VALUES_DIR / f"{artefact}.csv"
    with open(path, newline="") as f:
        return [dict(r, value=float(r["value"])) for r in csv.DictReader(f)]


def md_cell(text) -> str:
    """Text for a Markdown table cell: a "|" in it would end the cell."""
    return str(text).replace("|", "\\|")


def profile_banner(profile: str) -> str:
    """The label every table and figure carries."""
    if profile == "smoke":
        return "SMOKE PROFILE: a plumbing check; these numbers mean nothing."
    if profile == "cpu":
        return "CPU PROFILE: small nets, short training, 2 cores. Compare trends, not values."
    return "PAPER PROFILE: the paper's settings (the authors' code where the paper is silent)."


def compare(a: float, a_sd: float | None, b: float, b_sd: float | None) -> tuple[bool, bool | None]:
    """The two marks of "a is above b" as the paper prints it (means, no error bars): (the means are ordered,
    the order is beyond the seed spreads too (None with one seed, whose spread is unknown))."""
    one_seed = all(sd is None or sd != sd for sd in (a_sd, b_sd))
    return bool(a > b), None if one_seed else clearly_above(a, a_sd, b, b_sd)


def not_worse(a: float, a_sd: float | None, b: float, b_sd: float | None) -> bool:
    """A tie as the paper prints one ("0.008 = 0.008"): a is not below b by more than the seed spreads."""
    return not clearly_above(b, b_sd, a, a_sd)


def clearly_above(a: float, a_sd: float | None, b: float, b_sd: float | None) -> bool:
    """a > b by more than the two seed spreads together (a one-seed spread counts as 0).

    Claims of the form "X beats Y" use this, so a difference inside seed noise is not reported as a win.
    """
    margin = (0.0 if a_sd is None or a_sd != a_sd else a_sd) + (0.0 if b_sd is None or b_sd != b_sd else b_sd)
    return a - b > margin
