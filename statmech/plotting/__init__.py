"""Plotting: the house style and ``plot_*`` functions that draw into a Matplotlib ``Axes``."""
