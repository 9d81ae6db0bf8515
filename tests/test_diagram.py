"""Figure 3 is drawn from the model: the sizes on it are read from the model object."""
import matplotlib

matplotlib.use("Agg")   # the test only needs the figure object

from hebm_lib.configs import get_config
from hebm_lib.models import build_model, count_parameters
from hebm_lib.report import diagram


def test_the_diagram_reads_the_model():
    cfg = get_config("fmnist_ours", "paper", {"nets.latent_dims": (2, 3, 4), "prior.hidden": 17})
    model = build_model(cfg)
    parts = diagram.describe(model, cfg)
    assert parts["latent_dims"] == (2, 3, 4) and parts["ebm_widths"] == [17, 17, 17, 17, 1]
    assert sum(parts["parameters"].values()) == count_parameters(model)
    fig = diagram.draw(parts, "t")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "z_3  (4-d)" in texts and "MLP 9 - 17 - 17 - 17 - 17 - 1" in texts
    vlae = get_config("fmnist_vlae", "cpu")
    assert "no EBM" in " ".join(t.get_text() for t in diagram.draw(diagram.describe(build_model(vlae), vlae), "v").axes[0].texts)
