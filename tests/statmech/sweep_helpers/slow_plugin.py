"""A test computation: sleeps, then returns its config's x; registered on import."""

import time

import pandas as pd

from statmech.sweep import register_computation


@register_computation("test_slow", defaults={"x": 0, "delay": 0.0})
def slow(config, seed):
    time.sleep(config["delay"])
    return pd.DataFrame({"value": [config["x"] * 2], "seed_used": [seed]})
