"""Helpers shared by the sub-commands."""

from __future__ import annotations

import argparse

from camera_app.inference.model import Model, ModelOptions, delegates_from


def model_options(args: argparse.Namespace, path: str | None = None) -> ModelOptions:
    return ModelOptions(
        path=path or args.model,
        labels=args.labels,
        label_offset=args.label_offset,
        family=args.family,
        num_threads=args.threads,
        delegates=delegates_from(args.delegate),
        threshold=args.threshold,
    )


def load(args: argparse.Namespace) -> Model:
    return Model(model_options(args))
