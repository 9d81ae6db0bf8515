"""`hebm run` reproduces the recorded build and says so: the kernel on the book's one thread unless --threads says
otherwise (recorded in the result's provenance, with each model's training path), and at its end each claim's
verdict, the result file and every number against the recorded result (identical / within the seed spread /
outside)."""
import json
import os
import subprocess
import sys

import pytest

from hebm_lib.runs import execute
from hebm_lib.runs.execute import IDENTICAL, ONLY_HERE, ONLY_RECORDED, OUTSIDE, WITHIN, compare_rows, run_report


def _row(metric, setting, value, spread=None):
    return {"metric": metric, "setting": setting, "reproduced": value, "spread": spread, "n_seeds": 2, "paper": None,
            "unit": "", "better": "lower", "note": ""}


def _result(rows, claims=(), **extra):
    return {"artefact": "fig7", "profile": "cpu", "rows": list(rows), "seeds": [0, 1], "overrides": {},
            "claims": [{"claim": c, "holds": h, "evidence": ""} for c, h in claims],
            "provenance": {"git": {"commit": "abcdef1234567890", "dirty": False},
                           "created": "2026-12-05T05:25:26+00:00", "threads": 1}, **extra}


RECORDED = _result([_row("MMD²", "z_2 / step 0", 0.17222, 0.00727), _row("MMD²", "z_2 / step 30", 0.10825, 0.0089),
                    _row("MMD²", "z_1 / step 0", 0.03043, 0.0113), _row("gap", "ours", 0.5169, 0.0876)],
                   claims=[("z_2 moves", True)])


def test_rows_are_identical_within_the_spread_outside_or_on_one_side():
    now = _result([_row("MMD²", "z_2 / step 0", 0.17222, 0.00727),    # as recorded
                   _row("MMD²", "z_2 / step 30", 0.1, 0.0089),        # 0.00825 apart, spreads 0.0178 together
                   _row("MMD²", "z_1 / step 0", 0.08, 0.0113),        # 0.0496 apart: outside
                   _row("new", "ours", 1.0)])                          # not recorded
    verdicts = {(r["metric"], r["setting"]): r["verdict"] for r in compare_rows(now, RECORDED)}
    assert verdicts == {("MMD²", "z_2 / step 0"): IDENTICAL, ("MMD²", "z_2 / step 30"): WITHIN,
                        ("MMD²", "z_1 / step 0"): OUTSIDE, ("new", "ours"): ONLY_HERE, ("gap", "ours"): ONLY_RECORDED}


def test_a_same_value_with_another_spread_is_not_identical_and_one_seed_has_no_spread():
    then = _result([_row("a", "x", 1.0, 0.1), _row("b", "x", 1.0), _row("c", "x", None), _row("d", "x", 2.0)])
    now = _result([_row("a", "x", 1.0, 0.2), _row("b", "x", 1.0001), _row("c", "x", None), _row("d", "x", None)])
    assert [r["verdict"] for r in compare_rows(now, then)] == [WITHIN, OUTSIDE, IDENTICAL, OUTSIDE]


def test_a_long_row_name_keeps_its_setting():
    assert execute._row_name("MMD² prior samples vs posterior codes", "Ours 2 x 2-d / z_2 / step 30", 48) == \
        "MMD² prior sampl… / Ours 2 x 2-d / z_2 / step 30"
    assert len(execute._row_name("MMD² prior samples vs posterior codes", "Ours 2 x 2-d / z_2 / step 30", 48)) == 48
    assert execute._row_name("short", "x", 48) == "short / x"


def test_a_pair_reported_twice_is_matched_in_order():
    then = _result([_row("a", "x", 1.0), _row("a", "x", 2.0)])
    assert [r["verdict"] for r in compare_rows(_result([_row("a", "x", 1.0), _row("a", "x", 2.0)]), then)] == \
        [IDENTICAL, IDENTICAL]
    assert [r["verdict"] for r in compare_rows(_result([_row("a", "x", 2.0), _row("a", "x", 1.0)]), then)] == \
        [OUTSIDE, OUTSIDE]


def test_the_report_ends_with_the_counts_and_names_the_recorded_build(tmp_path):
    now = _result(RECORDED["rows"][:3] + [_row("gap", "ours", 0.9, 0.01)], claims=[("z_2 moves", False)])
    lines = run_report("fig7", now, tmp_path / "fig7.json", RECORDED, threads=1)
    assert lines[:3] == ["claims:", "  does not hold: z_2 moves", f"result: {tmp_path / 'fig7.json'}"]
    assert "  verdict changed: holds -> does not hold: z_2 moves" in lines
    assert not any("note:" in line for line in lines)   # same threads, seeds and overrides
    assert lines[-1] == ("fig7: 3 numbers identical to the recorded build (commit abcdef1, 2026-12-05), "
                         "0 within the seed spread, 1 outside; 1 claim verdict(s) changed")


def test_the_report_says_when_threads_seeds_or_overrides_differ_from_the_recorded_build(tmp_path):
    now = dict(RECORDED, seeds=[0])
    old = {k: v for k, v in RECORDED.items() if k != "provenance"} | {"provenance": {"git": {"commit": "0" * 40}}}
    lines = run_report("fig7", now, tmp_path / "fig7.json", old, threads=2)   # an old file: no threads recorded
    notes = [line for line in lines if "note:" in line]
    assert notes == ["  note: this run's threads 2 are not the recorded build's (1): its numbers may differ",
                     "  note: this run's seeds [0] are not the recorded build's ([0, 1]): its numbers may differ"]
    assert lines[-1].startswith("fig7: 4 numbers identical to the recorded build (commit 0000000, ?)")


def test_without_a_recorded_result_the_report_says_so(tmp_path):
    lines = run_report("fig7", dict(RECORDED, profile="smoke", claims=[]), tmp_path / "f.json", None, threads=1)
    assert lines == ["claims:", "  (this notebook tests no claim)", f"result: {tmp_path / 'f.json'}",
                     "fig7: no recorded result of profile smoke (results/smoke/fig7.json) to compare with"]


@pytest.mark.parametrize("bad", ["0", "-1", "x", "1.5", ""])
def test_a_bad_thread_count_is_one_line_and_exit_2(tmp_path, bad):
    proc = subprocess.run([sys.executable, "-m", "hebm_lib", "run", "fig7", "--profile", "smoke", "--threads", bad],
                          capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert proc.returncode == 2 and proc.stdout == "", proc
    assert proc.stderr.splitlines() == [f"hebm: error: --threads {bad}: give a whole number of threads, 1 or more "
                                        "(1, the default, is what the recorded build ran each notebook on)"]
    assert not (tmp_path / "build").exists()   # refused before anything ran


def _env(tmp_path, **extra):
    # the caller's OMP_NUM_THREADS=2: the run's default (the book's one thread) must win over it
    # and none of the caller's HEBM_* folders (`make test` sets the cache and results ones): all of it under tmp_path
    # (the data stays where the checkout keeps it)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEBM_") or k == "HEBM_DATA_DIR"}
    return dict(clean, HEBM_BUILD_DIR=str(tmp_path / "build"), HEBM_STORED_DIR=str(tmp_path / "stored"),
                OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", **extra)


def test_a_run_at_one_thread_reports_its_verdicts_and_every_number_against_the_recorded_result(tmp_path):
    env = _env(tmp_path)
    hebm = [sys.executable, "-m", "hebm_lib", "run", "fig7", "--profile", "smoke", "--device", "cpu"]
    first = subprocess.run(hebm, capture_output=True, text=True, env=env, timeout=900, stdin=subprocess.DEVNULL)
    assert first.returncode == 0, first.stderr[-3000:]
    path = tmp_path / "build" / "results" / "smoke" / "fig7.json"
    result = json.loads(path.read_text())
    assert result["provenance"]["threads"] == 1   # torch.get_num_threads() in the kernel
    assert result["models"] and {m["training"] for m in result["models"]} == {"separate"}   # on a CPU: one by one
    out = first.stdout.splitlines()
    assert out[1] == "claims:" and f"result: {path}" in out
    for claim in result["claims"]:
        verdict = {True: "holds", False: "does not hold", None: "not tested"}[claim["holds"]]
        assert f"  {verdict}: {claim['claim']}" in out
    assert out[-1] == "fig7: no recorded result of profile smoke (results/smoke/fig7.json) to compare with"

    # a recorded result: this one with a row changed within its spread, one far off, one dropped and one added
    rows = result["rows"]
    assert len(rows) >= 4
    recorded = dict(result, rows=[rows[0], dict(rows[1], reproduced=rows[1]["reproduced"] + 0.5, spread=1.0),
                                  dict(rows[2], reproduced=rows[2]["reproduced"] + 1e6)] + rows[4:]
                    + [dict(rows[0], setting="only recorded")])
    recorded["provenance"] = dict(result["provenance"], git={"commit": "abc1234def", "dirty": False},
                                  created="2026-01-02T03:04:05+00:00")
    (tmp_path / "stored" / "smoke").mkdir(parents=True)
    (tmp_path / "stored" / "smoke" / "fig7.json").write_text(json.dumps(recorded))
    second = subprocess.run(hebm, capture_output=True, text=True, env=env, timeout=900, stdin=subprocess.DEVNULL)
    assert second.returncode == 0, second.stderr[-3000:]
    out = second.stdout.splitlines()
    assert out[-1] == (f"fig7: {len(rows) - 3} numbers identical to the recorded build (commit abc1234, 2026-01-02), "
                       f"1 within the seed spread, 1 outside, 1 {ONLY_HERE}, 1 {ONLY_RECORDED}")
    assert "against the recorded build (commit abc1234, 2026-01-02):" in out
    table = out[out.index("against the recorded build (commit abc1234, 2026-01-02):") + 1:-1]
    assert len(table) == len(rows) + 1   # every row of both, each with its verdict
    assert [line.endswith(v) for line, v in zip(table, [IDENTICAL, WITHIN, OUTSIDE, ONLY_HERE])] == [True] * 4
    assert table[-1].endswith(ONLY_RECORDED)
    assert not any("note:" in line for line in out)   # the same thread count, seeds and overrides


def test_notebooks_one_after_another_take_every_core_or_the_callers_thread_count(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert execute._serial_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert execute._serial_threads() == (os.cpu_count() or 1)
