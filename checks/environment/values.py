"""The names the Environment pane's modules share: the pane's id and the check that reads the
env file, which every other environment check needs."""

PANE = "environment"
ENV_FILE_CHECK = "env.file"
