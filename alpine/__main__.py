from alpine.cli import entry_point

entry_point()
