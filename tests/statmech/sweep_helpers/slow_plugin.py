"""A test computation: sleeps, then returns its config's x; registered on import."""

import time

import pandas as pd

from statmech.sweep import register_computation


@register_computation("test_slow", defaults={"x": 0, "delay": 0.0})
def slow(config, seed):
    time.sleep(config["delay"])
    return pd.DataFrame({"value": [config["x"] * 2], "seed_used": [seed]})


@register_computation("test_stepped", defaults={"x": 0, "steps": 5, "delay": 0.0,
                                                "fail": False})
def stepped(config, seed):
    """Moves a progress bar through ``steps`` steps of ``delay`` seconds; raises if ``fail``."""
    from statmech._progress import ProgressBar

    with ProgressBar(config["steps"], "stepping", enabled=False) as bar:
        for _ in range(config["steps"]):
            time.sleep(config["delay"])
            bar.update(1)
    if config["fail"]:
        raise ArithmeticError(f"point x={config['x']} fails on purpose")
    return pd.DataFrame({"value": [config["x"] * 2], "seed_used": [seed]})
