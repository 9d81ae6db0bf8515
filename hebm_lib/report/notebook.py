"""What every artefact notebook shares, so that a notebook holds only what is particular to it.

    run = notebook.setup("tab1", profile, device, seeds, overrides)   # banner, seeds, settings
    cfg = run.config("fmnist_ours")          # resolved config, recorded in the result
    tm = run.model(cfg, seed, train_set)     # from the model cache, or trained
    run.settings["classifier_epochs"]        # the profile's evaluation settings (its manifest record)
    run.claim("...", holds, "evidence")      # the paper's claim, tested
    run.show_claims(); run.finish()          # the verdicts, then results file + provenance

Where things are read and written comes from the environment (hebm_lib.paths: HEBM_DATA_DIR,
HEBM_CACHE_DIR, HEBM_RESULTS_DIR), not from notebook parameters.
"""
from __future__ import annotations

import json
import math
import os
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import data as data_lib
from .. import paths
from ..configs import ExperimentConfig, get_config
from ..io import device_name, resolve_device
from ..training import TrainedModel, train_or_load_many
from . import departures
from . import results as results_module
from .book import stored_page
from .manifest import get as get_artefact
from .results import (Claim, Result, Row, changed_since, commit_label, describe_changes, md_cell, model_labels,
                      paper_data_replaced, profile_banner, read_stored, run_devices, write)


PRINT_WIDTH = 80   # printed lines wider than this are cut at the page's edge (screenshots at 1280 px)


def say(text: str) -> None:
    """Print ``text`` broken into lines that fit the page."""
    print("\n".join(textwrap.fill(part, PRINT_WIDTH, subsequent_indent="  ") for part in text.split("\n")))


@dataclass
class NotebookRun:
    artefact: str
    profile: str
    device: str
    seeds: list[int]
    overrides: dict
    settings: dict
    result: Result = None
    configs: tuple[str, ...] = ()    # the config names this notebook may resolve (its manifest entry's)
    started: float = field(default_factory=time.perf_counter)
    _trained: dict = field(default_factory=dict)   # models trained with an earlier seed, not yet asked for
    # (config, seed, iterations, cached, seconds, config hash): the page's table, labelled at its end (model_labels)
    _models_used: list = field(default_factory=list)
    _variants: dict = field(default_factory=dict)   # config hash -> the names the notebook gave its variant

    @property
    def data_dir(self) -> Path:
        return paths.data_dir()

    def config(self, name: str, extra: dict | None = None, variant: str | None = None) -> ExperimentConfig:
        """Config ``name`` at this profile with the user's overrides, then ``extra`` (ablations); ``variant``: the
        ablation row's name for it ("before + He init"), which the page's models table prints beside the config's."""
        if name not in self.configs:   # the manifest lists what each notebook trains (overrides are checked on it)
            raise ValueError(f"{self.artefact} asked for config {name!r}, which its manifest entry does not list "
                             f"({', '.join(self.configs)}); add it to hebm_lib/report/manifest.py")
        cfg = get_config(name, self.profile,
                         self.overrides.get("*", {}) | self.overrides.get(name, {}) | (extra or {}))
        self.result.add_config(cfg, extra)
        if variant and variant not in self._variants.setdefault(cfg.hash, []):
            self._variants[cfg.hash].append(variant)
        here, paper_data = data_lib.spec(cfg.data.name), paper_data_replaced(name, cfg.data.name)
        if paper_data is not None and here.substitute_for != paper_data.display_name:   # else its label says so
            self.note_dataset(f"{here.display_name} standing in for {paper_data.display_name}")
        return cfg

    def models(self, **changes) -> list[tuple[ExperimentConfig, dict]]:
        """(config, its artefact overrides) of every model this artefact trains, from its manifest record
        (the same list the campaign trains), with the notebook's own parameters as ``changes``."""
        return [(self.config(name, extra), extra)
                for name, extra in get_artefact(self.artefact).models(self.profile, **changes)]

    def model(self, cfg: ExperimentConfig, seed: int, train_set=None, seeds: list[int] | None = None) -> TrainedModel:
        """The trained model of (cfg, seed) on ``train_set`` (default: cfg's training set), from the cache or
        trained. The first call for a config trains every seed of ``seeds`` (default: this run's) that the
        notebook will ask for next, together: one ensemble on a GPU (hebm_lib.training.ensemble), one after
        another on a CPU, where batching measured slower."""
        key = (cfg.hash, seed, None if train_set is None else train_set.fingerprint)
        if key not in self._trained:
            together = list(seeds or self.seeds)
            if seed not in together:
                together = [seed]
            # training's progress goes where HEBM_PROGRESS says (`hebm run`'s terminal, or a file it relays to
            # its stderr), never to the page, which would keep every line of it
            for tm in train_or_load_many([(cfg, s, train_set) for s in together], self.device,
                                         progress=os.environ.get("HEBM_PROGRESS") or False, log=progress_line):
                self._trained[key[:1] + (tm.seed,) + key[2:]] = tm
        tm = self._trained.pop(key)
        if tm.info["cached"]:
            how = "from the cache"
        else:
            ensemble = tm.info.get("ensemble")
            how = f"trained in {tm.info['train_wall_time_s']:.0f} s" + (
                f" (one step for {ensemble['members']} models, seeds {ensemble['seeds']})" if ensemble else "")
        progress_line(f"{cfg.name} seed {seed}: {how}, {tm.info['iterations']:,} iterations")
        self._models_used.append((cfg.name, seed, tm.info["iterations"], tm.info["cached"], tm.info["train_wall_time_s"],
                                  cfg.hash))
        self.result.add_model(cfg, seed, tm.info, self._keep_history(cfg, seed, tm))
        return tm

    def _keep_history(self, cfg: ExperimentConfig, seed: int, tm: TrainedModel) -> str | None:
        """The model's training curve (history.csv) copied beside this result (a stored run takes it along);
        returns its path relative to the results folder, None for a model trained before curves were kept."""
        from ..io import atomic_write_text
        from ..training import HISTORY_FILE, history_csv
        source = tm.run_dir / HISTORY_FILE
        text = _read_history(source, tm.run_dir) if source.exists() else history_csv(tm.info.get("history") or [])
        if not text:
            return None
        name = f"{self.artefact}-histories/{cfg.name}-{cfg.hash}-seed{seed}.csv"
        atomic_write_text(paths.results_dir(self.profile) / name, text)
        return name

    def load(self, name: str, split: str, classes=None) -> data_lib.ImageSet:
        """A dataset split (only the labels ``classes`` when given), recorded (with what it substitutes
        for) among the result's datasets."""
        ds = data_lib.load(name, split).only_classes(classes)
        self.note_dataset(ds.spec.label)
        return ds

    def training_set(self, cfg: ExperimentConfig) -> data_lib.ImageSet:
        """The images ``cfg`` trains on, recorded among the result's datasets."""
        ds = data_lib.training_set(cfg.data)
        self.note_dataset(ds.spec.label)
        return ds

    def test_set(self, cfg: ExperimentConfig, n: int | None = None) -> data_lib.ImageSet:
        """Held-out images of ``cfg``'s data set (its test split; factor data, which has none: ``n`` fresh
        i.i.d. factor draws of another seed), the first ``n`` when given."""
        ds = _held_out(cfg.data.name, n, cfg.data.classes)
        self.note_dataset(ds.spec.label)
        return ds

    def judge(self, cfg: ExperimentConfig, train_set: data_lib.ImageSet | None = None):
        """The class judge of the sampling figures: ``metrics.train_judge`` on (the first ``judge_train`` of a
        fixed shuffle of) ``cfg``'s training images, for ``judge_epochs``; its accuracy on the test split (the
        config's classes only) is printed and kept as a sanity row. Returns (judge, test accuracy 0-1)."""
        from ..evaluation import metrics
        train_set = train_set if train_set is not None else self.training_set(cfg)
        test_set = self.load(cfg.data.name, "test", classes=cfg.data.classes)
        fitted = train_set.subset(self.settings.get("judge_train"))
        judge, acc = metrics.train_judge(fitted, test_set, self.settings["judge_epochs"], self.device)
        which = test_set.spec.display_name + (f" digits {cfg.data.classes}" if cfg.data.classes else "")
        print(f"judge: trained on {len(fitted):,} images of {which}; test accuracy {100 * acc:.1f}% "
              f"({len(test_set):,} images)")
        self.result.rows.append(Row("judge test accuracy", which, round(100 * acc, 2), unit="%", better="higher",
                                    note=f"sanity check of the class judge ({len(fitted):,} training images)"))
        return judge, acc

    def fid_space(self, train_set: data_lib.ImageSet):
        """The feature network of this profile's FID (settings ``fid_features``, ``feature_epochs``), with its
        label printed and kept in the result's notes; domain features also report their test accuracy."""
        from ..evaluation import fid
        space = fid.feature_space(self.settings["fid_features"], train_set, self.settings["feature_epochs"],
                                  device=self.device)
        line = f"{space.label} [{space.extractor}]"
        if space.kind == "domain":
            acc = fid.domain_accuracy(fid.load_domain_net(space), _held_out(train_set.spec.name, 2_000))
            line += f"; its held-out accuracy per head: {', '.join(f'{100 * a:.1f}%' for a in acc)}"
        say(line)
        if line not in self.result.notes:
            self.result.notes.append(line)
        return space

    def note_dataset(self, label: str) -> None:
        if label not in self.result.datasets:
            self.result.datasets.append(label)

    def watermark(self, fig) -> None:
        """Caption a figure with its profile, data and seeds; smoke figures get a large diagonal warning."""
        if self.profile == "smoke":
            fig.text(0.5, 0.5, "SMOKE TEST\nnot a paper result", ha="center", va="center", fontsize=28,
                     color="red", alpha=0.35, rotation=20, transform=fig.transFigure)
        data = "; ".join(self.result.datasets) or "-"
        # the book shows a figure at most about 750 px wide, scaling a wider one down: the footer grows with the
        # figure's width so that it stays about 9-10 px there (at 7 pt it was 7 px). Set just below the figure
        # (va="top" at y = 0), which the inline backend's tight bounding box takes in, clear of any axis label
        size = footer_points(fig.get_figwidth())
        # wrapped to the figure's width: a long list of data sets would otherwise widen the saved image and push
        # the plot to one side (about 0.55 em per character of DejaVu Sans)
        per_line = max(20, int(fig.get_figwidth() * 72 / (0.55 * size)))
        footer = textwrap.fill(f"profile: {self.profile} | data: {data} | seeds: {self.seeds}", per_line)
        fig.text(0.995, 0, footer, ha="right", va="top", fontsize=size, color="dimgray")

    def paper_only(self, metric: str, setting: str, value: float, unit: str = "", better: str = "lower") -> None:
        """A row holding only the paper's number, for a measurement this profile does not make on the
        paper's terms (a stand-in data set, other FID features): shown with the paper's label, never in
        the same row as this run's number."""
        self.result.rows.append(Row(f"{metric} (the paper's)", setting, None, None, 0, value, unit, better,
                                    "the paper's number; not measured on its terms at this profile"))

    def claim(self, claim: str, holds: bool | None, evidence: str, beyond_spread: bool | None = None,
              leads: list | None = None) -> Claim:
        """Record one of the paper's claims as tested here, by the paper's standard (holds None: not tested at this
        profile); ``beyond_spread``: for a comparison the paper prints without error bars, whether the order holds
        beyond the seed spread too (results.compare gives both marks); ``leads``: its comparisons' margin against
        training length (``margins.keys``)."""
        c = Claim(claim, None if holds is None else bool(holds), evidence,
                  None if beyond_spread is None else bool(beyond_spread), leads or None)
        self.result.claims.append(c)
        return c

    def show_claims(self) -> None:
        """The verdict on every claim recorded so far, as a list on the page."""
        from IPython.display import Markdown, display
        verdict = {True: "**holds**", False: "**does not hold**", None: "**not tested**"}
        spread = {True: "; beyond the seed spread too", False: "; not beyond the seed spread", None: ""}
        display(Markdown("\n".join(f"- {c.claim}: {verdict[c.holds]}{spread[c.beyond_spread] if c.holds else ''} at "
                                   f"the `{self.profile}` profile ({c.evidence})." for c in self.result.claims)))
        # where this profile departs from the paper's settings, and why each claim that fails here fails
        section = departures.markdown(self.artefact, self.profile, self.result)
        if section:
            display(Markdown(section))

    def plot_training_curves(self, max_configs: int = 8) -> None:
        """The training curves of this page's models (their history.csv beside the result): the loss and the
        summed KL of each config, mean over seeds, against the fraction of training; the stored `paper` run's
        curves dashed where it kept them. Nothing when the page trained no model."""
        import matplotlib.pyplot as plt
        from IPython.display import Markdown, display
        curves = _curves(self.result.models, paths.results_dir(self.profile))
        if not curves:
            return
        try:
            stored = read_stored(self.artefact) if self.profile != "paper" else None
        except ValueError:
            stored = None
        stored_curves = _curves(stored["models"], results_module.stored_dir("paper")) if stored else {}
        names = list(curves)[:max_configs]
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.0))
        for i, name in enumerate(names):
            for frame, style, label in ((curves[name], "-", f"{name} ({self.profile})"),
                                        (stored_curves.get(name), "--", f"{name} (stored paper run)")):
                if frame is None:
                    continue
                axes[0].plot(frame.fraction, frame.loss, style, color=f"C{i % 10}", label=label, lw=1)
                axes[1].plot(frame.fraction, frame.kl, style, color=f"C{i % 10}", lw=1)
        axes[0].set(xlabel="fraction of training", ylabel="loss (batch mean)", title="training loss")
        axes[1].set(xlabel="fraction of training", ylabel="KL to N(0, I), all layers (nats)", title="KL")
        axes[0].legend(fontsize=6)
        self.watermark(fig)
        fig.tight_layout()
        plt.show()
        more = f" (the first {max_configs} of {len(curves)} configs)" if len(curves) > max_configs else ""
        display(Markdown(f"Training curves of this page's models{more}, mean over seeds, from the `history.csv` "
                         f"kept beside each result" + (" (dashed: the stored `paper` run's)." if stored_curves else ".")))

    def finish(self) -> None:
        """Show the training curves, the stored paper-profile run beside this one and the provenance, then
        write the results file: last, so that a run failing on the way leaves no result a build counts."""
        from IPython.display import Markdown, display
        self.result.wall_time_s = round(time.perf_counter() - self.started, 1)
        path = paths.results_dir(self.profile) / f"{self.artefact}.json"
        self.plot_training_curves()
        if self.profile != "paper":
            display(Markdown(self.stored_comparison()))
        if self._models_used:
            labels = model_labels(self.result.configs, self.profile, self.overrides, self._variants)
            display(Markdown(models_table([(labels.get(u[5], u[0]), *u[1:]) for u in self._models_used])))
        configs = ", ".join(f"`{h}` ({c['name']})" for h, c in self.result.configs.items())
        display(Markdown(f"Datasets used: {', '.join(self.result.datasets) or '–'}. Seeds: {self.seeds}. Device: "
                         f"`{self.device}`. Results file: `{path.name}` (profile `{self.profile}`); resolved "
                         f"configs by hash: {configs}."))
        display(Markdown(remake_instructions(self.artefact)))
        self.result_path = write(self.result)
        # what nbval checks of an executed notebook: the result was written, whole, with every claim decided or
        # marked untested, under this run's profile
        saved = json.loads(Path(self.result_path).read_text())
        assert saved["artefact"] == self.artefact and saved["profile"] == self.profile, saved["artefact"]
        assert all(c["holds"] in (True, False, None) for c in saved["claims"]), "a claim without a verdict"
        assert len(saved["claims"]) == len(self.result.claims) and len(saved["rows"]) == len(self.result.rows)


    def stored_comparison(self) -> str:
        """Markdown: the paper, the stored `paper`-profile run (if any) and this run, row by row and claim by claim."""
        try:
            stored = read_stored(self.artefact)
        except ValueError as exc:
            return f"**The stored `paper`-profile run was refused:** {exc}"
        if stored is None:
            return ("**No stored `paper`-profile run of this artefact yet**: only the paper and this "
                    f"`{self.profile}` run are shown above (`hebm campaign --plan` lists what it needs).")
        table = render_comparison(self.result.to_dict(), stored, self.artefact)
        changes = changed_since(stored)
        if changes:
            table = (f"**The stored `paper`-profile run below was made with earlier settings** "
                     f"({describe_changes(changes)}): its numbers are those of the earlier models, shown for the "
                     f"record, not as evidence for today's model.\n\n" + table)
        return table


def footer_points(width_inches: float) -> float:
    """The footer's font size for a figure this wide: 9 pt up to 9 inches, then in proportion (1 pt per inch)."""
    return max(9.0, width_inches)


def progress_line(text: str) -> None:
    """A line for whoever watches the run, never for the page: appended to what HEBM_PROGRESS names (`hebm run`'s
    terminal, or the file it relays to its stderr or log); nothing without it (Jupyter shows the page only)."""
    where = os.environ.get("HEBM_PROGRESS")
    if where:
        try:
            with open(where, "a") as stream:
                stream.write(text + "\n")
        except OSError:   # the terminal went away: the run goes on
            pass


def models_table(used: list[tuple]) -> str:
    """Markdown: per model the seeds, iterations and whether this run trained them or took them from the cache
    (``used``: (label, seed, iterations, cached, training seconds[, config hash]) per model, the label from
    model_labels), in place of a line per model; a row per label."""
    by_config: dict[str, list] = {}
    for row in used:
        by_config.setdefault(row[0], []).append(row)
    lines = ["| model | seeds | iterations | this run |", "|---|---|---|---|"]
    for name, rows in by_config.items():
        trained = [r for r in rows if not r[3]]
        how = ([f"{len(trained)} trained in {sum(r[4] for r in trained):.0f} s"] if trained else []) + (
            [f"{len(rows) - len(trained)} from the cache"] if len(trained) < len(rows) else [])
        lines.append(f"| {md_cell(name)} | {', '.join(str(s) for s in sorted({r[1] for r in rows}))} | "
                     f"{' / '.join(f'{i:,}' for i in sorted({r[2] for r in rows}))} | {'; '.join(how)} |")
    return "\n".join(lines)


def _read_history(source: Path, model_dir: Path) -> str:
    """A model's history.csv, checked to be what the trainer writes (an 'iteration' header, then rows of
    numbers, empty where a value was not kept), so that no page plots or copies a damaged one."""
    import csv
    import io
    from ..io import UnreadableFile
    fix = f"delete the model folder {model_dir} to train it again"
    try:
        text = source.read_text()
        rows = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableFile(f"{source} is not a readable training history ({exc}); {fix}") from None
    if not rows or rows[0][:1] != ["iteration"]:
        raise UnreadableFile(f"{source} is not a training history (no 'iteration,...' header line); {fix}")
    for line, row in enumerate(rows[1:], 2):
        if len(row) != len(rows[0]) or not all(_is_number(v) for v in row):
            raise UnreadableFile(f"{source}: line {line} is not a row of {len(rows[0])} numbers "
                                 f"({','.join(row)[:40]!r}); {fix}")
    return text


def _is_number(text: str) -> bool:
    try:
        float(text or "nan")
    except ValueError:
        return False
    return True


def _curves(models: list[dict], folder) -> dict:
    """Per config name: a frame (fraction of training, loss, summed KL), mean over its seeds' history CSVs."""
    import pandas as pd
    frames: dict[str, list] = {}
    for m in models:
        if not m.get("history") or not (Path(folder) / m["history"]).exists():
            continue
        h = pd.read_csv(Path(folder) / m["history"])
        kl = h[[c for c in h.columns if c.startswith("kl_z")]].sum(axis=1)
        frames.setdefault(m["config"], []).append(
            pd.DataFrame({"fraction": h.iteration / max(m["iterations"] or 1, 1), "loss": h.loss, "kl": kl}))
    return {name: pd.concat(fs).groupby("fraction", as_index=False).mean() for name, fs in frames.items()}


def remake_instructions(artefact: str) -> str:
    """Markdown: how to make this page again, at `cpu` and at the paper's settings."""
    from .estimates import gpu_hours
    art = get_artefact(artefact)
    cpu = f", about {art.expected_cpu_minutes:g} min on 2 cores" if art.expected_cpu_minutes else ""
    hours = gpu_hours(artefact)
    gpu = (f"training its `paper` models from scratch takes about {hours:.1f} GPU hours (per-iteration times "
           f"measured on an H100, `benchmarks/step_times.json`)" if not math.isnan(hours) and hours > 0 else "its `paper` run trains no model of its own")
    return "\n".join([
        "**Remake this page.** Its source is `notebooks/" + f"{art.notebook}.md`.", "",
        f"- this profile: `hebm run {artefact} --profile cpu`{cpu} (the executed notebook lands in `build/executed/cpu/`);",
        f"- the paper's settings on a GPU, kept for every build: `hebm run {artefact} --profile paper --device cuda "
        f"--store`; {gpu}; `hebm campaign --plan` says what is already trained.",
    ])


def _held_out(name: str, n: int | None = None, classes=None) -> data_lib.ImageSet:
    """The test split of data set ``name`` (factor data, which has none: i.i.d. factor draws of seed 1),
    the first ``n`` of a fixed shuffle when given."""
    spec = data_lib.spec(name)
    if spec.is_factor_data:
        return data_lib.FactorData(spec).training_set(n or 10_000, seed=1)
    return data_lib.load(name, "test").only_classes(classes).subset(n)


def image_sheet(images: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """The first rows x cols generator images (N x C x H x W in [-1, 1], row-major) tiled into one picture
    for imshow: (rows H) x (cols W) in [0, 1], with a trailing channel axis only for colour images."""
    images = images[: rows * cols].detach().cpu().clamp(-1, 1).add(1).div(2)
    _, c, h, w = images.shape
    return images.view(rows, cols, c, h, w).permute(0, 3, 1, 4, 2).reshape(rows * h, cols * w, c).squeeze(-1)


def render_comparison(current: dict, stored: dict, artefact: str) -> str:
    """Three columns where they exist: paper, `paper` profile (stored run), and the current profile."""
    prov, models = stored["provenance"], stored["models"]
    its = sorted({m["iterations"] for m in models})
    written = sorted({c["train"]["iterations"] for c in stored["configs"].values()})
    page = stored_page(get_artefact(artefact))
    # three sources, each named apart (never two of them "paper"); the stored run's device read from its models
    printed, stored_col = results_module.PRINTED, results_module.stored_label(stored)
    this_col = f"`{current['profile']}` profile (this build)"
    lines = [f"### The paper, its `paper` profile (stored run) and `{current['profile']}` (this build) side by side", "",
             f"The stored run: {run_devices(stored)}, {commit_label(stored)}, {prov['created']}, seeds {stored['seeds']}, "
             f"{' / '.join(f'{i:,}' for i in its)} iterations per model"
             + (f" (the profile as written: {' / '.join(f'{i:,}' for i in written)})" if its != written else "")
             + (f"; overridden settings: `{json.dumps(stored['overrides'])}`" if stored["overrides"]
                else "; no overridden settings")
             + (f"; {{doc}}`its executed notebook </{page}>`." if page else "."), ""]
    rows = {(r["metric"], r["setting"]): r for r in stored["rows"]}
    # a value with its unit and spread never breaks across lines in a narrow column (no-break spaces)
    fmt = lambda r: "–" if r is None else results_module.value_cell(r["reproduced"], r["unit"], r.get("spread"))
    lines += [f"| metric | setting | {printed} | {stored_col} | {this_col} |", "|---|---|---|---|---|"]
    seen = set()
    for r in current["rows"] + stored["rows"]:
        key = (r["metric"], r["setting"])
        if key in seen:
            continue
        seen.add(key)
        cur = next((c for c in current["rows"] if (c["metric"], c["setting"]) == key), None)
        paper = r["paper"] if r["paper"] is not None else (cur or {}).get("paper")
        paper_cell = results_module.value_cell(paper, r["unit"])
        lines.append(f"| {md_cell(r['metric'])} | {md_cell(r['setting'])} | {paper_cell} | {fmt(rows.get(key))} | {fmt(cur)} |")
    verdict = {True: "holds", False: "does not hold", None: "not tested"}
    lines += ["", f"| claim | {stored_col} | {this_col} |", "|---|---|---|"]
    stored_claims = {c["claim"]: c for c in stored["claims"]}
    for c in current["claims"] + [c for c in stored["claims"] if c["claim"] not in {x["claim"] for x in current["claims"]}]:
        sc = stored_claims.get(c["claim"])
        cc = next((x for x in current["claims"] if x["claim"] == c["claim"]), None)
        lines.append(f"| {md_cell(c['claim'])} | {verdict[sc['holds']] if sc else '–'} | {verdict[cc['holds']] if cc else '–'} |")
    return "\n".join(lines)


PAPERMILL_SEEDS = "papermill ... -y 'seeds: [0, 1]' (its -p passes a list as text)"
PAPERMILL_OVERRIDES = "papermill ... -y 'overrides: {\"*\": {\"train.iterations\": 100}}' (its -p passes a dict as text)"


def seeds_error(seeds, example: str) -> str | None:
    """What is wrong with a run's ``seeds`` parameter (None: the profile's, or a good list): a list of distinct
    non-negative integers, each one seed's models; a repeated seed would count one seed's numbers twice and shrink
    the spread. ``example``: how this route passes a good one."""
    if seeds is None or (isinstance(seeds, (list, tuple)) and seeds and all(type(s) is int and s >= 0 for s in seeds)
                         and len(set(seeds)) == len(seeds)):
        return None
    return f"seeds must be a non-empty list of distinct non-negative integers, e.g. {example} (null: the profile's); " \
           f"got {seeds!r}"


def overrides_error(overrides, example: str) -> str | None:
    """What is wrong with a run's ``overrides`` parameter (None: nothing): config names (or '*') to settings."""
    if overrides is None or (isinstance(overrides, dict) and all(isinstance(v, dict) for v in overrides.values())):
        return None
    return f"overrides must map config names (or '*') to settings, e.g. {example}; got {overrides!r}"


def setup(artefact: str, profile: str, device: str = "auto", seeds=None, overrides: dict | None = None,
          configs=None) -> NotebookRun:
    """The run of one artefact's notebook: resolved seeds and settings, the profile's banner printed.
    ``configs``: the config names it resolves when they are not its manifest entry's (Figure 3 draws any)."""
    art = get_artefact(artefact)
    settings = art.settings(profile)   # also rejects an unknown profile
    configs = tuple(configs or art.configs)
    # papermill run directly: its -p passes a list or a dict as text, which -y passes as YAML
    wrong = overrides_error(overrides, PAPERMILL_OVERRIDES) or seeds_error(seeds, PAPERMILL_SEEDS)
    if wrong:
        raise ValueError(wrong)
    unknown = sorted(set(overrides or {}) - set(configs) - {"*"})
    if unknown:
        raise ValueError(f"overrides for unknown config(s) {', '.join(map(repr, unknown))}: {artefact} trains "
                         f"{', '.join(configs)} (or '*' for all of them)")
    seeds = art.default_seeds(profile) if seeds is None else list(seeds)
    # every data set first: a missing one found after an hour of training would waste the hour
    data_lib.require(art.data_needed(profile, overrides), artefact)
    torch_device = resolve_device(device)
    dev = str(torch_device)
    run = NotebookRun(artefact, profile, dev, seeds, dict(overrides or {}), settings, configs=configs)
    run.result = Result(artefact=artefact, title=f"{art.label}: {art.title}", profile=profile, datasets=[],
                        seeds=seeds, device=f"{dev} ({device_name(torch_device)})", overrides=dict(overrides or {}))
    print(profile_banner(profile))
    print(f"artefact {artefact} ({art.label}) | profile {profile} | device {dev} | seeds {seeds}")
    return run
