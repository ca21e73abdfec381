"""Analysis: stages between inference and the sinks (see :mod:`camera_app.analysis.base`).

Filters, tracking, zones, lines and events, one processor each, run in the
order :data:`camera_app.components.PROCESSORS` gives.
"""
