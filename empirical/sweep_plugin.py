"""``empirical``'s plugins for ``statmech``: sweep computations and gallery figures.

Registered through the entry-point groups ``statmech.computations`` (:func:`register`) and
``statmech.figures`` (:func:`register_figures`), so ``statmech`` never imports ``empirical``.

* ``empirical.teacher_student``: one seed of :func:`empirical.compare.teacher_student_table`;
* ``empirical.real_data``: one seed of :func:`empirical.compare.real_data_table` (digits or
  MNIST-1D);
* figures ``theory_vs_experiment`` and ``digits_pruning``.
"""

from __future__ import annotations

from typing import Any

METHODS = ["random_edge", "magnitude_edge", "dpp_edge", "random_node", "magnitude_node",
           "dpp_node", "spectral_node"]
_DONE = {"computations": False, "figures": False}


def _seed(seed: int) -> int:
    return int(seed) % (2**31)


def register() -> None:
    """Register the computations (entry point ``statmech.computations``)."""
    if _DONE["computations"]:
        return
    _DONE["computations"] = True
    from statmech.sweep import register_computation

    @register_computation("empirical.teacher_student", defaults={
        "N": 200, "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha": 50.0, "noise": 0.25,
        "levels": [1, 3, 5], "methods": METHODS, "n_masks": 40, "n_samples": 4000,
        "replicate": 0})
    def teacher_student(config: dict, seed: int):
        """Torch students trained online, pruned, measured against statmech's theory."""
        from .compare import teacher_student_table

        cfg = {k: v for k, v in config.items() if k != "replicate"}
        cfg["levels"] = tuple(cfg["levels"])
        cfg["methods"] = tuple(cfg["methods"])
        table = teacher_student_table(seeds=(_seed(seed),), **cfg)
        table["z"] = (table.eg_measured - table.theory_finite_n) / table.eg_measured_se
        return table

    @register_computation("empirical.real_data", defaults={
        "data": "digits", "hidden": [100], "activation": "sigmoid", "methods": METHODS,
        "fractions": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], "epochs": 40,
        "finetune_epochs": 0, "replicate": 0})
    def real_data(config: dict, seed: int):
        """One seed of the real-data pruning comparison (test error vs parameters kept)."""
        from .compare import real_data_table

        table = real_data_table(config["data"], hidden=tuple(config["hidden"]),
                                activation=config["activation"],
                                methods=tuple(config["methods"]),
                                fractions=tuple(config["fractions"]), seeds=(_seed(seed),),
                                epochs=int(config["epochs"]),
                                finetune_epochs=int(config["finetune_epochs"]), progress=False)
        table["data"] = config["data"]
        table.attrs = {}
        return table


def register_figures() -> None:
    """Register the figures (entry point ``statmech.figures``)."""
    if _DONE["figures"]:
        return
    _DONE["figures"] = True
    register()
    from statmech.figures import register_figure

    def ts_sweeps(quality: str) -> dict:
        q = quality == "quick"
        return {"ts": {"computation": "empirical.teacher_student",
                       "params": {"N": 100 if q else 500, "alpha": 50.0},
                       "grid": {"replicate": [0, 1] if q else [0, 1, 2, 3, 4]}}}

    def ts_plot(tables: dict, quality: str) -> Any:
        from .cli import draw_teacher_student

        return draw_teacher_student(tables["ts"])

    def digits_sweeps(quality: str) -> dict:
        q = quality == "quick"
        return {"digits": {"computation": "empirical.real_data",
                           "grid": {"replicate": list(range(3 if q else 10))}}}

    def digits_plot(tables: dict, quality: str) -> Any:
        from .cli import draw_real_data

        t = tables["digits"].copy()
        t["seed"] = t["replicate"]
        t.attrs["config"] = {"data": "digits", "sizes": [64, 100, 10]}
        return draw_real_data(t)

    register_figure("theory_vs_experiment", "measured pruned loss of torch teacher–student "
                    "networks against statmech's theory, every method", ts_sweeps, ts_plot,
                    order=60)
    register_figure("digits_pruning", "test error of a pruned digits MLP against the share of "
                    "parameters kept, every method, with and without reweighting",
                    digits_sweeps, digits_plot, order=70)
