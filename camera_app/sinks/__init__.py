"""Results consumers (sinks), one file each, all behind :class:`~camera_app.sinks.base.Sink`."""
