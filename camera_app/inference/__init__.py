"""TFLite runtime loading, model inspection, preprocessing and decoders."""
