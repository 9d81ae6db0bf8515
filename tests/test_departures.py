"""The departures section under every page's claims: values read from the configs (never typed), each departure's
numbers resolvable, and a failing claim given the reasons that bear on it, with the page's own EBM numbers."""
import json
import re

import pytest

from hebm_lib import paths
from hebm_lib.configs import get_config
from hebm_lib.report import departures, margins
from hebm_lib.report.results import Claim, Result, Row, write


def _result(artefact, names, claims=(), rows=(), profile="cpu"):
    r = Result(artefact, artefact, profile, [], [0, 1], "cpu", rows=list(rows), claims=list(claims))
    for n in names:
        r.add_config(get_config(n, profile))
    return r


def test_the_config_diff_is_read_from_both_profiles():
    rows = departures.config_departures(_result("tab2", ["svhn_fid_ours", "svhn_fid_lebm"]).configs, "cpu")
    by = {(names, setting): (here, paper) for names, setting, here, paper in rows}
    here, paper = (get_config("svhn_fid_ours", p).nets.sigma for p in ("cpu", "paper"))
    assert by[("svhn_fid_ours", "likelihood p(x | z)")] == (f"Gaussian, sigma {here:.3g}", f"Gaussian, sigma {paper:.3g}")
    # LEBM's sigma is the same at both profiles: no row; its EBM's lr x iterations differs
    assert ("svhn_fid_lebm", "likelihood p(x | z)") not in by
    lebm = get_config("svhn_fid_lebm", "cpu").prior
    assert f"lr x iterations {lebm.lr * get_config('svhn_fid_lebm', 'cpu').train.iterations:.2g}" in by[("svhn_fid_lebm", "EBM prior")][0]


def test_a_setting_equal_at_both_profiles_is_no_departure():
    r = _result("tab1", ["mnist_ours"], profile="paper")
    assert departures.config_departures(r.configs, "paper") == []
    assert departures.markdown("tab1", "paper", r) == ""


def test_fill_reads_numbers_from_the_configs_and_settings():
    text = departures.fill("{svhn_fid_lebm.nets.sigma} / {paper:svhn_fid_ours.nets.sigma} / {settings.steps} / "
                           "{paper:settings.steps}", "fig9", "cpu")
    assert text == (f"{get_config('svhn_fid_lebm', 'cpu').nets.sigma:.3g} / "
                    f"{get_config('svhn_fid_ours', 'paper').nets.sigma:.3g} / 60 / 500")
    with pytest.raises(AttributeError):
        departures.fill("{svhn_fid_ours.nets.no_such_field}", "tab2", "cpu")


@pytest.mark.parametrize("d", departures.DEPARTURES, ids=lambda d: d.artefacts[0])
def test_every_departure_resolves_and_bears_on_a_claim_its_pages_make(d):
    for artefact in d.artefacts:
        for profile in d.profiles:
            assert "{" not in departures.fill(d.what + d.why, artefact, profile)
        recorded = paths.REPO_ROOT / "results" / "cpu" / f"{artefact}.json"
        if d.bears_on and recorded.exists():   # words that match no claim would silently explain nothing
            claims = [c["claim"] for c in json.loads(recorded.read_text())["claims"]]
            assert any(w.lower() in c.lower() for w in d.bears_on for c in claims), (artefact, d.bears_on)


def test_a_failing_claim_gets_the_departures_training_share_and_its_own_models_ebm():
    ebm = [Row("EBM KL(p_alpha || N(0, I))", "svhn_fid_ours", 0.1), Row("EBM energy gap f(z+) - f(z-)", "svhn_fid_ours", 0.5),
           Row("EBM off: FID (domain features)", "svhn_fid_ours, K = 0", 34.2),
           Row("EBM KL(p_alpha || N(0, I))", "celeba64_ours", 0.47), Row("EBM energy gap f(z+) - f(z-)", "celeba64_ours", 1.19)]
    claims = [Claim("SVHN (stand-in): Ours has a lower FID than vlae", False, ""),
              Claim("CelebA-64 (stand-in): Ours has a lower reconstruction MSE than vlae", False, ""),
              Claim("CelebA-64: Ours has a lower FID than vlae", True, "")]
    r = _result("tab2", ["svhn_fid_ours", "celeba64_ours"], claims, ebm)
    reasons = dict(departures.failure_reasons("tab2", "cpu", r))
    assert set(reasons) == {claims[0].claim, claims[1].claim}          # a claim that holds needs no reason
    svhn, celeba = reasons[claims[0].claim], reasons[claims[1].claim]
    assert svhn[0].cause.startswith("D1") and not any("D1" in r.cause for r in celeba)   # the sigma departure is the SVHN column's
    share = lambda n: get_config(n, "cpu").train.iterations / get_config(n, "paper").train.iterations
    assert svhn[1].numbers == f"{100 * share('svhn_fid_ours'):.2g}%" and celeba[0].numbers == f"{100 * share('celeba64_ours'):.2g}%"
    assert "paper" in svhn[1].cause and "%" not in svhn[1].cause   # the cause in words, its number apart
    assert svhn[2].numbers == "KL 0.1 nats; energy gap 0.5 nats" and "svhn_fid_ours" in svhn[2].cause
    assert svhn[3] == ("with the EBM off (svhn_fid_ours, K = 0)", "FID (domain features) 34.2")
    assert celeba[1].numbers == "KL 0.47 nats; energy gap 1.19 nats"
    assert not any("EBM off" in r.cause or "FID" in r.numbers for r in celeba)   # an MSE claim


def test_a_failing_claim_says_how_its_lead_moved_with_training():
    """The claim names its margin rows (margins.keys); its reasons give the lead half-way and at the end, and in how
    many seeds it rose, read from those rows, never from another comparison's."""
    from hebm_lib.report import margins
    metric, setting = margins.keys("MNIST", "top-layer test accuracy", ["vlae"])[0]
    per = metric[:-len(margins.LEAD_CHANGE)]
    rows = [Row(per, "MNIST / vs vlae / 50% of training", -2.5), Row(per, "MNIST / vs vlae / 100% of training", -0.75),
            Row(metric, "MNIST / vs vlae", 1.75, note="the lead rose in 3 of 3 seeds"),
            Row(per, "Fashion-MNIST / vs vlae / 50% of training", 9.0), Row(per, "Fashion-MNIST / vs vlae / 100% of training", 9.0),
            Row(metric, "Fashion-MNIST / vs vlae", 0.0, note="the lead rose in 0 of 3 seeds")]
    claims = [Claim("MNIST: Ours' top layer is more accurate than VLAE's", False, "",
                    leads=margins.keys("MNIST", "top-layer test accuracy", ["vlae"]))]
    reasons = dict(departures.failure_reasons("tab1", "cpu", _result("tab1", ["mnist_ours"], claims, rows)))
    said = [r for r in reasons[claims[0].claim] if r.cause.startswith("Ours' lead")]
    assert said == [("Ours' lead over vlae on top-layer test accuracy, from half-way through training to the end",
                     "-2.5 → -0.75 (rose in 3 of 3 seeds)")]


def _capped_rows(kl, lead, spread):
    per = f"{margins.LEAD}: FID (domain features)"
    return [Row("EBM KL(p_alpha || N(0, I))", "svhn_fid_ours", kl), Row("EBM 1/2 E_p|grad f|^2", "svhn_fid_ours", 0.17),
            Row("EBM Lipschitz cap of f", "svhn_fid_ours", 1.0),
            Row(per, "SVHN column / vs vlae / 100% of training", lead, spread),
            Row(per, "SVHN column / vs lebm / 100% of training", -8.5, 1.0)]


def test_where_the_cap_decides_the_reasons_start_with_it(tmp_path, monkeypatch):
    """Ours within the seed spread of VLAE and its EBM under 1/2 nat: the first reason is the cap, with the page's
    KL, its bound and the cap, and the capacity page's refit numbers when it has run."""
    monkeypatch.setenv("HEBM_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("HEBM_STORED_DIR", str(tmp_path / "none"))
    keys = margins.keys("SVHN column", "FID (domain features)", ["vlae", "lebm"])
    claim = Claim("SVHN (stand-in): Ours has a lower FID than vlae, lebm", False, "", leads=keys)
    why = departures.failure_reasons("tab2", "cpu", _result("tab2", ["svhn_fid_ours"], [claim], _capped_rows(0.11, 3.0, 4.0)))[0][1]
    first = why[0]
    assert first.cause.startswith("the authors' spectral norm caps the prior") and "at most 1/2 nat" in first.cause
    assert "within the seed spread of vlae at the end of training" in first.cause
    assert first.numbers == "KL 0.11 nats ≤ 1/2 E_p|grad f|^2 = 0.17; cap 1; lead over vlae at the end +3.0\u00a0±\u00a04.0"
    assert "lebm" not in first.cause + first.numbers   # LEBM is ahead beyond the spread: not a tie
    assert not any("capacity page" in r.cause for r in why)   # not run: no numbers to give
    cap = Result("ebm_capacity", "EBM capacity", "cpu", [], [0, 1, 2], "cpu", rows=[
        Row("FID (domain features)", "Ours' EBM as trained (the authors' cap)", 29.2),
        Row("FID (domain features)", "refit: LEBM's energy net", 21.9),
        Row("FID (domain features)", "LEBM as trained (its own generator)", 21.8)])
    write(cap)
    why = departures.failure_reasons("tab2", "cpu", _result("tab2", ["svhn_fid_ours"], [claim], _capped_rows(0.11, 3.0, 4.0)))[0][1]
    assert why[0].cause.startswith("the authors' spectral norm caps the prior")   # the cap stays first
    assert why[1] == ("on the book's capacity page (Table 2's first column), LEBM's uncapped energy net refit on Ours' "
                      "frozen generator", "FID 29.2 (as trained) → 21.9 (refit); LEBM's own 21.8")


def test_a_failing_claim_with_no_tie_in_its_leads_gets_no_cap_line():
    """Not beyond the seed spread says nothing of a tie (a failing claim's order is never beyond it): without a lead
    within its spread, and without lead rows at all, the cap is not named."""
    keys = margins.keys("SVHN column", "FID (domain features)", ["lebm"])
    for claim in (Claim("SVHN (stand-in): Ours has a lower FID than lebm", False, "", beyond_spread=False, leads=keys),
                  Claim("SVHN (stand-in): Ours has a lower FID than lebm", False, "", beyond_spread=False)):
        reasons = departures.failure_reasons("tab2", "cpu", _result("tab2", ["svhn_fid_ours"], [claim], _capped_rows(0.11, 3.0, 4.0)))[0][1]
        assert not any("caps the prior" in r.cause for r in reasons), reasons


@pytest.mark.parametrize("kl, lead, spread", [(0.7, 3.0, 4.0), (0.11, 5.0, 1.0)])
def test_the_cap_is_no_reason_where_the_kl_is_larger_or_ours_is_clearly_apart(kl, lead, spread):
    keys = margins.keys("SVHN column", "FID (domain features)", ["vlae"])
    claim = Claim("SVHN (stand-in): Ours has a lower FID than vlae", False, "", leads=keys)
    reasons = departures.failure_reasons("tab2", "cpu", _result("tab2", ["svhn_fid_ours"], [claim], _capped_rows(kl, lead, spread)))[0][1]
    assert not any("caps the prior" in r.cause for r in reasons)


def test_the_why_is_a_table_with_the_cause_and_its_numbers_in_separate_cells(tmp_path, monkeypatch):
    """Each failing claim's reasons are rows of one claim | cause | numbers table: the claim named in its first row,
    the cap first where it decides, its numbers (to the spread's precision) in their own cell, pipes escaped."""
    monkeypatch.setenv("HEBM_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("HEBM_STORED_DIR", str(tmp_path / "none"))
    keys = margins.keys("SVHN column", "FID (domain features)", ["vlae", "lebm"])
    claim = Claim("SVHN (stand-in): Ours has a lower FID than vlae, lebm", False, "", leads=keys)
    rows = _capped_rows(0.11, 3.0, 4.0) + [
        Row(f"{margins.LEAD}: FID (domain features)", "SVHN column / vs vlae / 50% of training", 5.94265, 2.96834),
        Row(f"{margins.LEAD}: FID (domain features){margins.LEAD_CHANGE}", "SVHN column / vs vlae", -2.9, 2.1,
            note="the lead rose in 0 of 2 seeds")]
    text = departures.markdown("tab2", "cpu", _result("tab2", ["svhn_fid_ours"], [claim], rows))
    lines = text.splitlines()
    head = lines.index("| claim | cause | numbers |")
    assert lines[head + 1] == "|---|---|---|"
    table = lines[head + 2:]
    cells = lambda line: [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    assert all(len(cells(line)) == 3 for line in table), table   # an escaped "|" splits no cell
    assert cells(table[0])[0] == f"*{claim.claim}*" and all(cells(line)[0] == "" for line in table[1:])
    assert cells(table[0])[1].startswith("the authors' spectral norm caps the prior")   # the cap first
    assert "1/2 E_p\\|grad f\\|^2" in cells(table[0])[1]                              # pipes escaped
    lead = next(cells(line) for line in table if cells(line)[1].startswith("Ours' lead over vlae"))
    assert lead == ["", "Ours' lead over vlae on FID (domain features), from half-way through training to the end",
                    "+5.9\u00a0±\u00a03.0 → +3.0\u00a0±\u00a04.0 (rose in 0 of 2 seeds)"]
    assert not any(ch.isdigit() for ch in lead[1])   # the numbers are the third cell's alone
