"""Helpers shared by the sub-commands that load a model from flags (and
``--config``): the model options come from :func:`camera_app.app.model_options`,
so ``detect`` honours ``[model.preprocess]`` like ``run`` does."""

from __future__ import annotations

import argparse

from camera_app.app import model_options as config_model_options
from camera_app.inference.model import Model, ModelOptions
from camera_app.overrides import config_from_args


def model_options(args: argparse.Namespace, path: str | None = None) -> ModelOptions:
    if path is not None:
        args = argparse.Namespace(**{**vars(args), "model": path})
    return config_model_options(config_from_args(args, files=False))


def load(args: argparse.Namespace) -> Model:
    return Model(model_options(args))
