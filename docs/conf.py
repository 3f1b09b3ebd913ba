"""Sphinx configuration of the statmech-pruning documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Markdown pages and the theory notes are read by MyST (myst-nb, which also executes the tutorial
notebook); the API reference is written by autodoc from the NumPy-style docstrings (napoleon).
Every object is documented once, in the module that defines it; the facade page lists the
``statmech`` names with links to those entries (``_ext/statmech_docs.py``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

os.environ.setdefault("MPLBACKEND", "Agg")  # autodoc imports the plotting code: no display

from statmech import __version__  # noqa: E402  (after the environment is set)

project = "statmech-pruning"
author = "statmech-pruning developers"
copyright = "statmech-pruning developers"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    "statmech_docs",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# -- MyST and notebooks -----------------------------------------------------------------------
myst_heading_anchors = 3  # "#set-up-two-commands"-style links to headings
nb_execution_mode = "force"  # the tutorial runs on every build: a broken example fails it
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 300
nb_merge_streams = True
nb_execution_in_temp = True  # the kernel's working directory: a fresh temporary one

# The kernel runs with its own IPython directory (nothing is read from or written to the user's
# ~/.ipython), whose profile keeps its log to errors: ipykernel otherwise logs a warning about its
# local TCP sockets on every start. Errors in the notebook's cells still fail the build.
_ipython_dir = Path(tempfile.mkdtemp(prefix="statmech-docs-ipython-"))
(_ipython_dir / "profile_default").mkdir()
(_ipython_dir / "profile_default" / "ipython_kernel_config.py").write_text(
    'c.IPKernelApp.log_level = "ERROR"\n', encoding="utf-8")
os.environ["IPYTHONDIR"] = str(_ipython_dir)
atexit.register(shutil.rmtree, _ipython_dir, ignore_errors=True)

# -- autodoc and napoleon ---------------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "member-order": "bysource",
    # Document what a module defines, never what it re-exports (its __all__ may name imports):
    # every object then has exactly one entry.
    "ignore-module-all": True,
}
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
# Types as plain text: a shape such as "(K, M) array" must not become links to attributes K, M.
napoleon_use_param = False
napoleon_use_rtype = False
# Attributes like parameters (a plain field list): documenting them as attribute entries would
# duplicate the properties that autodoc documents, and their types would become links too.
napoleon_custom_sections = [("Attributes", "params_style")]

# -- HTML -------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"statmech-pruning {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Statistical mechanics of pruning teacher-student networks",
    "fixed_sidebar": True,
    "page_width": "1320px",
    "body_max_width": "1040px",
    "sidebar_width": "240px",
}
