"""`python -m tools.plan render|diff ...`: the command line of tools.plan.cli."""

from tools.plan.cli import main

raise SystemExit(main())
