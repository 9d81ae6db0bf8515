"""What a reader sees on the book's pages: maths in the notebooks' prose typeset by MathJax (not ASCII such
as z_1, sigma^2 I, p_alpha or N(0, I)), Figures 3 and 7 drawn at the book's ~750 px column width so that
their labels are not scaled down, and the CSS rules that keep display maths and printed outputs inside a
phone's screen."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.md"))
BOOK_PAGES = ["book/intro.md", "book/reproduce.md", "book/glossary.md"]

# maths written in ASCII: a subscript (z_1, h_{i+1}, x_o), a power (sigma^2, |d|^2), a Greek letter spelt
# out beside a subscript or argument (p_alpha(z), f_alpha), the standard normal N(0, I), a norm ||d|| or |z|,
# KL(..), a conditional q(z | x) and a draw z ~ q
ASCII_MATHS = re.compile(r"(?<![\w\\.-])[A-Za-z]_(?:\{|[0-9A-Za-z]\b|-[A-Za-z]\b)|\w\^[\d{]|\|\^\d"
                         r"|\b(?:sigma|alpha|beta|mu|epsilon|zeta|kappa)(?:\^|_|\()|\b[pqf]_(?:alpha|theta|phi)\b"
                         r"|(?<![\w\\])N\(0, ?I\)|\|\||(?<![\w\\])KL\(|\|z\||(?<![\w\\])[pq]\(\w+ \||(?<![\w\\])[a-z] ~ (?=\w)")
# what is left out of the check: maths ($$...$$, $...$) and code spans (`...`), in that order
SKIPPED = re.compile(r"\$\$.*?\$\$|\$[^$\n]+?\$|``.*?``|`[^`\n]*`", re.S)
FENCE = re.compile(r"^(```+|~~~+)", re.M)


def prose(text: str) -> str:
    """A MyST notebook's (or page's) Markdown: no YAML header, no code cells or other fenced blocks."""
    if text.startswith("---\n"):
        text = text[text.index("\n---\n", 4) + 5:]
    kept, inside = [], None
    for line in text.splitlines():
        fence = FENCE.match(line)
        if inside is None and fence:
            inside = fence.group(1)
        elif inside is not None and line.startswith(inside) and not line.strip().strip(inside[0]):
            inside = None
        elif inside is None:
            kept.append(line)
    return "\n".join(kept)


HEADING = re.compile(r"^#+ .*$", re.M)


def ascii_maths(text: str) -> list[str]:
    """ASCII maths in the prose, headings aside (see ``test_headings_carry_no_tex``)."""
    bare = SKIPPED.sub(" ", HEADING.sub(" ", prose(text)))
    return [m.group(0) for m in ASCII_MATHS.finditer(bare)]


def test_the_check_finds_ascii_maths_and_passes_typeset_maths():
    old = ("---\njupytext: {}\n---\n\n# Figure 7\n\nWith 2-d z_1, z_2, the generator is h_L = g_L(z_L), h_i = g_i([z_i, "
           "h_{i+1}]), x ~ N(h_1, sigma^2 I); the prior p_alpha(z) ∝ exp(f_alpha(z)) N(0, I), KL(q || p) at most "
           "1/2 E|grad f|^2; C ||d||^2; z ~ q(z | x).\n\n```{code-cell} ipython3\nz_1 = p_alpha(N(0, I))\n```\n")
    found = ascii_maths(old)
    for needle in ("z_1", "z_2", "h_L", "h_{", "sigma^", "p_alpha", "N(0, I)", "||", "|^2", "z ~ q", "q(z |"):
        assert any(needle in f or f in needle for f in found), (needle, found)
    assert "z_1 = p_alpha" not in prose(old)   # code cells are not prose
    assert ascii_maths("# Figure 7 (2-d z_1)\n") == []   # a heading is checked apart
    new = (r"# Figure 7 (2-d $z_1$, $z_2$)" "\n\n" r"The generator is $h_L = g_L(z_L)$, $h_i = g_i([z_i, h_{i+1}])$, "
           r"$x \sim \mathcal N(h_1, \sigma^2 I)$; $$\mathrm{KL}(p_\alpha \,\|\, \mathcal N(0, I)) \le "
           r"\tfrac12 \mathbb E \lVert \nabla f \rVert^2$$ with `prior.langevin_steps`, `lead_at`, `n_samples` "
           "and configs such as mnist012_ours, fmnist_hvae_oodd; beta-VAE, BiGAN-sigma.")
    assert ascii_maths(new) == []


@pytest.mark.parametrize("rel", NOTEBOOKS + BOOK_PAGES)
def test_prose_maths_is_typeset(rel):
    assert ascii_maths((ROOT / rel).read_text()) == [], f"{rel}: write these as $...$ maths"


@pytest.mark.parametrize("rel", NOTEBOOKS + BOOK_PAGES)
def test_headings_carry_no_tex(rel):
    """A heading is also a page's title in the sidebar, the browser's tab and the search results, where MathJax
    does not run: its maths is plain text (z₁, N(0, I)), never $...$, which would show there as TeX source."""
    headings = HEADING.findall(prose((ROOT / rel).read_text()))
    assert [h for h in headings if "$" in h] == []


# The book shows a figure at most about 750 px wide and scales a wider one down (figures are drawn at 100 dpi)
COLUMN_PX = 750


def _shown_px(points: float, fig) -> float:
    """A font's height on the page, in px, once the book has scaled the figure to its column."""
    return points * fig.dpi / 72 * min(1.0, COLUMN_PX / (fig.get_figwidth() * fig.dpi))


@pytest.mark.parametrize("config", ["fmnist_ours", "fmnist_vlae"])
def test_figure_3s_labels_are_legible_in_the_column(config):
    """Every label of the diagram at least about 12 px on the page, and the figure not scaled below 95%
    (it was 8.6 inches with 7-8 pt labels: 8-10 px, and about 5 px on a narrower window)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from hebm_lib.configs import get_config
    from hebm_lib.models import build_model
    from hebm_lib.report import diagram
    cfg = get_config(config, "cpu")
    fig = diagram.draw(diagram.describe(build_model(cfg), cfg), "t")
    fig.dpi = 100
    assert fig.get_figwidth() * fig.dpi <= COLUMN_PX / 0.95, fig.get_figwidth()
    texts = list(fig.axes[0].texts) + [fig.axes[0].title]
    assert texts and min(_shown_px(t.get_fontsize(), fig) for t in texts) >= 12
    # no two labels overlap at that size
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_text()]
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    plt.close(fig)


def test_figure_7s_grids_fit_the_column():
    """Figure 7's transition grid and decoded chains are drawn 7.5 inches wide (the grid was 2.4 inches a
    step, 14.4 inches for six steps, and shown at about half its size)."""
    text = (ROOT / "notebooks" / "fig7_langevin_transitions.md").read_text()
    widths = [float(w) for w in re.findall(r"figsize=\(([\d.]+),", text)]
    assert "figsize=(2.4 * len(snaps)" not in text and "figsize=(2.0 * len(snaps)" not in text
    assert widths.count(7.5) == 2, widths


CSS = (ROOT / "book" / "_static" / "hebm.css").read_text()


def _rule(selector: str) -> str:
    """The declarations of the CSS rule whose selector list names ``selector``."""
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", CSS, flags=re.S)):
        if selector in [s.strip() for s in selectors.split(",")]:
            return body
    raise AssertionError(f"hebm.css has no rule for {selector}")


@pytest.mark.parametrize("selector", ['.bd-article div.math', '.bd-article mjx-container[display="true"]',
                                      ".bd-article div.cell_output pre", ".bd-article .output.stream pre",
                                      ".bd-article .output.text_plain pre"])
def test_wide_maths_and_outputs_scroll_inside_themselves(selector):
    """At a phone's 390 px a display equation or a printed output line scrolls in its own box, not the page."""
    body = _rule(selector)
    assert "overflow-x: auto" in body and "max-width: 100%" in body, body


def test_mathjax_containers_never_exceed_the_column():
    assert "max-width: 100%" in _rule(".bd-article .MathJax")
