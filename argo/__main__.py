from argo.cli import entry_point

entry_point()
