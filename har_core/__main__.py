"""`python -m har_core ...`: see har_core.cli."""

from har_core.cli import main

raise SystemExit(main())
