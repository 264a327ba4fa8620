"""Strategies on the real toy adapter: CSE spends far fewer proxy evaluations for a comparable best loss."""

from __future__ import annotations

from gp_autoloss.reporting import load_run
from gp_autoloss.search import SearchConfig, SearchEngine


def _search(run_dir, **overrides):
    cfg = SearchConfig(**{"space": "softmax_cls", "adapter": "toy", "population": 40, "top_k": 5, "parents": 5,
                          "seed": 0, **overrides})  # fmt: skip
    engine = SearchEngine.create(cfg, run_dir)
    try:
        return engine.run()
    finally:
        engine.close()


def test_cse_from_cei_needs_fewer_proxy_evaluations_than_vanilla(tmp_path):
    cse = _search(tmp_path / "cse", strategy="cse", generations=8)
    vanilla = _search(tmp_path / "vanilla", strategy="vanilla", generations=3)
    assert cse.initial_formula == vanilla.initial_formula == "-dot(w * y, log(softmax(x)))"
    assert cse.proxy_evaluations * 3 <= vanilla.proxy_evaluations
    assert cse.best_metric >= vanilla.best_metric - 0.02, (cse.best_formula, vanilla.best_formula)
    assert cse.best_metric >= cse.initial_metric

    run = load_run(tmp_path / "cse")
    for gen in run.generations:
        st = gen["stats"]
        assert st["generated"] >= st["valid"] >= st["convergent"] >= st["verify_passed"] >= st["proxy_evaluated"]
        assert st["proxy_evaluated"] <= 5  # top-K: at most K new proxy trainings per generation
    # the top-K slots go to losses not scored yet: each loss is proxy-trained once, cached results are its twins
    proxied = [r for r in run.candidates if "proxy_ok" in r]
    computed = [r["fingerprint"] for r in proxied if not r["proxy_cached"]]
    assert len(computed) == len(set(computed))
    assert all(r["fingerprint"] in computed for r in proxied if r["proxy_cached"])
    # every proxy-evaluated CSE candidate passed both checks and the D_verify stage
    for row in run.candidates:
        if row["origin"] != "initial" and "proxy_ok" in row:
            assert row["validness_ok"] and row["convergence_ok"] and row["verify_ok"]


def test_random_search_runs_and_evaluates_everything(tmp_path):
    summary = _search(tmp_path / "random", strategy="random", generations=1, population=12)
    run = load_run(tmp_path / "random")
    assert summary.candidates == 13
    assert all("proxy_ok" in r for r in run.candidates)
    assert all(r["origin"] in ("random", "initial") for r in run.candidates)
