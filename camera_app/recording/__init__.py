"""Outputs an appliance can trust: files that survive a kill, never overwrite,
stay within a budget, and handle write failures.

Import from the modules (this package imports nothing, so a log-only run
does not load PyAV):

* :mod:`.recorder` ``SegmentedRecorder``: frames or H.264 packets to one file
  or to segments, failure handling, retention;
* :mod:`.linelog` ``LineLog``: append-only JSON Lines with rotation;
* :mod:`.encoder` ``VideoEncoder``, ``EncoderOptions``; :mod:`.mux`
  ``PacketWriter``: one file, no failure handling (used by the above);
* :mod:`.retention` ``Retention``; :mod:`.health` ``WriteState``;
  :mod:`.files` exclusive creation and naming; :mod:`.formats` file types
  and the codecs they hold (no PyAV: config checks use it).
"""
