"""toolbox-tui: the deployment checklist as a Textual dashboard and a headless CLI."""

import time

IMPORTED_AT = time.perf_counter()
"""When the tool started loading (this package is imported before any of its modules): the
headless report says what starting cost, from here to the first check."""
