"""``python -m layerpeek`` is the ``layerpeek`` command."""

from layerpeek.cli import main

raise SystemExit(main())
