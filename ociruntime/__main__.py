from ociruntime.cli import main

raise SystemExit(main())
