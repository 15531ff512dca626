from keyplane.cli.main import run

run()
