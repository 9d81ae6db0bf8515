"""The sentence on page one and in the README on why many EBM claims fail (status.capacity_sentence): the bound,
the range of KLs the pages measured of their Ours EBMs, and the capacity page's refit numbers, read from the
results; the book's own claims are counted apart from the papers'."""
from hebm_lib.report import results, status


def _result(artefact, rows=(), claims=()):
    r = results.Result(artefact, artefact, "cpu", ["Fashion-MNIST"], [0, 1], "cpu")
    r.rows += list(rows)
    r.claims += list(claims)
    return r


KL = "EBM KL(p_alpha || N(0, I))"


def _read(found):
    return lambda artefact: found[artefact].to_dict() if artefact in found else None


def test_the_sentence_gives_the_measured_range_and_the_refit_numbers():
    found = {"tab2": _result("tab2", [results.Row(KL, "svhn_fid_ours", 0.11), results.Row(KL, "celeba64_ours", 0.47)]),
             "tab5": _result("tab5", [results.Row(KL, "nef = 50", 0.09)]),
             "ebm_capacity": _result("ebm_capacity", [
                 results.Row(KL, "refit: f x10", 3.9),   # the capacity page's own refits are not the pages' EBMs
                 results.Row("FID (domain features)", "Ours' EBM as trained (the authors' cap)", 29.2),
                 results.Row("FID (domain features)", "refit: LEBM's energy net", 21.9),
                 results.Row("FID (domain features)", "LEBM as trained (its own generator)", 21.8)])}
    text = status.capacity_sentence(_read(found), "LINK")
    assert "<= 1/2 nat" in text and "the pages measure 0.09-0.47 nats" in text
    assert text.endswith("takes its FID from 29.2 to 21.9, LEBM's own 21.8 (LINK).")
    found.pop("ebm_capacity")
    assert status.capacity_sentence(_read(found), "LINK").endswith("0.09-0.47 nats.")   # no refit numbers yet
    assert status.capacity_sentence(_read({}), "LINK") == ""


def test_the_book_s_own_claims_are_not_counted_with_the_papers(tmp_path, monkeypatch):
    monkeypatch.setenv("HEBM_STORED_DIR", str(tmp_path / "stored"))
    build = tmp_path / "build"
    results.write(_result("fig7", claims=[results.Claim("a paper claim", True, "e")]), build)
    results.write(_result("ebm_capacity", claims=[results.Claim("the book's claim", False, "e")] * 3), build)
    page = status.glance("cpu", build)
    assert page.startswith("**1 of 1 tested claims hold**")


def test_the_status_page_sets_each_page_s_kl_beside_its_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("HEBM_STORED_DIR", str(tmp_path / "stored"))
    build = tmp_path / "build"
    results.write(_result("tab2", [results.Row(KL, "svhn_fid_ours", 0.11), results.Row("EBM 1/2 E_p|grad f|^2", "svhn_fid_ours", 0.17),
                                   results.Row("EBM energy gap f(z+) - f(z-)", "svhn_fid_ours", 0.4)]), build)
    page = status.render("cpu", build)
    assert "| Table 2 | svhn_fid_ours | 0.11 | 0.17 | 0.4 | – | – |" in page
