"""The margin of an "Ours beats X" claim against training length (hebm_lib.report.margins): measured at the kept
weights, the end taken from what the page measured, signed so that a positive lead is the paper's order, and
the direction from half-way to the end said as it is."""
import matplotlib
import pandas as pd
import pytest

from hebm_lib.report import margins
from hebm_lib.report.results import Result

matplotlib.use("Agg")


class FakeTrained:
    """A trained model whose "weights" at each kept iteration are just the metric's value there."""

    def __init__(self, values, iterations=8):
        self.info = {"iterations": iterations}
        self._points = list(zip(range(iterations // len(values), iterations + 1, iterations // len(values)), values))

    def progress(self):
        yield from self._points


class FakeRun:
    def __init__(self):
        self.result = Result("t", "t", "smoke", [], [0, 1, 2], "cpu")

    def watermark(self, fig):
        pass


def test_measure_takes_the_end_from_the_page_and_measures_the_rest():
    calls = []
    trained = {"ours": {0: FakeTrained([1, 2, 3, 4])}, "vlae": {0: FakeTrained([5, 6, 7, 8])}}
    values = margins.measure(trained, lambda label, seed, model: calls.append((label, model)) or model,
                             final={("ours", 0): 40.0, ("vlae", 0): 80.0})
    assert sorted(calls) == [("ours", 1), ("ours", 2), ("ours", 3), ("vlae", 5), ("vlae", 6), ("vlae", 7)]
    assert values[values.label == "ours"].set_index("fraction").value.to_dict() == {0.25: 1, 0.5: 2, 0.75: 3, 1.0: 40}
    calls.clear()   # a page's lead_at: only those part-way weights are measured (the end always is)
    half = margins.measure(trained, lambda label, seed, model: calls.append((label, model)) or model, at=[0.5])
    assert sorted(calls) == [("ours", 2), ("ours", 4), ("vlae", 6), ("vlae", 8)]
    assert sorted(set(half.fraction)) == [0.5, 1.0]


def test_a_lead_is_positive_when_ours_is_ahead_whichever_way_is_better():
    values = pd.DataFrame([dict(label="ours", seed=0, fraction=1.0, value=10.0),
                           dict(label="lebm", seed=0, fraction=1.0, value=12.0),
                           dict(label="lebm", seed=1, fraction=1.0, value=9.0)])   # no Ours of seed 1: no lead
    lower = margins.leads(values, "lower")
    assert lower.to_dict("records") == [dict(baseline="lebm", seed=0, fraction=1.0, lead=2.0)]
    assert margins.leads(values, "higher").lead.tolist() == [-2.0]
    with pytest.raises(ValueError, match="better must be 'higher' or 'lower'"):
        margins.leads(values, "n/a")


def _lead_table(by_seed):
    return pd.DataFrame([dict(baseline="vlae", seed=s, fraction=f, lead=v)
                         for s, vals in by_seed.items() for f, v in zip((0.25, 0.5, 0.75, 1.0), vals)])


@pytest.mark.parametrize("by_seed, words, rose", [
    ({0: [-3, -2, -1.5, -1], 1: [-4, -3, -2, -0.5], 2: [-2, -2, -1, -0.2]},
     "still rising in every seed: moving toward the paper's order", 3),
    ({0: [1, 2, 1.5, 1], 1: [1, 3, 2, 0.5], 2: [2, 2, 1, 1.2]}, "falling in every seed: the paper's order is shrinking", 0),
    ({0: [1, 2, 1.5, 3], 1: [1, 3, 2, 0.5], 2: [2, 2, 1, 1.2]}, "rising in 1 of 3 seeds: no common direction", 1),
    ({0: [1, 2, 2, 2], 1: [1, 3, 2, 0.5], 2: [2, 2, 1, 1.2]}, "rising in 0 of 3 seeds: no common direction", 0),
])
def test_the_direction_from_half_way_to_the_end_is_said_as_it_is(by_seed, words, rose, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(getattr(obj, "data", obj)))
    run = FakeRun()
    margins.show(run, "MNIST", "top-layer accuracy", "higher", _lead_table(by_seed), unit="%")
    assert words in shown[-1]
    rows = {r.setting: r for r in run.result.rows}
    assert rows["MNIST / vs vlae / 25% of training"].reproduced == pytest.approx(sum(v[0] for v in by_seed.values()) / 3, abs=1e-5)
    change = rows["MNIST / vs vlae"]
    assert change.note == f"the lead rose in {rose} of 3 seeds"
    assert change.reproduced == pytest.approx(sum(v[3] - v[1] for v in by_seed.values()) / 3, abs=1e-5)


def test_models_without_kept_weights_give_no_plot_and_no_rows(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(getattr(obj, "data", obj)))
    run = FakeRun()
    trained = {"ours": {0: FakeTrained([4], 8)}, "vlae": {0: FakeTrained([8], 8)}}   # the end only
    margins.lead_over_training(run, "MNIST", "accuracy", "higher", trained, lambda *a: 0.0)
    assert run.result.rows == [] and "no weights were kept part-way" in shown[-1]
