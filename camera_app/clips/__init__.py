"""Event clips: pre-roll from already-encoded video, post-roll, retention."""
