"""Companion papers to the statistical mechanics of pruning (``docs/companion_papers.md``).

Submodules: :mod:`statmech.companion.mbp` and :mod:`statmech.companion.sketching` (paper A,
Guha, Dubey & Huo: randomised magnitude pruning, its Gaussian closed forms, sparse-matrix
sketching; the bound on torch networks is :mod:`empirical.bounds`);
:mod:`statmech.companion.pruning_at_init` (paper B, Yang et al.: random pruning at
initialisation, the signal + noise patch model); :mod:`statmech.companion.spectral` (paper C,
Suzuki et al.: degrees of freedom, λ ↔ width, bias–variance allocation; layer-by-layer pruning of
torch MLPs is :mod:`empirical.spectral`); :mod:`statmech.companion.pruning_gaps` (paper D, Qian &
Klabjan: pruning gaps of random networks, a computable stand-in). Where a formula is our
derivation rather than the paper's statement the docstrings say "paper fidelity pending".
"""

from . import mbp, pruning_at_init, pruning_gaps, sketching, spectral
from .mbp import (
    d_for_fraction,
    error_second_moment,
    error_spectral_norm,
    keep_probability,
    kept_fraction,
    mbp_mask,
    predicted_max_row_nonzeros,
    row_col_counts,
)
from .pruning_at_init import make_patch_data, test_error_curve, train_pruned_network
from .pruning_gaps import (
    gap_grid,
    matching_width,
    measure_gap,
    predicted_gap,
    random_cnn,
    random_fcn,
    telescoping_bound,
)
from .sketching import SKETCH_CONSTANT, expander_matrix, recover, sketch, sketch_size
from .spectral import (
    allocate_lambdas,
    compression_bound_terms,
    degrees_of_freedom,
    eigen_decay_rate,
    lambda_for_width,
    leverage_scores,
    optimal_lambda,
)

__all__ = [
    "SKETCH_CONSTANT",
    "allocate_lambdas",
    "compression_bound_terms",
    "degrees_of_freedom",
    "eigen_decay_rate",
    "lambda_for_width",
    "leverage_scores",
    "optimal_lambda",
    "spectral",
    "gap_grid",
    "make_patch_data",
    "matching_width",
    "mbp",
    "measure_gap",
    "predicted_gap",
    "pruning_at_init",
    "pruning_gaps",
    "random_cnn",
    "random_fcn",
    "sketching",
    "telescoping_bound",
    "test_error_curve",
    "train_pruned_network",
    "d_for_fraction",
    "error_second_moment",
    "error_spectral_norm",
    "expander_matrix",
    "keep_probability",
    "kept_fraction",
    "mbp_mask",
    "predicted_max_row_nonzeros",
    "recover",
    "row_col_counts",
    "sketch",
    "sketch_size",
]
