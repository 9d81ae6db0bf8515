"""The page's models table names each model's variant: an ablation's models share a config name, so no two rows
of one table print the same label unless they are one model (one config hash)."""
from hebm_lib.configs import LADDER_BEFORE_VLAE, get_config
from hebm_lib.report import notebook
from hebm_lib.report.results import Result


def _configs(*variants):
    """A result's resolved configs (hash -> dict) for (name, extra) pairs, as NotebookRun.config records them."""
    r = Result("tab1", "tab1", "cpu", [], [0, 1], "cpu")
    hashes = []
    for name, extra in variants:
        cfg = get_config(name, "cpu", extra)
        r.add_config(cfg, extra)
        hashes.append(cfg.hash)
    return r.configs, hashes


def test_two_ablation_variants_of_one_config_get_distinct_labels():
    configs, (base, before, he) = _configs(("fmnist_vlae", None), ("fmnist_vlae", LADDER_BEFORE_VLAE),
                                           ("fmnist_vlae", LADDER_BEFORE_VLAE | {"nets.init": "he"}))
    labels = notebook.model_labels(configs, "cpu")
    assert labels[base] == "fmnist_vlae"
    assert len({labels[base], labels[before], labels[he]}) == 3, labels
    assert labels[before].startswith("fmnist_vlae (") and "nets.injection = concat" in labels[before]
    # an override that leaves Table 1's VLAE as it is says nothing of the variant: only what changes is named
    assert get_config("fmnist_vlae", "cpu").nets.init == "he" and "nets.init" not in labels[he]
    # the names the notebook gave its variants, where it gave them
    named = notebook.model_labels(configs, "cpu", variants={before: ["before"], he: ["before + He init"]})
    assert (named[before], named[he], named[base]) == ("fmnist_vlae, before", "fmnist_vlae, before + He init", "fmnist_vlae")


def test_the_models_table_prints_a_row_per_variant_and_joins_one_models_seeds():
    configs, (base, before, he) = _configs(("fmnist_vlae", None), ("fmnist_vlae", LADDER_BEFORE_VLAE),
                                           ("fmnist_vlae", LADDER_BEFORE_VLAE | {"nets.init": "he"}))
    labels = notebook.model_labels(configs, "cpu")
    used = [(labels[h], seed, 1500, True, 0.0, h) for h in (base, before, he, base) for seed in (0, 1)]
    rows = notebook.models_table(used).splitlines()[2:]
    names = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    assert len(rows) == 3 and len(set(names)) == 3, rows        # the same model twice (Table 1 and its ablation): one row
    assert rows[0] == "| fmnist_vlae | 0, 1 | 1,500 | 4 from the cache |"


def test_configs_of_one_name_that_nothing_else_tells_apart_are_labelled_by_their_hash():
    configs, (a, b) = _configs(("mnist_ours", None), ("mnist_ours", {"prior.hidden": 10}))
    configs[b].pop("extra")   # the same name and no recorded variant: only the hash tells them apart
    labels = notebook.model_labels(configs, "cpu")
    assert labels[a] != labels[b] and labels[a].endswith(f"(config {a[:8]})")


def test_a_notebook_run_records_the_names_of_its_variants():
    run = notebook.setup("tab1", "smoke", "cpu", None, {})
    base = run.config("fmnist_vlae")
    before = run.config("fmnist_vlae", LADDER_BEFORE_VLAE, variant="before (concat, no norm, default init)")
    same = run.config("fmnist_vlae", {}, variant="VLAE's ladder (Table 1's model)")   # Table 1's model itself
    assert same.hash == base.hash
    labels = notebook.model_labels(run.result.configs, run.profile, run.overrides, run._variants)
    assert labels[before.hash] == "fmnist_vlae, before (concat, no norm, default init)"
    assert labels[base.hash] == "fmnist_vlae, VLAE's ladder (Table 1's model)"


def test_the_status_page_names_each_ablation_variant_of_the_recorded_table_1():
    """The status page's models table labels models as the page's own does (results.model_labels): Table 1's
    ablation trains five variants of fmnist_vlae, which the config name alone listed as one model ten times."""
    import json
    from pathlib import Path
    from hebm_lib.report import manifest, status
    res = json.loads((Path(__file__).resolve().parents[1] / "results" / "cpu" / "tab1.json").read_text())
    rows = [line for line in status._detail(manifest.get("tab1"), res, "cpu").splitlines()
            if line.startswith("| fmnist_vlae")]
    labels = {line.split(" | ")[0] for line in rows}
    variants = {h for h, c in res["configs"].items() if c["name"] == "fmnist_vlae"}
    assert len(variants) == 5 and len(labels) == 5, labels
