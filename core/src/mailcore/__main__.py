"""``python -m mailcore``: the ``mailcore`` command."""

from __future__ import annotations

from mailcore.cli import main

raise SystemExit(main())
