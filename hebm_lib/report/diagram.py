"""Figure 3 drawn from a model: its latent layers, generator, inference net and joint EBM prior, with the
sizes read from the model object (not typed in), so the picture follows the code."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..models import count_parameters


def describe(model, cfg) -> dict:
    """What the diagram shows, read from ``model`` (a ladder model) and its config."""
    nets = cfg.nets
    prior = model.prior
    ebm = [lin.weight.shape[0] for lin in prior.linears] if getattr(prior, "is_ebm", False) else []
    return {
        "name": cfg.name, "image_shape": tuple(nets.image_shape), "latent_dims": tuple(model.latent_dims),
        "layout": getattr(nets, "layout", nets.kind), "width": nets.width, "channels": tuple(nets.channels),
        "likelihood": getattr(nets, "likelihood", "gaussian"), "sigma": nets.sigma,
        "ebm_widths": ebm, "spectral_norm": bool(cfg.prior and cfg.prior.spectral_norm),
        "langevin": (cfg.prior.langevin_steps, cfg.prior.langevin_step_size) if cfg.prior else None,
        "parameters": {"generator": count_parameters(model.generator), "inference": count_parameters(model.encoder),
                       "prior": count_parameters(model.prior)},
    }


# The book shows a figure at most about 750 px wide (100 dpi: 7.5 inches) and scales a wider one down. The
# diagram is drawn at that width, so its labels keep their size: 10.5 pt is about 14 px, 9.5 pt about 13 px
# (at 8.6 inches and 7-8 pt they came out at 8-10 px, and about 5 px on a narrow window).
WIDTH_IN = 7.5
LABEL_PT = 10.5
NOTE_PT = 9.5


def _box(ax, xy, w, h, text, color):
    ax.add_patch(FancyBboxPatch((xy[0] - w / 2, xy[1] - h / 2), w, h, boxstyle="round,pad=0.02",
                                fc=color, ec="black", lw=0.8))
    ax.text(xy[0], xy[1], text, ha="center", va="center", fontsize=LABEL_PT)


def _arrow(ax, a, b, **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=11, lw=0.9, **kw))


def draw(parts: dict, title: str):
    """Inference net (left), latent layers (middle), generator (right), the joint EBM on top."""
    dims = parts["latent_dims"]
    L = len(dims)
    ebm = bool(parts["ebm_widths"])
    top = 1.5 * (L - 1) + 0.9 + 1.6                         # the EBM box's centre, above z_L
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 1.2 * L + (3.6 if ebm else 2.8)))
    ax.set_xlim(0, 10)
    ax.set_ylim(-1.9, (top + 0.75) if ebm else 1.5 * L + 0.9)
    ax.axis("off")
    C, H, W = parts["image_shape"]
    p = parts["parameters"]
    ys = [1.5 * i + 0.9 for i in range(L)]                  # z_1 at the bottom
    xq, xz, xg = 1.6, 5.0, 8.4                              # inference net, latent layers, generator
    # data
    _box(ax, (xq, -0.9), 2.4, 0.6, f"x  ({C}x{H}x{W})", "#eeeeee")
    _box(ax, (xg, -0.9), 3.0, 0.6, f"x  ({parts['likelihood']}" + (f", σ={parts['sigma']:g})" if
                                                                  parts["likelihood"] == "gaussian" else ")"),
         "#eeeeee")
    for i, (y, d) in enumerate(zip(ys, dims)):
        _box(ax, (xz, y), 1.6, 0.6, f"z_{i + 1}  ({d}-d)", "#fde3a7")
        _box(ax, (xq, y), 2.8, 0.6, f"q(z_{i + 1} | x): head {i + 1}", "#d6eaf8")
        gen = f"h_{i + 1} = g_{i + 1}(z_{i + 1})" if i == L - 1 else f"h_{i + 1} = g_{i + 1}([z_{i + 1}, h_{i + 2}])"
        _box(ax, (xg, y), 3.0, 0.6, gen, "#d5f5e3")
        _arrow(ax, (xq + 1.42, y), (xz - 0.82, y))            # inference head -> z_i
        _arrow(ax, (xz + 0.82, y), (xg - 1.52, y))            # z_i -> generator level i
        if i < L - 1:
            _arrow(ax, (xg, ys[i + 1] - 0.31), (xg, y + 0.31))   # top-down path
            _arrow(ax, (xq, y + 0.31), (xq, ys[i + 1] - 0.31))   # bottom-up trunk of the ladder
    _arrow(ax, (xq, -0.59), (xq, ys[0] - 0.31))             # x -> ladder
    _arrow(ax, (xg, ys[0] - 0.31), (xg, -0.59))             # h_1 -> x
    if ebm:
        widths = " - ".join(str(w) for w in parts["ebm_widths"])
        K, s = parts["langevin"]
        _box(ax, (xz, top), 7.6, 1.2, f"joint EBM prior: f_α([z_1, ..., z_{L}]) + log N(z; 0, I)\n"
             f"MLP {sum(dims)} - {widths}{', spectral norm' if parts['spectral_norm'] else ''}\n"
             f"Langevin K={K}, s={s:g}", "#f5b7b1")
        # the concatenation of every layer feeds the one energy
        ax.add_patch(FancyBboxPatch((xz - 0.95, ys[0] - 0.5), 1.9, ys[-1] - ys[0] + 1.0, boxstyle="round,pad=0.02",
                                    fc="none", ec="#c0392b", lw=1.0, ls="--"))
        _arrow(ax, (xz, ys[-1] + 0.52), (xz, top - 0.62), color="#c0392b")
        ax.text(xz + 0.15, (ys[-1] + 0.52 + top - 0.62) / 2, "[z_1, ..., z_%d]" % L, fontsize=NOTE_PT,
                color="#c0392b", va="center")
    else:
        ax.text(xz, ys[-1] + 1.0, "prior: N(0, I) on every layer (no EBM)", ha="center", fontsize=LABEL_PT)
    # the parameter counts on two lines under each part, clear of one another at this width
    ax.text(xq, 1.5 * L + 0.4 if not ebm else -1.35, f"inference:\n{p['inference']:,} parameters", ha="center",
            va="top", fontsize=NOTE_PT, color="#1f618d")
    ax.text(xg, -1.35, f"generator:\n{p['generator']:,} parameters", ha="center", va="top", fontsize=NOTE_PT,
            color="#1e8449")
    if ebm:
        ax.text(xz, -1.35, f"EBM:\n{p['prior']:,} parameters", ha="center", va="top", fontsize=NOTE_PT,
                color="#922b21")
    ax.set_title(title, fontsize=LABEL_PT + 0.5)
    fig.tight_layout()
    return fig


def summary(parts: dict) -> str:
    """The same facts as a short Markdown list."""
    p = parts["parameters"]
    layout = {"dense": "VLAE's MNIST ladder: convs then a dense path", "conv": "one conv level per latent layer"}
    lines = [f"- latent layers (bottom first): {', '.join(f'z_{i + 1}: {d}-d' for i, d in enumerate(parts['latent_dims']))}",
             f"- nets: {layout.get(parts['layout'], parts['layout'])}; conv channels {parts['channels']}, "
             f"dense width {parts['width']}",
             f"- parameters: generator {p['generator']:,}, inference {p['inference']:,}, EBM {p['prior']:,}; "
             f"total {sum(p.values()):,}"]
    if parts["ebm_widths"]:
        K, s = parts["langevin"]
        lines.append(f"- prior: f_α an MLP {sum(parts['latent_dims'])} → {' → '.join(map(str, parts['ebm_widths']))}, "
                     f"sampled by {K} Langevin steps of size {s:g}")
    return "\n".join(lines)
