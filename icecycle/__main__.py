"""Entry point for `python -m icecycle`."""

from icecycle.cli import main

raise SystemExit(main())
