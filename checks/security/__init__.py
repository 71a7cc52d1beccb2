"""Security pane: the checklist's security items, checked against the running app over HTTPS,
its repository and its keys; the items no program can judge are a person's signed-off checks."""

__all__: list[str] = []
