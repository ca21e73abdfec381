"""``camera-app bench``: the pipeline measured against its own limits.

One run measures, on the same frames and the same model: ``bare`` (invoke
alone on preprocessed frames: the limit), ``naive`` (a plain sequential
loop doing the same work as the pipeline's sinks, as tutorials do),
``pipeline`` (our threads, every-frame mode), ``realtime`` (the pipeline on
a source paced at the file's frame rate: latency) and, on request, a long
looped ``soak`` run for memory growth.
"""
