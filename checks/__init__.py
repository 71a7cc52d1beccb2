"""The deployment checklist as code: checks, actions and the engine that runs them.

Nothing in this package imports Textual, rich or ``toolbox_tui``; the headless CLI and
CI rely on that (a test proves it in a subprocess).
"""
