"""`python -m ketaflow` is the same as the `ketaflow` command."""

from ketaflow.cli import main

if __name__ == "__main__":
    main()
