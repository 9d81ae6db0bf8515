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


def ascii_maths(text: str) -> list[str]:
    bare = SKIPPED.sub(" ", prose(text))
    return [m.group(0) for m in ASCII_MATHS.finditer(bare)]


def test_the_check_finds_ascii_maths_and_passes_typeset_maths():
    old = ("---\njupytext: {}\n---\n\n# Figure 7 (2-d z_1, z_2)\n\nThe generator is h_L = g_L(z_L), h_i = g_i([z_i, "
           "h_{i+1}]), x ~ N(h_1, sigma^2 I); the prior p_alpha(z) ∝ exp(f_alpha(z)) N(0, I), KL(q || p) at most "
           "1/2 E|grad f|^2; C ||d||^2; z ~ q(z | x).\n\n```{code-cell} ipython3\nz_1 = p_alpha(N(0, I))\n```\n")
    found = ascii_maths(old)
    for needle in ("z_1", "z_2", "h_L", "h_{", "sigma^", "p_alpha", "N(0, I)", "||", "|^2", "z ~ q", "q(z |"):
        assert any(needle in f or f in needle for f in found), (needle, found)
    assert "z_1 = p_alpha" not in prose(old)   # code cells are not prose
    new = (r"# Figure 7 (2-d $z_1$, $z_2$)" "\n\n" r"The generator is $h_L = g_L(z_L)$, $h_i = g_i([z_i, h_{i+1}])$, "
           r"$x \sim \mathcal N(h_1, \sigma^2 I)$; $$\mathrm{KL}(p_\alpha \,\|\, \mathcal N(0, I)) \le "
           r"\tfrac12 \mathbb E \lVert \nabla f \rVert^2$$ with `prior.langevin_steps`, `lead_at`, `n_samples` "
           "and configs such as mnist012_ours, fmnist_hvae_oodd; beta-VAE, BiGAN-sigma.")
    assert ascii_maths(new) == []


@pytest.mark.parametrize("rel", NOTEBOOKS + BOOK_PAGES)
def test_prose_maths_is_typeset(rel):
    assert ascii_maths((ROOT / rel).read_text()) == [], f"{rel}: write these as $...$ maths"
