"""The frozen app's entry point: the same as the ``tokenclub`` command."""

from app.cli.launch import entry

if __name__ == "__main__":
    entry()
