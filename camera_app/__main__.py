from camera_app.cli import main

raise SystemExit(main())
