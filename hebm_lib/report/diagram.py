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


def _box(ax, xy, w, h, text, color):
    ax.add_patch(FancyBboxPatch((xy[0] - w / 2, xy[1] - h / 2), w, h, boxstyle="round,pad=0.02",
                                fc=color, ec="black", lw=0.8))
    ax.text(xy[0], xy[1], text, ha="center", va="center", fontsize=8)


def _arrow(ax, a, b, **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=9, lw=0.8, **kw))


def draw(parts: dict, title: str):
    """Inference net (left), latent layers (middle), generator (right), the joint EBM on top."""
    dims = parts["latent_dims"]
    L = len(dims)
    fig, ax = plt.subplots(figsize=(8.6, 1.5 * L + 3.0))
    ax.set_xlim(0, 10)
    ax.set_ylim(-1.6, 1.5 * L + 1.4)
    ax.axis("off")
    C, H, W = parts["image_shape"]
    p = parts["parameters"]
    ys = [1.5 * i + 0.9 for i in range(L)]                  # z_1 at the bottom
    # data
    _box(ax, (2.0, -0.9), 1.8, 0.6, f"x  ({C}x{H}x{W})", "#eeeeee")
    _box(ax, (8.0, -0.9), 1.8, 0.6, f"x  ({parts['likelihood']}" + (f", σ={parts['sigma']:g})" if
                                                                   parts["likelihood"] == "gaussian" else ")"),
         "#eeeeee")
    for i, (y, d) in enumerate(zip(ys, dims)):
        _box(ax, (5.0, y), 1.3, 0.55, f"z_{i + 1}  ({d}-d)", "#fde3a7")
        _box(ax, (2.0, y), 2.2, 0.55, f"q(z_{i + 1} | x): head {i + 1}", "#d6eaf8")
        gen = f"h_{i + 1} = g_{i + 1}(z_{i + 1})" if i == L - 1 else f"h_{i + 1} = g_{i + 1}([z_{i + 1}, h_{i + 2}])"
        _box(ax, (8.0, y), 2.4, 0.55, gen, "#d5f5e3")
        _arrow(ax, (3.1, y), (4.35, y))                      # inference head -> z_i
        _arrow(ax, (5.65, y), (6.8, y))                      # z_i -> generator level i
        if i < L - 1:
            _arrow(ax, (8.0, ys[i + 1] - 0.28), (8.0, y + 0.28))   # top-down path
            _arrow(ax, (2.0, y + 0.28), (2.0, ys[i + 1] - 0.28))   # bottom-up trunk of the ladder
    _arrow(ax, (2.0, -0.6), (2.0, ys[0] - 0.28))            # x -> ladder
    _arrow(ax, (8.0, ys[0] - 0.28), (8.0, -0.6))            # h_1 -> x
    if parts["ebm_widths"]:
        top = ys[-1] + 1.25
        widths = " - ".join(str(w) for w in parts["ebm_widths"])
        K, s = parts["langevin"]
        _box(ax, (5.0, top), 4.6, 0.7, f"joint EBM prior: f_α([z_1, ..., z_{L}]) + log N(z; 0, I)\n"
             f"MLP {sum(dims)} - {widths}{', spectral norm' if parts['spectral_norm'] else ''}; "
             f"Langevin K={K}, s={s:g}", "#f5b7b1")
        # the concatenation of every layer feeds the one energy
        ax.add_patch(FancyBboxPatch((4.2, ys[0] - 0.45), 1.6, ys[-1] - ys[0] + 0.9, boxstyle="round,pad=0.02",
                                    fc="none", ec="#c0392b", lw=1.0, ls="--"))
        _arrow(ax, (5.0, ys[-1] + 0.47), (5.0, top - 0.36), color="#c0392b")
        ax.text(5.15, (ys[-1] + top) / 2, "[z_1, ..., z_%d]" % L, fontsize=7, color="#c0392b", va="center")
    else:
        ax.text(5.0, ys[-1] + 1.0, "prior: N(0, I) on every layer (no EBM)", ha="center", fontsize=8)
    ax.text(2.0, 1.5 * L + 0.6 if not parts["ebm_widths"] else -1.45,
            f"inference: {p['inference']:,} parameters", ha="center", fontsize=7, color="#1f618d")
    ax.text(8.0, -1.45, f"generator: {p['generator']:,} parameters", ha="center", fontsize=7, color="#1e8449")
    if parts["ebm_widths"]:
        ax.text(5.0, -1.45, f"EBM: {p['prior']:,} parameters", ha="center", fontsize=7, color="#922b21")
    ax.set_title(title, fontsize=9)
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
