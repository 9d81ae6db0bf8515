"""The "What the EBM prior changes" section of every page that trains Ours: hebm_lib.evaluation.ebm_effect for
each seed's model, kept as rows of the result whose metric begins with "EBM" (the status page lists them) and
shown as a table, mean ± sd over seeds."""
from __future__ import annotations

import pandas as pd
import torch

from ..evaluation.ebm_effect import ROWS, ebm_effect
from .results import Row, md_cell

EXPLAINED = ("f is the energy net (the prior is exp(f) N(0, I) / Z). A gap, KL and gain near 0 and a small "
             "Langevin move mean the learned prior is close to N(0, I): then the model is VLAE in all but name. "
             "The KL can be no larger than 1/2 E_p|grad f|^2 (the Gaussian log-Sobolev inequality), nor that than "
             "1/2 (f's Lipschitz cap)^2: with the authors' spectral norm the cap is 1, so the prior is at most half a "
             "nat from N(0, I) however it is trained (a half-nat tilt can still move up to half the mass: total "
             "variation <= sqrt(KL / 2)). The book's capacity page (*How far can the joint EBM prior move from "
             "N(0, I)?*) measures what lifting the cap buys.")


def show(run, models: dict, images: torch.Tensor, label: str = "ours", off: str | None = None) -> None:
    """Measure each seed's model in ``models`` (seed -> model) on held-out uint8 ``images``; add the rows; display
    them as a table (mean ± sd over seeds). ``off``: what switching the EBM off does to this page's own metric,
    where the page says it in words."""
    from IPython.display import Markdown, display
    per_seed = pd.DataFrame({seed: ebm_effect(m, images, generator=torch.Generator(device=m.device).manual_seed(40_000 + seed))
                             for seed, m in models.items()}).T
    lines = ["| measure | mean | sd over seeds | what it is |", "|---|---|---|---|"]
    for key, (metric, unit, note) in ROWS.items():
        mean, sd = per_seed[key].mean(), per_seed[key].std() if len(per_seed) > 1 else None
        run.result.rows.append(Row(metric, label, round(float(mean), 4), None if sd is None else round(float(sd), 4),
                                   len(per_seed), None, unit, "n/a", note))
        lines.append(f"| {md_cell(metric[4:])} | {mean:.3f} | {'–' if sd is None else f'{sd:.3f}'} | {md_cell(note)} |")
    display(Markdown(f"{label}, {len(per_seed)} seed(s), {len(images):,} held-out images. {EXPLAINED}"
                     + (f" EBM off: {off}." if off else "") + "\n\n" + "\n".join(lines)))


def fid_without_ebm(run, models: dict, space, reference: torch.Tensor, n_samples: int, label: str,
                    sampling_seed: int = 20_000) -> list[float]:
    """The page's FID with the EBM switched off: each seed's generator fed N(0, I) codes (K = 0), the same
    sampling seeds as the page's own FID; kept as the row "EBM off: FID (...)"."""
    from ..evaluation import fid, generation
    values = []
    for seed, model in models.items():
        rng = torch.Generator(device=model.device).manual_seed(sampling_seed + seed)
        values.append(fid.fid(space, generation.generate(model, n_samples, rng, steps=0), reference,
                              device=run.device)["fid"])
    sd = pd.Series(values).std() if len(values) > 1 else None
    run.result.rows.append(Row(f"EBM off: FID ({space.kind} features)", f"{label}, K = 0", round(float(pd.Series(values).mean()), 4),
                               None if sd is None else round(float(sd), 4), len(values), None, "", "lower",
                               "the same generator fed N(0, I) codes"))
    print(f"{label}: FID with the EBM off (K = 0): {pd.Series(values).mean():.3f}"
          + (f" ± {sd:.3f}" if sd is not None else ""))
    return values
