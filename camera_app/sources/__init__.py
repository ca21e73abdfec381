"""Capture sources, one file each, all behind :class:`~camera_app.sources.base.Source`."""
