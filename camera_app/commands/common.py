"""Helpers shared by the sub-commands."""

from __future__ import annotations

import argparse

from camera_app.inference.model import Model, ModelOptions, delegates_from
from camera_app.inference.types import DecodeOptions


def model_options(args: argparse.Namespace, path: str | None = None) -> ModelOptions:
    decode = DecodeOptions() if args.threshold is None else DecodeOptions(threshold=args.threshold)
    return ModelOptions(
        path=path or args.model,
        labels=args.labels,
        label_offset=args.label_offset,
        family=args.family,
        num_threads=args.threads,
        delegates=delegates_from(args.delegate),
        decode=decode,
    )


def load(args: argparse.Namespace) -> Model:
    return Model(model_options(args))
